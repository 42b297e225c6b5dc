package io.quire.engine.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.quire.engine.FinishReason;
import io.quire.spi.BatchMetadata;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Model-based test of the Scheduler: random add / step / finish / abort on small pools that force
 * preemption. A shadow KV store plays the model: each step writes, into every scheduled token's
 * slot, a fingerprint of the tokens up to it (what real K/V depends on); then every running
 * request must read its whole context back through its block table, so a wrong slot, a block
 * shared by mistake or a prefix hit on stale or never-computed content fails at once.
 */
class SchedulerModelTest {

  @Test
  void randomWorkloadsKeepBudgetsAndBlocksAndEveryRequestEnds() {
    Seeds.forEachSeed(400, rnd -> new Run(rnd, false).go());
  }

  /**
   * The hard corner: priority preemption of a request already scheduled in the same step, whose
   * prefill chunk had just cached blocks that were never computed, with shared prompts that would
   * hit them.
   */
  @Test
  void priorityPreemptionWithPrefixSharingNeverServesUncomputedBlocks() {
    Seeds.forEachSeed(300, rnd -> new Run(rnd, true).go());
  }

  private static final class Run {
    final SplittableRandom rnd;
    final SchedulerConfig cfg;
    final Scheduler s;
    final long[] slotKv;
    final int[][] bases = new int[3][];
    final List<Request> accepted = new ArrayList<>();
    final Map<String, Request> byId = new HashMap<>();
    int nextId;
    int steps;

    Run(SplittableRandom rnd, boolean hardCorner) {
      this.rnd = rnd;
      int[] sizes = {1, 2, 4, 8, 16};
      int bs = sizes[rnd.nextInt(sizes.length)];
      cfg = hardCorner
          ? new SchedulerConfig(2 + rnd.nextInt(6), 3 + rnd.nextInt(12), 24 + rnd.nextInt(40),
              1 + rnd.nextInt(4), 12 + rnd.nextInt(16), true, SchedulingPolicy.PRIORITY, 30, 1 + rnd.nextInt(6))
          : new SchedulerConfig(
          1 + rnd.nextInt(8),
          1 + rnd.nextInt(64),
          4 + rnd.nextInt(120),
          bs,
          1 + rnd.nextInt(40),
          rnd.nextBoolean(),
          rnd.nextBoolean() ? SchedulingPolicy.FCFS : SchedulingPolicy.PRIORITY,
          1 + rnd.nextInt(30),
          rnd.nextInt(4) == 0 ? 1 + rnd.nextInt(16) : 0);
      s = new Scheduler(cfg);
      slotKv = new long[cfg.numBlocks() * cfg.blockSize()];
      Arrays.fill(slotKv, -1);
      for (int i = 0; i < bases.length; i++) bases[i] = KvCacheManagerTest.randomTokens(rnd, 130, 4);
      if (hardCorner) Arrays.fill(bases, bases[0]);
    }

    void go() {
      for (int op = 0; op < 250; op++) {
        int kind = rnd.nextInt(20);
        if (kind < 7) add(1);
        else if (kind == 7) add(2 + rnd.nextInt(3)); // n > 1: same prompt, ids "x#0", "x#1", ...
        else if (kind < 18) step(0.08);
        else abortOne();
        checkState();
      }
      int cap = 20_000;
      while (s.hasUnfinished()) {
        if (--cap == 0) fail("not drained after 20000 steps: " + s.stats() + " " + cfg);
        step(0.02);
        checkState();
      }
      for (Request r : accepted) assertTrue(r.isFinished(), r + " never finished");
      KvCacheManager kv = s.kvCacheManager();
      assertEquals(0, kv.numUsedBlocks());
      assertEquals(0, kv.numRequests());
      assertEquals(cfg.numBlocks(), kv.pool().numFree());
      kv.pool().checkInvariants();
      SchedulerStats st = s.stats();
      assertEquals(0, st.numRunning() + st.numWaiting());
      assertTrue(st.prefixCacheHits() <= st.prefixCacheQueries());
    }

    void add(int n) {
      int[] base = bases[rnd.nextInt(bases.length)];
      int len = 1 + rnd.nextInt(Math.min(base.length, cfg.maxModelLen() + 3));
      int[] prompt = Arrays.copyOf(base, len);
      if (rnd.nextInt(3) == 0) prompt[rnd.nextInt(len)] = 9;
      int maxTokens = 1 + rnd.nextInt(30);
      int priority = rnd.nextInt(4);
      String id = "r" + nextId++;
      for (int i = 0; i < n; i++) {
        Request r = new Request(n == 1 ? id : id + "#" + i, prompt, Seeds.maxTokens(maxTokens),
            priority, rnd.nextInt(1000));
        int slots = Math.max(len, Math.min(cfg.maxModelLen(), len + maxTokens) - 1);
        boolean tooLong = len > cfg.maxModelLen();
        boolean tooBig = (slots + cfg.blockSize() - 1) / cfg.blockSize() > cfg.numBlocks();
        boolean full = s.numWaiting() >= cfg.maxWaiting();
        try {
          s.add(r);
          assertFalse(tooLong || tooBig || full, "accepted " + r);
          accepted.add(r);
          byId.put(r.requestId(), r);
        } catch (EngineOverloadedException e) {
          assertTrue(full && !tooLong && !tooBig, e.getMessage());
        } catch (IllegalArgumentException e) {
          assertTrue(tooLong || tooBig, e.getMessage());
        }
      }
    }

    void abortOne() {
      if (accepted.isEmpty() || rnd.nextInt(5) == 0) {
        assertFalse(s.abort("unknown-" + rnd.nextInt(10)));
        return;
      }
      Request r = accepted.get(rnd.nextInt(accepted.size()));
      boolean wasLive = !r.isFinished();
      assertEquals(wasLive, s.abort(r.requestId()));
      assertTrue(r.isFinished());
      if (wasLive) assertEquals(RequestStatus.FINISHED_ABORTED, r.status);
    }

    void step(double stopChance) {
      steps++;
      boolean hadWork = s.hasUnfinished();
      SchedulerOutput out = s.schedule();
      if (hadWork) assertFalse(out.isEmpty(), "no progress with unfinished requests: " + s.stats());
      checkOutput(out);
      int[] sampled = new int[out.numSamples()];
      for (int i = 0; i < sampled.length; i++) sampled[i] = rnd.nextInt(4);
      Map<Request, Integer> before = new HashMap<>();
      for (ScheduledRequest x : out.scheduled()) before.put(x.request(), x.request().numComputedTokens);
      s.onStepDone(out, sampled);
      int k = 0;
      for (ScheduledRequest x : out.scheduled()) {
        Request r = x.request();
        assertEquals(before.get(r) + x.numTokens(), r.numComputedTokens);
        if (!x.samples()) continue;
        assertEquals(sampled[k++], r.outputTokenAt(r.numOutputTokens() - 1));
        Integer maxTokens = r.params().maxTokens();
        boolean atLimit = r.numTokens() >= cfg.maxModelLen() || r.numOutputTokens() >= maxTokens;
        assertEquals(atLimit, r.status == RequestStatus.FINISHED_LENGTH, r.toString());
        if (!r.isFinished() && rnd.nextDouble() < stopChance) s.finish(r, FinishReason.STOP);
      }
    }

    void checkOutput(SchedulerOutput out) {
      BatchMetadata m = out.batch();
      KvCacheManager kv = s.kvCacheManager();
      int bs = cfg.blockSize();
      int numReqs = out.scheduled().size();
      assertTrue(m.numTokens() <= cfg.maxNumBatchedTokens(), "over the token budget");
      assertTrue(numReqs <= cfg.maxNumSeqs() && s.numRunning() <= cfg.maxNumSeqs(), "over max_num_seqs");
      assertEquals(numReqs, m.numRequests());
      assertEquals(0, m.queryStartLoc()[0]);
      Set<Integer> written = new HashSet<>();
      List<Integer> logits = new ArrayList<>();
      Set<Request> seen = new HashSet<>();
      for (int i = 0; i < numReqs; i++) {
        ScheduledRequest x = out.scheduled().get(i);
        Request r = x.request();
        assertTrue(seen.add(r), "scheduled twice: " + r);
        assertEquals(RequestStatus.RUNNING, r.status);
        int n = x.numTokens();
        int start = r.numComputedTokens;
        assertTrue(n >= 1 && start + n <= r.numTokens(), r + " scheduled " + n);
        if (cfg.longPrefillTokenThreshold() > 0) assertTrue(n <= cfg.longPrefillTokenThreshold());
        assertEquals(start + n == r.numTokens(), x.samples());
        assertEquals(m.queryStartLoc()[i] + n, m.queryStartLoc()[i + 1]);
        assertEquals(start + n, m.seqLens()[i]);
        assertTrue(m.seqLens()[i] <= cfg.maxModelLen());
        int[] table = kv.blockTable(r);
        assertArrayEquals(table, m.blockTables()[i]);
        assertEquals((start + n + bs - 1) / bs, table.length, "blocks of " + r);
        for (int j = 0; j < n; j++) {
          int t = m.queryStartLoc()[i] + j;
          int pos = start + j;
          assertEquals(pos, m.positions()[t]);
          assertEquals(r.tokenAt(pos), m.inputIds()[t]);
          int slot = m.slotMapping()[t];
          assertEquals(table[pos / bs] * bs + pos % bs, slot);
          assertTrue(kv.pool().block(slot / bs).refCnt() > 0);
          assertTrue(written.add(slot), "two tokens write slot " + slot);
        }
        if (x.samples()) logits.add(m.queryStartLoc()[i + 1] - 1);
      }
      assertEquals(m.numTokens(), m.queryStartLoc()[numReqs]);
      if (m.numTokens() < cfg.maxNumBatchedTokens()) { // budget left: no running request was skipped
        for (Request r : s.running()) assertTrue(seen.contains(r), r + " skipped with budget left");
      }
      assertArrayEquals(logits.stream().mapToInt(Integer::intValue).toArray(), m.logitsIndices());
      for (Request p : out.preempted()) {
        assertFalse(seen.contains(p));
        assertEquals(RequestStatus.PREEMPTED, p.status);
        assertEquals(0, p.numComputedTokens);
        assertEquals(0, kv.blockTable(p).length);
      }
      // the forward pass: write all K/V of the step, then every request reads its context
      for (int i = 0; i < numReqs; i++) {
        long[] fp = fingerprints(out.scheduled().get(i).request(), m.seqLens()[i]);
        for (int t = m.queryStartLoc()[i]; t < m.queryStartLoc()[i + 1]; t++) {
          slotKv[m.slotMapping()[t]] = fp[m.positions()[t]];
        }
      }
      for (int i = 0; i < numReqs; i++) {
        Request r = out.scheduled().get(i).request();
        assertContext(r, m.blockTables()[i], m.seqLens()[i], "reads");
      }
    }

    void assertContext(Request r, int[] table, int len, String what) {
      int bs = cfg.blockSize();
      long[] fp = fingerprints(r, len);
      for (int pos = 0; pos < len; pos++) {
        if (slotKv[table[pos / bs] * bs + pos % bs] != fp[pos]) {
          fail(r + " " + what + " wrong K/V at position " + pos + " (step " + steps + ", " + cfg + ")");
        }
      }
    }

    /** A stand-in for K/V: position p's value depends on tokens 0..p. */
    static long[] fingerprints(Request r, int len) {
      long[] fp = new long[len];
      long h = 0x9E3779B97F4A7C15L;
      for (int p = 0; p < len; p++) {
        h = (h ^ r.tokenAt(p)) * 0xBF58476D1CE4E5B9L;
        fp[p] = h ^ (h >>> 31);
      }
      return fp;
    }

    void checkState() {
      KvCacheManager kv = s.kvCacheManager();
      BlockPool pool = kv.pool();
      pool.checkInvariants();
      assertEquals(s.numRunning(), kv.numRequests(), "only running requests hold blocks");
      Map<Integer, Integer> holders = new HashMap<>();
      int bs = cfg.blockSize();
      for (Request r : s.running()) {
        assertEquals(RequestStatus.RUNNING, r.status);
        int[] table = kv.blockTable(r);
        assertEquals(table.length, Arrays.stream(table).distinct().count(), "a block twice in " + r);
        for (int id : table) holders.merge(id, 1, Integer::sum);
        assertContext(r, table, r.numComputedTokens, "lost");
      }
      for (int id = 0; id < cfg.numBlocks(); id++) {
        assertEquals((int) holders.getOrDefault(id, 0), pool.block(id).refCnt(), "refCnt of block " + id);
      }
      for (Request r : accepted) {
        if (r.isFinished() || r.status == RequestStatus.RUNNING) continue;
        assertEquals(0, r.numComputedTokens, "waiting " + r);
        assertEquals(0, kv.blockTable(r).length);
      }
      SchedulerStats st = s.stats();
      assertEquals(kv.numUsedBlocks(), st.kvBlocksUsed());
      assertEquals(cfg.numBlocks(), st.kvBlocksTotal());
      assertEquals(st.kvBlocksUsed() / (double) st.kvBlocksTotal(), st.kvUsage(), 1e-12);
    }
  }
}
