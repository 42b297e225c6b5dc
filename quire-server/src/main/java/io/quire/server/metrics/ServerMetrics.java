package io.quire.server.metrics;

import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.InfoSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.quire.engine.EngineConfig;
import io.quire.engine.EngineStats;
import io.quire.engine.RequestMetrics;
import io.quire.server.repository.ModelRepository;
import io.quire.server.repository.ServedModel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.function.ToDoubleFunction;

/**
 * The Prometheus registry behind port 8002: Triton's {@code nv_inference_*} per-model counters and
 * vLLM's {@code vllm:*} engine metrics, labelled {@code model} and {@code version}.
 *
 * <p>Names: ':' is legal in Prometheus metric names and the client accepts vLLM's names as they
 * are. The client appends {@code _total} to counters, which gives vLLM's exposed names
 * ({@code vllm:prompt_tokens_total}); Triton's counters carry no {@code _total}
 * ({@code nv_inference_count}), so they are exported with the gauge type to keep Triton's exact
 * names (values still only grow).
 */
public final class ServerMetrics {
  private static final String[] LABELS = {"model", "version"};
  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final ModelRepository repository;
  private final Histogram ttft;
  private final Histogram itl;
  private final Histogram e2e;
  private final Histogram queueTime;

  public ServerMetrics(ModelRepository repository) {
    this.repository = repository;
    tritonCounter("nv_inference_request_success", "Number of successful inference requests, all batch sizes",
        m -> m.stats.successCount.sum());
    tritonCounter("nv_inference_request_failure", "Number of failed inference requests, all batch sizes",
        m -> m.stats.failCount.sum());
    tritonCounter("nv_inference_count", "Number of inferences performed (does not include cached requests)",
        m -> m.stats.inferenceCount.sum());
    tritonCounter("nv_inference_exec_count", "Number of model executions performed (does not include cached requests)",
        m -> m.stats.executionCount.sum());
    tritonCounter("nv_inference_request_duration_us", "Cumulative inference request duration in microseconds",
        m -> (m.stats.successNs.sum() + m.stats.failNs.sum()) / 1000);
    tritonCounter("nv_inference_queue_duration_us", "Cumulative inference queuing duration in microseconds",
        m -> m.stats.queueNs.sum() / 1000);
    tritonCounter("nv_inference_compute_infer_duration_us", "Cumulative compute inference duration in microseconds",
        m -> m.stats.computeNs.sum() / 1000);
    modelGauge("nv_inference_pending_request_count", "Instantaneous number of pending requests awaiting execution",
        m -> m.stats.pending.get());

    engineGauge("vllm:num_requests_running", "Number of requests in model execution batches.", EngineStats::numRunning);
    engineGauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", EngineStats::numWaiting);
    engineGauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", EngineStats::kvUsage);
    engineCounter("vllm:prompt_tokens", "Number of prefill tokens processed.", EngineStats::promptTokens);
    engineCounter("vllm:generation_tokens", "Number of generation tokens processed.", EngineStats::generationTokens);
    engineCounter("vllm:num_preemptions", "Cumulative number of preemption from the engine.", EngineStats::numPreemptions);
    engineCounter("vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.",
        EngineStats::prefixCacheQueries);
    engineCounter("vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.",
        EngineStats::prefixCacheHits);
    CounterWithCallback.builder()
        .name("vllm:request_success")
        .help("Count of successfully processed requests.")
        .labelNames("model", "version", "finished_reason")
        .callback(cb -> {
          for (ServedModel m : repository.ready()) {
            EngineStats s = stats(m);
            if (s == null) continue;
            cb.call(s.requestsFinishedStop(), m.name(), m.version(), "stop");
            cb.call(s.requestsFinishedLength(), m.name(), m.version(), "length");
            cb.call(s.requestsFinishedAbort(), m.name(), m.version(), "abort");
          }
        })
        .register(registry);

    registry.register(this::cacheConfigInfo);

    double[] latency = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
        20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
    ttft = histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", latency);
    itl = histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
        new double[] {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0});
    e2e = histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.",
        new double[] {0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0});
    queueTime = histogram("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.",
        new double[] {0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0});
  }

  /**
   * Where a request records each inter-token interval as it sees it (the server times each
   * message of new tokens as it arrives; the engine reports only first and last token times).
   */
  public DistributionDataPoint interTokenLatency(ServedModel m) {
    return itl.labelValues(m.name(), m.version());
  }

  /** Records the latencies of one finished request (TTFT, e2e, queue time; not inter-token). */
  public void observe(ServedModel m, RequestMetrics rm) {
    if (rm == null || rm.arrivalNanos() == 0) return;
    String[] lv = {m.name(), m.version()};
    if (rm.firstTokenNanos() > 0) ttft.labelValues(lv).observe(seconds(rm.firstTokenNanos() - rm.arrivalNanos()));
    if (rm.finishedNanos() > 0) e2e.labelValues(lv).observe(seconds(rm.finishedNanos() - rm.arrivalNanos()));
    if (rm.firstScheduledNanos() > 0) {
      queueTime.labelValues(lv).observe(seconds(rm.firstScheduledNanos() - rm.arrivalNanos()));
    }
  }

  /** The text exposition (format 0.0.4) of every metric. */
  public byte[] scrape() throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PrometheusTextFormatWriter.create().write(out, registry.scrape());
    return out.toByteArray();
  }

  public String contentType() {
    return PrometheusTextFormatWriter.CONTENT_TYPE;
  }

  /**
   * vLLM's {@code vllm:cache_config_info}: the KV cache each model runs with, as labels (the pool's
   * blocks as sized at start: from gpu_memory_utilization, num_gpu_blocks_override or a byte size).
   */
  private InfoSnapshot cacheConfigInfo() {
    InfoSnapshot.Builder b = InfoSnapshot.builder().name("vllm:cache_config").help("Information of the LLMEngine CacheConfig");
    for (ServedModel m : repository.ready()) {
      EngineStats s = stats(m);
      if (s == null) continue;
      EngineConfig c = m.engine().config();
      b.dataPoint(InfoSnapshot.InfoDataPointSnapshot.builder().labels(Labels.of(
          "model", m.name(), "version", m.version(),
          "block_size", Integer.toString(c.blockSize()),
          "enable_prefix_caching", Boolean.toString(c.enablePrefixCaching()),
          "gpu_memory_utilization", Double.toString(c.gpuMemoryUtilization()),
          "num_gpu_blocks", Integer.toString(s.kvBlocksTotal()))).build());
    }
    return b.build();
  }

  private static double seconds(long nanos) {
    return Math.max(0, nanos) / 1e9;
  }

  private static EngineStats stats(ServedModel m) {
    try {
      return m.engine().stats();
    } catch (RuntimeException e) {
      return null;
    }
  }

  private Histogram histogram(String name, String help, double[] buckets) {
    return Histogram.builder().name(name).help(help).labelNames(LABELS).classicOnly().classicUpperBounds(buckets)
        .register(registry);
  }

  private void tritonCounter(String name, String help, ToDoubleFunction<ServedModel> f) {
    modelGauge(name, help, f);
  }

  private void modelGauge(String name, String help, ToDoubleFunction<ServedModel> f) {
    GaugeWithCallback.builder().name(name).help(help).labelNames(LABELS)
        .callback(cb -> {
          for (ServedModel m : repository.ready()) cb.call(f.applyAsDouble(m), m.name(), m.version());
        })
        .register(registry);
  }

  private void engineGauge(String name, String help, ToDoubleFunction<EngineStats> f) {
    GaugeWithCallback.builder().name(name).help(help).labelNames(LABELS)
        .callback(cb -> {
          for (ServedModel m : repository.ready()) {
            EngineStats s = stats(m);
            if (s != null) cb.call(f.applyAsDouble(s), m.name(), m.version());
          }
        })
        .register(registry);
  }

  private void engineCounter(String name, String help, ToDoubleFunction<EngineStats> f) {
    CounterWithCallback.builder().name(name).help(help).labelNames(LABELS)
        .callback(cb -> {
          for (ServedModel m : repository.ready()) {
            EngineStats s = stats(m);
            if (s != null) cb.call(f.applyAsDouble(s), m.name(), m.version());
          }
        })
        .register(registry);
  }
}
