package io.quire.engine.core;

/**
 * Scheduler limits, with vLLM's names and meaning.
 *
 * @param maxNumSeqs most requests running at once (vLLM max_num_seqs, default 256)
 * @param maxNumBatchedTokens token budget of one step (8192 cuda, 2048 cpu)
 * @param maxModelLen longest sequence (prompt + output); longer prompts are refused at add
 * @param blockSize tokens per KV block (16)
 * @param numBlocks KV blocks in the pool
 * @param enablePrefixCaching automatic prefix caching (on)
 * @param policy FCFS or PRIORITY
 * @param maxWaiting bound of the waiting queue; beyond it add throws {@link
 *     EngineOverloadedException}
 * @param longPrefillTokenThreshold a prefill takes at most this many tokens per step; 0 = no cap
 */
public record SchedulerConfig(
    int maxNumSeqs,
    int maxNumBatchedTokens,
    int maxModelLen,
    int blockSize,
    int numBlocks,
    boolean enablePrefixCaching,
    SchedulingPolicy policy,
    int maxWaiting,
    int longPrefillTokenThreshold) {

  public static final int DEFAULT_MAX_NUM_SEQS = 256;
  public static final int DEFAULT_MAX_NUM_BATCHED_TOKENS_CPU = 2048;
  public static final int DEFAULT_MAX_NUM_BATCHED_TOKENS_CUDA = 8192;
  public static final int DEFAULT_BLOCK_SIZE = 16;
  public static final int DEFAULT_MAX_WAITING = 4096;

  public SchedulerConfig {
    positive("max_num_seqs", maxNumSeqs);
    positive("max_num_batched_tokens", maxNumBatchedTokens);
    positive("max_model_len", maxModelLen);
    positive("block_size", blockSize);
    positive("num_blocks", numBlocks);
    positive("max_waiting", maxWaiting);
    if (policy == null) throw new IllegalArgumentException("policy must be FCFS or PRIORITY, got null");
    if (longPrefillTokenThreshold < 0) {
      throw new IllegalArgumentException(
          "long_prefill_token_threshold must be >= 0, got " + longPrefillTokenThreshold);
    }
  }

  /** CPU defaults (2048-token budget, FCFS, prefix caching on) for a model and a KV pool. */
  public static SchedulerConfig defaults(int maxModelLen, int numBlocks) {
    return new SchedulerConfig(
        DEFAULT_MAX_NUM_SEQS, DEFAULT_MAX_NUM_BATCHED_TOKENS_CPU, maxModelLen, DEFAULT_BLOCK_SIZE,
        numBlocks, true, SchedulingPolicy.FCFS, DEFAULT_MAX_WAITING, 0);
  }

  public SchedulerConfig withMaxNumBatchedTokens(int tokens) {
    return new SchedulerConfig(maxNumSeqs, tokens, maxModelLen, blockSize, numBlocks,
        enablePrefixCaching, policy, maxWaiting, longPrefillTokenThreshold);
  }

  public SchedulerConfig withPolicy(SchedulingPolicy p) {
    return new SchedulerConfig(maxNumSeqs, maxNumBatchedTokens, maxModelLen, blockSize, numBlocks,
        enablePrefixCaching, p, maxWaiting, longPrefillTokenThreshold);
  }

  public SchedulerConfig withPrefixCaching(boolean on) {
    return new SchedulerConfig(maxNumSeqs, maxNumBatchedTokens, maxModelLen, blockSize, numBlocks,
        on, policy, maxWaiting, longPrefillTokenThreshold);
  }

  private static void positive(String field, int value) {
    if (value <= 0) throw new IllegalArgumentException(field + " must be > 0, got " + value);
  }
}
