package io.quire.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quire.backend.cpu.CpuBackend;
import io.quire.engine.EngineDeviceSamplingTest.SamplingCpuBackend;
import io.quire.spi.Backend;
import io.quire.spi.BatchMetadata;
import io.quire.spi.DType;
import io.quire.spi.DeviceBatch;
import io.quire.spi.KvCache;
import io.quire.spi.Rope;
import io.quire.spi.SampledRows;
import io.quire.spi.SamplingBatch;
import io.quire.spi.Tensor;
import io.quire.spi.WeightData;
import io.quire.testkit.Fixtures;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * Decode steps padded with dummy requests (as for CUDA graphs) give every request the tokens, logprobs
 * and finish reasons of unpadded steps, and the engine's counters count real requests only.
 */
class EnginePaddingTest {
  /**
   * Another backend wrapped to pad decode steps to the next multiple of 8, counting what the engine
   * hands it: padded steps, and logits read with rows of dummy requests (there must be none).
   */
  static final class PaddingBackend extends ForwardingBackend {
    int paddedSteps, dummyRowsRead, argmaxCalls, sampleCalls, hostCopies;
    private int realLogitRows;

    PaddingBackend(Backend inner) {
      super(inner);
    }

    @Override
    public int paddedDecodeSize(int decodeTokens) {
      return (decodeTokens + 7) & ~7;
    }

    @Override
    public DeviceBatch prepare(BatchMetadata batch) {
      int[] slots = batch.slotMapping();
      realLogitRows = 0;
      for (int i : batch.logitsIndices()) if (slots[i] >= 0) realLogitRows++;
      if (Arrays.stream(slots).anyMatch(s -> s < 0)) paddedSteps++;
      return inner.prepare(batch);
    }

    private void read(Tensor logits) {
      if (logits.rows() > realLogitRows) dummyRowsRead++;
    }

    @Override
    public void argmax(Tensor logits, int[] dst) {
      read(logits);
      argmaxCalls++;
      inner.argmax(logits, dst);
    }

    @Override
    public void sample(Tensor logits, SamplingBatch batch, SampledRows out) {
      read(logits);
      sampleCalls++;
      inner.sample(logits, batch, out);
    }

    @Override
    public void copyToHost(Tensor t, float[] dst) {
      read(t);
      hostCopies++;
      inner.copyToHost(t, dst);
    }

    @Override
    public String name() {
      return "padding " + inner.name();
    }
  }

  /**
   * Twelve sequences finishing at different steps (so decode steps of 12 down to 1 rows, padded to 16
   * or 8): plain greedy ones outlive the others, so the last steps take the all-greedy argmax path.
   */
  static List<SamplingParams> mixedParams() {
    List<SamplingParams> ps = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      ps.add(SamplingParams.builder().temperature(0f).maxTokens(9 + i).ignoreEos(true).build());
    }
    ps.add(SamplingParams.builder().temperature(0.9f).seed(21L).maxTokens(2).ignoreEos(true).build());
    ps.add(SamplingParams.builder().temperature(0.7f).topK(20).topP(0.9f).seed(22L).maxTokens(3).logprobs(3).build());
    ps.add(SamplingParams.builder().temperature(1.2f).minP(0.05f).repetitionPenalty(1.3f).seed(23L).maxTokens(4).build());
    ps.add(SamplingParams.builder().temperature(1f).frequencyPenalty(1.5f).presencePenalty(0.5f).minTokens(4)
        .seed(24L).maxTokens(6).logprobs(0).build());
    ps.add(SamplingParams.builder().temperature(0f).repetitionPenalty(1.5f).maxTokens(7).logprobs(2).build());
    ps.add(SamplingParams.builder().temperature(0.8f).n(2).seed(25L).maxTokens(5).ignoreEos(true).build());
    return ps;
  }

  /**
   * What one run gives: per request its tokens, finish reasons and logprob token ids as text, and its
   * logprob values (compared bit for bit: the CPU backend's rows do not depend on the batch they run
   * in); then the engine's counters at the end.
   */
  record Run(List<String> tokens, List<float[]> logprobs, EngineStats stats) {}

  static Run run(Backend backend, List<SamplingParams> params) throws Exception {
    return run(backend, params, 128);
  }

  static Run run(Backend backend, List<SamplingParams> params, int kvBlocks) throws Exception {
    try (Engine engine = Engine.start(EngineConfig.cpuDefaults(Fixtures.modelDir("llama3-tiny")).withNumKvBlocks(kvBlocks), backend)) {
      List<RequestStream> streams = new ArrayList<>();
      for (int i = 0; i < params.size(); i++) {
        streams.add(engine.submit("r" + i, Prompt.text("Request " + i + ": " + "the quick brown fox ".repeat(1 + i % 3)),
            params.get(i), 0));
      }
      List<String> tokens = new ArrayList<>();
      List<float[]> logprobs = new ArrayList<>();
      for (RequestStream s : streams) {
        StringBuilder sb = new StringBuilder();
        List<Float> values = new ArrayList<>();
        for (RequestOutput o; (o = s.poll(120, TimeUnit.SECONDS)) != null; ) {
          for (CompletionDelta d : o.deltas()) {
            sb.append(d.index()).append(Arrays.toString(d.newTokenIds())).append(d.finishReason());
            for (TokenLogprob lp : d.logprobs() == null ? List.<TokenLogprob>of() : d.logprobs()) {
              sb.append(' ').append(lp.tokenId()).append(lp.top().stream().map(TopLogprob::tokenId).toList());
              values.add(lp.logprob());
              for (TopLogprob t : lp.top()) values.add(t.logprob());
            }
            sb.append('\n');
          }
          if (o.finished()) {
            sb.append(o.metrics().numGenerationTokens());
            break;
          }
        }
        tokens.add(sb.toString());
        float[] v = new float[values.size()];
        for (int i = 0; i < v.length; i++) v[i] = values.get(i);
        logprobs.add(v);
      }
      EngineTest.awaitIdle(engine);
      return new Run(tokens, logprobs, engine.stats());
    }
  }

  static void assertSameRuns(Run plain, Run padded, List<SamplingParams> params) {
    for (int i = 0; i < params.size(); i++) {
      assertTrue(plain.tokens().get(i).contains("]"), "request " + i + " produced tokens");
      assertEquals(plain.tokens().get(i), padded.tokens().get(i), "request " + i + " " + params.get(i));
      assertArrayEquals(plain.logprobs().get(i), padded.logprobs().get(i), "request " + i + " logprobs");
    }
    assertEquals(plain.stats().generationTokens(), padded.stats().generationTokens(), "generated tokens");
    assertEquals(plain.stats().promptTokens(), padded.stats().promptTokens(), "prompt tokens");
    assertEquals(0, padded.stats().kvBlocksUsed(), "every block back in the pool");
  }

  @Test
  void paddedDecodeStepsGiveTheTokensOfUnpaddedOnesOnTheHostSamplerAndArgmax() throws Exception {
    List<SamplingParams> params = mixedParams();
    Run plain, padded;
    try (CpuBackend cpu = new CpuBackend()) {
      plain = run(cpu, params);
    }
    try (PaddingBackend b = new PaddingBackend(new CpuBackend())) {
      padded = run(b, params);
      assertTrue(b.paddedSteps >= 8, "decode steps were padded: " + b.paddedSteps);
      assertTrue(b.argmaxCalls > 0 && b.hostCopies > 0, "argmax " + b.argmaxCalls + ", host copies " + b.hostCopies);
      assertEquals(0, b.dummyRowsRead, "logits of dummy rows were read");
    }
    assertSameRuns(plain, padded, params);
  }

  @Test
  void paddedDecodeStepsGiveTheTokensOfUnpaddedOnesOnTheDeviceSampler() throws Exception {
    List<SamplingParams> params = mixedParams();
    Run plain, padded;
    try (SamplingCpuBackend b = new SamplingCpuBackend()) {
      plain = run(b, params);
    }
    try (PaddingBackend b = new PaddingBackend(new SamplingCpuBackend())) {
      padded = run(b, params);
      assertTrue(b.paddedSteps >= 8, "decode steps were padded: " + b.paddedSteps);
      assertTrue(b.sampleCalls > 0, "steps sampled on the device: " + b.sampleCalls);
      assertEquals(0, b.dummyRowsRead, "logits of dummy rows were read");
    }
    assertSameRuns(plain, padded, params);
  }
}
