package io.quire.engine.core;

/**
 * One physical KV block: {@code blockSize} token slots in every layer's K and V cache. Made once by
 * the {@link BlockPool}; {@code prev}/{@code next} link it into the free queue while refCnt is 0.
 */
public final class KvBlock {
  final int id;
  int refCnt;
  /** Set while the block is in the prefix cache (full, content known). */
  BlockHash hash;

  KvBlock prev;
  KvBlock next;

  KvBlock(int id) {
    this.id = id;
  }

  public int id() {
    return id;
  }

  public int refCnt() {
    return refCnt;
  }

  public BlockHash hash() {
    return hash;
  }

  @Override
  public String toString() {
    return "KvBlock[" + id + ", ref=" + refCnt + (hash == null ? "" : ", cached") + "]";
  }
}
