package io.quire.server.repository;

import io.quire.engine.EngineConfig;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Engine arguments of one model, with the names of Triton's vLLM backend {@code model.json} (vLLM's
 * {@code AsyncEngineArgs}). Sources, highest precedence first:
 *
 * <ol>
 *   <li>config.pbtxt {@code parameters} (same keys, string values),
 *   <li>{@code <version>/model.json},
 *   <li>env {@code QUIRE_GPU_MEMORY_UTILIZATION}, then {@code TRITON_VLLM_GPU_MEMORY_UTILIZATION}
 *       (gpu_memory_utilization only),
 *   <li>server defaults (CLI) and the built-in defaults of DESIGN.md.
 * </ol>
 *
 * Keys vLLM knows that Quire does not use (for example {@code disable_log_requests}) are accepted,
 * logged and ignored; {@code enforce_eager} turns CUDA graphs off, as in vLLM; a known key with a value
 * of the wrong type is an error naming the key.
 */
public record EngineArgs(
    String model,
    double gpuMemoryUtilization,
    int tensorParallelSize,
    int maxNumSeqs,
    Integer maxModelLen,
    Integer maxNumBatchedTokens,
    int blockSize,
    boolean enablePrefixCaching,
    String dtype,
    Integer numGpuBlocksOverride,
    Long kvCacheBytes,
    int maxWaiting,
    Integer defaultMaxTokens,
    boolean priorityPolicy,
    boolean asyncScheduling,
    boolean enforceEager,
    boolean fp8KvCache) {

  private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(EngineArgs.class.getName());

  /**
   * Keys read from model.json and parameters; others are ignored (model.json's are logged). Of vLLM's
   * keys that change what is computed, those Quire cannot honour are errors when set to anything but
   * their default: kv_cache_dtype (auto, or fp8 / fp8_e4m3 where the backend has it), quantization,
   * tensor_ and pipeline_parallel_size (only 1).
   */
  static final Set<String> KNOWN = Set.of(
      "model", "gpu_memory_utilization", "tensor_parallel_size", "max_num_seqs", "max_model_len",
      "max_num_batched_tokens", "block_size", "enable_prefix_caching", "dtype", "num_gpu_blocks_override",
      "kv_cache_bytes", "max_waiting", "default_max_tokens", "scheduling_policy", "async_scheduling",
      "enforce_eager", "kv_cache_dtype", "quantization", "pipeline_parallel_size");

  public static EngineArgs resolve(
      Map<String, Object> modelJson, Map<String, String> parameters, Map<String, String> env)
      throws InvalidModelException {
    Map<String, Object> v = new LinkedHashMap<>();
    String util = env.get("QUIRE_GPU_MEMORY_UTILIZATION");
    if (util == null) util = env.get("TRITON_VLLM_GPU_MEMORY_UTILIZATION");
    if (util != null) v.put("gpu_memory_utilization", util);
    v.putAll(modelJson);
    java.util.List<String> unused = modelJson.keySet().stream().filter(k -> !KNOWN.contains(k)).sorted().toList();
    if (!unused.isEmpty()) LOG.info("engine arguments Quire does not use, ignored: " + String.join(", ", unused));
    for (var e : parameters.entrySet()) {
      if (KNOWN.contains(e.getKey())) v.put(e.getKey(), e.getValue());
    }
    Reader r = new Reader(v);
    double gmu = r.dbl("gpu_memory_utilization", 0.90);
    if (!(gmu > 0 && gmu <= 1)) {
      throw new InvalidModelException("gpu_memory_utilization must be in (0, 1], got " + gmu);
    }
    int tp = r.integer("tensor_parallel_size", 1);
    if (tp != 1) {
      throw new InvalidModelException("tensor_parallel_size " + tp + " is not supported yet (only 1)");
    }
    int pp = r.integer("pipeline_parallel_size", 1);
    if (pp != 1) {
      throw new InvalidModelException("pipeline_parallel_size " + pp + " is not supported (only 1)");
    }
    String kvDtype = r.str("kv_cache_dtype", "auto");
    if (!Set.of("auto", "fp8", "fp8_e4m3").contains(kvDtype)) {
      throw new InvalidModelException("kv_cache_dtype '" + kvDtype
          + "' is not supported: auto (the model's dtype) or fp8 / fp8_e4m3 (e4m3: CPU, CUDA on sm_89+)");
    }
    String quantization = r.str("quantization", "none");
    if (!quantization.equalsIgnoreCase("none")) {
      throw new InvalidModelException("quantization '" + quantization
          + "' is not supported: weights must be float32, float16 or bfloat16");
    }
    int blockSize = r.integer("block_size", 16);
    if (blockSize < 1 || blockSize > 256) {
      throw new InvalidModelException("block_size must be in [1, 256], got " + blockSize);
    }
    int maxNumSeqs = r.integer("max_num_seqs", 256);
    if (maxNumSeqs < 1) throw new InvalidModelException("max_num_seqs must be >= 1, got " + maxNumSeqs);
    Integer maxModelLen = r.optInt("max_model_len");
    if (maxModelLen != null && maxModelLen < 1) {
      throw new InvalidModelException("max_model_len must be >= 1, got " + maxModelLen);
    }
    Integer mnbt = r.optInt("max_num_batched_tokens");
    if (mnbt != null && mnbt < 1) {
      throw new InvalidModelException("max_num_batched_tokens must be >= 1, got " + mnbt);
    }
    String dtype = r.str("dtype", "auto");
    if (!Set.of("auto", "float32", "float16", "half", "bfloat16", "float").contains(dtype)) {
      throw new InvalidModelException("dtype must be auto, float32, float16 or bfloat16, got '" + dtype + "'");
    }
    String policy = r.str("scheduling_policy", "fcfs");
    if (!policy.equals("fcfs") && !policy.equals("priority")) {
      throw new InvalidModelException("scheduling_policy must be fcfs or priority, got '" + policy + "'");
    }
    Integer blocks = r.optInt("num_gpu_blocks_override");
    if (blocks != null && blocks < 1) {
      throw new InvalidModelException("num_gpu_blocks_override must be >= 1, got " + blocks);
    }
    int maxWaiting = r.integer("max_waiting", 4096);
    if (maxWaiting < 1) throw new InvalidModelException("max_waiting must be >= 1, got " + maxWaiting);
    Integer dmt = r.optInt("default_max_tokens");
    if (dmt != null && dmt < 1) throw new InvalidModelException("default_max_tokens must be >= 1, got " + dmt);
    Long kvBytes = r.optLong("kv_cache_bytes");
    if (kvBytes != null && kvBytes < 1) throw new InvalidModelException("kv_cache_bytes must be >= 1, got " + kvBytes);
    return new EngineArgs(
        r.str("model", null), gmu, tp, maxNumSeqs, maxModelLen, mnbt, blockSize,
        r.bool("enable_prefix_caching", true), dtype, blocks, kvBytes, maxWaiting, dmt, policy.equals("priority"),
        r.bool("async_scheduling", true), r.bool("enforce_eager", false), !kvDtype.equals("auto"));
  }

  /**
   * The engine configuration for a model folder on a backend. {@code maxBatchSize} (config.pbtxt,
   * 0 = unset) caps concurrent sequences as Triton's max_batch_size does.
   */
  public EngineConfig toEngineConfig(Path modelDir, String backend, int maxBatchSize) {
    int seqs = maxBatchSize > 0 ? Math.min(maxNumSeqs, maxBatchSize) : maxNumSeqs;
    int batched = maxNumBatchedTokens != null ? maxNumBatchedTokens : backend.equals("cuda") ? 8192 : 2048;
    return new EngineConfig(modelDir, seqs, batched, maxModelLen, blockSize, numGpuBlocksOverride, kvCacheBytes,
        gpuMemoryUtilization, enablePrefixCaching, priorityPolicy, maxWaiting, defaultMaxTokens, asyncScheduling,
        fp8KvCache);
  }

  private record Reader(Map<String, Object> v) {
    private String raw(String k) {
      Object o = v.get(k);
      return o == null ? null : o.toString().trim();
    }

    String str(String k, String dflt) {
      String s = raw(k);
      return s == null ? dflt : s;
    }

    double dbl(String k, double dflt) throws InvalidModelException {
      String s = raw(k);
      if (s == null) return dflt;
      try {
        return Double.parseDouble(s);
      } catch (NumberFormatException e) {
        throw new InvalidModelException(k + " must be a number, got '" + s + "'");
      }
    }

    Long optLong(String k) throws InvalidModelException {
      String s = raw(k);
      if (s == null) return null;
      try {
        return Long.parseLong(s);
      } catch (NumberFormatException e) {
        throw new InvalidModelException(k + " must be an integer, got '" + s + "'");
      }
    }

    Integer optInt(String k) throws InvalidModelException {
      Long l = optLong(k);
      if (l == null) return null;
      if (l != l.intValue()) throw new InvalidModelException(k + " is too large: " + l);
      return l.intValue();
    }

    int integer(String k, int dflt) throws InvalidModelException {
      Integer i = optInt(k);
      return i == null ? dflt : i;
    }

    boolean bool(String k, boolean dflt) throws InvalidModelException {
      String s = raw(k);
      if (s == null) return dflt;
      return switch (s.toLowerCase(java.util.Locale.ROOT)) {
        case "true", "1", "yes" -> true;
        case "false", "0", "no" -> false;
        default -> throw new InvalidModelException(k + " must be true or false, got '" + s + "'");
      };
    }
  }
}
