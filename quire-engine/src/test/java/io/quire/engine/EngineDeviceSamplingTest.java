package io.quire.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quire.backend.cpu.CpuBackend;
import io.quire.engine.sampling.ReferenceSampler;
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
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The engine with a backend that samples "on the device": it uses {@link Backend#sample} for
 * sampled steps, falls back to the host sampler where a row needs what the device cannot give, and
 * either way a seeded request gets exactly the tokens and logprobs of the host-only engine.
 */
class EngineDeviceSamplingTest {
  /** The CPU backend plus a device sampler: the {@link SamplingBatch} contract run on the host. */
  static final class SamplingCpuBackend extends ForwardingBackend {
    final AtomicInteger sampleCalls = new AtomicInteger();
    final AtomicInteger argmaxCalls = new AtomicInteger();

    SamplingCpuBackend() {
      super(new CpuBackend());
    }

    @Override
    public String name() {
      return "cpu+sampling";
    }

    @Override
    public boolean supportsSampling() {
      return true;
    }

    @Override
    public void sample(Tensor logits, SamplingBatch batch, SampledRows out) {
      sampleCalls.incrementAndGet();
      float[] host = new float[logits.rows() * logits.cols()];
      inner.copyToHost(logits, host);
      ReferenceSampler.sample(host, logits.cols(), batch, out);
    }

    @Override
    public void argmax(Tensor logits, int[] dst) {
      argmaxCalls.incrementAndGet();
      inner.argmax(logits, dst);
    }
  }

  private static List<SamplingParams> mixedParams() {
    List<SamplingParams> ps = new ArrayList<>();
    ps.add(SamplingParams.builder().temperature(0.9f).seed(11L).maxTokens(12).ignoreEos(true).build());
    ps.add(SamplingParams.builder().temperature(0.7f).topK(20).topP(0.9f).seed(12L).maxTokens(12).logprobs(5).build());
    ps.add(SamplingParams.builder().temperature(1.2f).minP(0.05f).repetitionPenalty(1.3f).seed(13L).maxTokens(12).build());
    ps.add(SamplingParams.builder().temperature(1f).topP(0.8f).frequencyPenalty(1.5f).presencePenalty(0.5f)
        .minTokens(6).seed(14L).maxTokens(12).logprobs(0).build());
    ps.add(SamplingParams.builder().temperature(0f).repetitionPenalty(1.5f).maxTokens(12).logprobs(20).build());
    ps.add(SamplingParams.builder().temperature(0.8f).n(2).seed(15L).maxTokens(10).build());
    return ps;
  }

  /** Every sequence's tokens and logprobs, as text, per request. */
  private static List<String> run(Backend backend, List<SamplingParams> params) throws Exception {
    try (Engine engine = Engine.start(EngineConfig.cpuDefaults(Fixtures.modelDir("llama3-tiny")).withNumKvBlocks(128), backend)) {
      List<RequestStream> streams = new ArrayList<>();
      for (int i = 0; i < params.size(); i++) {
        streams.add(engine.submit("r" + i, Prompt.text("Request " + i + ": the quick brown fox"), params.get(i), 0));
      }
      List<String> results = new ArrayList<>();
      for (RequestStream s : streams) {
        StringBuilder sb = new StringBuilder();
        for (RequestOutput o; (o = s.poll(120, TimeUnit.SECONDS)) != null; ) {
          for (CompletionDelta d : o.deltas()) {
            sb.append(d.index()).append(Arrays.toString(d.newTokenIds())).append(d.logprobs()).append(d.finishReason()).append('\n');
          }
          if (o.finished()) break;
        }
        results.add(sb.toString());
      }
      return results;
    }
  }

  @Test
  void seededRequestsGetTheHostEnginesTokensWhenSampledOnTheDevice() throws Exception {
    List<SamplingParams> params = mixedParams();
    List<String> host, device;
    try (CpuBackend cpu = new CpuBackend()) {
      host = run(cpu, params);
    }
    try (SamplingCpuBackend b = new SamplingCpuBackend()) {
      device = run(b, params);
      assertTrue(b.sampleCalls.get() >= 12, "sampled steps went to Backend.sample: " + b.sampleCalls.get());
    }
    for (int i = 0; i < params.size(); i++) {
      assertTrue(host.get(i).contains("]"), "request " + i + " produced tokens");
      assertEquals(host.get(i), device.get(i), "request " + i + " " + params.get(i));
    }
  }

  @Test
  void wholeVocabLogprobsFallBackToTheHostSamplerAndPlainGreedyKeepsTheArgmax() throws Exception {
    try (SamplingCpuBackend b = new SamplingCpuBackend()) {
      run(b, List.of(SamplingParams.builder().temperature(0.8f).seed(3L).maxTokens(5).ignoreEos(true).logprobs(-1).build()));
      assertEquals(0, b.sampleCalls.get(), "logprobs -1 needs the whole vocab on the host");
    }
    try (SamplingCpuBackend b = new SamplingCpuBackend()) {
      run(b, List.of(EngineTest.greedy(5)));
      assertEquals(0, b.sampleCalls.get(), "plain greedy takes the argmax fast path");
      assertTrue(b.argmaxCalls.get() >= 5);
    }
  }
}
