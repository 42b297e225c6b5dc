package io.quire.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.quire.spi.DType;
import io.quire.spi.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class ArgmaxTest {
  private static final CpuBackend BACKEND = new CpuBackend(2);

  @AfterAll
  static void close() {
    BACKEND.close();
  }

  /** The scalar reference: lowest index of the largest value, NaN skipped, 0 when nothing else. */
  private static int reference(float[] a, int off, int len) {
    int best = -1;
    for (int i = 0; i < len; i++) {
      float v = a[off + i];
      if (Float.isNaN(v)) continue;
      if (best < 0 || v > a[off + best]) best = i;
    }
    return Math.max(best, 0);
  }

  private static void check(int rows, int cols, float[] values) {
    Tensor t = TestData.activation(BACKEND, rows, cols, values);
    int[] got = new int[rows + 1];
    got[rows] = -7;
    BACKEND.argmax(t, got);
    int[] want = new int[rows + 1];
    want[rows] = -7;
    for (int r = 0; r < rows; r++) want[r] = reference(values, r * cols, cols);
    assertArrayEquals(want, got);
  }

  @Test
  void randomRowsMatchTheReference() {
    SplittableRandom r = TestData.random("argmax");
    for (int cols : new int[] {1, 7, 64, 1000, 128256}) {
      int rows = cols > 10000 ? 3 : 17;
      check(rows, cols, TestData.floats(r, rows * cols, 4.0));
    }
  }

  @Test
  void tiesNaNsAndInfinities() {
    int cols = 9;
    float nan = Float.NaN, ninf = Float.NEGATIVE_INFINITY, pinf = Float.POSITIVE_INFINITY;
    float[] v = {
      1, 3, 2, 3, 3, 0, 0, 0, 3, // tie: lowest index
      ninf, ninf, ninf, ninf, ninf, ninf, ninf, ninf, ninf, // all -inf: 0
      nan, nan, -5, nan, -5, -6, nan, nan, nan, // NaN skipped
      nan, nan, nan, nan, nan, nan, nan, nan, nan, // all NaN: 0
      ninf, 0, pinf, 1, pinf, nan, 2, 3, 4, // +inf wins, first one
      -0f, 0f, -1, -1, -1, -1, -1, -1, -1, // -0 == 0: lowest index
      (float) 1e-30, ninf, nan, 0, 0, 0, 0, 0, (float) 1e-30, // last is a tie with the first
    };
    check(v.length / cols, cols, v);
  }

  @Test
  void rejectsNonF32AndShortDestination() {
    Tensor t = BACKEND.allocate(DType.F32, 4, 8);
    assertThrows(IllegalArgumentException.class, () -> BACKEND.argmax(t, new int[3]));
    Tensor h = BACKEND.allocate(DType.BF16, 4, 8);
    assertThrows(IllegalArgumentException.class, () -> BACKEND.argmax(h, new int[4]));
  }
}
