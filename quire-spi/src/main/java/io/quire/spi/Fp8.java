package io.quire.spi;

/**
 * OCP FP8 E4M3, the element of an fp8 KV cache (vLLM's kv_cache_dtype fp8): 1 sign, 4 exponent (bias 7) and
 * 3 mantissa bits; largest finite 448, smallest subnormal 2^-9, no infinities, NaN = S.1111.111.
 * {@link #encode} rounds to nearest, ties to even, and saturates out-of-range values to +-448, as PTX
 * {@code cvt.rn.satfinite.e4m3x2.f32} (the CUDA cache-writing kernels) does.
 */
public final class Fp8 {
  private Fp8() {}

  public static final float MAX = 448f;
  private static final float[] VALUES = new float[256];

  static {
    for (int c = 0; c < 256; c++) {
      int s = (c >> 7) & 1, e = (c >> 3) & 0xf, m = c & 7;
      float v = e == 15 && m == 7 ? Float.NaN : e == 0 ? m * 0x1p-9f : (1 + m / 8f) * Math.scalb(1f, e - 7);
      VALUES[c] = s == 1 ? -v : v;
    }
  }

  /** The value of an e4m3 byte. */
  public static float decode(byte b) {
    return VALUES[b & 0xff];
  }

  /** The e4m3 byte nearest to x (ties to even), saturating at +-448; NaN gives 0x7f. */
  public static byte encode(float x) {
    int bits = Float.floatToRawIntBits(x);
    int sign = (bits >>> 24) & 0x80;
    int a = bits & 0x7fffffff;
    if (a > 0x7f800000) return 0x7f;                       // NaN
    if (a >= 0x43e00000) return (byte) (sign | 0x7e);      // |x| >= 448 (infinity too)
    if (a < 0x3c800000) {                                  // |x| < 2^-6: multiples of 2^-9, 8 of them = 2^-6
      return (byte) (sign | (int) Math.rint(Float.intBitsToFloat(a) * 512f));
    }
    int r = a + 0x7ffff + ((a >>> 20) & 1);                // round the 23-bit mantissa to 3 bits, ties to even
    int e = (r >>> 23) - 127 + 7, m = (r >>> 20) & 7;
    if (e > 15 || (e == 15 && m == 7)) return (byte) (sign | 0x7e);  // rounded past 448
    return (byte) (sign | (e << 3) | m);
  }

  /** x rounded to the nearest e4m3 value (what an fp8 cache holds). */
  public static float round(float x) {
    return decode(encode(x));
  }
}
