package io.quire.engine;

import java.nio.file.Path;

/**
 * Engine arguments, with vLLM's names in the comments. Null means "derive": maxModelLen from the
 * model's max_position_embeddings, the number of KV blocks from kvCacheBytes.
 *
 * @param maxNumSeqs max_num_seqs: most sequences in one step (256)
 * @param maxNumBatchedTokens max_num_batched_tokens: token budget of one step (2048 on the CPU)
 * @param maxModelLen max_model_len: prompt plus output limit
 * @param blockSize block_size: tokens per KV block (16)
 * @param numKvBlocks KV blocks in the pool; null to size from kvCacheBytes
 * @param kvCacheBytes memory for the KV pool when numKvBlocks is null
 * @param enablePrefixCaching enable_prefix_caching (true)
 * @param priorityPolicy scheduling_policy "priority" instead of "fcfs"
 * @param maxWaiting bounded waiting queue; beyond it submit fails with "overloaded"
 * @param defaultMaxTokens max_tokens when a request leaves it unset (null: up to max_model_len)
 */
public record EngineConfig(
    Path modelDir,
    int maxNumSeqs,
    int maxNumBatchedTokens,
    Integer maxModelLen,
    int blockSize,
    Integer numKvBlocks,
    long kvCacheBytes,
    boolean enablePrefixCaching,
    boolean priorityPolicy,
    int maxWaiting,
    Integer defaultMaxTokens) {

  public static EngineConfig cpuDefaults(Path modelDir) {
    return new EngineConfig(modelDir, 256, 2048, null, 16, null, 2L << 30, true, false, 4096, null);
  }

  public EngineConfig withMaxModelLen(Integer v) {
    return new EngineConfig(modelDir, maxNumSeqs, maxNumBatchedTokens, v, blockSize, numKvBlocks, kvCacheBytes, enablePrefixCaching, priorityPolicy, maxWaiting, defaultMaxTokens);
  }

  public EngineConfig withNumKvBlocks(Integer v) {
    return new EngineConfig(modelDir, maxNumSeqs, maxNumBatchedTokens, maxModelLen, blockSize, v, kvCacheBytes, enablePrefixCaching, priorityPolicy, maxWaiting, defaultMaxTokens);
  }

  public EngineConfig withMaxNumBatchedTokens(int v) {
    return new EngineConfig(modelDir, maxNumSeqs, v, maxModelLen, blockSize, numKvBlocks, kvCacheBytes, enablePrefixCaching, priorityPolicy, maxWaiting, defaultMaxTokens);
  }

  public EngineConfig withMaxNumSeqs(int v) {
    return new EngineConfig(modelDir, v, maxNumBatchedTokens, maxModelLen, blockSize, numKvBlocks, kvCacheBytes, enablePrefixCaching, priorityPolicy, maxWaiting, defaultMaxTokens);
  }

  public EngineConfig withPrefixCaching(boolean v) {
    return new EngineConfig(modelDir, maxNumSeqs, maxNumBatchedTokens, maxModelLen, blockSize, numKvBlocks, kvCacheBytes, v, priorityPolicy, maxWaiting, defaultMaxTokens);
  }

  public EngineConfig withMaxWaiting(int v) {
    return new EngineConfig(modelDir, maxNumSeqs, maxNumBatchedTokens, maxModelLen, blockSize, numKvBlocks, kvCacheBytes, enablePrefixCaching, priorityPolicy, v, defaultMaxTokens);
  }

  public EngineConfig withDefaultMaxTokens(Integer v) {
    return new EngineConfig(modelDir, maxNumSeqs, maxNumBatchedTokens, maxModelLen, blockSize, numKvBlocks, kvCacheBytes, enablePrefixCaching, priorityPolicy, maxWaiting, v);
  }
}
