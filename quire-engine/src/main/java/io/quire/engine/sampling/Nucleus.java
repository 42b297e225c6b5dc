package io.quire.engine.sampling;

import io.quire.spi.SamplingMath;
import java.util.Arrays;

/**
 * top_p over a whole vocab row without sorting it. The weights w are positive floats, so their
 * bit patterns order like their values: a radix select on those bits (12, 10, 10 bits), with
 * per-digit mass histograms, finds the weight at which the most-likely-first mass reaches the
 * target, and equal weights are taken lowest id first. Then a walk in id order samples among the
 * kept tokens.
 *
 * <p>Only tokens above a floor are looked at after one vectorised pass: those below it weigh less
 * than (1 - p) / 2 of the total together, so the cut cannot be among them. In a peaked row that
 * leaves a few hundred candidates; in a flat one, all of them, still without a sort.
 *
 * <p>Order is by weight (fp32 bits), which follows the logit order; logits that round to the same
 * weight count as ties. Masses are exact integers ({@link SamplingMath#mass}).
 */
final class Nucleus {
  private Nucleus() {}

  private static final int[] SHIFT = {20, 10, 0};
  private static final int[] DIGITS = {1 << 12, 1 << 10, 1 << 10};

  /**
   * The kept tokens: candidates[0..count) (ids in order) with weight bits above cutBits, or equal
   * and id at most lastId; keptMass is their mass.
   */
  record Cut(int[] candidates, int count, int cutBits, int lastId, long keptMass) {
    boolean keeps(float w, int id) {
      int bits = Float.floatToRawIntBits(w);
      return bits > cutBits || (bits == cutBits && id <= lastId);
    }
  }

  /**
   * Finds the nucleus: the first token (most likely first, lower id first among equal weights) and
   * every later one whose ranked-before mass is below {@link SamplingMath#topPTarget}.
   *
   * @param w weights of the row (0 for excluded tokens)
   * @param total their mass
   * @param candidates, members scratch of at least len ints each
   * @param hist scratch of 4096 longs
   */
  static Cut cut(
      float[] w,
      int len,
      long total,
      float p,
      float massScale,
      int[] candidates,
      int[] members,
      long[] hist) {
    long target = SamplingMath.topPTarget(total, SamplingMath.fraction64(p));
    float floor = (float) ((1.0 - p) * (total / (double) massScale) / (2.0 * len));
    int numCandidates = RowKernels.collectAbove(w, 0, len, floor, candidates);

    int count = numCandidates;
    System.arraycopy(candidates, 0, members, 0, count);
    long above = 0; // mass of the tokens known to rank above every remaining member
    int prefix = 0;
    for (int level = 0; level < SHIFT.length; level++) {
      int shift = SHIFT[level];
      int mask = DIGITS[level] - 1;
      Arrays.fill(hist, 0, DIGITS[level], 0);
      for (int j = 0; j < count; j++) {
        float x = w[members[j]];
        hist[(Float.floatToRawIntBits(x) >>> shift) & mask] += (long) (x * massScale);
      }
      int digit = select(hist, DIGITS[level], above, target);
      if (digit < 0) {
        // Unreachable with exact masses (the candidates hold more than the target); keep them all.
        long kept = 0;
        for (int j = 0; j < numCandidates; j++) kept += (long) (w[candidates[j]] * massScale);
        return new Cut(candidates, numCandidates, 0, Integer.MAX_VALUE, kept);
      }
      for (int d = DIGITS[level] - 1; d > digit; d--) above += hist[d];
      prefix = level == 0 ? digit : (prefix << (SHIFT[level - 1] - shift)) | digit;
      int kept = 0;
      for (int j = 0; j < count; j++) {
        if (Float.floatToRawIntBits(w[members[j]]) >>> shift == prefix) members[kept++] = members[j];
      }
      count = kept;
    }
    // members: the tokens of weight exactly cut, in id order. Keep the first, then each while the
    // mass before it is still below the target.
    long cutMass = (long) (Float.intBitsToFloat(prefix) * massScale);
    int lastId = members[0];
    long kept = above;
    for (int j = 0; j < count; j++) {
      if (j > 0 && kept >= target) break;
      lastId = members[j];
      kept += cutMass;
    }
    return new Cut(candidates, numCandidates, prefix, lastId, kept);
  }

  /** Highest digit with mass at which the running mass reaches the target, or -1. */
  private static int select(long[] hist, int digits, long above, long target) {
    long acc = above;
    for (int d = digits - 1; d >= 0; d--) {
      acc += hist[d];
      if (hist[d] > 0 && acc >= target) return d;
    }
    return -1;
  }

  /**
   * Walks the kept tokens in id order and returns the one where the running mass first exceeds
   * target (below the kept mass).
   */
  static int walk(float[] w, Cut cut, long target, float massScale) {
    long acc = 0;
    int last = -1;
    for (int j = 0; j < cut.count(); j++) {
      int i = cut.candidates()[j];
      float x = w[i];
      if (!cut.keeps(x, i)) continue;
      acc += (long) (x * massScale);
      last = i;
      if (acc > target) return i;
    }
    return Math.max(last, 0);
  }
}
