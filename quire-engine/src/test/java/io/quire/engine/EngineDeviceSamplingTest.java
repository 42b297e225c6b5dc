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
  static final class SamplingCpuBackend implements Backend {
    final CpuBackend cpu = new CpuBackend();
    final AtomicInteger sampleCalls = new AtomicInteger();
    final AtomicInteger argmaxCalls = new AtomicInteger();

    @Override
    public boolean supportsSampling() {
      return true;
    }

    @Override
    public void sample(Tensor logits, SamplingBatch batch, SampledRows out) {
      sampleCalls.incrementAndGet();
      float[] host = new float[logits.rows() * logits.cols()];
      cpu.copyToHost(logits, host);
      ReferenceSampler.sample(host, logits.cols(), batch, out);
    }

    @Override
    public void argmax(Tensor logits, int[] dst) {
      argmaxCalls.incrementAndGet();
      cpu.argmax(logits, dst);
    }

    // ---- the rest is the CPU backend's ----
    @Override public String name() { return "cpu+sampling"; }
    @Override public DType activationDType() { return cpu.activationDType(); }
    @Override public Tensor loadWeight(WeightData w) { return cpu.loadWeight(w); }
    @Override public Tensor allocate(DType dtype, int rows, int cols) { return cpu.allocate(dtype, rows, cols); }
    @Override public KvCache allocateKvCache(int l, int b, int bs, int h, int d) { return cpu.allocateKvCache(l, b, bs, h, d); }
    @Override public Rope createRope(float[] invFreq, int headDim, int maxPositions) { return cpu.createRope(invFreq, headDim, maxPositions); }
    @Override public DeviceBatch prepare(BatchMetadata batch) { return cpu.prepare(batch); }
    @Override public void embedding(Tensor table, DeviceBatch batch, Tensor out) { cpu.embedding(table, batch, out); }
    @Override public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) { cpu.rmsNorm(x, weight, eps, out); }
    @Override public void addRmsNorm(Tensor x, Tensor residual, Tensor weight, float eps, Tensor out) { cpu.addRmsNorm(x, residual, weight, eps, out); }
    @Override public void headRmsNorm(Tensor x, int headDim, Tensor weight, float eps) { cpu.headRmsNorm(x, headDim, weight, eps); }
    @Override public void matmul(Tensor x, Tensor w, Tensor bias, Tensor out) { cpu.matmul(x, w, bias, out); }
    @Override public void rope(Tensor q, Tensor k, Rope rope, DeviceBatch batch) { cpu.rope(q, k, rope, batch); }
    @Override public void siluMul(Tensor gateUp, Tensor out) { cpu.siluMul(gateUp, out); }
    @Override public void writeKv(Tensor k, Tensor v, KvCache cache, int layer, DeviceBatch batch) { cpu.writeKv(k, v, cache, layer, batch); }
    @Override public void pagedAttention(Tensor q, KvCache cache, int layer, DeviceBatch batch, float scale, Tensor out) { cpu.pagedAttention(q, cache, layer, batch, scale, out); }
    @Override public void gatherLogitRows(Tensor x, DeviceBatch batch, Tensor out) { cpu.gatherLogitRows(x, batch, out); }
    @Override public void copyToHost(Tensor t, float[] dst) { cpu.copyToHost(t, dst); }
    @Override public void close() { cpu.close(); }
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
