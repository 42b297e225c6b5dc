package io.quire.backend.cuda;

import io.quire.spi.DType;
import io.quire.spi.Tensor;

/** A row-major tensor in device memory; views ({@link #firstRows}) share their parent's memory. */
final class CudaTensor implements Tensor {
  private final CudaBackend owner;
  private final DType dtype;
  private final int rows;
  private final int cols;
  private final long ptr;
  private final boolean view;

  CudaTensor(CudaBackend owner, DType dtype, int rows, int cols, long ptr, boolean view) {
    this.owner = owner;
    this.dtype = dtype;
    this.rows = rows;
    this.cols = cols;
    this.ptr = ptr;
    this.view = view;
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

  long ptr() {
    return ptr;
  }

  CudaBackend owner() {
    return owner;
  }

  long bytes() {
    return (long) rows * cols * dtype.bytes();
  }

  /** Device address of row {@code r}. */
  long row(int r) {
    return ptr + (long) r * cols * dtype.bytes();
  }

  @Override
  public Tensor firstRows(int n) {
    if (n < 0 || n > rows) throw new IllegalArgumentException("firstRows(" + n + ") of a tensor with " + rows + " rows");
    return new CudaTensor(owner, dtype, n, cols, ptr, true);
  }

  @Override
  public void close() {
    if (!view) owner.free(ptr);
  }

  @Override
  public String toString() {
    return "CudaTensor[" + dtype + " " + rows + "x" + cols + "]";
  }
}
