package io.quire.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

import io.quire.spi.Rope;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Rotate-half rotary embedding (HF Llama): for pairs (i, i + d/2) of each head, x1' = x1 cos - x2 sin,
 * x2' = x2 cos + x1 sin, angle = position * invFreq[i] in fp32 as HF computes it. Tables cover
 * positions below maxPositions; later positions are computed on the fly.
 */
final class CpuRope implements Rope {
  private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
  private static final int F = FS.length();
  private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

  private final float[] invFreq;
  private final int headDim;
  private final int half;
  private final int maxPositions;
  private final float[] cos;
  private final float[] sin;

  CpuRope(float[] invFreq, int headDim, int maxPositions) {
    if (headDim <= 0 || headDim % 2 != 0) {
      throw new IllegalArgumentException("rope headDim must be even and > 0, got " + headDim);
    }
    if (invFreq.length != headDim / 2) {
      throw new IllegalArgumentException(
          "rope invFreq has " + invFreq.length + " entries, headDim " + headDim + " needs " + headDim / 2);
    }
    if (maxPositions < 0) {
      throw new IllegalArgumentException("rope maxPositions must be >= 0, got " + maxPositions);
    }
    this.invFreq = invFreq.clone();
    this.headDim = headDim;
    this.half = headDim / 2;
    this.maxPositions = maxPositions;
    this.cos = new float[Math.multiplyExact(maxPositions, half)];
    this.sin = new float[cos.length];
    for (int p = 0; p < maxPositions; p++) {
      fill(p, cos, sin, p * half);
    }
  }

  private void fill(int position, float[] c, float[] s, int at) {
    for (int i = 0; i < half; i++) {
      float angle = (float) position * invFreq[i];
      c[at + i] = (float) Math.cos(angle);
      s[at + i] = (float) Math.sin(angle);
    }
  }

  @Override
  public int headDim() {
    return headDim;
  }

  /**
   * Rotates numHeads heads of one token's row (element offset {@code off}) at a position; scratch
   * holds at least headDim floats.
   */
  void apply(MemorySegment x, long off, int numHeads, int position, float[] scratch) {
    float[] c;
    float[] s;
    int at;
    if (position < maxPositions) {
      c = cos;
      s = sin;
      at = position * half;
    } else {
      // Beyond the tables: scratch holds cos then sin of this position.
      c = scratch;
      s = scratch;
      fillSplit(position, scratch);
      at = 0;
    }
    boolean split = c == s;
    for (int h = 0; h < numHeads; h++) {
      long base = off + (long) h * headDim;
      int i = 0;
      for (; i + F <= half; i += F) {
        FloatVector x1 = FloatVector.fromMemorySegment(FS, x, (base + i) * 4, LE);
        FloatVector x2 = FloatVector.fromMemorySegment(FS, x, (base + half + i) * 4, LE);
        FloatVector cv = FloatVector.fromArray(FS, c, at + i);
        FloatVector sv = FloatVector.fromArray(FS, s, (split ? half : 0) + at + i);
        x1.mul(cv).sub(x2.mul(sv)).intoMemorySegment(x, (base + i) * 4, LE);
        x2.mul(cv).add(x1.mul(sv)).intoMemorySegment(x, (base + half + i) * 4, LE);
      }
      for (; i < half; i++) {
        float x1 = x.getAtIndex(JAVA_FLOAT_UNALIGNED, base + i);
        float x2 = x.getAtIndex(JAVA_FLOAT_UNALIGNED, base + half + i);
        float cv = c[at + i];
        float sv = s[(split ? half : 0) + at + i];
        x.setAtIndex(JAVA_FLOAT_UNALIGNED, base + i, x1 * cv - x2 * sv);
        x.setAtIndex(JAVA_FLOAT_UNALIGNED, base + half + i, x2 * cv + x1 * sv);
      }
    }
  }

  /** scratch[0, half) = cos, scratch[half, 2*half) = sin at a position beyond the tables. */
  private void fillSplit(int position, float[] scratch) {
    for (int i = 0; i < half; i++) {
      float angle = (float) position * invFreq[i];
      scratch[i] = (float) Math.cos(angle);
      scratch[half + i] = (float) Math.sin(angle);
    }
  }
}
