package io.quire.engine.core;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * All KV blocks of one model, made once, with their reference counts, the LRU free queue and the
 * prefix-cache map (vLLM v1's BlockPool). A free block keeps its hash, so a later request can still
 * hit it, until allocation evicts it from the front of the queue. The queue is an intrusive doubly
 * linked list so a cache hit pulls a free block out of the middle in O(1).
 *
 * <p>No block is reserved as a null block: block tables are ragged, so nothing needs padding, and
 * every id in {@code [0, numBlocks)} is usable.
 */
public final class BlockPool {
  private final KvBlock[] blocks;
  private final Map<BlockHash, KvBlock> cached = new HashMap<>();
  /** Sentinel of the free queue: head.next is evicted first, head.prev is the newest. */
  private final KvBlock head = new KvBlock(-1);

  private int numFree;

  public BlockPool(int numBlocks) {
    if (numBlocks <= 0) throw new IllegalArgumentException("num_blocks must be > 0, got " + numBlocks);
    head.prev = head.next = head;
    blocks = new KvBlock[numBlocks];
    for (int i = 0; i < numBlocks; i++) {
      blocks[i] = new KvBlock(i);
      linkLast(blocks[i]);
    }
  }

  public int numBlocks() {
    return blocks.length;
  }

  /** Blocks with refCnt 0, cached or not: all of them can be allocated. */
  public int numFree() {
    return numFree;
  }

  public KvBlock block(int id) {
    return blocks[id];
  }

  /** The cached block holding exactly this prefix, or null. */
  public KvBlock cachedBlock(BlockHash hash) {
    return cached.get(hash);
  }

  public int numCachedBlocks() {
    return cached.size();
  }

  /** Takes {@code n} blocks from the front of the free queue, evicting their hashes; refCnt 1. */
  public List<KvBlock> allocate(int n) {
    if (n > numFree) throw new IllegalStateException("need " + n + " free blocks, have " + numFree);
    List<KvBlock> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      KvBlock b = head.next;
      unlink(b);
      if (b.hash != null) {
        cached.remove(b.hash);
        b.hash = null;
      }
      b.refCnt = 1;
      out.add(b);
    }
    return out;
  }

  /** Takes a reference on blocks found in the prefix cache; free ones leave the free queue. */
  public void touch(Collection<KvBlock> hits) {
    for (KvBlock b : hits) {
      if (b.refCnt++ == 0) unlink(b);
    }
  }

  /**
   * Drops one reference on each block, in the given order. A block reaching refCnt 0 with a hash
   * goes to the back of the queue (kept for prefix hits, evicted last); one without a hash holds
   * nothing worth keeping and goes to the front, to be reused before any cached block.
   */
  public void free(List<KvBlock> inEvictionOrder) {
    for (KvBlock b : inEvictionOrder) {
      if (b.refCnt <= 0) throw new IllegalStateException("double free of " + b);
      if (--b.refCnt == 0) {
        if (b.hash != null) linkLast(b);
        else linkFirst(b);
      }
    }
  }

  /** Records a full block under its hash; false (block left uncached) if another holds that hash. */
  public boolean cache(KvBlock b, BlockHash hash) {
    if (b.hash != null) return b.hash.equals(hash);
    if (cached.putIfAbsent(hash, b) != null) return false;
    b.hash = hash;
    return true;
  }

  /** Forgets a block's hash (its content was never computed). */
  public void uncache(KvBlock b) {
    if (b.hash != null) {
      cached.remove(b.hash, b);
      b.hash = null;
    }
  }

  /** Block ids in free-queue order, front (next to evict) first. For tests and debugging. */
  public List<Integer> freeQueueIds() {
    List<Integer> ids = new ArrayList<>(numFree);
    for (KvBlock b = head.next; b != head; b = b.next) ids.add(b.id);
    return ids;
  }

  /** Checks refCnt/queue/map consistency; throws IllegalStateException naming the first violation. */
  public void checkInvariants() {
    int queued = 0;
    for (KvBlock b = head.next; b != head; b = b.next) {
      if (b.refCnt != 0) throw new IllegalStateException("queued block in use: " + b);
      if (b.next.prev != b) throw new IllegalStateException("broken free queue at " + b);
      if (++queued > blocks.length) throw new IllegalStateException("free queue has a cycle");
    }
    if (queued != numFree) throw new IllegalStateException("numFree " + numFree + " != queued " + queued);
    int zero = 0;
    for (KvBlock b : blocks) {
      if (b.refCnt < 0) throw new IllegalStateException("negative refCnt: " + b);
      if (b.refCnt == 0) zero++;
      if (b.hash != null && cached.get(b.hash) != b) throw new IllegalStateException("hash not mapped: " + b);
    }
    if (zero != numFree) throw new IllegalStateException("refCnt-0 blocks " + zero + " != numFree " + numFree);
    for (Map.Entry<BlockHash, KvBlock> e : cached.entrySet()) {
      if (!e.getKey().equals(e.getValue().hash)) throw new IllegalStateException("stale map entry " + e);
    }
  }

  private void unlink(KvBlock b) {
    b.prev.next = b.next;
    b.next.prev = b.prev;
    b.prev = b.next = null;
    numFree--;
  }

  private void linkLast(KvBlock b) {
    b.prev = head.prev;
    b.next = head;
    head.prev.next = b;
    head.prev = b;
    numFree++;
  }

  private void linkFirst(KvBlock b) {
    b.next = head.next;
    b.prev = head;
    head.next.prev = b;
    head.next = b;
    numFree++;
  }
}
