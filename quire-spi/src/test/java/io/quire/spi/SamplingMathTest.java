package io.quire.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SamplingMathTest {
  private static final BigInteger TWO_64 = BigInteger.ONE.shiftLeft(64);

  @Test
  void weightIsExpWithinTwoUlpOverItsRangeAndZeroBelowIt() {
    SplittableRandom rnd = new SplittableRandom(1);
    double worst = 0;
    for (int i = 0; i < 2_000_000; i++) {
      float a = i < 1000 ? -i * 0.087f : (float) (-87.0 * rnd.nextDouble());
      float w = SamplingMath.weight(a);
      double exact = Math.exp(a);
      worst = Math.max(worst, Math.abs(w - exact) / Math.ulp((float) exact));
    }
    assertTrue(worst <= 2.0, "worst error " + worst + " ulp");
    assertEquals(1f, SamplingMath.weight(0f));
    assertEquals(1f, SamplingMath.weight(-0f));
    assertEquals(0f, SamplingMath.weight(-87.0001f));
    assertEquals(0f, SamplingMath.weight(Float.NEGATIVE_INFINITY));
    assertEquals(0f, SamplingMath.weight(Float.NaN));
    assertTrue(SamplingMath.weight(-87f) >= Float.MIN_NORMAL, "normal at the edge of the range");
  }

  @Test
  void massShiftIsTheLargestThatKeepsAVocabOfUnitWeightsBelow2To62() {
    for (int vocab : new int[] {1, 2, 3, 1000, 32000, 65536, 128256, 151936, 262144}) {
      int s = SamplingMath.massShift(vocab);
      BigInteger max = BigInteger.valueOf(vocab).shiftLeft(s);
      assertTrue(max.bitLength() <= 62, vocab + " x 2^" + s);
      assertTrue(BigInteger.valueOf(vocab).shiftLeft(s + 1).bitLength() > 62, "shift " + s + " is not the largest for " + vocab);
      assertEquals(1L << s, SamplingMath.mass(1f, SamplingMath.massScale(s)));
    }
  }

  @Test
  void fraction64IsFloorOfPTimes2To64() {
    SplittableRandom rnd = new SplittableRandom(2);
    for (int i = 0; i < 100_000; i++) {
      float p = switch (i % 4) {
        case 0 -> (float) rnd.nextDouble();
        case 1 -> Float.intBitsToFloat(1 + rnd.nextInt(0x3F7FFFFF)); // any float in (0, 1)
        case 2 -> 1f - Math.ulp(1f) * (1 + rnd.nextInt(100));
        default -> Float.intBitsToFloat(1 + rnd.nextInt(0x007FFFFF)); // subnormal
      };
      if (!(p > 0f && p < 1f)) continue;
      BigInteger exact = new BigDecimal(p).multiply(new BigDecimal(TWO_64)).toBigInteger();
      assertEquals(exact, BigInteger.valueOf(SamplingMath.fraction64(p)).and(TWO_64.subtract(BigInteger.ONE)), "p = " + p);
    }
  }

  @Test
  void targetsAreExactFloorsOfTheirProducts() {
    SplittableRandom rnd = new SplittableRandom(3);
    for (int i = 0; i < 100_000; i++) {
      long total = rnd.nextLong(1L << 62);
      float p = Math.max(Float.MIN_VALUE, (float) rnd.nextDouble());
      if (p >= 1f) continue;
      BigInteger topP = new BigDecimal(p).multiply(new BigDecimal(total)).toBigInteger();
      assertEquals(topP.longValueExact(), SamplingMath.topPTarget(total, SamplingMath.fraction64(p)), total + " * " + p);
      long u = rnd.nextLong(1L << 53);
      BigInteger draw = BigInteger.valueOf(total).multiply(BigInteger.valueOf(u)).shiftRight(53);
      assertEquals(draw.longValueExact(), SamplingMath.drawTarget(total, u));
      assertTrue(SamplingMath.drawTarget(total, (1L << 53) - 1) < total);
    }
  }

  @Test
  void orderedKeyOrdersLikeTheValuesWithBothZerosEqual() {
    SplittableRandom rnd = new SplittableRandom(4);
    float[] special = {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, 1f, -1f};
    for (int i = 0; i < 200_000; i++) {
      float a = i < 64 ? special[i % 8] : Float.intBitsToFloat(rnd.nextInt());
      float b = i < 64 ? special[i / 8] : rnd.nextBoolean() ? Float.intBitsToFloat(rnd.nextInt()) : Math.nextUp(a);
      if (Float.isNaN(a) || Float.isNaN(b)) continue;
      int want = a < b ? -1 : a > b ? 1 : 0;
      assertEquals(want, Integer.signum(Integer.compare(SamplingMath.orderedKey(a), SamplingMath.orderedKey(b))), a + " vs " + b);
    }
  }
}
