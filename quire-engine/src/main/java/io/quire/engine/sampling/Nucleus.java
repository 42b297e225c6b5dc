package io.quire.engine.sampling;

import java.util.Arrays;

/**
 * top_p over a whole vocab row without sorting it. The weights w are positive floats, so their
 * bit patterns order like their values: a radix select on those bits (12, 10, 10 bits), with
 * per-digit mass histograms, finds the weight at which the most-likely-first mass reaches p, and
 * equal weights are taken lowest id first. Then a walk in id order samples among the kept tokens.
 *
 * <p>Only tokens above a floor are looked at after one vectorised pass: those below it weigh less
 * than (1 - p) / 2 of the total together, so the cut cannot be among them. In a peaked row that
 * leaves a few hundred candidates; in a flat one, all of them, still without a sort.
 *
 * <p>Order is by weight exp((logit - max) / T) in fp32, which follows the logit order; logits that
 * round to the same weight count as ties.
 */
final class Nucleus {
  private Nucleus() {}

  private static final int[] SHIFT = {20, 10, 0};
  private static final int[] DIGITS = {1 << 12, 1 << 10, 1 << 10};

  /**
   * Samples a token among the most likely ones whose mass reaches p.
   *
   * @param w weights of the row (0 for excluded tokens)
   * @param total their sum
   * @param candidates, members scratch of at least len ints each
   * @param hist scratch of 4096 doubles
   */
  static int sample(
      float[] w,
      int len,
      double total,
      double p,
      double u,
      int[] candidates,
      int[] members,
      double[] hist) {
    double target = p * total;
    float floor = (float) ((1 - p) * total / (2.0 * len));
    int numCandidates = RowKernels.collectAbove(w, 0, len, floor, candidates);

    int count = numCandidates;
    System.arraycopy(candidates, 0, members, 0, count);
    double above = 0; // mass of the tokens known to rank above every remaining member
    int prefix = 0;
    for (int level = 0; level < SHIFT.length; level++) {
      int shift = SHIFT[level];
      int mask = DIGITS[level] - 1;
      Arrays.fill(hist, 0, DIGITS[level], 0);
      for (int j = 0; j < count; j++) {
        float x = w[members[j]];
        hist[(Float.floatToRawIntBits(x) >>> shift) & mask] += x;
      }
      int digit = select(hist, DIGITS[level], above, target);
      if (digit < 0) {
        if (level == 0) return walk(w, candidates, numCandidates, 0, -1, u * total); // keep all
        digit = lowestNonZero(hist, DIGITS[level]); // rounding: keep every member
      }
      for (int d = DIGITS[level] - 1; d > digit; d--) above += hist[d];
      prefix = level == 0 ? digit : (prefix << (SHIFT[level - 1] - shift)) | digit;
      int kept = 0;
      for (int j = 0; j < count; j++) {
        if (Float.floatToRawIntBits(w[members[j]]) >>> shift == prefix) members[kept++] = members[j];
      }
      count = kept;
    }
    // members: the tokens of weight exactly cut, in id order. Keep them while the mass before
    // each is still below the target (at least the first).
    float cut = Float.intBitsToFloat(prefix);
    int lastId = members[0];
    double kept = above;
    for (int j = 0; j < count; j++) {
      if (j > 0 && kept >= target) break;
      lastId = members[j];
      kept += cut;
    }
    return walk(w, candidates, numCandidates, prefix, lastId, u * kept);
  }

  /** Highest digit at which the running mass reaches the target, or -1. */
  private static int select(double[] hist, int digits, double above, double target) {
    double acc = above;
    for (int d = digits - 1; d >= 0; d--) {
      acc += hist[d];
      if (hist[d] > 0 && acc >= target) return d;
    }
    return -1;
  }

  private static int lowestNonZero(double[] hist, int digits) {
    for (int d = 0; d < digits; d++) if (hist[d] > 0) return d;
    return 0;
  }

  /**
   * Walks the candidates in id order over the kept tokens (weight bits above cutBits, or equal
   * with id at most lastId) and returns the one where the cumulative weight passes target.
   */
  private static int walk(
      float[] w, int[] candidates, int count, int cutBits, int lastId, double target) {
    double acc = 0;
    int last = -1;
    for (int j = 0; j < count; j++) {
      int i = candidates[j];
      float x = w[i];
      int bits = Float.floatToRawIntBits(x);
      if (bits < cutBits || (bits == cutBits && i > lastId)) continue;
      acc += x;
      last = i;
      if (acc > target) return i;
    }
    return Math.max(last, 0);
  }
}
