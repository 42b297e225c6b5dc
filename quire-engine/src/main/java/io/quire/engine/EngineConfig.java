package io.quire.engine;

import java.nio.file.Path;

/**
 * Engine arguments, with vLLM's names in the comments. Null means "derive": maxModelLen from the
 * model's max_position_embeddings, the KV pool as below.
 *
 * <p>The KV pool, first rule that applies: {@code numKvBlocks} blocks; else {@code kvCacheBytes}
 * bytes; else, on a backend with device memory (CUDA), what {@code gpuMemoryUtilization} of the
 * device leaves after the weights and the peak of a profiling step (vLLM's rule, see
 * {@link KvCacheSizing}); else (the CPU) {@link #CPU_KV_CACHE_BYTES}.
 *
 * @param maxNumSeqs max_num_seqs: most sequences in one step (256)
 * @param maxNumBatchedTokens max_num_batched_tokens: token budget of one step (2048 on the CPU)
 * @param maxModelLen max_model_len: prompt plus output limit
 * @param blockSize block_size: tokens per KV block (16)
 * @param numKvBlocks num_gpu_blocks_override: KV blocks in the pool; null to size it
 * @param kvCacheBytes memory for the KV pool when numKvBlocks is null; null to size it
 * @param gpuMemoryUtilization gpu_memory_utilization: the fraction of the device's memory this engine
 *     may fill, KV pool included, in (0, 1] (0.9); used only when the two above are null
 * @param enablePrefixCaching enable_prefix_caching (true)
 * @param priorityPolicy scheduling_policy "priority" instead of "fcfs"
 * @param maxWaiting bounded waiting queue; beyond it submit fails with "overloaded"
 * @param defaultMaxTokens max_tokens when a request leaves it unset (null: up to max_model_len)
 * @param asyncScheduling async_scheduling: launch step N+1 before step N's sampled ids reach the host,
 *     where the backend keeps them on the device (CUDA); on by default here (vLLM's default is off):
 *     the outputs are the same as step by step
 * @param fp8KvCache kv_cache_dtype fp8 (fp8_e4m3): K and V stored as e4m3 bytes with scale 1, half
 *     the memory of bf16 (a quarter of the CPU's f32); on backends that support it (CPU, CUDA on sm_89+)
 */
public record EngineConfig(
    Path modelDir,
    int maxNumSeqs,
    int maxNumBatchedTokens,
    Integer maxModelLen,
    int blockSize,
    Integer numKvBlocks,
    Long kvCacheBytes,
    double gpuMemoryUtilization,
    boolean enablePrefixCaching,
    boolean priorityPolicy,
    int maxWaiting,
    Integer defaultMaxTokens,
    boolean asyncScheduling,
    boolean fp8KvCache) {

  /** vLLM's default gpu_memory_utilization. */
  public static final double DEFAULT_GPU_MEMORY_UTILIZATION = 0.9;

  /** The KV pool on a backend without device memory (the CPU) when neither blocks nor bytes are given. */
  public static final long CPU_KV_CACHE_BYTES = 2L << 30;

  public EngineConfig {
    if (!(gpuMemoryUtilization > 0 && gpuMemoryUtilization <= 1)) {
      throw new IllegalArgumentException("gpu_memory_utilization must be in (0, 1], got " + gpuMemoryUtilization);
    }
    if (kvCacheBytes != null && kvCacheBytes <= 0) {
      throw new IllegalArgumentException("kv_cache_bytes must be > 0, got " + kvCacheBytes);
    }
  }

  /** The configuration with the model's own KV cache dtype (kv_cache_dtype auto). */
  public EngineConfig(Path modelDir, int maxNumSeqs, int maxNumBatchedTokens, Integer maxModelLen, int blockSize,
      Integer numKvBlocks, Long kvCacheBytes, double gpuMemoryUtilization, boolean enablePrefixCaching,
      boolean priorityPolicy, int maxWaiting, Integer defaultMaxTokens, boolean asyncScheduling) {
    this(modelDir, maxNumSeqs, maxNumBatchedTokens, maxModelLen, blockSize, numKvBlocks, kvCacheBytes,
        gpuMemoryUtilization, enablePrefixCaching, priorityPolicy, maxWaiting, defaultMaxTokens, asyncScheduling, false);
  }

  /** The defaults of DESIGN.md, with the CPU's max_num_batched_tokens (2048); the KV pool is sized. */
  public static EngineConfig cpuDefaults(Path modelDir) {
    return new EngineConfig(modelDir, 256, 2048, null, 16, null, null, DEFAULT_GPU_MEMORY_UTILIZATION, true, false, 4096,
        null, true);
  }

  public EngineConfig withMaxModelLen(Integer v) {
    return new EngineConfig(modelDir, maxNumSeqs, maxNumBatchedTokens, v, blockSize, numKvBlocks, kvCacheBytes, gpuMemoryUtilization, enablePrefixCaching, priorityPolicy, maxWaiting, defaultMaxTokens, asyncScheduling, fp8KvCache);
  }

  public EngineConfig withNumKvBlocks(Integer v) {
    return new EngineConfig(modelDir, maxNumSeqs, maxNumBatchedTokens, maxModelLen, blockSize, v, kvCacheBytes, gpuMemoryUtilization, enablePrefixCaching, priorityPolicy, maxWaiting, defaultMaxTokens, asyncScheduling, fp8KvCache);
  }

  public EngineConfig withKvCacheBytes(Long v) {
    return new EngineConfig(modelDir, maxNumSeqs, maxNumBatchedTokens, maxModelLen, blockSize, numKvBlocks, v, gpuMemoryUtilization, enablePrefixCaching, priorityPolicy, maxWaiting, defaultMaxTokens, asyncScheduling, fp8KvCache);
  }

  public EngineConfig withGpuMemoryUtilization(double v) {
    return new EngineConfig(modelDir, maxNumSeqs, maxNumBatchedTokens, maxModelLen, blockSize, numKvBlocks, kvCacheBytes, v, enablePrefixCaching, priorityPolicy, maxWaiting, defaultMaxTokens, asyncScheduling, fp8KvCache);
  }

  public EngineConfig withMaxNumBatchedTokens(int v) {
    return new EngineConfig(modelDir, maxNumSeqs, v, maxModelLen, blockSize, numKvBlocks, kvCacheBytes, gpuMemoryUtilization, enablePrefixCaching, priorityPolicy, maxWaiting, defaultMaxTokens, asyncScheduling, fp8KvCache);
  }

  public EngineConfig withMaxNumSeqs(int v) {
    return new EngineConfig(modelDir, v, maxNumBatchedTokens, maxModelLen, blockSize, numKvBlocks, kvCacheBytes, gpuMemoryUtilization, enablePrefixCaching, priorityPolicy, maxWaiting, defaultMaxTokens, asyncScheduling, fp8KvCache);
  }

  public EngineConfig withPrefixCaching(boolean v) {
    return new EngineConfig(modelDir, maxNumSeqs, maxNumBatchedTokens, maxModelLen, blockSize, numKvBlocks, kvCacheBytes, gpuMemoryUtilization, v, priorityPolicy, maxWaiting, defaultMaxTokens, asyncScheduling, fp8KvCache);
  }

  public EngineConfig withMaxWaiting(int v) {
    return new EngineConfig(modelDir, maxNumSeqs, maxNumBatchedTokens, maxModelLen, blockSize, numKvBlocks, kvCacheBytes, gpuMemoryUtilization, enablePrefixCaching, priorityPolicy, v, defaultMaxTokens, asyncScheduling, fp8KvCache);
  }

  public EngineConfig withDefaultMaxTokens(Integer v) {
    return new EngineConfig(modelDir, maxNumSeqs, maxNumBatchedTokens, maxModelLen, blockSize, numKvBlocks, kvCacheBytes, gpuMemoryUtilization, enablePrefixCaching, priorityPolicy, maxWaiting, v, asyncScheduling, fp8KvCache);
  }

  public EngineConfig withAsyncScheduling(boolean v) {
    return new EngineConfig(modelDir, maxNumSeqs, maxNumBatchedTokens, maxModelLen, blockSize, numKvBlocks, kvCacheBytes, gpuMemoryUtilization, enablePrefixCaching, priorityPolicy, maxWaiting, defaultMaxTokens, v, fp8KvCache);
  }

  public EngineConfig withFp8KvCache(boolean v) {
    return new EngineConfig(modelDir, maxNumSeqs, maxNumBatchedTokens, maxModelLen, blockSize, numKvBlocks, kvCacheBytes, gpuMemoryUtilization, enablePrefixCaching, priorityPolicy, maxWaiting, defaultMaxTokens, asyncScheduling, v);
  }
}
