package io.quire.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quire.bench.serve.Api;
import io.quire.bench.serve.Arrivals;
import io.quire.bench.serve.ServeBenchmark;
import io.quire.bench.serve.ServeReport;
import io.quire.bench.serve.ServerTarget;
import io.quire.bench.serve.Slo;
import io.quire.bench.serve.StreamingClient;
import io.quire.bench.serve.Sweep;
import io.quire.bench.workload.BenchRequest;
import io.quire.bench.workload.TokenCounter;
import io.quire.bench.workload.Workload;
import io.quire.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "serve", mixinStandardHelpOptions = true,
    description = "Load a server over HTTP (OpenAI completions or Triton generate_stream, streaming) and report TTFT, TPOT,"
        + " ITL and E2E latency, throughput and goodput; sweep request rates or concurrency into JSON and a PNG chart.")
final class BenchServeCommand implements Callable<Integer> {
  @Mixin WorkloadOptions workload;

  @Option(names = "--url", defaultValue = "http://localhost:8000", description = "Server base URL. Default: ${DEFAULT-VALUE}.")
  String url;

  @Option(names = "--api", defaultValue = "openai", description = "openai (/v1/completions) or triton (/v2/models/M/generate_stream). Default: ${DEFAULT-VALUE}.")
  String api;

  @Option(names = "--model", description = "Served model name (default: the server's only model).")
  String model;

  @Option(names = "--tokenizer", description = "Count tokens with this folder's tokenizer.json instead of the server's /tokenize (for Triton).")
  Path tokenizer;

  @Option(names = "--request-rate", defaultValue = "inf", description = "Requests per second, or inf (all at once). Default: ${DEFAULT-VALUE}.")
  String requestRate;

  @Option(names = "--arrival", defaultValue = "poisson", description = "poisson (seeded exponential gaps) or fixed (even gaps). Default: ${DEFAULT-VALUE}.")
  String arrival;

  @Option(names = "--max-concurrency", defaultValue = "0", description = "Most requests in flight; 0 for no cap. Default: ${DEFAULT-VALUE}.")
  int maxConcurrency;

  @Option(names = "--sweep-rates", description = "Run the workload at each rate, e.g. 1,2,4,inf.")
  String sweepRates;

  @Option(names = "--sweep-concurrency", description = "Run the workload at each concurrency cap, e.g. 1,4,16.")
  String sweepConcurrency;

  @Option(names = "--slo", description = "Objectives for goodput, e.g. ttft_ms=500,tpot_ms=50 (also e2el_ms).")
  String slo;

  @Option(names = "--request-timeout", defaultValue = "600", description = "Seconds before a request counts as a timeout. Default: ${DEFAULT-VALUE}.")
  double requestTimeoutS;

  @Option(names = "--num-warmups", defaultValue = "1", description = "Unmeasured requests sent first, one at a time. Default: ${DEFAULT-VALUE}.")
  int warmups;

  @Option(names = "--result-json", description = "Write the figures as JSON here (a sweep writes bench-sweep.json by default).")
  Path resultJson;

  @Option(names = "--chart", description = "PNG chart of a sweep (default: the JSON file's name with .png).")
  Path chart;

  @Override
  public Integer call() throws Exception {
    if (sweepRates != null && sweepConcurrency != null) throw new IllegalArgumentException("give --sweep-rates or --sweep-concurrency, not both");
    Sweep sweep = sweepRates != null ? Sweep.parse(Sweep.Kind.RATE, sweepRates)
        : sweepConcurrency != null ? Sweep.parse(Sweep.Kind.CONCURRENCY, sweepConcurrency) : Sweep.single();
    double rate = requestRate.equalsIgnoreCase("inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(requestRate);
    if (!arrival.equals("poisson") && !arrival.equals("fixed")) throw new IllegalArgumentException("--arrival must be poisson or fixed, got " + arrival);
    if (maxConcurrency < 0) throw new IllegalArgumentException("--max-concurrency must be >= 0, got " + maxConcurrency);
    Arrivals arrivals = new Arrivals(rate, arrival.equals("poisson"), workload.seed);
    Slo objectives = slo == null ? null : Slo.parse(slo);
    Workload w = workload.workload();

    ServerTarget target = ServerTarget.connect(url, Api.parse(api), model);
    TokenCounter counter = tokenizer != null ? localCounter(tokenizer) : serverCounter(target, w);
    List<BenchRequest> reqs = w.build(counter);
    List<ServeReport> reports;
    try (StreamingClient client = new StreamingClient(target, Duration.ofMillis((long) (requestTimeoutS * 1000)))) {
      ServeBenchmark bench = new ServeBenchmark(client);
      bench.warmup(reqs, warmups);
      reports = bench.run(reqs, new ServeBenchmark.Settings(arrivals, maxConcurrency, objectives), sweep);
    }
    for (ServeReport r : reports) {
      String title = sweep.kind() == Sweep.Kind.SINGLE ? "Serving Benchmark Result"
          : sweep.kind().axisLabel + " " + (Double.isInfinite(r.load()) ? "inf" : fmt(r.load()));
      System.out.print(r.format(title));
    }
    Path json = resultJson != null ? resultJson : sweep.kind() != Sweep.Kind.SINGLE ? Path.of("bench-sweep.json") : null;
    if (json != null) {
      ObjectNode o = new ObjectMapper().createObjectNode().put("command", "serve").put("url", target.url())
          .put("api", api).put("model", target.model()).put("workload", w.describe())
          .put("arrivals", sweep.kind() == Sweep.Kind.RATE ? (arrivals.poisson() ? "poisson" : "fixed") : arrivals.describe())
          .put("max_concurrency", maxConcurrency).put("sweep", sweep.kind().name().toLowerCase(java.util.Locale.ROOT));
      var results = o.putArray("results");
      reports.forEach(r -> results.add(r.toJson()));
      BenchCommand.writeJson(json, o);
      System.out.println("results: " + json);
    }
    if (sweep.kind() != Sweep.Kind.SINGLE || chart != null) {
      Path png = chart != null ? chart : Path.of(json.toString().replaceFirst("\\.json$", "") + ".png");
      ServeBenchmark.writeChart(png, "quire bench serve: " + target.model() + " (" + api + ")",
          w.describe() + "; " + (sweep.kind() == Sweep.Kind.RATE ? (arrivals.poisson() ? "poisson" : "fixed") + " arrivals" : arrivals.describe())
              + (maxConcurrency > 0 && sweep.kind() != Sweep.Kind.CONCURRENCY ? ", max concurrency " + maxConcurrency : ""), sweep, reports);
      System.out.println("chart: " + png);
    }
    return 0;
  }

  /** The server's /tokenize; a JSONL file can do without (input counts then come from the server's replies). */
  private static TokenCounter serverCounter(ServerTarget target, Workload w) {
    try {
      return target.tokenCounter();
    } catch (IllegalArgumentException e) {
      if (w instanceof Workload.Jsonl) return null;
      throw e;
    }
  }

  private static TokenCounter localCounter(Path dir) throws java.io.IOException {
    Tokenizer tok = Tokenizer.load(dir);
    return text -> tok.encode(text, true).length;
  }

  private static String fmt(double v) {
    return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
  }
}
