package io.quire.engine.sampling;

/**
 * top_p over a whole vocab row without sorting it. The weights w are positive floats, so their
 * bit patterns order like their values: a radix select on those bits (12, 10, 10 bits), with
 * per-digit mass histograms, finds the weight at which the most-likely-first mass reaches p; only
 * the tokens sharing the chosen digits are revisited, and equal weights are taken lowest id first.
 * Then one walk in id order samples among the kept tokens.
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
   * @param members scratch of at least len ints
   */
  static int sample(
      float[] w, int len, double total, double p, double u, int[] members, double[] hist) {
    // Tokens below floor weigh less than (1 - p) / 2 of the total together, so the cut lies above
    // it: level 0 skips them a vector at a time (most of a peaked row).
    double target = p * total;
    float floor = (float) ((1 - p) * total / (2.0 * len));
    java.util.Arrays.fill(hist, 0, DIGITS[0], 0);
    for (int i = RowKernels.nextAbove(w, 0, 0, len, floor); i < len;
        i = RowKernels.nextAbove(w, 0, i + 1, len, floor)) {
      float x = w[i];
      hist[Float.floatToRawIntBits(x) >>> SHIFT[0]] += x;
    }
    double above = 0;
    int digit = select(hist, DIGITS[0], above, target);
    if (digit < 0) return walk(w, len, 0, -1, Integer.MAX_VALUE, u * total); // keep all
    for (int d = DIGITS[0] - 1; d > digit; d--) above += hist[d];

    int count = 0;
    float digitFloor = Math.nextDown(Float.intBitsToFloat(digit << SHIFT[0]));
    for (int i = RowKernels.nextAbove(w, 0, 0, len, digitFloor); i < len;
        i = RowKernels.nextAbove(w, 0, i + 1, len, digitFloor)) {
      if (Float.floatToRawIntBits(w[i]) >>> SHIFT[0] == digit) members[count++] = i;
    }
    int prefix = digit;
    for (int level = 1; level < SHIFT.length; level++) {
      int shift = SHIFT[level];
      int mask = DIGITS[level] - 1;
      java.util.Arrays.fill(hist, 0, DIGITS[level], 0);
      for (int j = 0; j < count; j++) {
        float x = w[members[j]];
        hist[(Float.floatToRawIntBits(x) >>> shift) & mask] += x;
      }
      digit = select(hist, DIGITS[level], above, target);
      if (digit < 0) digit = lowestNonZero(hist, DIGITS[level]); // rounding: take every member
      for (int d = DIGITS[level] - 1; d > digit; d--) above += hist[d];
      prefix = (prefix << (SHIFT[level - 1] - shift)) | digit;
      int kept = 0;
      for (int j = 0; j < count; j++) {
        int bits = Float.floatToRawIntBits(w[members[j]]);
        if (bits >>> shift == prefix) members[kept++] = members[j];
      }
      count = kept;
    }
    // members: the tokens of weight exactly cutBits, in id order. Keep them while the mass
    // before each is still below the target (at least the first).
    int cutBits = prefix;
    float cut = Float.intBitsToFloat(cutBits);
    int lastId = members[0];
    double kept = above;
    for (int j = 0; j < count; j++) {
      if (j > 0 && kept >= target) break;
      lastId = members[j];
      kept += cut;
    }
    return walk(w, len, cutBits, lastId, cutBits, u * kept);
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
   * Walks ids in order over the kept tokens: weight above cutBits, or equal to it with id at most
   * lastId. Returns the token where the cumulative weight passes target.
   */
  private static int walk(float[] w, int len, int cutBits, int lastId, int tieBits, double target) {
    double acc = 0;
    int last = -1;
    float floor = cutBits > 0 ? Math.nextDown(Float.intBitsToFloat(cutBits)) : 0f;
    for (int i = RowKernels.nextAbove(w, 0, 0, len, floor); i < len;
        i = RowKernels.nextAbove(w, 0, i + 1, len, floor)) {
      float x = w[i];
      int bits = Float.floatToRawIntBits(x);
      if (bits < cutBits || (bits == tieBits && i > lastId)) continue;
      acc += x;
      last = i;
      if (acc > target) return i;
    }
    return Math.max(last, 0);
  }
}
