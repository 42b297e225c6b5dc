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

  @Option(names = "--num-kv-blocks", description = "KV blocks in the pool (default: sized from --kv-cache-space).")
  Integer numKvBlocks;

  @Option(names = "--kv-cache-space", defaultValue = "2", description = "GiB for the KV pool on the CPU. Default: ${DEFAULT-VALUE}.")
  double kvCacheGiB;

  @Option(names = "--no-enable-prefix-caching", description = "Turn automatic prefix caching off.")
  boolean noPrefixCaching;

  EngineConfig config() {
    EngineConfig d = EngineConfig.cpuDefaults(model);
    return new EngineConfig(model, maxNumSeqs, maxNumBatchedTokens, maxModelLen, blockSize, numKvBlocks,
        (long) (kvCacheGiB * (1L << 30)), !noPrefixCaching, false, d.maxWaiting(), null);
  }

  Backend backend() {
    return Backends.open(device);
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
