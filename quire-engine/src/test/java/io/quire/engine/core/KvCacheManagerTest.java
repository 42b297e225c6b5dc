package io.quire.engine.core;

import static io.quire.engine.core.Seeds.request;
import static io.quire.engine.core.Seeds.tokens;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class KvCacheManagerTest {

  /** Admits r as the scheduler does: prefix lookup, allocate the rest, mark computed. */
  private static boolean admit(KvCacheManager kv, Request r) {
    List<KvBlock> hits = kv.findCachedPrefix(r);
    int cached = hits.size() * kv.blockSize();
    if (!kv.allocateSlots(r, r.numTokens() - cached, hits)) return false;
    r.numComputedTokens = r.numTokens();
    return true;
  }

  @Test
  void samePrefixReusesTheSameBlocksAndDifferentContentDoesNot() {
    KvCacheManager kv = new KvCacheManager(20, 4, true);
    Request a = request("a", tokens(0, 10), 4);
    assertTrue(admit(kv, a));
    int[] ta = kv.blockTable(a);
    assertEquals(3, ta.length);

    Request b = request("b", concat(tokens(0, 8), new int[] {7, 7, 7}), 4);
    List<KvBlock> hits = kv.findCachedPrefix(b);
    assertEquals(List.of(ta[0], ta[1]), hits.stream().map(KvBlock::id).toList());
    assertTrue(admit(kv, b));
    int[] tb = kv.blockTable(b);
    assertEquals(ta[0], tb[0]);
    assertEquals(ta[1], tb[1]);
    assertNotEquals(ta[2], tb[2]);
    assertEquals(2, kv.pool().block(ta[0]).refCnt());

    // same tokens in the second block but a different first block: the chain differs, no hit
    int[] other = tokens(0, 10);
    other[0] = 5;
    assertTrue(kv.findCachedPrefix(request("c", other, 4)).isEmpty());
    assertEquals(21, kv.prefixCacheQueries());
    assertEquals(8, kv.prefixCacheHits());
  }

  @Test
  void neverServesTheWholePromptFromCache() {
    KvCacheManager kv = new KvCacheManager(10, 4, true);
    assertTrue(admit(kv, request("a", tokens(0, 8), 4)));
    // an identical 8-token prompt: only the first block hits, the last token must be computed
    assertEquals(1, kv.findCachedPrefix(request("b", tokens(0, 8), 4)).size());
    assertEquals(2, kv.findCachedPrefix(request("c", tokens(0, 9), 4)).size());
  }

  @Test
  void freedBlocksStayCachedAndTheTailIsEvictedFirst() {
    KvCacheManager kv = new KvCacheManager(3, 4, true);
    Request a = request("a", tokens(0, 12), 4);
    assertTrue(admit(kv, a));
    int[] ta = kv.blockTable(a);
    kv.free(a);
    assertEquals(0, kv.numUsedBlocks());
    // one new block evicts a's tail, the two head blocks still hit
    Request x = request("x", tokens(100, 4), 1);
    assertTrue(kv.allocateSlots(x, 4));
    assertArrayEquals(new int[] {ta[2]}, kv.blockTable(x));
    Request b = request("b", tokens(0, 13), 4);
    assertEquals(List.of(ta[0], ta[1]), kv.findCachedPrefix(b).stream().map(KvBlock::id).toList());
  }

  @Test
  void allocationIsAllOrNothingAndCountsCachedHitsAgainstTheFreeBlocks() {
    KvCacheManager kv = new KvCacheManager(4, 4, true);
    Request a = request("a", tokens(0, 8), 4);
    assertTrue(admit(kv, a));
    kv.free(a); // two cached free blocks, two empty ones
    Request b = request("b", tokens(0, 17), 4); // hits 2 blocks, needs 3 more: only 2 free besides the hits
    List<KvBlock> hits = kv.findCachedPrefix(b);
    assertEquals(2, hits.size());
    assertFalse(kv.allocateSlots(b, 9, hits));
    assertEquals(0, kv.numUsedBlocks());
    assertEquals(2, kv.pool().numCachedBlocks());
    kv.pool().checkInvariants();
    Request c = request("c", tokens(0, 16), 4); // hits 2, needs 2 more: fits exactly
    assertTrue(kv.allocateSlots(c, 8, kv.findCachedPrefix(c)));
    assertEquals(4, kv.numUsedBlocks());
    assertEquals(1.0, kv.usage());
  }

  @Test
  void withPrefixCachingOffNothingIsCachedOrHit() {
    KvCacheManager kv = new KvCacheManager(10, 4, false);
    assertTrue(admit(kv, request("a", tokens(0, 9), 4)));
    assertTrue(kv.findCachedPrefix(request("b", tokens(0, 9), 4)).isEmpty());
    assertEquals(0, kv.pool().numCachedBlocks());
    assertEquals(0, kv.prefixCacheQueries());
  }

  @Test
  void aBlockFreedBeforeItsContentWasComputedLeavesTheCache() {
    KvCacheManager kv = new KvCacheManager(4, 4, true);
    Request a = request("a", tokens(0, 9), 4);
    assertTrue(kv.allocateSlots(a, 9)); // scheduled, not yet run: numComputedTokens still 0
    assertEquals(2, kv.pool().numCachedBlocks());
    kv.free(a);
    assertEquals(0, kv.pool().numCachedBlocks());
    assertTrue(kv.findCachedPrefix(request("b", tokens(0, 9), 4)).isEmpty());
  }

  /**
   * Random requests over a few shared prefixes grow, are freed and are re-admitted; a shadow KV
   * store records which token each slot holds, so every hit must read exactly the tokens the
   * request would have computed, and ref counts must equal the tables holding each block.
   */
  @Test
  void randomPrefixSharingReadsOnlyCorrectContent() {
    Seeds.forEachSeed(400, rnd -> {
      int bs = 1 + rnd.nextInt(6);
      int numBlocks = 4 + rnd.nextInt(40);
      KvCacheManager kv = new KvCacheManager(numBlocks, bs, true);
      int[] slotToken = new int[numBlocks * bs];
      Arrays.fill(slotToken, -1);
      int[][] bases = new int[3][];
      for (int i = 0; i < bases.length; i++) bases[i] = randomTokens(rnd, 40, 3);
      List<Request> live = new ArrayList<>();
      int next = 0;
      for (int op = 0; op < 200; op++) {
        int kind = rnd.nextInt(3);
        if (kind == 0) {
          int[] base = bases[rnd.nextInt(bases.length)];
          int[] prompt = Arrays.copyOf(base, 1 + rnd.nextInt(base.length));
          if (rnd.nextInt(4) == 0) prompt[rnd.nextInt(prompt.length)] = 99;
          Request r = request("r" + next++, prompt, 100);
          List<KvBlock> hits = kv.findCachedPrefix(r);
          int cached = hits.size() * bs;
          for (int p = 0; p < cached; p++) {
            assertEquals(r.tokenAt(p), slotToken[slot(hits.get(p / bs).id(), bs, p)], "hit content at " + p);
          }
          int n = 1 + rnd.nextInt(r.numTokens() - cached);
          if (kv.allocateSlots(r, n, hits)) {
            r.numComputedTokens = cached;
            compute(kv, r, n, slotToken);
            live.add(r);
          }
        } else if (kind == 1 && !live.isEmpty()) {
          Request r = live.get(rnd.nextInt(live.size()));
          if (r.numComputedTokens == r.numTokens()) r.appendOutputToken(rnd.nextInt(3));
          int n = 1 + rnd.nextInt(r.numTokens() - r.numComputedTokens);
          if (kv.allocateSlots(r, n)) compute(kv, r, n, slotToken);
        } else if (kind == 2 && !live.isEmpty()) {
          kv.free(live.remove(rnd.nextInt(live.size())));
        }
        check(kv, live, slotToken, rnd);
      }
      for (Request r : live) kv.free(r);
      assertEquals(0, kv.numUsedBlocks());
      kv.pool().checkInvariants();
    });
  }

  private static void compute(KvCacheManager kv, Request r, int n, int[] slotToken) {
    int[] table = kv.blockTable(r);
    int bs = kv.blockSize();
    assertEquals((r.numComputedTokens + n + bs - 1) / bs, table.length, "blocks held");
    for (int p = r.numComputedTokens; p < r.numComputedTokens + n; p++) {
      slotToken[slot(table[p / bs], bs, p)] = r.tokenAt(p);
    }
    r.numComputedTokens += n;
  }

  private static void check(KvCacheManager kv, List<Request> live, int[] slotToken, SplittableRandom rnd) {
    kv.pool().checkInvariants();
    int bs = kv.blockSize();
    Map<Integer, Integer> holders = new HashMap<>();
    for (Request r : live) {
      int[] table = kv.blockTable(r);
      assertEquals(table.length, Arrays.stream(table).distinct().count(), "block twice in one table");
      for (int id : table) holders.merge(id, 1, Integer::sum);
      for (int p = 0; p < r.numComputedTokens; p++) {
        assertEquals(r.tokenAt(p), slotToken[slot(table[p / bs], bs, p)], r + " reads position " + p);
      }
    }
    int used = 0;
    for (int id = 0; id < kv.numBlocks(); id++) {
      KvBlock b = kv.pool().block(id);
      assertEquals(holders.getOrDefault(id, 0), b.refCnt(), "refCnt of block " + id);
      if (b.refCnt() > 0) used++;
    }
    assertEquals(used, kv.numUsedBlocks());
    assertEquals(kv.numBlocks(), kv.numUsedBlocks() + kv.pool().numFree());
  }

  private static int slot(int block, int bs, int pos) {
    return block * bs + pos % bs;
  }

  static int[] randomTokens(SplittableRandom rnd, int length, int vocab) {
    int[] t = new int[length];
    for (int i = 0; i < length; i++) t[i] = rnd.nextInt(vocab);
    return t;
  }

  private static int[] concat(int[] a, int[] b) {
    int[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
