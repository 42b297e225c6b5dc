package io.quire.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import io.quire.spi.Backend;
import io.quire.spi.DType;
import io.quire.spi.Tensor;
import io.quire.spi.WeightData;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/** Random inputs for op tests; set -Dquire.test.seed=N to replay a failure. */
final class TestData {
  private TestData() {}

  static SplittableRandom random(String test) {
    long seed = Long.getLong("quire.test.seed", System.nanoTime());
    System.out.println(test + ": seed " + seed + " (replay with -Dquire.test.seed=" + seed + ")");
    return new SplittableRandom(seed);
  }

  static float[] floats(SplittableRandom r, int n, double scale) {
    float[] f = new float[n];
    for (int i = 0; i < n; i++) {
      f[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
    }
    return f;
  }

  /** A stored weight; values are rounded to the dtype in place so the test sees what the backend sees. */
  static Tensor weight(Backend b, DType dtype, int rows, int cols, float[] values) {
    MemorySegment seg = Arena.ofAuto().allocate((long) rows * cols * dtype.bytes(), 2);
    for (int i = 0; i < values.length; i++) {
      switch (dtype) {
        case F32 -> seg.setAtIndex(JAVA_FLOAT_UNALIGNED, i, values[i]);
        case BF16 -> {
          short s = toBf16(values[i]);
          seg.setAtIndex(JAVA_SHORT_UNALIGNED, i, s);
          values[i] = Float.intBitsToFloat(s << 16);
        }
        case F16 -> {
          short s = Float.floatToFloat16(values[i]);
          seg.setAtIndex(JAVA_SHORT_UNALIGNED, i, s);
          values[i] = Float.float16ToFloat(s);
        }
        default -> throw new IllegalArgumentException(dtype.toString());
      }
    }
    return b.loadWeight(new WeightData("test", dtype, rows, cols, seg));
  }

  /** Round to nearest even, as torch converts. */
  static short toBf16(float f) {
    int bits = Float.floatToRawIntBits(f);
    return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
  }

  static Tensor activation(Backend b, int rows, int cols, float[] values) {
    Tensor t = b.allocate(DType.F32, rows, cols);
    MemorySegment.copy(values, 0, ((CpuTensor) t).data(), JAVA_FLOAT_UNALIGNED, 0, values.length);
    return t;
  }

  static float[] read(Backend b, Tensor t) {
    float[] f = new float[t.rows() * t.cols()];
    b.copyToHost(t, f);
    return f;
  }

  /** |got - want| within rel * scale + abs, with scale the magnitude of the terms that made want. */
  static void assertClose(double want, double scale, float got, double rel, String where) {
    double tol = rel * Math.max(scale, Math.abs(want)) + 1e-7;
    if (!(Math.abs(got - want) <= tol)) {
      throw new AssertionError(where + ": got " + got + ", want " + want + " (tolerance " + tol + ")");
    }
  }
}
