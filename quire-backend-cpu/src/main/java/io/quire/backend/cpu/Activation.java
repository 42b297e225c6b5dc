package io.quire.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** SwiGLU: silu(gate) * up with silu(x) = x / (1 + exp(-x)), exp exact to about an ulp (SVML). */
final class Activation {
  private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
  private static final int F = FS.length();
  private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

  private Activation() {}

  /** One row: gateUp row at element offset g (gate [0, n), up [n, 2n)) into out at element offset o. */
  static void siluMulRow(MemorySegment gateUp, long g, MemorySegment out, long o, int n) {
    int i = 0;
    for (; i + F <= n; i += F) {
      FloatVector gate = FloatVector.fromMemorySegment(FS, gateUp, (g + i) * 4, LE);
      FloatVector up = FloatVector.fromMemorySegment(FS, gateUp, (g + n + i) * 4, LE);
      FloatVector silu = gate.div(ExpF.exp(gate.neg()).add(1f));
      silu.mul(up).intoMemorySegment(out, (o + i) * 4, LE);
    }
    for (; i < n; i++) {
      float gate = gateUp.getAtIndex(JAVA_FLOAT_UNALIGNED, g + i);
      float up = gateUp.getAtIndex(JAVA_FLOAT_UNALIGNED, g + n + i);
      out.setAtIndex(JAVA_FLOAT_UNALIGNED, o + i, silu(gate) * up);
    }
  }

  static float silu(float x) {
    return x / (1f + ExpF.exp(-x));
  }
}
