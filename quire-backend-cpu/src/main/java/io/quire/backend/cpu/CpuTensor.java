package io.quire.backend.cpu;

import io.quire.spi.DType;
import io.quire.spi.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A row-major tensor in host memory. Activations own a shared arena (so pool threads can use them);
 * weights and views borrow memory they do not free.
 */
final class CpuTensor implements Tensor {
  private final DType dtype;
  private final int rows;
  private final int cols;
  private final MemorySegment data;
  private final Arena arena;
  /** Memoised f32 copy of a small vector weight (norm weights, biases); never of matrices. */
  private volatile float[] vectorFloats;

  CpuTensor(DType dtype, int rows, int cols, MemorySegment data, Arena arena) {
    this.dtype = dtype;
    this.rows = rows;
    this.cols = cols;
    this.data = data;
    this.arena = arena;
  }

  static CpuTensor of(Tensor t, String what) {
    if (t instanceof CpuTensor c) {
      return c;
    }
    throw new IllegalArgumentException(
        what + " is not a cpu tensor: " + (t == null ? "null" : t.getClass().getName()));
  }

  @Override
  public DType dtype() {
    return dtype;
  }

  @Override
  public int rows() {
    return rows;
  }

  @Override
  public int cols() {
    return cols;
  }

  MemorySegment data() {
    return data;
  }

  long rowBytes() {
    return (long) cols * dtype.bytes();
  }

  @Override
  public CpuTensor firstRows(int n) {
    if (n < 0 || n > rows) {
      throw new IllegalArgumentException("firstRows(" + n + ") of a tensor with " + rows + " rows");
    }
    return new CpuTensor(dtype, n, cols, data.asSlice(0, n * rowBytes()), null);
  }

  /** All elements as f32 (for vectors: norm weights and biases), computed once. */
  float[] vectorAsFloats() {
    float[] f = vectorFloats;
    if (f == null) {
      f = new float[Math.toIntExact((long) rows * cols)];
      HalfFloats.toFloats(data, dtype, 0, f, 0, f.length);
      vectorFloats = f;
    }
    return f;
  }

  @Override
  public void close() {
    if (arena != null) {
      arena.close();
    }
  }

  @Override
  public String toString() {
    return "CpuTensor[" + dtype + " " + rows + "x" + cols + "]";
  }
}
