package io.quire.engine;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The size of the KV pool on a device, by vLLM's rule: what {@code gpu_memory_utilization} of the
 * device leaves after the memory in use at the profiling step's peak, in whole blocks:
 * {@code numBlocks = floor((total × utilization − peak) / bytesPerBlock)}. Memory other processes hold
 * counts as in use, so the fraction is of the whole device.
 *
 * @param profile what the profiling step measured
 * @param utilization gpu_memory_utilization
 * @param bytesPerBlock one block over all layers, K and V
 * @param blockSize tokens per block
 * @param numBlocks blocks in the pool
 */
public record KvCacheSizing(MemoryProfile profile, double utilization, long bytesPerBlock, int blockSize, int numBlocks) {
  private static final double GIB = 1L << 30;

  /**
   * Sizes the pool from a profile. Throws IllegalArgumentException, with the needed and available
   * GiB and what to change, when the budget cannot hold the weights, the peak activations and the
   * KV of one sequence of {@code maxModelLen} tokens.
   */
  public static KvCacheSizing fromUtilization(
      MemoryProfile profile, double utilization, long bytesPerBlock, int blockSize, int maxModelLen) {
    if (!(utilization > 0 && utilization <= 1)) {
      throw new IllegalArgumentException("gpu_memory_utilization must be in (0, 1], got " + utilization);
    }
    if (bytesPerBlock <= 0 || blockSize <= 0 || maxModelLen <= 0) {
      throw new IllegalArgumentException("kv sizing: bytes per block " + bytesPerBlock + ", block size " + blockSize
          + ", max_model_len " + maxModelLen + " must all be > 0");
    }
    long budget = budgetBytes(profile.totalBytes(), utilization);
    long left = budget - profile.peakBytes();
    long blocks = Math.max(0, left) / bytesPerBlock;
    long oneSequence = ((long) maxModelLen + blockSize - 1) / blockSize;
    if (left < 0 || blocks < oneSequence) {
      throw new IllegalArgumentException(
          doesNotFit(profile, utilization, bytesPerBlock, blockSize, maxModelLen, oneSequence, left < 0 ? -1 : blocks));
    }
    return new KvCacheSizing(profile, utilization, bytesPerBlock, blockSize, (int) Math.min(Integer.MAX_VALUE, blocks));
  }

  /** The pool that {@code bytes} hold (at least one block): the rule of an explicit KV byte size. */
  public static int blocksFromBytes(long bytes, long bytesPerBlock) {
    return (int) Math.max(1, Math.min(Integer.MAX_VALUE, bytes / bytesPerBlock));
  }

  /** What this engine may use of the device: {@code floor(total × utilization)}. */
  public long budgetBytes() {
    return budgetBytes(profile.totalBytes(), utilization);
  }

  public long kvBytes() {
    return (long) numBlocks * bytesPerBlock;
  }

  /** The startup log line: the pool and what the rest of the budget went to. */
  public String summary() {
    return String.format(Locale.ROOT,
        "KV cache: %d blocks (%s GiB, %d tokens); weights %s GiB, peak activations %s GiB, CUDA context and other"
            + " processes %s GiB; of %s GiB x gpu_memory_utilization %s = %s GiB",
        numBlocks, gib(kvBytes()), (long) numBlocks * blockSize, gib(profile.weightBytes()), gib(profile.activationBytes()),
        gib(profile.baselineBytes()), gib(profile.totalBytes()), plain(utilization), gib(budgetBytes()));
  }

  private static long budgetBytes(long total, double utilization) {
    return (long) Math.floor(total * utilization);
  }

  /** {@code blocks} is what the budget holds after the peak, or -1 when the peak alone exceeds it. */
  private static String doesNotFit(MemoryProfile p, double utilization, long bytesPerBlock, int blockSize, int maxModelLen,
      long oneSequence, long blocks) {
    long kvOne = oneSequence * bytesPerBlock;
    long needed = p.peakBytes() + kvOne;
    long budget = budgetBytes(p.totalBytes(), utilization);
    String what = blocks < 0
        ? "the model does not fit in gpu_memory_utilization " + plain(utilization) + " of the device"
        : "the KV cache cannot hold one sequence of max_model_len " + maxModelLen + " (it holds " + blocks * blockSize
            + " tokens)";
    List<String> advice = new ArrayList<>();
    boolean deviceHolds = needed <= p.totalBytes();
    if (deviceHolds) advice.add("raise gpu_memory_utilization to at least " + minUtilization(p.totalBytes(), needed));
    if (blocks > 0) advice.add("lower max_model_len to at most " + blocks * blockSize);
    advice.add("lower max_num_batched_tokens or max_num_seqs (peak activations)");
    if (!deviceHolds) advice.add("use a GPU with more memory");
    return String.format(Locale.ROOT,
        "%s: needs %s GiB (weights %s + peak activations %s + CUDA context and other processes %s + KV of one"
            + " max_model_len %d sequence %s), available %s GiB (gpu_memory_utilization %s of %s GiB); %s",
        what, gib(needed), gib(p.weightBytes()), gib(p.activationBytes()), gib(p.baselineBytes()), maxModelLen, gib(kvOne),
        gib(budget), plain(utilization), gib(p.totalBytes()), String.join(", or ", advice));
  }

  /** The smallest utilization, in hundredths, whose budget holds {@code needed} bytes. */
  private static String minUtilization(long total, long needed) {
    int hundredths = (int) Math.ceil((double) needed / total * 100);
    while (hundredths < 100 && budgetBytes(total, hundredths / 100.0) < needed) hundredths++;
    return String.format(Locale.ROOT, "%.2f", hundredths / 100.0);
  }

  private static String gib(long bytes) {
    return String.format(Locale.ROOT, "%.2f", bytes / GIB);
  }

  private static String plain(double v) {
    return BigDecimal.valueOf(v).stripTrailingZeros().toPlainString();
  }
}
