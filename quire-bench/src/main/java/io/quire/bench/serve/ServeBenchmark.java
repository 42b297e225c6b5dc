package io.quire.bench.serve;

import io.quire.bench.report.ProgressBar;
import io.quire.bench.report.SweepChart;
import java.io.IOException;
import java.nio.file.Path;
import io.quire.bench.workload.BenchRequest;
import java.util.ArrayList;
import java.util.List;

/** Runs a workload against a server once per sweep point and reports each run. */
public final class ServeBenchmark {
  /** How requests are sent: arrivals, a concurrency cap (0: none), SLOs for goodput (may be null). */
  public record Settings(Arrivals arrivals, int maxConcurrency, Slo slo) {}

  private final StreamingClient client;

  public ServeBenchmark(StreamingClient client) {
    this.client = client;
  }

  /**
   * Sends the first {@code n} requests of the workload one after another, unmeasured, so that a
   * freshly started server's JIT warm-up does not land in the first sweep point.
   */
  public void warmup(List<BenchRequest> requests, int n) {
    for (int i = 0; i < Math.min(n, requests.size()); i++) {
      RequestResult r = client.send(requests.get(i));
      if (!r.ok()) throw new IllegalStateException("warm-up request failed (" + r.error() + "): " + r.message());
    }
  }

  public List<ServeReport> run(List<BenchRequest> requests, Settings settings, Sweep sweep) throws InterruptedException {
    List<ServeReport> reports = new ArrayList<>();
    for (double v : sweep.values()) {
      Arrivals arrivals = sweep.kind() == Sweep.Kind.RATE ? settings.arrivals().withRate(v) : settings.arrivals();
      int cap = sweep.kind() == Sweep.Kind.CONCURRENCY ? (int) v : settings.maxConcurrency();
      String label = switch (sweep.kind()) {
        case SINGLE -> "bench";
        case RATE -> "rate " + (Double.isInfinite(v) ? "inf" : fmt(v));
        case CONCURRENCY -> "concurrency " + (int) v;
      };
      long t0 = System.nanoTime();
      List<RequestResult> results;
      try (ProgressBar bar = new ProgressBar(label, requests.size())) {
        results = new LoadGenerator(client).run(requests, arrivals, cap, bar::step);
      }
      reports.add(ServeReport.of(v, results, (System.nanoTime() - t0) / 1e9, settings.slo()));
    }
    return reports;
  }

  /** The sweep's chart: output tokens/s, and TTFT and E2E latency p50/p99, against the swept load. */
  public static void writeChart(Path png, String title, String subtitle, Sweep sweep, List<ServeReport> reports) throws IOException {
    int n = reports.size();
    String[] ticks = new String[n];
    double[] tput = new double[n], ttft50 = new double[n], ttft99 = new double[n], e2e50 = new double[n], e2e99 = new double[n];
    for (int i = 0; i < n; i++) {
      ServeReport r = reports.get(i);
      ticks[i] = Double.isNaN(r.load()) ? "run" : Double.isInfinite(r.load()) ? "inf" : fmt(r.load());
      tput[i] = r.outputThroughput();
      ttft50[i] = r.ttftMs().p50();
      ttft99[i] = r.ttftMs().p99();
      e2e50[i] = r.e2elMs().p50();
      e2e99[i] = r.e2elMs().p99();
    }
    SweepChart.write(png, title, subtitle, sweep.kind().axisLabel, ticks, List.of(
        new SweepChart.Panel("Throughput", "output tokens/s", List.of(new SweepChart.Series("output tokens/s", SweepChart.BLUE, tput))),
        new SweepChart.Panel("Latency", "ms", List.of(
            new SweepChart.Series("E2E p50", SweepChart.ORANGE, e2e50),
            new SweepChart.Series("E2E p99", SweepChart.RED, e2e99),
            new SweepChart.Series("TTFT p50", SweepChart.GREEN, ttft50),
            new SweepChart.Series("TTFT p99", SweepChart.PURPLE, ttft99)))));
  }

  static String fmt(double v) {
    return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
  }
}
