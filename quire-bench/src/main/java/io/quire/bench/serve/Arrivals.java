package io.quire.bench.serve;

import java.util.Random;

/**
 * When requests are sent: all at once (rate infinite), evenly at {@code rate} per second, or as a
 * Poisson process of that rate (exponential gaps, seeded).
 */
public record Arrivals(double rate, boolean poisson, long seed) {
  public static Arrivals allAtOnce() {
    return new Arrivals(Double.POSITIVE_INFINITY, false, 0);
  }

  public Arrivals {
    if (!(rate > 0)) throw new IllegalArgumentException("request rate must be > 0 (or inf), got " + rate);
  }

  public Arrivals withRate(double r) {
    return new Arrivals(r, poisson, seed);
  }

  /** Send offsets in nanoseconds from the start, for {@code n} requests; the first is 0. */
  public long[] offsetsNanos(int n) {
    long[] t = new long[n];
    if (Double.isInfinite(rate)) return t;
    Random rng = new Random(seed);
    double at = 0;
    for (int i = 1; i < n; i++) {
      at += poisson ? -Math.log(1 - rng.nextDouble()) / rate : 1 / rate;
      t[i] = (long) (at * 1e9);
    }
    return t;
  }

  public String describe() {
    return Double.isInfinite(rate) ? "all at once" : (poisson ? "poisson " : "fixed ") + rate + "/s";
  }
}
