package io.quire.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The e4m3 rounding of the fp8 KV cache: the CPU backend writes with it and the GPU checks compare the
 * CUDA kernels' bytes with it.
 */
class Fp8Test {
  @Test
  void formatFactsOfTheOcpSpec() {
    assertEquals(448f, Fp8.decode((byte) 0x7e));      // S.1111.110: largest finite
    assertEquals(-448f, Fp8.decode((byte) 0xfe));
    assertTrue(Float.isNaN(Fp8.decode((byte) 0x7f))); // S.1111.111: the only NaN
    assertEquals(0x1p-9f, Fp8.decode((byte) 0x01));   // smallest subnormal
    assertEquals(0x1p-6f, Fp8.decode((byte) 0x08));   // smallest normal
    assertEquals(1f, Fp8.decode((byte) 0x38));        // exponent 7 = bias
    assertEquals(1.125f, Fp8.decode((byte) 0x39));
    assertEquals(240f, Fp8.decode((byte) 0x77));
  }

  @Test
  void everyCodeRoundTrips() {
    for (int c = 0; c < 256; c++) {
      byte b = (byte) c;
      if ((c & 0x7f) == 0x7f) {
        assertEquals((byte) 0x7f, Fp8.encode(Fp8.decode(b)));
      } else {
        assertEquals(b, Fp8.encode(Fp8.decode(b)), "code " + Integer.toHexString(c));
      }
    }
  }

  @Test
  void tiesGoToTheEvenMantissaAndRangeSaturates() {
    assertEquals(16f, Fp8.round(17f));        // 16 (m 0) and 18 (m 1): even
    assertEquals(20f, Fp8.round(19f));        // 18 (m 1) and 20 (m 2)
    assertEquals(0f, Fp8.round(0x1p-10f));    // 0 and 2^-9: even
    assertEquals(0x1p-8f, Fp8.round(0x1.8p-9f)); // 2^-9 (m 1) and 2^-8 (m 2)
    assertEquals(448f, Fp8.round(1e6f));
    assertEquals(-448f, Fp8.round(-464f));
    assertEquals((byte) 0x80, Fp8.encode(-0f));
  }

  /** The bit-level encoder against a plain one (scale to the binade's spacing, round half to even), densely. */
  @Test
  void bitLevelEncoderMatchesAPlainOne() {
    for (int bits = Float.floatToRawIntBits(0x1p-12f); bits <= Float.floatToRawIntBits(512f); bits += 1 << 10) {
      float x = Float.intBitsToFloat(bits);
      assertEquals(plain(x), Fp8.encode(x), "x = " + x);
      assertEquals((byte) (plain(x) | 0x80), Fp8.encode(-x), "x = " + -x);
    }
    assertEquals((byte) 0x7e, Fp8.encode(Float.POSITIVE_INFINITY));
    assertEquals((byte) 0x7f, Fp8.encode(Float.NaN));
    assertEquals((byte) 0, Fp8.encode(Float.MIN_VALUE));
  }

  private static byte plain(float x) {
    double a = Math.abs((double) x);
    if (a >= 448) return 0x7e;
    int exp = Math.getExponent(a);
    double step = Math.scalb(1.0, Math.max(exp, -6) - 3);
    double v = Math.rint(a / step) * step;
    if (v >= 448) return 0x7e;
    if (v < 0x1p-6) return (byte) Math.rint(v / 0x1p-9);
    int e = Math.getExponent(v);
    return (byte) (((e + 7) << 3) | (int) Math.rint((v / Math.scalb(1.0, e) - 1) * 8));
  }

  /** Against a brute-force search over the 126 positive finite values: nearest, ties to the even code. */
  @Test
  void nearestValueOverRandomInputs() {
    List<Float> values = new ArrayList<>();
    for (int c = 0; c < 0x7f; c++) values.add(Fp8.decode((byte) c));
    Random rnd = new Random(7);
    for (int i = 0; i < 200_000; i++) {
      float x = (float) Math.scalb(rnd.nextDouble(), rnd.nextInt(22) - 12);
      if (i % 10 == 0) x = values.get(rnd.nextInt(values.size() - 1)) + values.get(1) / 2 * (rnd.nextBoolean() ? 1 : 0);
      int best = 0;
      for (int c = 1; c < values.size(); c++) {
        double d = Math.abs(values.get(c) - (double) x), db = Math.abs(values.get(best) - (double) x);
        if (d < db || (d == db && (c & 1) == 0)) best = c;
      }
      float want = x >= 448f ? 448f : values.get(best);
      assertEquals(want, Fp8.round(x), "x = " + x);
      assertEquals(-want, Fp8.round(-x), "x = " + -x);
    }
  }
}
