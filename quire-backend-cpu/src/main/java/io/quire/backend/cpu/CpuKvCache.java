package io.quire.backend.cpu;

import io.quire.spi.DType;
import io.quire.spi.KvCache;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Paged KV pool, f32 or fp8 e4m3 bytes (kv_cache_dtype fp8): per layer, K and V each
 * {@code [numBlocks, blockSize, numKvHeads, headDim]}.
 */
final class CpuKvCache implements KvCache {
  private final int numLayers;
  private final int numBlocks;
  private final int blockSize;
  private final int numKvHeads;
  private final int headDim;
  private final Arena arena = Arena.ofShared();
  private final MemorySegment[] keys;
  private final MemorySegment[] values;
  private final DType dtype;

  CpuKvCache(int numLayers, int numBlocks, int blockSize, int numKvHeads, int headDim) {
    this(numLayers, numBlocks, blockSize, numKvHeads, headDim, DType.F32);
  }

  CpuKvCache(int numLayers, int numBlocks, int blockSize, int numKvHeads, int headDim, DType dtype) {
    if (dtype != DType.F32 && dtype != DType.FP8_E4M3) {
      throw new IllegalArgumentException("cpu kv cache: f32 or fp8 e4m3, got " + dtype);
    }
    if (numLayers <= 0 || numBlocks <= 0 || blockSize <= 0 || numKvHeads <= 0 || headDim <= 0) {
      throw new IllegalArgumentException(
          "kv cache dimensions must be > 0, got layers=" + numLayers + " blocks=" + numBlocks
              + " blockSize=" + blockSize + " kvHeads=" + numKvHeads + " headDim=" + headDim);
    }
    this.numLayers = numLayers;
    this.numBlocks = numBlocks;
    this.blockSize = blockSize;
    this.numKvHeads = numKvHeads;
    this.headDim = headDim;
    this.dtype = dtype;
    long bytes = (long) numBlocks * blockSize * numKvHeads * headDim * dtype.bytes();
    keys = new MemorySegment[numLayers];
    values = new MemorySegment[numLayers];
    for (int l = 0; l < numLayers; l++) {
      keys[l] = arena.allocate(bytes, 64);
      values[l] = arena.allocate(bytes, 64);
    }
  }

  MemorySegment keys(int layer) {
    return keys[checkLayer(layer)];
  }

  MemorySegment values(int layer) {
    return values[checkLayer(layer)];
  }

  private int checkLayer(int layer) {
    if (layer < 0 || layer >= numLayers) {
      throw new IllegalArgumentException("layer " + layer + " out of range [0, " + numLayers + ")");
    }
    return layer;
  }

  /** Elements in one slot (one token of one layer): numKvHeads * headDim. */
  int slotFloats() {
    return numKvHeads * headDim;
  }

  @Override
  public int numLayers() {
    return numLayers;
  }

  @Override
  public int numBlocks() {
    return numBlocks;
  }

  @Override
  public int blockSize() {
    return blockSize;
  }

  @Override
  public int numKvHeads() {
    return numKvHeads;
  }

  @Override
  public int headDim() {
    return headDim;
  }

  @Override
  public DType dtype() {
    return dtype;
  }

  boolean fp8() {
    return dtype == DType.FP8_E4M3;
  }

  @Override
  public void close() {
    arena.close();
  }
}
