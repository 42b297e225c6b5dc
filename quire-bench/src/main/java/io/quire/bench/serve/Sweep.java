package io.quire.bench.serve;

import java.util.Arrays;

/** The load values one command runs the workload at: request rates, concurrency caps, or one run. */
public record Sweep(Kind kind, double[] values) {
  public enum Kind {
    SINGLE("load"),
    RATE("request rate (req/s)"),
    CONCURRENCY("max concurrency");

    public final String axisLabel;

    Kind(String axisLabel) {
      this.axisLabel = axisLabel;
    }
  }

  public static Sweep single() {
    return new Sweep(Kind.SINGLE, new double[] {Double.NaN});
  }

  /** {@code 1,2,4,inf} for rates; {@code 1,4,16} for concurrency (positive integers). */
  public static Sweep parse(Kind kind, String csv) {
    double[] v = Arrays.stream(csv.split(",")).map(String::trim).mapToDouble(s -> {
      try {
        double d = s.equalsIgnoreCase("inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(s);
        if (!(d > 0) || (kind == Kind.CONCURRENCY && (d != Math.rint(d) || Double.isInfinite(d)))) throw new NumberFormatException();
        return d;
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException((kind == Kind.RATE ? "--sweep-rates takes positive numbers or inf" : "--sweep-concurrency takes positive integers")
            + ", got '" + s + "'");
      }
    }).toArray();
    return new Sweep(kind, v);
  }
}
