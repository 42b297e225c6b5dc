package io.quire.backend.cuda;

import io.quire.spi.Backend;
import io.quire.spi.BatchMetadata;
import io.quire.spi.DType;
import io.quire.spi.DeviceBatch;
import io.quire.spi.KvCache;
import io.quire.spi.Rope;
import io.quire.spi.Tensor;
import io.quire.spi.WeightData;
import java.util.Map;
import java.util.TreeMap;

/**
 * A backend wrapper that synchronizes around every op and adds its wall time under the op's name
 * (matmuls by shape). Host-timed, so each figure includes one launch and one sync (~10 us): a first
 * picture of where a decode step goes, not kernel-exact timings.
 */
final class OpTimer implements Backend {
  private final CudaBackend b;
  final Map<String, long[]> totals = new TreeMap<>();

  OpTimer(CudaBackend b) {
    this.b = b;
  }

  private void time(String name, Runnable r) {
    b.synchronize();
    long t0 = System.nanoTime();
    r.run();
    b.synchronize();
    long[] a = totals.computeIfAbsent(name, k -> new long[2]);
    a[0] += System.nanoTime() - t0;
    a[1]++;
  }

  String report(int steps) {
    StringBuilder sb = new StringBuilder();
    long all = 0;
    for (long[] a : totals.values()) all += a[0];
    for (Map.Entry<String, long[]> e : totals.entrySet()) {
      long[] a = e.getValue();
      sb.append(String.format("  %-40s %8.3f ms/step  %5.1f%%  (%d calls/step, %.1f us each)%n", e.getKey(),
          a[0] / 1e6 / steps, 100.0 * a[0] / all, a[1] / steps, a[0] / 1e3 / a[1]));
    }
    sb.append(String.format("  %-40s %8.3f ms/step%n", "total (synchronized ops)", all / 1e6 / steps));
    return sb.toString();
  }

  @Override public String name() { return b.name(); }
  @Override public DType activationDType() { return b.activationDType(); }
  @Override public Tensor loadWeight(WeightData w) { return b.loadWeight(w); }
  @Override public Tensor allocate(DType d, int r, int c) { return b.allocate(d, r, c); }
  @Override public KvCache allocateKvCache(int l, int n, int bs, int h, int d) { return b.allocateKvCache(l, n, bs, h, d); }
  @Override public Rope createRope(float[] f, int hd, int m) { return b.createRope(f, hd, m); }

  @Override
  public DeviceBatch prepare(BatchMetadata m) {
    DeviceBatch[] r = new DeviceBatch[1];
    time("prepare (batch upload)", () -> r[0] = b.prepare(m));
    return r[0];
  }

  @Override public void embedding(Tensor t, DeviceBatch d, Tensor o) { time("embedding", () -> b.embedding(t, d, o)); }
  @Override public void rmsNorm(Tensor x, Tensor w, float e, Tensor o) { time("rmsNorm", () -> b.rmsNorm(x, w, e, o)); }
  @Override public void addRmsNorm(Tensor x, Tensor r, Tensor w, float e, Tensor o) { time("addRmsNorm", () -> b.addRmsNorm(x, r, w, e, o)); }
  @Override public void headRmsNorm(Tensor x, int hd, Tensor w, float e) { time("headRmsNorm", () -> b.headRmsNorm(x, hd, w, e)); }

  @Override
  public void matmul(Tensor x, Tensor w, Tensor bias, Tensor out) {
    time("matmul " + w.rows() + "x" + w.cols() + (out.dtype() == DType.F32 ? " f32" : ""), () -> b.matmul(x, w, bias, out));
  }

  @Override public void rope(Tensor q, Tensor k, Rope r, DeviceBatch d) { time("rope", () -> b.rope(q, k, r, d)); }
  @Override public void siluMul(Tensor g, Tensor o) { time("siluMul", () -> b.siluMul(g, o)); }
  @Override public void writeKv(Tensor k, Tensor v, KvCache c, int l, DeviceBatch d) { time("writeKv", () -> b.writeKv(k, v, c, l, d)); }
  @Override public void pagedAttention(Tensor q, KvCache c, int l, DeviceBatch d, float s, Tensor o) { time("pagedAttention", () -> b.pagedAttention(q, c, l, d, s, o)); }
  @Override public void gatherLogitRows(Tensor x, DeviceBatch d, Tensor o) { time("gatherLogitRows", () -> b.gatherLogitRows(x, d, o)); }
  @Override public void copyToHost(Tensor t, float[] dst) { time("copyToHost (logits)", () -> b.copyToHost(t, dst)); }
}
