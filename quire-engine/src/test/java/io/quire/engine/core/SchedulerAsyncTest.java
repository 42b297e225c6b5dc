package io.quire.engine.core;

import static io.quire.engine.core.Seeds.request;
import static io.quire.engine.core.Seeds.tokens;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The scheduler under async scheduling: a step is scheduled and launched ({@link
 * Scheduler#onStepLaunched}) before the previous step's ids are taken in ({@link Scheduler#onTokens}).
 */
class SchedulerAsyncTest {
  private static SchedulerConfig config(int budget, int blockSize, int numBlocks) {
    return new SchedulerConfig(8, budget, 1024, blockSize, numBlocks, true, SchedulingPolicy.FCFS, 16, 0);
  }

  private static SchedulerOutput launch(Scheduler s) {
    SchedulerOutput out = s.schedule();
    s.onStepLaunched(out);
    return out;
  }

  @Test
  void pendingTokensArePlaceholdersFedFromThePreviousStepsRowsUntilMaxTokens() {
    Scheduler s = new Scheduler(config(64, 4, 16));
    Request a = request("a", tokens(0, 6), 5);
    Request b = request("b", tokens(100, 3), 9);
    s.add(a);
    s.add(b);
    SchedulerOutput o1 = launch(s);  // both prefill and sample: a row 0, b row 1
    assertEquals(0, o1.feedTokens().length);
    assertEquals(1, a.numPendingTokens);
    SchedulerOutput o2 = launch(s);  // before o1's ids are in: one placeholder each
    assertArrayEquals(new int[] {6, 3}, o2.batch().positions());
    assertArrayEquals(new int[] {0, 0}, o2.batch().inputIds(), "placeholders");
    assertArrayEquals(new int[] {0, 1}, o2.feedTokens());
    assertArrayEquals(new int[] {0, 1}, o2.feedRows(), "a's id is row 0 of o1, b's row 1");
    assertEquals(2, a.numPendingTokens);
    s.onTokens(o1, new int[] {11, 21});
    assertEquals(List.of(11), Arrays.stream(a.outputTokenIds()).boxed().toList());
    SchedulerOutput o3 = launch(s);
    assertArrayEquals(new int[] {7, 4}, o3.batch().positions());
    assertArrayEquals(new int[] {0, 1}, o3.feedRows(), "rows of o2");
    s.onTokens(o2, new int[] {12, 22});
    SchedulerOutput o4 = launch(s);
    assertArrayEquals(new int[] {8, 5}, o4.batch().positions());
    s.onTokens(o3, new int[] {13, 23});
    SchedulerOutput o5 = launch(s);  // a's 5th token
    s.onTokens(o4, new int[] {14, 24});
    // a has 4 tokens in and 1 pending = max_tokens 5: not scheduled again; b goes on alone.
    SchedulerOutput o6 = launch(s);
    assertEquals(List.of("b"), o6.scheduled().stream().map(x -> x.request().requestId()).toList());
    assertArrayEquals(new int[] {1}, o6.feedRows(), "b was row 1 of o5");
    s.onTokens(o5, new int[] {15, 25});
    assertTrue(a.isFinished(), "a ends by length when its last pending token comes in");
    assertEquals(List.of(11, 12, 13, 14, 15), Arrays.stream(a.outputTokenIds()).boxed().toList());
    assertEquals(RequestStatus.FINISHED_LENGTH, a.status);
  }

  @Test
  void aBlockIsCachedOnlyOnceItsPendingTokensAreKnownAndThenUnderTheirIds() {
    Scheduler s = new Scheduler(config(64, 4, 16));
    Request a = request("a", tokens(0, 6), 4);
    s.add(a);
    KvCacheManager kv = s.kvCacheManager();
    SchedulerOutput o1 = launch(s);  // block 0 (positions 0-3) full of prompt: cached
    assertEquals(1, kv.pool().numCachedBlocks());
    SchedulerOutput o2 = launch(s);  // position 6 (pending): block 1 not full of known tokens
    s.onTokens(o1, new int[] {50});
    SchedulerOutput o3 = launch(s);  // position 7: block 1 full, but its last token is pending
    assertEquals(1, kv.pool().numCachedBlocks());
    s.onTokens(o2, new int[] {51});
    SchedulerOutput o4 = launch(s);  // block 1's tokens all known now: cached
    assertEquals(2, kv.pool().numCachedBlocks());
    s.onTokens(o3, new int[] {52});
    s.onTokens(o4, new int[] {53});
    assertTrue(a.isFinished());
    // A prompt of a's first 8 tokens and one more finds both blocks: the hash was taken over the ids
    // that came in, not the placeholders.
    int[] p = Arrays.copyOf(tokens(0, 6), 9);
    p[6] = 50;
    p[7] = 51;
    p[8] = 999;
    Request b = request("b", p, 2);
    assertEquals(2, kv.findCachedPrefix(b).size());
    p[7] = 0;  // the placeholder's value
    assertEquals(1, kv.findCachedPrefix(request("c", p, 2)).size());
  }

  @Test
  void aRequestPreemptedWithAPendingTokenKeepsItAndRecomputesIt() {
    // Blocks of 4, 4 in the pool; two 7-token prompts hold 2 blocks each.
    Scheduler s = new Scheduler(config(64, 4, 4));
    Request a = request("a", tokens(0, 7), 6);
    Request b = request("b", tokens(100, 7), 6);
    s.add(a);
    s.add(b);
    SchedulerOutput o1 = launch(s);
    SchedulerOutput o2 = launch(s);  // position 7 of each: still in their second blocks
    s.onTokens(o1, new int[] {11, 21});
    SchedulerOutput o3 = launch(s);  // a needs a third block: b (last admitted) is preempted
    assertEquals(List.of(b), o3.preempted());
    assertEquals(RequestStatus.PREEMPTED, b.status);
    assertEquals(1, b.numPendingTokens, "o2's token for b is still coming");
    s.onTokens(o2, new int[] {12, 22});
    assertEquals(List.of(21, 22), Arrays.stream(b.outputTokenIds()).boxed().toList(), "kept though preempted");
    assertEquals(0, b.numPendingTokens);
    // Steps go on (each launched before the one before is taken in) until b is back: it recomputes
    // its prompt and both tokens, every id known.
    SchedulerOutput last = o3;
    for (int step = 0; step < 20; step++) {
      SchedulerOutput o = launch(s);
      s.onTokens(last, new int[last.numSamples()]);
      last = o;
      int t = 0;
      for (ScheduledRequest x : o.scheduled()) {
        if (x.request() == b) {
          // Its first block may come from the prefix cache; the rest is recomputed through position 8.
          assertEquals(9, o.batch().positions()[t] + x.numTokens(), "prompt + 2 tokens recomputed at once");
          int end = t + x.numTokens();
          assertArrayEquals(new int[] {21, 22}, Arrays.copyOfRange(o.batch().inputIds(), end - 2, end),
              "b's recompute carries its tokens");
          for (int f : o.feedTokens()) assertTrue(f < t || f >= end, "no placeholder in b's recompute");
          return;
        }
        t += x.numTokens();
      }
    }
    throw new AssertionError("b never came back");
  }
}
