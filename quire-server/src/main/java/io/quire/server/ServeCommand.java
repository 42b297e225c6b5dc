package io.quire.server;

import io.quire.server.http.ServerOptions;
import io.quire.server.repository.EngineLauncher;
import io.quire.server.repository.ModelRepository;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Logger;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code quire serve}: tritonserver's flags over a Triton model repository or one HF folder.
 * Serves KServe v2 + generate and the OpenAI API on --http-port, Prometheus metrics on
 * --metrics-port. gRPC is not served yet; --grpc-port is accepted for compatibility.
 */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    description = "Serve a Triton model repository (or one Hugging Face model folder) over Triton's HTTP"
        + " protocol and the OpenAI-compatible API.")
public final class ServeCommand implements Callable<Integer> {
  private static final Logger LOG = Logger.getLogger(ServeCommand.class.getName());

  @Option(names = "--model-repository", paramLabel = "DIR", description = "Triton model repository")
  Path modelRepository;

  @Option(names = "--model", paramLabel = "HF_DIR", description = "serve one Hugging Face model folder")
  Path model;

  @Option(names = "--served-model-name", description = "name of the --model model (default: the folder name)")
  String servedModelName;

  @Option(names = "--host", defaultValue = "0.0.0.0", description = "address to listen on (default: ${DEFAULT-VALUE})")
  String host;

  @Option(names = "--http-port", defaultValue = "8000", description = "HTTP port (default: ${DEFAULT-VALUE})")
  int httpPort;

  @Option(names = "--grpc-port", defaultValue = "8001", description = "accepted; gRPC is not served yet")
  int grpcPort;

  @Option(names = "--metrics-port", defaultValue = "8002", description = "Prometheus metrics port (default: ${DEFAULT-VALUE})")
  int metricsPort;

  @Option(names = "--model-control-mode", defaultValue = "none", description = "none | explicit (default: ${DEFAULT-VALUE})")
  String modelControlMode;

  @Option(names = "--load-model", paramLabel = "NAME", description = "with explicit mode: load this model at start (repeatable; * = all)")
  List<String> loadModel = new ArrayList<>();

  @Option(names = "--api-key", description = "require 'Authorization: Bearer KEY' (all endpoints but /v2/health)")
  String apiKey;

  @Option(names = "--device", defaultValue = "auto", description = "cpu | cuda | auto (default: ${DEFAULT-VALUE})")
  String device;

  @Option(names = "--max-request-bytes", defaultValue = "16777216", description = "largest request body (default: ${DEFAULT-VALUE})")
  long maxRequestBytes;

  @Option(names = "--request-timeout-ms", defaultValue = "0", description = "abort requests running longer (0: never)")
  long requestTimeoutMs;

  @Option(names = "--max-model-len", description = "with --model: max_model_len (default: the model's)")
  Integer maxModelLen;

  @Option(names = "--max-num-seqs", description = "with --model: max_num_seqs (default 256)")
  Integer maxNumSeqs;

  @Option(names = "--num-gpu-blocks-override", description = "with --model: KV blocks in the pool")
  Integer numGpuBlocksOverride;

  @Option(names = "--gpu-memory-utilization", description = "with --model: gpu_memory_utilization (default 0.90)")
  Double gpuMemoryUtilization;

  @Option(names = "--enforce-eager", description = "with --model: enforce_eager, no CUDA graphs")
  boolean enforceEager;

  @Option(names = "--kv-cache-dtype", description = "with --model: kv_cache_dtype, auto (default) or fp8 (e4m3, CUDA)")
  String kvCacheDtype;

  public ServeCommand() {}

  /** Starts the server from the parsed options (for embedding and tests). */
  public QuireServer startServer() throws Exception {
    if (modelRepository == null && model == null) {
      // No arguments: the embedded demo repository (models/ beside bin/quire), on the CPU.
      String home = System.getProperty("quire.home");
      java.nio.file.Path embedded = home == null ? null : java.nio.file.Path.of(home, "models");
      if (embedded == null || !java.nio.file.Files.isDirectory(embedded)) {
        throw new CommandLine.ParameterException(new CommandLine(this),
            "give --model-repository DIR or --model HF_DIR (no embedded model repository found"
                + (embedded == null ? "" : " at " + embedded) + ")");
      }
      modelRepository = embedded;
      LOG.info("no --model-repository or --model: serving the embedded repository " + embedded);
    }
    if (modelRepository != null && model != null) {
      throw new CommandLine.ParameterException(new CommandLine(this), "give exactly one of --model-repository or --model");
    }
    if (!modelControlMode.equals("none") && !modelControlMode.equals("explicit")) {
      throw new CommandLine.ParameterException(new CommandLine(this),
          "--model-control-mode must be none or explicit, got '" + modelControlMode + "'");
    }
    if (!List.of("cpu", "cuda", "auto").contains(device)) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--device must be cpu, cuda or auto, got '" + device + "'");
    }
    boolean explicit = modelControlMode.equals("explicit");
    if (!explicit && !loadModel.isEmpty()) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--load-model needs --model-control-mode explicit");
    }
    ModelRepository.Options ro = new ModelRepository.Options(device, System.getenv());
    EngineLauncher launcher = new EngineLauncher();
    ModelRepository repo = model != null
        ? ModelRepository.ofModelFolder(model, servedModelName, engineArgs(), ro, launcher)
        : ModelRepository.ofDirectory(modelRepository, ro, launcher);
    ServerOptions so = new ServerOptions(apiKey, explicit, maxRequestBytes, requestTimeoutMs * 1_000_000L);
    QuireServer s = QuireServer.start(repo, so, host, httpPort, metricsPort, loadModel);
    LOG.info("HTTP (KServe v2 + generate, OpenAI /v1) on " + host + ":" + s.httpPort() + ", metrics on :" + s.metricsPort()
        + "; gRPC (port " + grpcPort + ") is not served yet");
    return s;
  }

  private java.util.Map<String, Object> engineArgs() {
    java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
    if (maxModelLen != null) m.put("max_model_len", maxModelLen);
    if (maxNumSeqs != null) m.put("max_num_seqs", maxNumSeqs);
    if (numGpuBlocksOverride != null) m.put("num_gpu_blocks_override", numGpuBlocksOverride);
    if (gpuMemoryUtilization != null) m.put("gpu_memory_utilization", gpuMemoryUtilization);
    if (enforceEager) m.put("enforce_eager", true);
    if (kvCacheDtype != null) m.put("kv_cache_dtype", kvCacheDtype);
    return m;
  }

  @Override
  public Integer call() throws Exception {
    QuireServer s = startServer();
    CountDownLatch stop = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      s.close();
      stop.countDown();
    }));
    stop.await();
    return 0;
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new ServeCommand()).execute(args));
  }
}
