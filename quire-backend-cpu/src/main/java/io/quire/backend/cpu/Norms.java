package io.quire.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** RMSNorm as HF Llama computes it in fp32: x * rsqrt(mean(x^2) + eps) * weight. */
final class Norms {
  private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
  private static final int F = FS.length();
  private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

  private Norms() {}

  /** Normalises n floats of src at element offset so into dst at do_ (may alias src). */
  static void rmsNorm(MemorySegment src, long so, MemorySegment dst, long dOff, int n, float[] weight, float eps) {
    FloatVector acc = FloatVector.zero(FS);
    int i = 0;
    for (; i + F <= n; i += F) {
      FloatVector v = FloatVector.fromMemorySegment(FS, src, (so + i) * 4, LE);
      acc = v.fma(v, acc);
    }
    float[] lanes = new float[F];
    acc.intoArray(lanes, 0);
    float ss = Lanes.sum(lanes);
    for (int j = i; j < n; j++) {
      float v = src.getAtIndex(JAVA_FLOAT_UNALIGNED, so + j);
      ss += v * v;
    }
    float inv = (float) (1.0 / Math.sqrt(ss / n + eps));
    i = 0;
    for (; i + F <= n; i += F) {
      FloatVector v = FloatVector.fromMemorySegment(FS, src, (so + i) * 4, LE);
      v.mul(inv).mul(FloatVector.fromArray(FS, weight, i)).intoMemorySegment(dst, (dOff + i) * 4, LE);
    }
    for (; i < n; i++) {
      dst.setAtIndex(JAVA_FLOAT_UNALIGNED, dOff + i, src.getAtIndex(JAVA_FLOAT_UNALIGNED, so + i) * inv * weight[i]);
    }
  }

  /** residual[ro..] += x[xo..], n floats. */
  static void addInto(MemorySegment x, long xo, MemorySegment residual, long ro, int n) {
    int i = 0;
    for (; i + F <= n; i += F) {
      FloatVector.fromMemorySegment(FS, residual, (ro + i) * 4, LE)
          .add(FloatVector.fromMemorySegment(FS, x, (xo + i) * 4, LE))
          .intoMemorySegment(residual, (ro + i) * 4, LE);
    }
    for (; i < n; i++) {
      residual.setAtIndex(
          JAVA_FLOAT_UNALIGNED, ro + i,
          residual.getAtIndex(JAVA_FLOAT_UNALIGNED, ro + i) + x.getAtIndex(JAVA_FLOAT_UNALIGNED, xo + i));
    }
  }
}
