package io.quire.backend.cuda;

import io.quire.spi.Rope;

/**
 * Rotate-half RoPE tables on the device: cos and sin [maxPositions, headDim/2] fp32, angle =
 * fp32(position * invFreq[i]) as HF computes it, plus invFreq for positions beyond the tables.
 */
final class CudaRope implements Rope {
  final CudaBackend owner;
  final int headDim;
  final int maxPositions;
  final long cos, sin, invFreq;

  CudaRope(CudaBackend owner, int headDim, int maxPositions, long cos, long sin, long invFreq) {
    this.owner = owner;
    this.headDim = headDim;
    this.maxPositions = maxPositions;
    this.cos = cos;
    this.sin = sin;
    this.invFreq = invFreq;
  }

  /** cos then sin tables, host side. */
  static float[][] tables(float[] invFreq, int maxPositions) {
    int half = invFreq.length;
    float[] c = new float[Math.multiplyExact(Math.max(1, maxPositions), half)];
    float[] s = new float[c.length];
    for (int p = 0; p < maxPositions; p++) {
      for (int i = 0; i < half; i++) {
        float angle = (float) p * invFreq[i];
        c[p * half + i] = (float) Math.cos(angle);
        s[p * half + i] = (float) Math.sin(angle);
      }
    }
    return new float[][] {c, s};
  }

  @Override
  public int headDim() {
    return headDim;
  }

  @Override
  public void close() {
    owner.free(cos);
    owner.free(sin);
    owner.free(invFreq);
  }
}
