package io.quire.engine;

import io.quire.spi.BatchMetadata;
import java.util.Arrays;

/**
 * Pads a decode step (every request one query token) with dummy requests up to the size a backend
 * records its work for ({@code Backend.paddedDecodeSize}, vLLM's CUDA graph capture sizes), so that a
 * few recorded shapes serve every batch size. A dummy request is token 0 at position 0 with a context
 * of 1: its K/V goes nowhere (slot -1, which every backend's writeKv skips) and its attention reads
 * block 0, valid in any pool, whatever it holds. Its logits row comes after all the real ones, which
 * keep their rows, so reading the first {@code logitsIndices.length} rows of the logits reads no dummy.
 */
final class DecodePadding {
  private DecodePadding() {}

  /** The decode batch {@code b} with dummy requests appended up to {@code size} requests; b if it has as many. */
  static BatchMetadata pad(BatchMetadata b, int size) {
    if (!b.decodeOnly()) throw new IllegalArgumentException("only a decode step (one query token per request) is padded");
    int n = b.numRequests();
    if (size <= n) return b;
    int logits = b.logitsIndices().length;
    int[] logitsIndices = Arrays.copyOf(b.logitsIndices(), logits + size - n);
    for (int i = n; i < size; i++) logitsIndices[logits + i - n] = i;
    int[] slots = Arrays.copyOf(b.slotMapping(), size);
    Arrays.fill(slots, n, size, -1);
    int[] seqLens = Arrays.copyOf(b.seqLens(), size);
    Arrays.fill(seqLens, n, size, 1);
    int[][] blockTables = Arrays.copyOf(b.blockTables(), size);
    Arrays.fill(blockTables, n, size, new int[] {0});
    int[] queryStartLoc = new int[size + 1];
    Arrays.setAll(queryStartLoc, i -> i);
    return new BatchMetadata(Arrays.copyOf(b.inputIds(), size), Arrays.copyOf(b.positions(), size), queryStartLoc,
        seqLens, slots, blockTables, logitsIndices, b.blockSize());
  }
}
