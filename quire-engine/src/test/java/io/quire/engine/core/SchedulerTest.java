package io.quire.engine.core;

import static io.quire.engine.core.Seeds.request;
import static io.quire.engine.core.Seeds.tokens;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quire.engine.FinishReason;
import io.quire.spi.BatchMetadata;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class SchedulerTest {

  private static SchedulerConfig config(int budget, int blockSize, int numBlocks) {
    return new SchedulerConfig(8, budget, 1024, blockSize, numBlocks, true, SchedulingPolicy.FCFS, 16, 0);
  }

  /** Runs one step, sampling {@code 7} for every request that samples. */
  private static SchedulerOutput step(Scheduler s) {
    SchedulerOutput out = s.schedule();
    int[] sampled = new int[out.numSamples()];
    Arrays.fill(sampled, 7);
    s.onStepDone(out, sampled);
    return out;
  }

  private static List<String> ids(SchedulerOutput out) {
    return out.scheduled().stream().map(x -> x.request().requestId()).toList();
  }

  private static List<Integer> counts(SchedulerOutput out) {
    return out.scheduled().stream().map(ScheduledRequest::numTokens).toList();
  }

  @Test
  void aLongPromptIsPrefilledInChunksOfTheRemainingBudget() {
    Scheduler s = new Scheduler(config(8, 4, 64));
    Request a = request("a", tokens(0, 20), 5);
    s.add(a);
    SchedulerOutput o1 = step(s);
    assertEquals(List.of(8), counts(o1));
    assertFalse(o1.scheduled().getFirst().samples());
    assertEquals(0, o1.batch().logitsIndices().length);
    assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7}, o1.batch().positions());
    SchedulerOutput o2 = step(s);
    assertEquals(8, o2.batch().positions()[0]);
    assertArrayEquals(new int[] {16}, o2.batch().seqLens());
    SchedulerOutput o3 = step(s);
    assertEquals(List.of(4), counts(o3));
    assertArrayEquals(new int[] {3}, o3.batch().logitsIndices());
    assertEquals(1, a.numOutputTokens());
    assertEquals(20, a.numComputedTokens);
  }

  @Test
  void runningDecodesGoFirstAndANewPromptTakesWhatIsLeftOfTheBudget() {
    Scheduler s = new Scheduler(config(8, 4, 64));
    Request a = request("a", tokens(0, 5), 5);
    s.add(a);
    step(s);
    Request b = request("b", tokens(50, 30), 5);
    s.add(b);
    SchedulerOutput out = step(s);
    assertEquals(List.of("a", "b"), ids(out));
    assertEquals(List.of(1, 7), counts(out));
    assertArrayEquals(new int[] {0, 1, 8}, out.batch().queryStartLoc());
    assertArrayEquals(new int[] {0}, out.batch().logitsIndices());
    assertArrayEquals(new int[] {6, 7}, out.batch().seqLens());
  }

  @Test
  void batchMetadataMapsEachTokenToItsSlotInTheRequestsBlocks() {
    Scheduler s = new Scheduler(config(64, 4, 64));
    Request a = request("a", tokens(0, 6), 5);
    Request b = request("b", tokens(100, 3), 5);
    s.add(a);
    s.add(b);
    BatchMetadata m = s.schedule().batch();
    int[] ta = s.kvCacheManager().blockTable(a);
    int[] tb = s.kvCacheManager().blockTable(b);
    assertArrayEquals(new int[][] {ta, tb}, m.blockTables());
    assertArrayEquals(new int[] {1000, 1001, 1002, 1003, 1004, 1005, 1100, 1101, 1102}, m.inputIds());
    assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 0, 1, 2}, m.positions());
    int[] expected = {ta[0] * 4, ta[0] * 4 + 1, ta[0] * 4 + 2, ta[0] * 4 + 3, ta[1] * 4, ta[1] * 4 + 1,
        tb[0] * 4, tb[0] * 4 + 1, tb[0] * 4 + 2};
    assertArrayEquals(expected, m.slotMapping());
    assertArrayEquals(new int[] {5, 8}, m.logitsIndices());
    assertEquals(4, m.blockSize());
  }

  @Test
  void nSequencesOfOnePromptShareItsFullBlocksInTheSameStep() {
    Scheduler s = new Scheduler(config(256, 16, 64));
    Request r0 = request("req#0", tokens(0, 40), 5);
    Request r1 = request("req#1", tokens(0, 40), 5);
    s.add(r0);
    s.add(r1);
    SchedulerOutput out = s.schedule();
    assertEquals(List.of(40, 8), counts(out));
    int[] t0 = s.kvCacheManager().blockTable(r0);
    int[] t1 = s.kvCacheManager().blockTable(r1);
    assertEquals(t0[0], t1[0]);
    assertEquals(t0[1], t1[1]);
    assertTrue(t0[2] != t1[2]);
    assertEquals(32, r1.numCachedTokens);
    assertEquals(32, out.batch().positions()[40]); // r1 starts at its first uncomputed token
    assertEquals(4, s.stats().kvBlocksUsed());
    assertEquals(32, s.stats().prefixCacheHits());
    assertEquals(80, s.stats().prefixCacheQueries());
  }

  @Test
  void aPrefixCacheHitStartsTheBatchAtTheFirstUncomputedToken() {
    Scheduler s = new Scheduler(config(64, 4, 64));
    Request a = request("a", tokens(0, 10), 1);
    s.add(a);
    step(s);
    assertTrue(a.isFinished());
    Request b = request("b", tokens(0, 13), 1);
    s.add(b);
    BatchMetadata m = s.schedule().batch();
    assertEquals(8, b.numCachedTokens);
    assertArrayEquals(new int[] {8, 9, 10, 11, 12}, m.positions());
    assertArrayEquals(new int[] {13}, m.seqLens());
  }

  @Test
  void prefixCachingOffRecomputesEverything() {
    Scheduler s = new Scheduler(config(64, 4, 64).withPrefixCaching(false));
    s.add(request("a", tokens(0, 10), 1));
    step(s);
    s.add(request("b", tokens(0, 13), 1));
    assertEquals(List.of(13), counts(s.schedule()));
    assertEquals(0, s.stats().prefixCacheHits());
  }

  /** Pool of 6 blocks of 2: a, b, c fill it, then c's decode needs a new block. */
  private static Scheduler fullPool(SchedulingPolicy policy, Request a, Request b, Request c) {
    Scheduler s = new Scheduler(config(64, 2, 6).withPolicy(policy).withPrefixCaching(false));
    s.add(a);
    s.add(b);
    s.add(c);
    step(s);
    assertEquals(6, s.stats().kvBlocksUsed());
    return s;
  }

  @Test
  void fcfsPreemptsTheLastAdmittedRequestAndRequeuesItAheadOfNewOnes() {
    Request a = request("a", tokens(0, 3), 6);
    Request b = request("b", tokens(10, 3), 6);
    Request c = request("c", tokens(20, 4), 6);
    Scheduler s = fullPool(SchedulingPolicy.FCFS, a, b, c);
    Request d = request("d", tokens(30, 1), 10);
    s.add(d);
    SchedulerOutput out = step(s);
    assertEquals(List.of("a", "b"), ids(out));
    assertEquals(List.of(c), out.preempted());
    assertEquals(RequestStatus.PREEMPTED, c.status);
    assertEquals(0, c.numComputedTokens);
    assertEquals(1, c.numPreemptions);
    assertEquals(1, s.stats().numPreemptions());
    assertEquals(List.of(1), List.of(c.numOutputTokens())); // generated tokens are kept
    s.abort("a");
    // c comes back before d and recomputes prompt + output
    SchedulerOutput back = s.schedule();
    assertEquals(List.of("b", "c"), ids(back)); // d does not fit yet: 3 + 3 blocks
    assertEquals(RequestStatus.WAITING, d.status);
    assertEquals(5, back.scheduled().get(1).numTokens());
    assertEquals(RequestStatus.RUNNING, c.status);
  }

  @Test
  void priorityPreemptsTheLargestPriorityEvenIfAlreadyScheduledThisStep() {
    Request a = request("a", tokens(0, 3), 6, 0, 1);
    Request b = request("b", tokens(10, 3), 6, 5, 2);
    Request c = request("c", tokens(20, 4), 6, 0, 3);
    Scheduler s = fullPool(SchedulingPolicy.PRIORITY, a, b, c);
    int[] bBlocks = s.kvCacheManager().blockTable(b);
    SchedulerOutput out = s.schedule();
    assertEquals(List.of("a", "c"), ids(out));
    assertEquals(List.of(b), out.preempted());
    assertEquals(2, out.numScheduledTokens()); // b's token refunded, not counted
    assertEquals(0, s.kvCacheManager().blockTable(b).length);
    assertTrue(Arrays.stream(out.batch().blockTables()[1]).anyMatch(id -> id == bBlocks[0] || id == bBlocks[1]));
  }

  @Test
  void blocksCachedByAVictimPreemptedBeforeItsChunkRanAreNotServedLater() {
    Scheduler s = new Scheduler(new SchedulerConfig(8, 64, 1024, 4, 7, true, SchedulingPolicy.PRIORITY, 16, 8));
    Request v = request("v", tokens(100, 28), 1, 5, 1);
    s.add(v);
    step(s); // v: [0, 8)
    Request c = request("c", tokens(200, 4), 3, 0, 2);
    s.add(c);
    assertEquals(List.of(8, 4), counts(step(s))); // v: [8, 16), c: its prompt
    // v's chunk [16, 24) takes the last 2 blocks (cached at allocation); c's decode needs a block,
    // so v, already scheduled this step, is preempted before its chunk ever ran
    SchedulerOutput out = step(s);
    assertEquals(List.of("c"), ids(out));
    assertEquals(List.of(v), out.preempted());
    s.abort("c");
    s.schedule();
    assertEquals(16, v.numComputedTokens); // blocks 0-3 were computed; block 4 never was
  }

  @Test
  void priorityAdmitsTheLowestPriorityValueFirstThenArrivalOrder() {
    Scheduler s = new Scheduler(new SchedulerConfig(2, 64, 1024, 4, 64, true, SchedulingPolicy.PRIORITY, 16, 0));
    s.add(request("late-low", tokens(0, 2), 3, 9, 1));
    s.add(request("urgent-2", tokens(10, 2), 3, -1, 3));
    s.add(request("urgent-1", tokens(20, 2), 3, -1, 2));
    assertEquals(List.of("urgent-1", "urgent-2"), ids(s.schedule()));
  }

  @Test
  void aFullWaitingQueueRefusesNewRequestsAsOverloaded() {
    Scheduler s = new Scheduler(new SchedulerConfig(8, 64, 1024, 4, 64, true, SchedulingPolicy.FCFS, 2, 0));
    s.add(request("a", tokens(0, 2), 3));
    s.add(request("b", tokens(0, 2), 3));
    EngineOverloadedException e =
        assertThrows(EngineOverloadedException.class, () -> s.add(request("c", tokens(0, 2), 3)));
    assertTrue(e.getMessage().contains("overloaded"), e.getMessage());
    assertTrue(e.getMessage().contains("2"), e.getMessage());
    assertEquals(2, s.numWaiting());
    s.schedule();
    s.add(request("c", tokens(0, 2), 3)); // room again once admitted
  }

  @Test
  void aPromptLongerThanMaxModelLenIsRefusedNamingBothLengths() {
    Scheduler s = new Scheduler(new SchedulerConfig(8, 64, 100, 4, 64, true, SchedulingPolicy.FCFS, 2, 0));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> s.add(request("a", tokens(0, 101), 3)));
    assertTrue(e.getMessage().contains("101") && e.getMessage().contains("100"), e.getMessage());
    s.add(request("b", tokens(0, 100), 3));
  }

  @Test
  void aRequestThatCannotFitInTheWholePoolIsRefusedAtAdd() {
    Scheduler s = new Scheduler(config(64, 4, 4));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> s.add(request("a", tokens(0, 10), 8)));
    assertTrue(e.getMessage().contains("5 KV blocks") && e.getMessage().contains("has 4"), e.getMessage());
    s.add(request("b", tokens(0, 10), 7)); // 16 tokens, the last never computed: 15 slots, 4 blocks
  }

  @Test
  void duplicateRequestIdsAreRefused() {
    Scheduler s = new Scheduler(config(64, 4, 64));
    s.add(request("a", tokens(0, 2), 3));
    assertThrows(IllegalArgumentException.class, () -> s.add(request("a", tokens(0, 2), 3)));
  }

  @Test
  void abortFreesBlocksAtOnceWhetherRunningOrWaiting() {
    Scheduler s = new Scheduler(new SchedulerConfig(1, 64, 1024, 4, 64, true, SchedulingPolicy.FCFS, 16, 0));
    Request a = request("a", tokens(0, 9), 3);
    Request b = request("b", tokens(0, 9), 3);
    s.add(a);
    s.add(b);
    step(s);
    assertEquals(3, s.stats().kvBlocksUsed());
    assertTrue(s.abort("a"));
    assertEquals(RequestStatus.FINISHED_ABORTED, a.status);
    assertEquals(0, s.stats().kvBlocksUsed());
    assertTrue(s.abort("b"));
    assertFalse(s.abort("b"));
    assertFalse(s.abort("nobody"));
    assertFalse(s.hasUnfinished());
  }

  @Test
  void maxTokensAndMaxModelLenFinishWithLength() {
    Scheduler s = new Scheduler(new SchedulerConfig(8, 64, 6, 4, 64, true, SchedulingPolicy.FCFS, 16, 0));
    Request a = request("a", tokens(0, 2), 2);
    Request b = request("b", tokens(0, 4), 100);
    s.add(a);
    s.add(b);
    for (int i = 0; i < 2; i++) step(s);
    assertEquals(RequestStatus.FINISHED_LENGTH, a.status);
    assertEquals(2, a.numOutputTokens());
    assertEquals(RequestStatus.FINISHED_LENGTH, b.status);
    assertEquals(6, b.numTokens());
    assertFalse(s.hasUnfinished());
    assertEquals(0, s.stats().kvBlocksUsed());
  }

  @Test
  void finishByTheEngineFreesTheBlocksAndIsIdempotent() {
    Scheduler s = new Scheduler(config(64, 4, 64));
    Request a = request("a", tokens(0, 5), 10);
    s.add(a);
    step(s);
    s.finish(a, FinishReason.STOP);
    s.finish(a, FinishReason.ABORT);
    assertEquals(RequestStatus.FINISHED_STOPPED, a.status);
    assertEquals(0, s.numRunning());
    assertEquals(0, s.stats().kvBlocksUsed());
  }

  @Test
  void maxNumSeqsBoundsTheRunningSet() {
    Scheduler s = new Scheduler(new SchedulerConfig(2, 64, 1024, 4, 64, true, SchedulingPolicy.FCFS, 16, 0));
    for (int i = 0; i < 3; i++) s.add(request("r" + i, tokens(10 * i, 3), 5));
    SchedulerOutput out = s.schedule();
    assertEquals(2, out.scheduled().size());
    assertEquals(2, s.numRunning());
    assertEquals(1, s.numWaiting());
    assertSame(out.scheduled().get(0).request(), s.running().get(0));
  }

  @Test
  void longPrefillTokenThresholdCapsEachPrefillChunk() {
    Scheduler s = new Scheduler(new SchedulerConfig(8, 64, 1024, 4, 64, true, SchedulingPolicy.FCFS, 16, 5));
    s.add(request("a", tokens(0, 12), 5));
    s.add(request("b", tokens(100, 3), 5));
    assertEquals(List.of(5, 3), counts(s.schedule()));
  }
}
