package io.quire.cli;

import io.quire.engine.EngineConfig;
import io.quire.spi.Backend;
import io.quire.spi.BackendProvider;
import java.nio.file.Path;
import java.util.ServiceLoader;
import picocli.CommandLine.Option;

/** Engine arguments shared by the commands that load a model (vLLM's names, kebab case). */
final class EngineOptions {
  @Option(names = "--model", required = true, description = "Hugging Face model folder (config.json, *.safetensors, tokenizer.json).")
  Path model;

  @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (cuda when a GPU is present). Default: ${DEFAULT-VALUE}.")
  String device;

  @Option(names = "--max-model-len", description = "Prompt plus output limit (default: the model's max_position_embeddings).")
  Integer maxModelLen;

  @Option(names = "--max-num-seqs", defaultValue = "256", description = "Most sequences per step. Default: ${DEFAULT-VALUE}.")
  int maxNumSeqs;

  @Option(names = "--max-num-batched-tokens", defaultValue = "2048", description = "Token budget per step. Default: ${DEFAULT-VALUE}.")
  int maxNumBatchedTokens;

  @Option(names = "--block-size", defaultValue = "16", description = "Tokens per KV block. Default: ${DEFAULT-VALUE}.")
  int blockSize;

  @Option(names = "--num-kv-blocks", description = "KV blocks in the pool (vLLM's num_gpu_blocks_override; default: sized, see --kv-cache-space).")
  Integer numKvBlocks;

  @Option(names = "--kv-cache-space", description = "GiB for the KV pool. Default: on the CPU 2; on CUDA what --gpu-memory-utilization leaves after the weights and a profiling step.")
  Double kvCacheGiB;

  @Option(names = "--gpu-memory-utilization", defaultValue = "0.9",
      description = "CUDA, when neither --num-kv-blocks nor --kv-cache-space is given: the fraction of the GPU's memory to fill, KV pool included. Default: ${DEFAULT-VALUE}.")
  double gpuMemoryUtilization;

  @Option(names = "--no-enable-prefix-caching", description = "Turn automatic prefix caching off.")
  boolean noPrefixCaching;

  @Option(names = "--no-async-scheduling",
      description = "Wait for each step's sampled ids before scheduling the next (async scheduling is on where the backend keeps them on the device: CUDA).")
  boolean noAsyncScheduling;

  @Option(names = "--enforce-eager", description = "Run every step eagerly: no CUDA graphs (vLLM's enforce_eager).")
  boolean enforceEager;

  @Option(names = "--kv-cache-dtype", defaultValue = "auto",
      description = "auto (the model's dtype) or fp8 / fp8_e4m3: K and V as e4m3 bytes (CPU; CUDA on sm_89+). Default: ${DEFAULT-VALUE}.")
  String kvCacheDtype;

  EngineConfig config() {
    if (!java.util.Set.of("auto", "fp8", "fp8_e4m3").contains(kvCacheDtype)) {
      throw new IllegalArgumentException("--kv-cache-dtype must be auto, fp8 or fp8_e4m3, got " + kvCacheDtype);
    }
    if (kvCacheGiB != null && !(kvCacheGiB > 0)) {
      throw new IllegalArgumentException("--kv-cache-space must be > 0 GiB, got " + kvCacheGiB);
    }
    if (!(gpuMemoryUtilization > 0 && gpuMemoryUtilization <= 1)) {
      throw new IllegalArgumentException("--gpu-memory-utilization must be in (0, 1], got " + gpuMemoryUtilization);
    }
    EngineConfig d = EngineConfig.cpuDefaults(model);
    Long kvBytes = kvCacheGiB == null ? null : (long) (kvCacheGiB * (1L << 30));
    return new EngineConfig(model, maxNumSeqs, maxNumBatchedTokens, maxModelLen, blockSize, numKvBlocks, kvBytes,
        gpuMemoryUtilization, !noPrefixCaching, false, d.maxWaiting(), null, !noAsyncScheduling,
        !kvCacheDtype.equals("auto"));
  }

  Backend backend() {
    Backend b = Backends.open(device);
    if (enforceEager) b.enforceEager();
    return b;
  }

  /** Picks a backend by name through the ServiceLoader. */
  static final class Backends {
    static Backend open(String device) {
      BackendProvider cpu = null, cuda = null;
      for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
        if (p.name().equals("cpu")) cpu = p;
        if (p.name().equals("cuda")) cuda = p;
      }
      switch (device) {
        case "cpu" -> {
          if (cpu == null) throw new IllegalStateException("the cpu backend is missing from the classpath");
          return cpu.create();
        }
        case "cuda" -> {
          if (cuda == null) throw new IllegalStateException("--device cuda: this build has no CUDA backend yet");
          if (!cuda.available()) throw new IllegalStateException("--device cuda: " + cuda.unavailableReason());
          return cuda.create();
        }
        case "auto" -> {
          if (cuda != null && cuda.available()) return cuda.create();
          if (cpu == null) throw new IllegalStateException("the cpu backend is missing from the classpath");
          return cpu.create();
        }
        default -> throw new IllegalArgumentException("--device must be cpu, cuda or auto, got " + device);
      }
    }
  }
}
