package io.quire.backend.cpu;

import jdk.incubator.vector.FloatVector;

/**
 * Horizontal sums in a fixed tree order, from lanes spilled to an array.
 *
 * <p>Why not {@code reduceLanes(ADD)}: it sums in one order once C2 has compiled the caller and in
 * another before, so a row's result would depend on JIT warm-up and the batch it ran in. Why an
 * array: a vector passed to a call that C2 does not inline is boxed, and a boxed accumulator in a
 * kernel loop defeats the intrinsics (measured: 5x slower matmul).
 */
final class Lanes {
  static final int F = FloatVector.SPECIES_PREFERRED.length();

  private Lanes() {}

  /** Sums lanes[0, F) pairwise (lane i + lane i+F/2, ...); overwrites them. */
  static float sum(float[] lanes) {
    if (F == 16) {
      float[] l = lanes;
      return (((l[0] + l[8]) + (l[4] + l[12])) + ((l[2] + l[10]) + (l[6] + l[14])))
          + (((l[1] + l[9]) + (l[5] + l[13])) + ((l[3] + l[11]) + (l[7] + l[15])));
    }
    for (int w = F / 2; w >= 1; w /= 2) {
      for (int i = 0; i < w; i++) {
        lanes[i] += lanes[i + w];
      }
    }
    return lanes[0];
  }
}
