package io.quire.spi;

import java.lang.foreign.MemorySegment;

/**
 * Host bytes of one stored weight, usually a slice of a memory-mapped safetensors file (little
 * endian). {@code rows == 1} for vectors.
 */
public record WeightData(String name, DType dtype, int rows, int cols, MemorySegment data) {
  public WeightData {
    long need = (long) rows * cols * dtype.bytes();
    if (data.byteSize() != need) {
      throw new IllegalArgumentException(
          "weight " + name + ": " + data.byteSize() + " bytes stored, shape needs " + need);
    }
  }
}
