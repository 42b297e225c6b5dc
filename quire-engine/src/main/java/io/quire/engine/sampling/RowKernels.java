package io.quire.engine.sampling;

import io.quire.spi.SamplingMath;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Passes over one vocab-wide row of logits: max, argmax, exponentiated weights, and top-m
 * selection. Candidates are ordered by packing (value, id) into one long whose ascending order is
 * descending value, then ascending id, so selection and sorting run on primitives without boxing.
 */
final class RowKernels {
  private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

  /** Weights are summed per block so a walk to a cumulative target skips whole blocks. */
  static final int BLOCK = 1024;

  private RowKernels() {}

  static float max(float[] a, int off, int len) {
    int i = 0;
    float m = Float.NEGATIVE_INFINITY;
    if (len >= F.length()) {
      FloatVector acc = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
      for (int bound = F.loopBound(len); i < bound; i += F.length()) {
        acc = acc.max(FloatVector.fromArray(F, a, off + i));
      }
      m = acc.reduceLanes(VectorOperators.MAX);
    }
    for (; i < len; i++) m = Math.max(m, a[off + i]);
    return m;
  }

  /** Index (0-based within the row) of the largest value; the lowest index among ties. */
  static int argmax(float[] a, int off, int len) {
    float m = max(a, off, len);
    int i = 0;
    for (int bound = F.loopBound(len); i < bound; i += F.length()) {
      VectorMask<Float> hit = FloatVector.fromArray(F, a, off + i).compare(VectorOperators.EQ, m);
      if (hit.anyTrue()) return i + hit.firstTrue();
    }
    for (; i < len; i++) {
      if (a[off + i] == m) return i;
    }
    return 0; // all NaN: nothing sensible to pick
  }

  /** First index at or after {@code from} whose value exceeds {@code floor}, or len. */
  static int nextAbove(float[] a, int off, int from, int len, float floor) {
    int i = from;
    for (int bound = F.loopBound(len - from) + from; i < bound; i += F.length()) {
      VectorMask<Float> hit = FloatVector.fromArray(F, a, off + i).compare(VectorOperators.GT, floor);
      if (hit.anyTrue()) return i + hit.firstTrue();
    }
    for (; i < len; i++) {
      if (a[off + i] > floor) return i;
    }
    return len;
  }

  /** Writes the indices whose value exceeds floor, ascending, into out; returns how many. */
  static int collectAbove(float[] a, int off, int len, float floor, int[] out) {
    int n = 0;
    int i = 0;
    for (int bound = F.loopBound(len); i < bound; i += F.length()) {
      long hits = FloatVector.fromArray(F, a, off + i).compare(VectorOperators.GT, floor).toLong();
      while (hits != 0) {
        out[n++] = i + Long.numberOfTrailingZeros(hits);
        hits &= hits - 1;
      }
    }
    for (; i < len; i++) {
      if (a[off + i] > floor) out[n++] = i;
    }
    return n;
  }

  /**
   * w[i] = {@link SamplingMath#weight}((a[i] - max) * invTemperature) where a[i] >= threshold, else
   * 0 (NaN too). Writes each block's mass ({@link SamplingMath#mass}) into {@code blockMass} and
   * returns their total.
   */
  static long expWeights(
      float[] a,
      int off,
      int len,
      float max,
      float invTemperature,
      float threshold,
      float massScale,
      float[] w,
      long[] blockMass) {
    long total = 0;
    for (int b = 0, start = 0; start < len; b++, start += BLOCK) {
      int end = Math.min(len, start + BLOCK);
      int i = start;
      for (int bound = start + F.loopBound(end - start); i < bound; i += F.length()) {
        FloatVector x = FloatVector.fromArray(F, a, off + i);
        VectorMask<Float> kept = x.compare(VectorOperators.GE, threshold);
        weight(x.sub(max).mul(invTemperature)).blend(0f, kept.not()).intoArray(w, i);
      }
      for (; i < end; i++) {
        float x = a[off + i];
        w[i] = x >= threshold ? SamplingMath.weight((x - max) * invTemperature) : 0f;
      }
      long m0 = 0, m1 = 0, m2 = 0, m3 = 0;
      i = start;
      for (; i + 3 < end; i += 4) {
        m0 += (long) (w[i] * massScale);
        m1 += (long) (w[i + 1] * massScale);
        m2 += (long) (w[i + 2] * massScale);
        m3 += (long) (w[i + 3] * massScale);
      }
      for (; i < end; i++) m0 += (long) (w[i] * massScale);
      blockMass[b] = m0 + m1 + m2 + m3;
      total += blockMass[b];
    }
    return total;
  }

  /**
   * {@link SamplingMath#weight} on each lane, by the same fp32 operations in the same order, so the
   * lanes equal the scalar results bit for bit.
   */
  static FloatVector weight(FloatVector a) {
    FloatVector n = a.mul(SamplingMath.LOG2E).add(SamplingMath.ROUND).sub(SamplingMath.ROUND);
    FloatVector r = a.sub(n.mul(SamplingMath.LN2_HI)).sub(n.mul(SamplingMath.LN2_LO));
    FloatVector z = r.mul(r);
    FloatVector p = r.mul(SamplingMath.P0).add(SamplingMath.P1);
    p = p.mul(r).add(SamplingMath.P2);
    p = p.mul(r).add(SamplingMath.P3);
    p = p.mul(r).add(SamplingMath.P4);
    p = p.mul(r).add(SamplingMath.P5);
    FloatVector e = p.mul(z).add(r).add(1f);
    FloatVector scale =
        ((IntVector) n.convert(VectorOperators.F2I, 0))
            .add(127)
            .lanewise(VectorOperators.LSHL, 23)
            .reinterpretAsFloats();
    return e.mul(scale).blend(0f, a.compare(VectorOperators.GE, SamplingMath.MIN_ARGUMENT).not());
  }

  /**
   * Index of the token where the running mass of w[0..i] (in id order, tokens of mass 0 skipped)
   * first exceeds target, which must be below the row's total.
   */
  static int walk(float[] w, long[] blockMass, int len, long target, float massScale) {
    long acc = 0;
    int start = 0;
    for (int b = 0; start < len; b++, start += BLOCK) {
      if (acc + blockMass[b] > target) break;
      acc += blockMass[b];
    }
    int last = 0;
    for (int i = Math.min(start, len); i < len; i++) {
      long m = (long) (w[i] * massScale);
      if (m == 0) continue;
      acc += m;
      last = i;
      if (acc > target) return i;
    }
    return last; // not reached while target < total
  }

  static long pack(float value, int id) {
    return ((long) ~SamplingMath.orderedKey(value) << 32) | id;
  }

  static int unpackId(long packed) {
    return (int) packed;
  }

  /**
   * The m largest values at or above threshold, most likely first (lowest id first among ties),
   * packed into out[0..count). Returns count. A size-m heap: one compare per element for most.
   */
  static int topM(float[] a, int off, int len, int m, float threshold, long[] out) {
    if (m <= 0) return 0;
    int size = 0;
    float worst = Float.NEGATIVE_INFINITY;
    int i = 0;
    while (i < len) {
      if (size == m) {
        // Skip, a vector at a time, everything not better than the worst kept value (a later id
        // with an equal value ranks below every entry already kept).
        i = nextAbove(a, off, i, len, worst);
        if (i == len) break;
      }
      float x = a[off + i];
      if (x >= threshold) { // false for NaN
        if (size == m) {
          out[0] = pack(x, i);
          siftDown(out, size);
          worst = valueOf(a, off, out[0]);
        } else {
          out[size] = pack(x, i);
          siftUp(out, size++);
          if (size == m) worst = valueOf(a, off, out[0]);
        }
      }
      i++;
    }
    Arrays.sort(out, 0, size);
    return size;
  }

  /** Every value at or above threshold, sorted most likely first. Returns count. */
  static int sortAll(float[] a, int off, int len, float threshold, long[] out) {
    int n = 0;
    for (int i = 0; i < len; i++) {
      float x = a[off + i];
      if (x >= threshold) out[n++] = pack(x, i);
    }
    Arrays.sort(out, 0, n);
    return n;
  }

  private static float valueOf(float[] a, int off, long packed) {
    return a[off + unpackId(packed)];
  }

  // Max-heap on the packed key: the root is the worst kept candidate.
  private static void siftUp(long[] h, int i) {
    long x = h[i];
    while (i > 0) {
      int parent = (i - 1) >>> 1;
      if (h[parent] >= x) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = x;
  }

  private static void siftDown(long[] h, int size) {
    long x = h[0];
    int i = 0;
    while (true) {
      int child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && h[child + 1] > h[child]) child++;
      if (h[child] <= x) break;
      h[i] = h[child];
      i = child;
    }
    h[i] = x;
  }
}
