package io.quire.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quire.backend.cpu.CpuBackend;
import io.quire.engine.EngineDeviceSamplingTest.SamplingCpuBackend;
import io.quire.engine.EnginePaddingTest.Run;
import io.quire.spi.Backend;
import io.quire.spi.BatchMetadata;
import io.quire.spi.DeviceBatch;
import io.quire.spi.PendingIds;
import io.quire.spi.SampledRows;
import io.quire.spi.SamplingBatch;
import io.quire.spi.Tensor;
import io.quire.testkit.Fixtures;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Async scheduling (step N+1 launched before step N's ids reach the host, its pending tokens fed from
 * N's ids) gives every request the tokens, logprobs and finish reasons of step-by-step scheduling: with
 * EOS-like stops that leave a computed token unused, max_tokens reached by a pending token, steps that
 * sample synchronously in between, padded decode steps, preemption, and aborts; and no KV block leaks.
 */
class EngineAsyncSchedulingTest {
  /**
   * Ids (and a sample's logprobs) computed when asked for, as a device computes them in stream order;
   * counted when awaited.
   */
  static final class Ids implements PendingIds {
    final int[] ids;
    final PendingIds sample; // null for an argmax
    final AsyncBackend owner;

    Ids(int[] ids, PendingIds sample, AsyncBackend owner) {
      this.ids = ids;
      this.sample = sample;
      this.owner = owner;
    }

    @Override
    public int rows() {
      return ids.length;
    }

    @Override
    public void await(int[] dst) {
      owner.awaits++;
      System.arraycopy(ids, 0, dst, 0, ids.length);
    }

    @Override
    public void await(SampledRows out) {
      owner.awaits++;
      if (sample == null) throw new AssertionError("logprobs asked of an argmax");
      sample.await(out);
    }
  }

  /**
   * The CPU backend presented as one that defers sampled ids: argmaxAsync gives {@link Ids}; a batch
   * with feeds gets them from there (not through await) into its placeholder tokens. Optionally pads
   * decode steps to multiples of 8, as CUDA graphs do.
   */
  static final class AsyncBackend extends ForwardingBackend {
    final boolean pad;
    int asyncArgmax, asyncSamples, awaits, fedIds, feedSteps;

    AsyncBackend(Backend inner, boolean pad) {
      super(inner);
      this.pad = pad;
    }

    @Override
    public boolean defersSampledIds() {
      return true;
    }

    @Override
    public int paddedDecodeSize(int decodeTokens) {
      return pad ? (decodeTokens + 7) & ~7 : decodeTokens;
    }

    @Override
    public PendingIds argmaxAsync(Tensor logits) {
      asyncArgmax++;
      int[] ids = new int[logits.rows()];
      inner.argmax(logits, ids);
      return new Ids(ids, null, this);
    }

    @Override
    public PendingIds sampleAsync(Tensor logits, SamplingBatch batch) {
      asyncSamples++;
      SampledRows rows = new SampledRows(Math.max(1, batch.numRows()));
      inner.sample(logits, batch, rows);
      return new Ids(java.util.Arrays.copyOf(rows.tokenIds, batch.numRows()), PendingIds.of(rows, batch.numRows()), this);
    }

    @Override
    public DeviceBatch prepare(BatchMetadata batch, PendingIds from, int[] feedTokens, int[] feedRows) {
      if (feedTokens.length == 0) return inner.prepare(batch);
      Ids src = (Ids) from;
      int[] ids = batch.inputIds().clone();
      for (int i = 0; i < feedTokens.length; i++) {
        assertEquals(0, ids[feedTokens[i]], "a fed token's placeholder");
        ids[feedTokens[i]] = src.ids[feedRows[i]];
      }
      feedSteps++;
      fedIds += feedTokens.length;
      return inner.prepare(new BatchMetadata(ids, batch.positions(), batch.queryStartLoc(), batch.seqLens(),
          batch.slotMapping(), batch.blockTables(), batch.logitsIndices(), batch.blockSize()));
    }
  }

  private static SamplingParams greedy(int maxTokens) {
    return SamplingParams.builder().temperature(0f).maxTokens(maxTokens).ignoreEos(true).build();
  }

  /** Greedy, stopped by the first token of {@code out} (a greedy output) after index 1 that differs from all before it. */
  private static SamplingParams stopAtNewToken(List<Integer> out, int maxTokens) {
    int stop = out.getLast();
    for (int i = 2; i < out.size(); i++) {
      if (!out.subList(0, i).contains(out.get(i))) {
        stop = out.get(i);
        break;
      }
    }
    return SamplingParams.builder().temperature(0f).maxTokens(maxTokens).stopTokenIds(List.of(stop)).build();
  }

  /** The first token ids of each line "index[ids]reason" of a run's text. */
  private static List<Integer> ids(String runText) {
    List<Integer> out = new ArrayList<>();
    Matcher m = Pattern.compile("\\[([0-9]+)").matcher(runText);
    while (m.find()) out.add(Integer.parseInt(m.group(1)));
    return out;
  }

  @Test
  void asyncStepsGiveTheTokensOfStepByStepOnes() throws Exception {
    // Greedy requests of several lengths (1 token: max_tokens reached by the prefill's pending token),
    // then the same with stop ids taken from their own outputs, which end them with a token computed
    // for nothing; plus the mixed set, whose sampled and logprob rows make some steps synchronous.
    List<SamplingParams> params = new ArrayList<>();
    for (int len : new int[] {1, 2, 3, 8, 13, 21}) params.add(greedy(len));
    Run first;
    try (CpuBackend cpu = new CpuBackend()) {
      first = EnginePaddingTest.run(cpu, params);
    }
    // Requests 4 and 5 again (same prompts), ended by the first token of their output not seen before
    // (the tiny model repeats itself), and request 3 by its first token.
    params.set(4, stopAtNewToken(ids(first.tokens().get(4)), 13));
    params.set(5, stopAtNewToken(ids(first.tokens().get(5)), 21));
    params.set(3, SamplingParams.builder().temperature(0f).maxTokens(8).stopTokenIds(List.of(ids(first.tokens().get(3)).get(0))).build());
    params.addAll(EnginePaddingTest.mixedParams());
    params.add(greedy(34)); // outlives the rest: its last steps are async with one row
    Run sync;
    try (CpuBackend cpu = new CpuBackend()) {
      sync = EnginePaddingTest.run(cpu, params);
    }
    for (int i = 3; i <= 5; i++) assertTrue(sync.tokens().get(i).contains("STOP"), "a stop id ended request " + i + ": " + sync.tokens().get(i));
    for (boolean pad : new boolean[] {false, true}) {
      try (AsyncBackend b = new AsyncBackend(new CpuBackend(), pad)) {
        Run async = EnginePaddingTest.run(b, params);
        assertTrue(b.feedSteps >= 15 && b.fedIds > b.feedSteps, "steps fed ids on the device: " + b.feedSteps + ", ids " + b.fedIds);
        assertTrue(b.asyncArgmax >= b.feedSteps, "async argmax steps " + b.asyncArgmax);
        assertEquals(b.asyncArgmax + b.asyncSamples, b.awaits, "every in-flight step's ids taken in once");
        EnginePaddingTest.assertSameRuns(sync, async, params);
        assertTrue(async.stats().numSteps() <= sync.stats().numSteps() + 3, "steps " + async.stats().numSteps()
            + " (async) against " + sync.stats().numSteps());
      }
    }
  }

  @Test
  void asyncDeviceSamplingGivesTheTokensAndLogprobsOfStepByStepSampling() throws Exception {
    // The mixed set (seeded sampling, penalties, min_tokens, top logprobs, n = 2) on a backend that
    // samples "on the device": its steps go in flight too, and their histories (penalties, seeds) are
    // those of step-by-step sampling, since a step is sampled only after the one before was taken in.
    List<SamplingParams> params = new ArrayList<>(EnginePaddingTest.mixedParams());
    params.add(SamplingParams.builder().temperature(0.9f).seed(77L).maxTokens(30).ignoreEos(true).logprobs(2).build());
    params.add(SamplingParams.builder().temperature(1.1f).repetitionPenalty(1.2f).seed(78L).maxTokens(25).ignoreEos(true).build());
    Run sync;
    try (SamplingCpuBackend b = new SamplingCpuBackend()) {
      sync = EnginePaddingTest.run(b, params);
    }
    try (AsyncBackend b = new AsyncBackend(new SamplingCpuBackend(), true)) {
      Run async = EnginePaddingTest.run(b, params);
      assertTrue(b.asyncSamples > 15 && b.feedSteps > 15, "sampled steps in flight " + b.asyncSamples + ", fed " + b.feedSteps);
      assertEquals(b.asyncArgmax + b.asyncSamples, b.awaits, "every in-flight step's ids taken in once");
      EnginePaddingTest.assertSameRuns(sync, async, params);
    }
  }

  @Test
  void preemptedRequestsKeepTheirPendingTokens() throws Exception {
    // 10 greedy requests growing to ~60 tokens (4 blocks each) in a pool of 14 blocks: preemptions.
    List<SamplingParams> params = new ArrayList<>();
    for (int i = 0; i < 10; i++) params.add(greedy(30 + 3 * i));
    Run sync, async;
    try (CpuBackend cpu = new CpuBackend()) {
      sync = EnginePaddingTest.run(cpu, params, 14);
    }
    try (AsyncBackend b = new AsyncBackend(new CpuBackend(), true)) {
      async = EnginePaddingTest.run(b, params, 14);
      assertTrue(b.feedSteps > 20, "steps fed ids: " + b.feedSteps);
    }
    assertTrue(sync.stats().numPreemptions() > 0 && async.stats().numPreemptions() > 0,
        "preemptions " + sync.stats().numPreemptions() + " / " + async.stats().numPreemptions());
    EnginePaddingTest.assertSameRuns(sync, async, params);
  }

  @Test
  void asyncSchedulingFalseRunsStepByStepOnABackendThatDefers() throws Exception {
    try (AsyncBackend b = new AsyncBackend(new CpuBackend(), false);
        Engine engine = Engine.start(EngineConfig.cpuDefaults(Fixtures.modelDir("llama3-tiny")).withNumKvBlocks(64)
            .withAsyncScheduling(false), b)) {
      RequestStream s = engine.submit("r", Prompt.text("the quick brown fox"), greedy(12), 0);
      int generated = 0;
      for (RequestOutput o; (o = s.poll(60, TimeUnit.SECONDS)) != null; ) {
        for (CompletionDelta d : o.deltas()) generated += d.newTokenIds().length;
        if (o.finished()) break;
      }
      assertEquals(12, generated);
      assertEquals(0, b.asyncArgmax + b.feedSteps, "nothing in flight, nothing fed");
    }
  }

  @Test
  void abortingARequestInFlightLeaksNothing() throws Exception {
    try (AsyncBackend b = new AsyncBackend(new CpuBackend(), true);
        Engine engine = Engine.start(EngineConfig.cpuDefaults(Fixtures.modelDir("llama3-tiny")).withNumKvBlocks(64), b)) {
      RequestStream longOne = engine.submit("long", Prompt.text("the quick brown fox"), greedy(400), 0);
      RequestStream other = engine.submit("other", Prompt.text("jumps over the lazy dog"), greedy(30), 0);
      assertNotNull(longOne.poll(60, TimeUnit.SECONDS), "first output of the long request");
      for (int i = 0; i < 5; i++) assertNotNull(longOne.poll(60, TimeUnit.SECONDS));
      assertTrue(engine.abort("long"), "abort accepted");
      String reason = null;
      for (RequestOutput o; (o = longOne.poll(60, TimeUnit.SECONDS)) != null; ) {
        for (CompletionDelta d : o.deltas()) if (d.finishReason() != null) reason = String.valueOf(d.finishReason());
        if (o.finished()) break;
      }
      assertEquals("ABORT", reason);
      int generated = 0;
      for (RequestOutput o; (o = other.poll(60, TimeUnit.SECONDS)) != null; ) {
        for (CompletionDelta d : o.deltas()) generated += d.newTokenIds().length;
        if (o.finished()) break;
      }
      assertEquals(30, generated, "the other request ran to max_tokens");
      EngineTest.awaitIdle(engine);
      assertEquals(0, engine.stats().kvBlocksUsed(), "every block back in the pool");
      assertTrue(b.feedSteps > 5, "steps fed ids: " + b.feedSteps);
    }
  }
}
