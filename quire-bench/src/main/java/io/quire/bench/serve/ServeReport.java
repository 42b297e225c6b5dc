package io.quire.bench.serve;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quire.bench.report.LatencySummary;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The figures of one serving run, named as vLLM's benchmark_serving names them.
 *
 * @param load the swept value (request rate or concurrency) or NaN for a single run
 * @param errors failed requests by kind, and the first message of each kind
 * @param goodput requests per second that met every SLO; NaN when no SLO was given
 */
public record ServeReport(
    double load,
    int completed,
    int failed,
    Map<String, Integer> errors,
    Map<String, String> errorExamples,
    double durationS,
    long totalInputTokens,
    long totalOutputTokens,
    double requestThroughput,
    double outputThroughput,
    double totalTokenThroughput,
    double goodput,
    LatencySummary ttftMs,
    LatencySummary tpotMs,
    LatencySummary itlMs,
    LatencySummary e2elMs) {

  public static ServeReport of(double load, List<RequestResult> results, double durationS, Slo slo) {
    int ok = 0, good = 0;
    long in = 0, out = 0;
    Map<String, Integer> errors = new TreeMap<>();
    Map<String, String> examples = new TreeMap<>();
    int itlCount = 0;
    for (RequestResult r : results) if (r.ok()) itlCount += r.chunkNanos().length - 1;
    double[] itl = new double[itlCount];
    double[] ttft = new double[results.size()], tpot = new double[results.size()], e2el = new double[results.size()];
    int k = 0, nt = 0;
    for (RequestResult r : results) {
      if (!r.ok()) {
        errors.merge(r.error(), 1, Integer::sum);
        examples.putIfAbsent(r.error(), r.message());
        continue;
      }
      ttft[ok] = r.ttftMs();
      e2el[ok] = r.e2eNanos() / 1e6;
      if (r.outputTokens() > 1) tpot[nt++] = r.tpotMs();
      long[] c = r.chunkNanos();
      for (int i = 1; i < c.length; i++) itl[k++] = (c[i] - c[i - 1]) / 1e6;
      in += Math.max(0, r.inputTokens());
      out += r.outputTokens();
      if (slo != null && slo.met(r)) good++;
      ok++;
    }
    return new ServeReport(load, ok, results.size() - ok, errors, examples, durationS, in, out, ok / durationS,
        out / durationS, (in + out) / durationS, slo == null ? Double.NaN : good / durationS,
        LatencySummary.of(java.util.Arrays.copyOf(ttft, ok)), LatencySummary.of(java.util.Arrays.copyOf(tpot, nt)),
        LatencySummary.of(itl), LatencySummary.of(java.util.Arrays.copyOf(e2el, ok)));
  }

  public ObjectNode toJson() {
    ObjectNode o = ServerTarget.JSON.createObjectNode();
    num(o, "load", load);
    o.put("completed", completed).put("failed", failed);
    ObjectNode e = o.putObject("errors");
    errors.forEach((kind, n) -> e.putObject(kind).put("count", n).put("example", errorExamples.get(kind)));
    num(o, "duration_s", durationS);
    o.put("total_input_tokens", totalInputTokens).put("total_output_tokens", totalOutputTokens);
    num(o, "request_throughput", requestThroughput);
    num(o, "output_throughput", outputThroughput);
    num(o, "total_token_throughput", totalTokenThroughput);
    num(o, "goodput", goodput);
    summary(o, "ttft_ms", ttftMs);
    summary(o, "tpot_ms", tpotMs);
    summary(o, "itl_ms", itlMs);
    summary(o, "e2el_ms", e2elMs);
    return o;
  }

  private static void summary(ObjectNode o, String name, LatencySummary s) {
    ObjectNode n = o.putObject(name);
    num(n, "mean", s.mean());
    num(n, "p50", s.p50());
    num(n, "p90", s.p90());
    num(n, "p99", s.p99());
  }

  /** JSON has no NaN: an undefined figure is null. */
  static void num(ObjectNode o, String k, double v) {
    if (Double.isNaN(v) || Double.isInfinite(v)) o.putNull(k);
    else o.put(k, v);
  }

  /** The report as benchmark_serving prints it. */
  public String format(String title) {
    StringBuilder b = new StringBuilder();
    b.append(String.format("============ %s ============%n", title));
    line(b, "Successful requests:", completed);
    line(b, "Failed requests:", failed);
    errors.forEach((k, n) -> line(b, "  " + k + ":", n + "  (" + errorExamples.get(k) + ")"));
    line(b, "Benchmark duration (s):", String.format("%.2f", durationS));
    line(b, "Total input tokens:", totalInputTokens);
    line(b, "Total generated tokens:", totalOutputTokens);
    line(b, "Request throughput (req/s):", String.format("%.2f", requestThroughput));
    if (!Double.isNaN(goodput)) line(b, "Request goodput (req/s):", String.format("%.2f", goodput));
    line(b, "Output token throughput (tok/s):", String.format("%.2f", outputThroughput));
    line(b, "Total token throughput (tok/s):", String.format("%.2f", totalTokenThroughput));
    block(b, "Time to First Token", "TTFT", ttftMs);
    block(b, "Time per Output Token (excl. 1st token)", "TPOT", tpotMs);
    block(b, "Inter-token Latency", "ITL", itlMs);
    block(b, "End-to-end Latency", "E2EL", e2elMs);
    b.append("=".repeat(50)).append(System.lineSeparator());
    return b.toString();
  }

  private static void block(StringBuilder b, String title, String abbr, LatencySummary s) {
    String pad = "-".repeat(Math.max(1, (48 - title.length()) / 2));
    b.append(pad).append(title).append(pad).append(System.lineSeparator());
    line(b, "Mean " + abbr + " (ms):", String.format("%.2f", s.mean()));
    line(b, "P50 " + abbr + " (ms):", String.format("%.2f", s.p50()));
    line(b, "P90 " + abbr + " (ms):", String.format("%.2f", s.p90()));
    line(b, "P99 " + abbr + " (ms):", String.format("%.2f", s.p99()));
  }

  static void line(StringBuilder b, String k, Object v) {
    b.append(String.format("%-40s %s%n", k, v));
  }
}
