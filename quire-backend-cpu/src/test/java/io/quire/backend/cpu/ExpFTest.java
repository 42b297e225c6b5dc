package io.quire.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

class ExpFTest {
  private static final int F = FloatVector.SPECIES_PREFERRED.length();

  /** Every lane of the vector form gives the scalar form's bits (so tails and lanes agree). */
  @Test
  void lanesEqualTheScalarBitForBit() {
    float[] a = new float[F];
    float[] out = new float[F];
    java.util.Random rnd = new java.util.Random(7);
    for (int rep = 0; rep < 20_000; rep++) {
      for (int i = 0; i < F; i++) {
        a[i] = rep < 10 ? new float[] {0f, -0f, 1f, -1f, 88f, 88.5f, -87f, -87.5f, Float.NaN, Float.NEGATIVE_INFINITY}[rep]
            : (rnd.nextFloat() - 0.5f) * 200f;
      }
      ExpF.exp(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, a, 0)).intoArray(out, 0);
      for (int i = 0; i < F; i++) {
        assertEquals(Float.floatToIntBits(ExpF.exp(a[i])), Float.floatToIntBits(out[i]), "exp(" + a[i] + ")");
      }
    }
  }

  /** Within 2 ulp of exp over the range it computes; 0 below it, +inf above, NaN for NaN. */
  @Test
  void closeToExp() {
    for (float a = -87f; a <= 88f; a += 0.0037f) {
      double want = Math.exp(a);
      float got = ExpF.exp(a);
      assertTrue(Math.abs(got - want) <= 2 * Math.ulp((float) want), "exp(" + a + ") = " + got + ", want " + want);
    }
    assertEquals(0f, ExpF.exp(-88f));
    assertEquals(Float.POSITIVE_INFINITY, ExpF.exp(89f));
    assertEquals(0f, ExpF.exp(Float.NEGATIVE_INFINITY));
    assertTrue(Float.isNaN(ExpF.exp(Float.NaN)));
  }
}
