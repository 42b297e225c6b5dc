package io.quire.spi;

/**
 * The arithmetic that decides which token a sampled row gets, defined once so that the host sampler
 * and a device sampler ({@link Backend#sample}) keep the same tokens and draw the same id for the same
 * uniform number, bit for bit:
 *
 * <ul>
 *   <li>a token's weight is {@link #weight}{@code ((logit - max) * invTemperature)}, both steps in
 *       fp32: Cephes' expf as a fixed sequence of fp32 multiplies and adds (no fused multiply-add),
 *       which every IEEE-754 machine evaluates to the same bits;
 *   <li>masses are integers, {@link #mass}: the weight in units of 2^-{@link #massShift}, truncated,
 *       so every sum is exact and does not depend on the order it is taken in;
 *   <li>the top_p target and the draw target are exact integer products ({@link #topPTarget},
 *       {@link #drawTarget}).
 * </ul>
 *
 * <p>The largest weight of a row is exactly 1 (its mass 2^massShift), so a row's mass is at least
 * 2^massShift and at most vocab * 2^massShift < 2^62. A token whose weight is below 2^-massShift
 * (about 3e-14 for a 128k vocab) has mass 0 and is never drawn.
 */
public final class SamplingMath {
  private SamplingMath() {}

  /** Below this argument the weight is 0 (exp(-87) = 1.6e-38, under any token's mass unit). */
  public static final float MIN_ARGUMENT = -87f;

  public static final float LOG2E = 1.44269504088896341f;
  /** 1.5 * 2^23: adding and subtracting it rounds to the nearest integer (ties to even). */
  public static final float ROUND = 12582912f;
  public static final float LN2_HI = 0.693359375f;
  public static final float LN2_LO = -2.12194440e-4f;
  public static final float P0 = 1.9875691500e-4f;
  public static final float P1 = 1.3981999507e-3f;
  public static final float P2 = 8.3334519073e-3f;
  public static final float P3 = 4.1665795894e-2f;
  public static final float P4 = 1.6666665459e-1f;
  public static final float P5 = 5.0000001201e-1f;

  /**
   * exp(a) for a <= 0 in fp32 (within 2 ulp), 0 below {@link #MIN_ARGUMENT} and for NaN. The
   * operations, in this order, are the definition: the engine's vectorised copy and the CUDA kernel
   * repeat them.
   */
  public static float weight(float a) {
    if (!(a >= MIN_ARGUMENT)) return 0f;
    return expf(a);
  }

  /**
   * Cephes' expf for a in [{@link #MIN_ARGUMENT}, 88] (no range checks): the fixed fp32 operations
   * behind {@link #weight}, also the CPU backend's exp for softmax and SiLU.
   */
  public static float expf(float a) {
    float n = (a * LOG2E + ROUND) - ROUND;
    float r = (a - n * LN2_HI) - n * LN2_LO;
    float z = r * r;
    float p = r * P0 + P1;
    p = p * r + P2;
    p = p * r + P3;
    p = p * r + P4;
    p = p * r + P5;
    float e = (p * z + r) + 1f;
    return e * Float.intBitsToFloat(((int) n + 127) << 23);
  }

  /** Bits of a token's mass unit: the largest shift with vocab * 2^shift < 2^62. */
  public static int massShift(int vocab) {
    if (vocab < 1) throw new IllegalArgumentException("vocab must be at least 1, got " + vocab);
    return 62 - (32 - Integer.numberOfLeadingZeros(vocab));
  }

  /** 2^shift as a float (exact). */
  public static float massScale(int shift) {
    return Float.intBitsToFloat((127 + shift) << 23);
  }

  /** floor(w * 2^shift) for a weight in [0, 1]: the product is exact in fp32, the cast truncates. */
  public static long mass(float w, float scale) {
    return (long) (w * scale);
  }

  /** floor(p * 2^64) as an unsigned long, for p in (0, 1): exact unless p < 2^-40. */
  public static long fraction64(float p) {
    if (!(p > 0f && p < 1f)) throw new IllegalArgumentException("fraction must be in (0, 1), got " + p);
    int bits = Float.floatToRawIntBits(p);
    int exp = bits >>> 23; // biased; p < 1 means exp <= 126
    long m = exp == 0 ? bits & 0x7FFFFF : (bits & 0x7FFFFF) | 0x800000L;
    int shift = (exp == 0 ? 1 : exp) - 86; // p = m * 2^(exp - 150), times 2^64
    return shift >= 0 ? m << shift : shift > -64 ? m >>> -shift : 0L;
  }

  /** floor(total * p) for top_p, with {@code pFraction = fraction64(p)}. */
  public static long topPTarget(long total, long pFraction) {
    return Math.unsignedMultiplyHigh(total, pFraction);
  }

  /**
   * floor(u * kept) with u = uniformBits * 2^-53 (a 53-bit uniform number in [0, 1)): always below
   * kept, so the draw "first token whose running mass exceeds the target" always finds one.
   */
  public static long drawTarget(long kept, long uniformBits) {
    return Math.unsignedMultiplyHigh(kept, uniformBits << 11);
  }

  /**
   * A float's rank key: ascending int order is ascending value order, with -0.0 equal to 0.0. Keys
   * order logits for top_k, and for top-k logprobs (larger key first, lower id first on equal keys).
   */
  public static int orderedKey(float x) {
    int bits = Float.floatToIntBits(x + 0f);
    return bits ^ ((bits >> 31) & 0x7FFFFFFF);
  }
}
