package io.quire.spi;

/**
 * A two-dimensional, row-major, contiguous array in a backend's memory. Vectors are one row. Weights
 * are {@code [out, in]}; activations are {@code [tokens, features]}.
 */
public interface Tensor extends AutoCloseable {
  DType dtype();

  int rows();

  int cols();

  /** A view of the first {@code n} rows (activation buffers are sized for the largest step). */
  Tensor firstRows(int n);

  /** Releases device memory; views and memory-mapped weights may ignore it. */
  @Override
  default void close() {}
}
