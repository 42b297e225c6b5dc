package io.quire.engine;

import io.quire.spi.Backend;
import io.quire.spi.BatchMetadata;
import io.quire.spi.DType;
import io.quire.spi.DeviceBatch;
import io.quire.spi.DeviceMemory;
import io.quire.spi.KvCache;
import io.quire.spi.Rope;
import io.quire.spi.Tensor;
import io.quire.spi.WeightData;
import java.util.Optional;

/**
 * The CPU backend computing, with the memory of a pretend device around it, so the engine's
 * gpu_memory_utilization path runs without a GPU. The device holds {@code otherBytes} before anything
 * (context, other processes); every tensor and KV pool the backend hands out is charged at its size;
 * each matmul briefly takes a {@code workspaceBytes} workspace (as cuBLAS may). It also keeps its own
 * record of the most memory ever held outside KV pools, and of the largest step prepared.
 */
final class SimulatedDeviceBackend implements Backend {
  private final Backend cpu;
  private final long totalBytes, otherBytes, workspaceBytes;
  private long allocated, peak, kvHeld;
  private long maxNonKv;
  private int prepares, maxStepTokens, maxStepLogitRows;

  SimulatedDeviceBackend(Backend cpu, long totalBytes, long otherBytes, long workspaceBytes) {
    this.cpu = cpu;
    this.totalBytes = totalBytes;
    this.otherBytes = otherBytes;
    this.workspaceBytes = workspaceBytes;
    this.maxNonKv = otherBytes;
  }

  /** The most ever in use on the device outside KV pools (other + tensors + a matmul's workspace). */
  long maxNonKvBytes() {
    return maxNonKv;
  }

  int prepares() {
    return prepares;
  }

  int maxStepTokens() {
    return maxStepTokens;
  }

  int maxStepLogitRows() {
    return maxStepLogitRows;
  }

  private synchronized void charge(long bytes, boolean kv) {
    allocated += bytes;
    if (kv) kvHeld += bytes;
    peak = Math.max(peak, allocated);
    maxNonKv = Math.max(maxNonKv, otherBytes + allocated - kvHeld);
  }

  private synchronized void release(long bytes, boolean kv) {
    allocated -= bytes;
    if (kv) kvHeld -= bytes;
  }

  private Tensor charged(Tensor t) {
    charge((long) t.rows() * t.cols() * t.dtype().bytes(), false);
    return t;
  }

  @Override
  public synchronized Optional<DeviceMemory> deviceMemory() {
    return Optional.of(new DeviceMemory(totalBytes, totalBytes - otherBytes - allocated, allocated, peak));
  }

  @Override
  public synchronized void resetPeakMemory() {
    peak = allocated;
  }

  @Override
  public String name() {
    return "simulated-device";
  }

  @Override
  public DType activationDType() {
    return cpu.activationDType();
  }

  @Override
  public Tensor loadWeight(WeightData w) {
    return charged(cpu.loadWeight(w));
  }

  @Override
  public Tensor allocate(DType dtype, int rows, int cols) {
    return charged(cpu.allocate(dtype, rows, cols));
  }

  /** A KV pool charged at its size until closed. */
  private record TrackedKv(KvCache inner, long bytes, SimulatedDeviceBackend owner) implements KvCache {
    @Override public int numLayers() { return inner.numLayers(); }
    @Override public int numBlocks() { return inner.numBlocks(); }
    @Override public int blockSize() { return inner.blockSize(); }
    @Override public int numKvHeads() { return inner.numKvHeads(); }
    @Override public int headDim() { return inner.headDim(); }
    @Override public DType dtype() { return inner.dtype(); }

    @Override
    public void close() {
      inner.close();
      owner.release(bytes, true);
    }
  }

  @Override
  public KvCache allocateKvCache(int numLayers, int numBlocks, int blockSize, int numKvHeads, int headDim) {
    KvCache c = cpu.allocateKvCache(numLayers, numBlocks, blockSize, numKvHeads, headDim);
    long bytes = 2L * numLayers * numBlocks * blockSize * numKvHeads * headDim * c.dtype().bytes();
    charge(bytes, true);
    return new TrackedKv(c, bytes, this);
  }

  private static KvCache inner(KvCache c) {
    return c instanceof TrackedKv t ? t.inner() : c;
  }

  @Override
  public Rope createRope(float[] invFreq, int headDim, int maxPositions) {
    return cpu.createRope(invFreq, headDim, maxPositions);
  }

  @Override
  public DeviceBatch prepare(BatchMetadata batch) {
    synchronized (this) {
      prepares++;
      maxStepTokens = Math.max(maxStepTokens, batch.numTokens());
      maxStepLogitRows = Math.max(maxStepLogitRows, batch.logitsIndices().length);
    }
    return cpu.prepare(batch);
  }

  @Override
  public void embedding(Tensor table, DeviceBatch batch, Tensor out) {
    cpu.embedding(table, batch, out);
  }

  @Override
  public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
    cpu.rmsNorm(x, weight, eps, out);
  }

  @Override
  public void addRmsNorm(Tensor x, Tensor residual, Tensor weight, float eps, Tensor out) {
    cpu.addRmsNorm(x, residual, weight, eps, out);
  }

  @Override
  public void headRmsNorm(Tensor x, int headDim, Tensor weight, float eps) {
    cpu.headRmsNorm(x, headDim, weight, eps);
  }

  @Override
  public void matmul(Tensor x, Tensor w, Tensor bias, Tensor out) {
    charge(workspaceBytes, false);
    try {
      cpu.matmul(x, w, bias, out);
    } finally {
      release(workspaceBytes, false);
    }
  }

  @Override
  public void rope(Tensor q, Tensor k, Rope rope, DeviceBatch batch) {
    cpu.rope(q, k, rope, batch);
  }

  @Override
  public void siluMul(Tensor gateUp, Tensor out) {
    cpu.siluMul(gateUp, out);
  }

  @Override
  public void writeKv(Tensor k, Tensor v, KvCache cache, int layer, DeviceBatch batch) {
    cpu.writeKv(k, v, inner(cache), layer, batch);
  }

  @Override
  public void pagedAttention(Tensor q, KvCache cache, int layer, DeviceBatch batch, float scale, Tensor out) {
    cpu.pagedAttention(q, inner(cache), layer, batch, scale, out);
  }

  @Override
  public void gatherLogitRows(Tensor x, DeviceBatch batch, Tensor out) {
    cpu.gatherLogitRows(x, batch, out);
  }

  @Override
  public void copyToHost(Tensor t, float[] dst) {
    cpu.copyToHost(t, dst);
  }

  @Override
  public void argmax(Tensor logits, int[] dst) {
    cpu.argmax(logits, dst);
  }
}
