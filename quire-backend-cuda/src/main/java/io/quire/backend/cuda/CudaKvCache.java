package io.quire.backend.cuda;

import io.quire.spi.DType;
import io.quire.spi.KvCache;

/**
 * The paged KV pool in one device allocation, bf16 or fp8 e4m3 (kv_cache_dtype fp8): per layer K then V,
 * each {@code [numBlocks, blockSize, numKvHeads, headDim]}.
 */
final class CudaKvCache implements KvCache {
  private final CudaBackend owner;
  private final int numLayers, numBlocks, blockSize, numKvHeads, headDim;
  private final DType dtype;
  private final long ptr;
  private final long planeBytes;

  CudaKvCache(CudaBackend owner, int numLayers, int numBlocks, int blockSize, int numKvHeads, int headDim, DType dtype,
      long ptr) {
    this.owner = owner;
    this.numLayers = numLayers;
    this.numBlocks = numBlocks;
    this.blockSize = blockSize;
    this.numKvHeads = numKvHeads;
    this.headDim = headDim;
    this.dtype = dtype;
    this.ptr = ptr;
    this.planeBytes = planeBytes(numBlocks, blockSize, numKvHeads, headDim, dtype);
  }

  static long planeBytes(int numBlocks, int blockSize, int numKvHeads, int headDim, DType dtype) {
    return (long) numBlocks * blockSize * numKvHeads * headDim * dtype.bytes();
  }

  boolean fp8() {
    return dtype == DType.FP8_E4M3;
  }

  long keys(int layer) {
    checkLayer(layer);
    return ptr + 2L * layer * planeBytes;
  }

  long values(int layer) {
    checkLayer(layer);
    return ptr + (2L * layer + 1) * planeBytes;
  }

  private void checkLayer(int layer) {
    if (layer < 0 || layer >= numLayers) {
      throw new IllegalArgumentException("layer " + layer + " outside kv cache of " + numLayers + " layers");
    }
  }

  CudaBackend owner() {
    return owner;
  }

  @Override public int numLayers() { return numLayers; }
  @Override public int numBlocks() { return numBlocks; }
  @Override public int blockSize() { return blockSize; }
  @Override public int numKvHeads() { return numKvHeads; }
  @Override public int headDim() { return headDim; }
  @Override public DType dtype() { return dtype; }

  @Override
  public void close() {
    owner.free(ptr);
  }
}
