package io.quire.bench.workload;

import java.util.Random;

/**
 * How many tokens a request's input or output has: {@code 128} (fixed), {@code uniform:64-256}
 * (inclusive), {@code normal:128,32} (mean, standard deviation; rounded, at least 1).
 */
public sealed interface LengthDistribution {
  int sample(Random rng);

  record Fixed(int length) implements LengthDistribution {
    public Fixed {
      if (length < 1) throw new IllegalArgumentException("length must be >= 1, got " + length);
    }

    @Override
    public int sample(Random rng) {
      return length;
    }

    @Override
    public String toString() {
      return Integer.toString(length);
    }
  }

  record Uniform(int min, int max) implements LengthDistribution {
    public Uniform {
      if (min < 1 || max < min) throw new IllegalArgumentException("uniform lengths need 1 <= min <= max, got " + min + "-" + max);
    }

    @Override
    public int sample(Random rng) {
      return min + rng.nextInt(max - min + 1);
    }

    @Override
    public String toString() {
      return "uniform:" + min + "-" + max;
    }
  }

  record Normal(double mean, double std) implements LengthDistribution {
    public Normal {
      if (mean < 1 || std < 0) throw new IllegalArgumentException("normal lengths need mean >= 1 and std >= 0, got " + mean + "," + std);
    }

    @Override
    public int sample(Random rng) {
      return (int) Math.max(1, Math.round(mean + std * rng.nextGaussian()));
    }

    @Override
    public String toString() {
      return "normal:" + mean + "," + std;
    }
  }

  /** Parses the command-line form; the message names the accepted forms. */
  static LengthDistribution parse(String s) {
    String t = s.trim();
    try {
      if (t.startsWith("uniform:")) {
        String[] p = t.substring(8).split("-");
        if (p.length != 2) throw new NumberFormatException();
        return new Uniform(Integer.parseInt(p[0].trim()), Integer.parseInt(p[1].trim()));
      }
      if (t.startsWith("normal:")) {
        String[] p = t.substring(7).split(",");
        if (p.length != 2) throw new NumberFormatException();
        return new Normal(Double.parseDouble(p[0].trim()), Double.parseDouble(p[1].trim()));
      }
      return new Fixed(Integer.parseInt(t));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("length '" + s + "' must be N, uniform:MIN-MAX or normal:MEAN,STD");
    }
  }
}
