package io.quire.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Horizontal sum in a fixed tree order. {@code reduceLanes(ADD)} sums in one order when C2 has
 * compiled the caller and in another before, so a row's result would depend on JIT warm-up; this
 * keeps outputs bitwise reproducible (and batch invariant) from the first call.
 */
final class Lanes {
  private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
  private static final VectorShuffle<Float>[] HALVES = halves();

  private Lanes() {}

  @SuppressWarnings("unchecked")
  private static VectorShuffle<Float>[] halves() {
    int steps = Integer.numberOfTrailingZeros(FS.length());
    VectorShuffle<Float>[] s = new VectorShuffle[steps];
    for (int i = 0, d = FS.length() / 2; i < steps; i++, d /= 2) {
      s[i] = VectorShuffle.iota(FS, d, 1, true);
    }
    return s;
  }

  static float sum(FloatVector v) {
    for (VectorShuffle<Float> s : HALVES) {
      v = v.add(v.rearrange(s));
    }
    return v.lane(0);
  }
}
