package io.quire.backend.cuda;

/**
 * OCP FP8 E4M3 (the fp8 KV cache's element): 1 sign, 4 exponent (bias 7), 3 mantissa bits; largest
 * finite 448, smallest subnormal 2^-9, no infinities, NaN = S.1111.111. {@link #encode} rounds to
 * nearest, ties to even, and saturates out-of-range values to +-448 (PTX {@code cvt.rn.satfinite.e4m3x2.f32},
 * which the cache-writing kernels use); the host side of the GPU checks.
 */
final class Fp8 {
  private Fp8() {}

  static final float MAX = 448f;

  /** The value of an e4m3 byte. */
  static float decode(byte b) {
    int s = (b >> 7) & 1, e = (b >> 3) & 0xf, m = b & 7;
    if (e == 15 && m == 7) return Float.NaN;
    float v = e == 0 ? m * 0x1p-9f : (1 + m / 8f) * (float) Math.scalb(1.0, e - 7);
    return s == 1 ? -v : v;
  }

  /** The e4m3 byte nearest to x (ties to even), saturating at +-448; NaN gives 0x7f. */
  static byte encode(float x) {
    if (Float.isNaN(x)) return 0x7f;
    int sign = Float.floatToRawIntBits(x) < 0 ? 0x80 : 0;
    double a = Math.abs((double) x);
    if (a >= MAX) return (byte) (sign | 0x7e);
    // Candidates are multiples of the spacing at a's binade: 2^(e-3) for normal e >= -6, 2^-9 below.
    int exp = a == 0 ? -100 : Math.getExponent(a);
    double step = Math.scalb(1.0, Math.max(exp, -6) - 3);
    double q = a / step;
    double fl = Math.floor(q);
    double r = q - fl > 0.5 || (q - fl == 0.5 && ((long) fl & 1) == 1) ? fl + 1 : fl;
    double v = r * step;
    if (v >= MAX) return (byte) (sign | 0x7e);
    // Encode v exactly: v is a representable e4m3 magnitude.
    if (v < 0x1p-6) return (byte) (sign | (int) Math.round(v / 0x1p-9));
    int e = Math.getExponent(v);
    int m = (int) Math.round((v / Math.scalb(1.0, e) - 1) * 8);
    return (byte) (sign | ((e + 7) << 3) | m);
  }

  /** x rounded to the nearest e4m3 value (as the cache stores it). */
  static float round(float x) {
    return decode(encode(x));
  }
}
