package io.quire.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

import java.lang.foreign.MemorySegment;

/** Row-wise argmax of F32 rows (the greedy fast path): lowest index on ties, NaN never wins. */
final class Argmax {
  private Argmax() {}

  /** dst[r] = argmax of row r of the row-major F32 {@code [rows, cols]} data. */
  static void rows(MemorySegment data, int rows, int cols, int[] dst) {
    for (int r = 0; r < rows; r++) dst[r] = row(data, (long) r * cols, cols);
  }

  static int row(MemorySegment data, long off, int cols) {
    int best = 0;
    float m = Float.NaN;
    for (int i = 0; i < cols; i++) {
      float v = data.getAtIndex(JAVA_FLOAT_UNALIGNED, off + i);
      // Strictly greater keeps the lowest index on ties; the first non-NaN value seeds m.
      if (v > m || (m != m && v == v)) {
        m = v;
        best = i;
      }
    }
    return best;
  }
}
