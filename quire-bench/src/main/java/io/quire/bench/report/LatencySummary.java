package io.quire.bench.report;

import java.util.Arrays;

/**
 * Mean and percentiles of a latency sample, in milliseconds. Percentiles interpolate linearly
 * between closest ranks (numpy's default, which vLLM's benchmark_serving uses); NaN when empty.
 */
public record LatencySummary(int count, double mean, double p50, double p90, double p99) {
  public static LatencySummary of(double[] values) {
    if (values.length == 0) return new LatencySummary(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
    double[] s = values.clone();
    Arrays.sort(s);
    double sum = 0;
    for (double v : s) sum += v;
    return new LatencySummary(s.length, sum / s.length, percentile(s, 50), percentile(s, 90), percentile(s, 99));
  }

  /** The {@code p}-th percentile (0..100) of ascending {@code sorted}. */
  public static double percentile(double[] sorted, double p) {
    if (sorted.length == 0) return Double.NaN;
    if (p < 0 || p > 100) throw new IllegalArgumentException("percentile must be in [0, 100], got " + p);
    double rank = p / 100 * (sorted.length - 1);
    int lo = (int) Math.floor(rank), hi = (int) Math.ceil(rank);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
  }
}
