package io.quire.spi;

/**
 * The paged KV pool of one model: per layer, K and V each {@code [numBlocks, blockSize, numKvHeads,
 * headDim]}. Blocks are addressed only through block tables and slot mappings.
 */
public interface KvCache extends AutoCloseable {
  int numLayers();

  int numBlocks();

  int blockSize();

  int numKvHeads();

  int headDim();

  DType dtype();

  @Override
  default void close() {}
}
