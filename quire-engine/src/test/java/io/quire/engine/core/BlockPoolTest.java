package io.quire.engine.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BlockPoolTest {

  @Test
  void allocatesFromTheFrontAndAllBlocksAreUsable() {
    BlockPool pool = new BlockPool(4);
    assertEquals(List.of(0, 1, 2), ids(pool.allocate(3)));
    assertEquals(1, pool.numFree());
    assertThrows(IllegalStateException.class, () -> pool.allocate(2));
    assertEquals(1, pool.numFree());
  }

  @Test
  void freedCachedBlocksStayHittableUntilEvictedLeastRecentlyUsedFirst() {
    BlockPool pool = new BlockPool(4);
    List<KvBlock> a = pool.allocate(2);
    BlockHash h0 = new BlockHash(1, 0);
    BlockHash h1 = new BlockHash(1, 1);
    pool.cache(a.get(0), h0);
    pool.cache(a.get(1), h1);
    pool.free(a.reversed());
    assertSame(a.get(0), pool.cachedBlock(h0));
    // uncached blocks 2, 3 are reused first; then the tail block (1) before the head block (0)
    assertEquals(List.of(2, 3, 1, 0), pool.freeQueueIds());
    pool.allocate(3);
    assertNull(pool.cachedBlock(h1));
    assertSame(a.get(0), pool.cachedBlock(h0));
    pool.checkInvariants();
  }

  @Test
  void touchPullsACachedFreeBlockOutOfTheMiddleOfTheQueue() {
    BlockPool pool = new BlockPool(3);
    List<KvBlock> a = pool.allocate(3);
    for (int i = 0; i < 3; i++) pool.cache(a.get(i), new BlockHash(7, i));
    pool.free(a);
    pool.touch(List.of(a.get(1)));
    assertEquals(List.of(0, 2), pool.freeQueueIds());
    assertEquals(1, a.get(1).refCnt());
    pool.touch(List.of(a.get(1)));
    assertEquals(2, a.get(1).refCnt());
    pool.checkInvariants();
  }

  @Test
  void aHashHeldByAnotherBlockIsNotCachedTwice() {
    BlockPool pool = new BlockPool(2);
    List<KvBlock> a = pool.allocate(2);
    BlockHash h = new BlockHash(3, 3);
    assertTrue(pool.cache(a.get(0), h));
    assertFalse(pool.cache(a.get(1), h));
    assertNull(a.get(1).hash());
    assertThrows(IllegalStateException.class, () -> {
      pool.free(List.of(a.get(1)));
      pool.free(List.of(a.get(1)));
    });
  }

  /**
   * Random allocate / touch / cache / free against a plain model (owner lists, a LinkedList queue
   * and a hash map): the queue order, ref counts and cache map match the model after every op.
   */
  @Test
  void randomOperationsMatchTheModel() {
    Seeds.forEachSeed(500, rnd -> {
      int numBlocks = 1 + rnd.nextInt(24);
      BlockPool pool = new BlockPool(numBlocks);
      List<List<KvBlock>> owners = new ArrayList<>();
      LinkedList<Integer> queue = new LinkedList<>();
      for (int i = 0; i < numBlocks; i++) queue.add(i);
      Map<BlockHash, Integer> cache = new HashMap<>();
      Map<Integer, BlockHash> hashOf = new HashMap<>();
      for (int op = 0; op < 300; op++) {
        int kind = rnd.nextInt(4);
        if (kind == 0 && pool.numFree() > 0) {
          int n = 1 + rnd.nextInt(pool.numFree());
          List<KvBlock> got = pool.allocate(n);
          for (KvBlock b : got) {
            assertEquals(queue.removeFirst(), b.id());
            BlockHash h = hashOf.remove(b.id());
            if (h != null) cache.remove(h);
          }
          owners.add(new ArrayList<>(got));
        } else if (kind == 1 && !owners.isEmpty()) {
          List<KvBlock> o = owners.remove(rnd.nextInt(owners.size()));
          List<KvBlock> order = rnd.nextBoolean() ? o.reversed() : o;
          pool.free(order);
          for (KvBlock b : order) {
            if (countHolders(owners, b) == 0) {
              if (hashOf.containsKey(b.id())) queue.addLast(b.id());
              else queue.addFirst(b.id());
            }
          }
        } else if (kind == 2 && !cache.isEmpty()) {
          // a prefix hit: some owner takes a reference on a cached block
          List<BlockHash> hashes = new ArrayList<>(cache.keySet());
          BlockHash h = hashes.get(rnd.nextInt(hashes.size()));
          KvBlock b = pool.cachedBlock(h);
          assertEquals(cache.get(h), b.id());
          List<KvBlock> owner = new ArrayList<>();
          if (!owners.isEmpty() && rnd.nextBoolean()) owner = owners.get(rnd.nextInt(owners.size()));
          else owners.add(owner);
          if (!owner.contains(b)) {
            if (b.refCnt() == 0) queue.remove((Integer) b.id());
            pool.touch(List.of(b));
            owner.add(b);
          }
        } else if (kind == 3 && !owners.isEmpty()) {
          List<KvBlock> o = owners.get(rnd.nextInt(owners.size()));
          if (o.isEmpty()) continue;
          KvBlock b = o.get(rnd.nextInt(o.size()));
          BlockHash h = new BlockHash(9, rnd.nextInt(2 * numBlocks)); // collisions on purpose
          boolean modelCaches = !hashOf.containsKey(b.id()) && !cache.containsKey(h);
          boolean cached = pool.cache(b, h);
          if (modelCaches) {
            cache.put(h, b.id());
            hashOf.put(b.id(), h);
          }
          assertEquals(modelCaches || h.equals(hashOf.get(b.id())), cached);
        }
        pool.checkInvariants();
        assertEquals(queue, pool.freeQueueIds());
        assertEquals(cache.size(), pool.numCachedBlocks());
        for (int id = 0; id < numBlocks; id++) {
          KvBlock b = pool.block(id);
          assertEquals(countHolders(owners, b), b.refCnt(), "refCnt of block " + id);
          assertEquals(hashOf.get(id), b.hash());
        }
        for (List<KvBlock> o : owners) {
          assertEquals(o.size(), o.stream().distinct().count(), "a block owned twice by one table");
        }
      }
    });
  }

  private static int countHolders(List<List<KvBlock>> owners, KvBlock b) {
    int n = 0;
    for (List<KvBlock> o : owners) if (o.contains(b)) n++;
    return n;
  }

  private static List<Integer> ids(List<KvBlock> blocks) {
    return blocks.stream().map(KvBlock::id).toList();
  }
}
