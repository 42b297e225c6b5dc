package io.quire.backend.cuda;

import io.quire.spi.DType;
import io.quire.spi.KvCache;

/**
 * The paged KV pool in one device allocation, bf16: per layer K then V, each
 * {@code [numBlocks, blockSize, numKvHeads, headDim]}.
 */
final class CudaKvCache implements KvCache {
  private final CudaBackend owner;
  private final int numLayers, numBlocks, blockSize, numKvHeads, headDim;
  private final long ptr;
  private final long planeBytes;

  CudaKvCache(CudaBackend owner, int numLayers, int numBlocks, int blockSize, int numKvHeads, int headDim, long ptr) {
    this.owner = owner;
    this.numLayers = numLayers;
    this.numBlocks = numBlocks;
    this.blockSize = blockSize;
    this.numKvHeads = numKvHeads;
    this.headDim = headDim;
    this.ptr = ptr;
    this.planeBytes = planeBytes(numBlocks, blockSize, numKvHeads, headDim);
  }

  static long planeBytes(int numBlocks, int blockSize, int numKvHeads, int headDim) {
    return (long) numBlocks * blockSize * numKvHeads * headDim * DType.BF16.bytes();
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
  @Override public DType dtype() { return DType.BF16; }

  @Override
  public void close() {
    owner.free(ptr);
  }
}
