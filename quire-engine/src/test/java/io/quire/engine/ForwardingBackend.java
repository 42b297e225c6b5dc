package io.quire.engine;

import io.quire.spi.Backend;
import io.quire.spi.BatchMetadata;
import io.quire.spi.DType;
import io.quire.spi.DeviceBatch;
import io.quire.spi.DeviceMemory;
import io.quire.spi.KvCache;
import io.quire.spi.PendingIds;
import io.quire.spi.Rope;
import io.quire.spi.SampledRows;
import io.quire.spi.SamplingBatch;
import io.quire.spi.Tensor;
import io.quire.spi.WeightData;
import java.util.Optional;
import java.util.function.Supplier;

/** A backend that hands every call to another, default methods included; tests override what they watch or change. */
abstract class ForwardingBackend implements Backend {
  final Backend inner;

  ForwardingBackend(Backend inner) {
    this.inner = inner;
  }

  @Override public String name() { return inner.name(); }
  @Override public DType activationDType() { return inner.activationDType(); }
  @Override public Tensor loadWeight(WeightData w) { return inner.loadWeight(w); }
  @Override public Tensor allocate(DType dtype, int rows, int cols) { return inner.allocate(dtype, rows, cols); }
  @Override public KvCache allocateKvCache(int l, int b, int bs, int h, int d) { return inner.allocateKvCache(l, b, bs, h, d); }
  @Override public Rope createRope(float[] invFreq, int headDim, int maxPositions) { return inner.createRope(invFreq, headDim, maxPositions); }
  @Override public DeviceBatch prepare(BatchMetadata batch) { return inner.prepare(batch); }
  @Override public void embedding(Tensor table, DeviceBatch batch, Tensor out) { inner.embedding(table, batch, out); }
  @Override public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) { inner.rmsNorm(x, weight, eps, out); }
  @Override public void addRmsNorm(Tensor x, Tensor residual, Tensor weight, float eps, Tensor out) { inner.addRmsNorm(x, residual, weight, eps, out); }
  @Override public void headRmsNorm(Tensor x, int headDim, Tensor weight, float eps) { inner.headRmsNorm(x, headDim, weight, eps); }
  @Override public void matmul(Tensor x, Tensor w, Tensor bias, Tensor out) { inner.matmul(x, w, bias, out); }
  @Override public void rope(Tensor q, Tensor k, Rope rope, DeviceBatch batch) { inner.rope(q, k, rope, batch); }
  @Override public void siluMul(Tensor gateUp, Tensor out) { inner.siluMul(gateUp, out); }
  @Override public void writeKv(Tensor k, Tensor v, KvCache cache, int layer, DeviceBatch batch) { inner.writeKv(k, v, cache, layer, batch); }
  @Override public void pagedAttention(Tensor q, KvCache cache, int layer, DeviceBatch batch, float scale, Tensor out) { inner.pagedAttention(q, cache, layer, batch, scale, out); }
  @Override public void gatherLogitRows(Tensor x, DeviceBatch batch, Tensor out) { inner.gatherLogitRows(x, batch, out); }
  @Override public void copyToHost(Tensor t, float[] dst) { inner.copyToHost(t, dst); }
  @Override public void argmax(Tensor logits, int[] dst) { inner.argmax(logits, dst); }
  @Override public boolean defersSampledIds() { return inner.defersSampledIds(); }
  @Override public PendingIds argmaxAsync(Tensor logits) { return inner.argmaxAsync(logits); }
  @Override public DeviceBatch prepare(BatchMetadata batch, PendingIds from, int[] feedTokens, int[] feedRows) { return inner.prepare(batch, from, feedTokens, feedRows); }
  @Override public boolean supportsSampling() { return inner.supportsSampling(); }
  @Override public PendingIds sampleAsync(Tensor logits, SamplingBatch batch) { return inner.sampleAsync(logits, batch); }
  @Override public void sample(Tensor logits, SamplingBatch batch, SampledRows out) { inner.sample(logits, batch, out); }
  @Override public int paddedDecodeSize(int decodeTokens) { return inner.paddedDecodeSize(decodeTokens); }
  @Override public Tensor runForward(Object owner, DeviceBatch batch, Supplier<Tensor> forward) { return inner.runForward(owner, batch, forward); }
  @Override public Optional<DeviceMemory> deviceMemory() { return inner.deviceMemory(); }
  @Override public void enforceEager() { inner.enforceEager(); }
  @Override public void resetPeakMemory() { inner.resetPeakMemory(); }
  @Override public void close() { inner.close(); }
}
