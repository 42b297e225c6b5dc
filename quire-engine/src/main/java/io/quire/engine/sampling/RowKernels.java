package io.quire.engine.sampling;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
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
   * w[i] = exp((a[i] - max) * invTemperature) where a[i] >= threshold, else 0. Writes per-block
   * sums into {@code blockSums} and returns their total.
   */
  static double expWeights(
      float[] a,
      int off,
      int len,
      float max,
      float invTemperature,
      float threshold,
      float[] w,
      double[] blockSums) {
    double total = 0;
    for (int b = 0, start = 0; start < len; b++, start += BLOCK) {
      int end = Math.min(len, start + BLOCK);
      int i = start;
      float sum = 0f;
      if (end - start >= F.length()) {
        FloatVector acc = FloatVector.zero(F);
        for (int bound = start + F.loopBound(end - start); i < bound; i += F.length()) {
          FloatVector x = FloatVector.fromArray(F, a, off + i);
          VectorMask<Float> dropped = x.compare(VectorOperators.LT, threshold);
          FloatVector e =
              x.sub(max).mul(invTemperature).lanewise(VectorOperators.EXP).blend(0f, dropped);
          e.intoArray(w, i);
          acc = acc.add(e);
        }
        sum = acc.reduceLanes(VectorOperators.ADD);
      }
      for (; i < end; i++) {
        float x = a[off + i];
        float e = x < threshold ? 0f : (float) Math.exp((x - max) * invTemperature);
        w[i] = e;
        sum += e;
      }
      blockSums[b] = sum;
      total += sum;
    }
    return total;
  }

  /** Index i with the cumulative weight of w[0..i] first exceeding target (skipping zeros). */
  static int walk(float[] w, double[] blockSums, int len, double target) {
    double acc = 0;
    int start = 0;
    for (int b = 0; start < len; b++, start += BLOCK) {
      if (acc + blockSums[b] > target) break;
      acc += blockSums[b];
    }
    int last = -1;
    for (int i = Math.min(start, len); i < len; i++) {
      if (w[i] <= 0f) continue;
      acc += w[i];
      last = i;
      if (acc > target) return i;
    }
    if (last >= 0) return last;
    // Rounding left the target just out of reach: take the last token with weight.
    for (int i = len - 1; i >= 0; i--) if (w[i] > 0f) return i;
    return 0;
  }

  static long pack(float value, int id) {
    int bits = Float.floatToIntBits(value);
    int ordered = bits ^ ((bits >> 31) & 0x7FFFFFFF);
    return ((long) ~ordered << 32) | id;
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
