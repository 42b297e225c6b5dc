package io.quire.engine.core;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Block tables of the running requests over one {@link BlockPool}, with automatic prefix caching
 * (vLLM v1's KVCacheManager). A full block is hashed and cached as soon as it is allocated for
 * tokens whose ids are known, which lets a request scheduled later in the same step reuse it: the
 * forward pass writes each layer's K/V for all tokens before attention reads any.
 */
public final class KvCacheManager {
  private final BlockPool pool;
  private final int blockSize;
  private final boolean prefixCaching;
  private final Map<Request, Table> tables = new HashMap<>();
  private long prefixQueries;
  private long prefixHits;

  /** A request's blocks in logical order; the first {@code numHashed} are in the prefix cache. */
  private static final class Table {
    final List<KvBlock> blocks = new ArrayList<>();
    int numHashed;
  }

  public KvCacheManager(int numBlocks, int blockSize, boolean enablePrefixCaching) {
    if (blockSize <= 0) throw new IllegalArgumentException("block_size must be > 0, got " + blockSize);
    this.pool = new BlockPool(numBlocks);
    this.blockSize = blockSize;
    this.prefixCaching = enablePrefixCaching;
  }

  /**
   * The longest run of cached full blocks at the start of the request's tokens, never covering the
   * last token (it must be computed to give logits). Takes no references.
   */
  public List<KvBlock> findCachedPrefix(Request r) {
    if (!prefixCaching) return List.of();
    int maxBlocks = (r.numTokens() - 1) / blockSize;
    List<KvBlock> hits = new ArrayList<>();
    for (int i = 0; i < maxBlocks; i++) {
      KvBlock b = pool.cachedBlock(blockHash(r, i));
      if (b == null) break;
      hits.add(b);
    }
    return hits;
  }

  public boolean allocateSlots(Request r, int numNewTokens) {
    return allocateSlots(r, numNewTokens, List.of());
  }

  /**
   * Makes room for K/V up to {@code r.numComputedTokens + hits * blockSize + numNewTokens} tokens,
   * taking references on {@code hits} (from {@link #findCachedPrefix}, only for a request holding
   * no blocks). All or nothing: false, and nothing changed, when the free blocks do not suffice.
   */
  public boolean allocateSlots(Request r, int numNewTokens, List<KvBlock> hits) {
    Table t = tables.get(r);
    if (!hits.isEmpty() && t != null) throw new IllegalArgumentException(r + " already holds blocks");
    int held = t == null ? 0 : t.blocks.size();
    int total = r.numComputedTokens + hits.size() * blockSize + numNewTokens;
    if (total > r.numTokensWithPending()) {
      throw new IllegalArgumentException(
          "cannot allocate " + total + " tokens for " + r + " with " + r.numTokensWithPending() + " tokens");
    }
    int needed = Math.max(0, ceilDiv(total, blockSize) - held - hits.size());
    int hitsInFreeQueue = 0;
    for (KvBlock b : hits) if (b.refCnt == 0) hitsInFreeQueue++;
    if (needed > pool.numFree() - hitsInFreeQueue) return false;

    if (t == null) {
      t = new Table();
      tables.put(r, t);
      if (prefixCaching) {
        prefixQueries += r.numTokens();
        prefixHits += (long) hits.size() * blockSize;
      }
    }
    pool.touch(hits);
    t.blocks.addAll(hits);
    if (!hits.isEmpty()) t.numHashed = hits.size();
    t.blocks.addAll(pool.allocate(needed));
    if (prefixCaching) {
      // A block is hashed once full of known tokens: one holding a pending token (async scheduling)
      // waits for a later allocation.
      for (int full = Math.min(total, r.numTokens()) / blockSize; t.numHashed < full; t.numHashed++) {
        pool.cache(t.blocks.get(t.numHashed), blockHash(r, t.numHashed));
      }
    }
    return true;
  }

  /**
   * Releases the request's blocks, tail first so the tail is evicted first. A cached block whose
   * content was never computed (freed between schedule and the forward pass, as a preemption
   * victim is) leaves the cache, so no later request can hit garbage.
   */
  public void free(Request r) {
    Table t = tables.remove(r);
    if (t == null) return;
    int computedBlocks = r.numComputedTokens / blockSize;
    List<KvBlock> reversed = new ArrayList<>(t.blocks.size());
    for (int i = t.blocks.size() - 1; i >= 0; i--) {
      KvBlock b = t.blocks.get(i);
      if (i >= computedBlocks && b.refCnt == 1) pool.uncache(b);
      reversed.add(b);
    }
    pool.free(reversed);
  }

  /** Physical block ids of the request in logical order (empty if it holds none). */
  public int[] blockTable(Request r) {
    Table t = tables.get(r);
    if (t == null) return new int[0];
    int[] ids = new int[t.blocks.size()];
    for (int i = 0; i < ids.length; i++) ids[i] = t.blocks.get(i).id;
    return ids;
  }

  /** Blocks one request needs to hold K/V of {@code numTokens} tokens. */
  public int blocksFor(int numTokens) {
    return ceilDiv(numTokens, blockSize);
  }

  public int blockSize() {
    return blockSize;
  }

  public boolean prefixCachingEnabled() {
    return prefixCaching;
  }

  public BlockPool pool() {
    return pool;
  }

  public int numBlocks() {
    return pool.numBlocks();
  }

  public int numUsedBlocks() {
    return pool.numBlocks() - pool.numFree();
  }

  /** Fraction of blocks held by requests, 0..1 (cached free blocks count as free). */
  public double usage() {
    return (double) numUsedBlocks() / pool.numBlocks();
  }

  /** Prompt tokens looked up in the prefix cache (at each admission, so also after preemption). */
  public long prefixCacheQueries() {
    return prefixQueries;
  }

  /** Of those, tokens found in the cache. */
  public long prefixCacheHits() {
    return prefixHits;
  }

  /** Requests holding blocks. */
  public int numRequests() {
    return tables.size();
  }

  private BlockHash blockHash(Request r, int index) {
    List<BlockHash> hashes = r.blockHashes;
    while (hashes.size() <= index) {
      int i = hashes.size();
      BlockHash parent = i == 0 ? BlockHash.ROOT : hashes.get(i - 1);
      hashes.add(BlockHash.of(parent, r, i * blockSize, blockSize));
    }
    return hashes.get(index);
  }

  private static int ceilDiv(int a, int b) {
    return (a + b - 1) / b;
  }
}
