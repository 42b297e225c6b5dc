package io.quire.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

import io.quire.spi.Backend;
import io.quire.spi.BatchMetadata;
import io.quire.spi.DType;
import io.quire.spi.DeviceBatch;
import io.quire.spi.Fp8;
import io.quire.spi.KvCache;
import io.quire.spi.Rope;
import io.quire.spi.Tensor;
import io.quire.spi.WeightData;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.IntConsumer;

/**
 * The CPU backend: off-heap tensors, F32 activations and KV cache, weights used in place in their
 * stored dtype (bf16, f16 or f32), ops on the Vector API over a fixed pool of platform threads.
 * Ops run synchronously, so {@link #copyToHost} has nothing to wait for.
 */
public final class CpuBackend implements Backend {
  /** Below this many elements an elementwise op runs on the calling thread. */
  private static final long PARALLEL_MIN_ELEMENTS = 1 << 15;

  private final WorkerPool pool;
  private final Thread probe;

  public CpuBackend() {
    this(Runtime.getRuntime().availableProcessors());
  }

  public CpuBackend(int threads) {
    this.pool = new WorkerPool(threads);
    this.probe = Thread.ofPlatform().unstarted(() -> {});
  }

  @Override
  public String name() {
    return "cpu";
  }

  @Override
  public DType activationDType() {
    return DType.F32;
  }

  /** Threads that run the ops of one step. */
  public int threads() {
    return pool.parallelism();
  }

  @Override
  public Tensor loadWeight(WeightData w) {
    if (w.dtype() == DType.I32) {
      throw new IllegalArgumentException("weight " + w.name() + ": I32 weights are not supported");
    }
    if (!w.data().isAccessibleBy(probe)) {
      throw new IllegalArgumentException(
          "weight " + w.name() + ": its memory is confined to one thread; map it with a shared, global"
              + " or automatic arena so the backend's threads can read it");
    }
    return new CpuTensor(w.dtype(), w.rows(), w.cols(), w.data(), null);
  }

  @Override
  public Tensor allocate(DType dtype, int rows, int cols) {
    if (rows < 0 || cols < 0) {
      throw new IllegalArgumentException("allocate: shape must be >= 0, got " + rows + "x" + cols);
    }
    Arena arena = Arena.ofShared();
    MemorySegment data = arena.allocate(Math.max(1, (long) rows * cols * dtype.bytes()), 64);
    return new CpuTensor(dtype, rows, cols, data.asSlice(0, (long) rows * cols * dtype.bytes()), arena);
  }

  @Override
  public KvCache allocateKvCache(int numLayers, int numBlocks, int blockSize, int numKvHeads, int headDim) {
    return new CpuKvCache(numLayers, numBlocks, blockSize, numKvHeads, headDim);
  }

  /** fp8 e4m3 (kv_cache_dtype fp8): a quarter of the f32 cache's bytes; attention reads it widened to f32. */
  @Override
  public boolean supportsKvCacheDType(DType dtype) {
    return dtype == DType.F32 || dtype == DType.FP8_E4M3;
  }

  @Override
  public KvCache allocateKvCache(int numLayers, int numBlocks, int blockSize, int numKvHeads, int headDim, DType dtype) {
    return new CpuKvCache(numLayers, numBlocks, blockSize, numKvHeads, headDim, dtype);
  }

  @Override
  public Rope createRope(float[] invFreq, int headDim, int maxPositions) {
    return new CpuRope(invFreq, headDim, maxPositions);
  }

  @Override
  public DeviceBatch prepare(BatchMetadata batch) {
    return new CpuDeviceBatch(batch);
  }

  @Override
  public void embedding(Tensor table, DeviceBatch batch, Tensor out) {
    CpuTensor tb = CpuTensor.of(table, "embedding table");
    CpuTensor o = f32(out, "embedding out");
    int[] ids = batch.metadata().inputIds();
    int dim = tb.cols();
    requireCols(o, dim, "embedding out");
    requireRows(o, ids.length, "embedding out");
    for (int t = 0; t < ids.length; t++) {
      if (ids[t] < 0 || ids[t] >= tb.rows()) {
        throw new IllegalArgumentException(
            "token id " + ids[t] + " at batch row " + t + " outside vocabulary [0, " + tb.rows() + ")");
      }
    }
    forRows(ids.length, dim, t -> HalfFloats.toFloats(tb.data(), tb.dtype(), (long) ids[t] * dim, o.data(), (long) t * dim, dim));
  }

  @Override
  public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
    CpuTensor xs = f32(x, "rmsNorm x");
    CpuTensor o = f32(out, "rmsNorm out");
    float[] w = vector(weight, xs.cols(), "rmsNorm weight");
    requireCols(o, xs.cols(), "rmsNorm out");
    requireRows(o, xs.rows(), "rmsNorm out");
    int n = xs.cols();
    forRows(xs.rows(), n, t -> Norms.rmsNorm(xs.data(), (long) t * n, o.data(), (long) t * n, n, w, eps));
  }

  @Override
  public void addRmsNorm(Tensor x, Tensor residual, Tensor weight, float eps, Tensor out) {
    CpuTensor xs = f32(x, "addRmsNorm x");
    CpuTensor r = f32(residual, "addRmsNorm residual");
    CpuTensor o = f32(out, "addRmsNorm out");
    int n = xs.cols();
    float[] w = vector(weight, n, "addRmsNorm weight");
    requireCols(r, n, "addRmsNorm residual");
    requireCols(o, n, "addRmsNorm out");
    requireRows(r, xs.rows(), "addRmsNorm residual");
    requireRows(o, xs.rows(), "addRmsNorm out");
    forRows(xs.rows(), n, t -> {
      long off = (long) t * n;
      Norms.addInto(xs.data(), off, r.data(), off, n);
      Norms.rmsNorm(r.data(), off, o.data(), off, n, w, eps);
    });
  }

  @Override
  public void headRmsNorm(Tensor x, int headDim, Tensor weight, float eps) {
    CpuTensor xs = f32(x, "headRmsNorm x");
    if (headDim <= 0 || xs.cols() % headDim != 0) {
      throw new IllegalArgumentException(
          "headRmsNorm: headDim " + headDim + " does not divide row width " + xs.cols());
    }
    float[] w = vector(weight, headDim, "headRmsNorm weight");
    int heads = xs.cols() / headDim;
    forRows(xs.rows(), xs.cols(), t -> {
      for (int h = 0; h < heads; h++) {
        long off = (long) t * xs.cols() + (long) h * headDim;
        Norms.rmsNorm(xs.data(), off, xs.data(), off, headDim, w, eps);
      }
    });
  }

  @Override
  public void matmul(Tensor x, Tensor w, Tensor bias, Tensor out) {
    CpuTensor xs = f32(x, "matmul x");
    CpuTensor ws = CpuTensor.of(w, "matmul w");
    CpuTensor o = f32(out, "matmul out");
    if (xs.cols() != ws.cols()) {
      throw new IllegalArgumentException(
          "matmul: x has " + xs.cols() + " columns but w " + ws.rows() + "x" + ws.cols() + " needs " + ws.cols());
    }
    requireCols(o, ws.rows(), "matmul out");
    requireRows(o, xs.rows(), "matmul out");
    CpuTensor b = null;
    if (bias != null) {
      b = CpuTensor.of(bias, "matmul bias");
      if ((long) b.rows() * b.cols() != ws.rows()) {
        throw new IllegalArgumentException(
            "matmul: bias has " + (long) b.rows() * b.cols() + " elements, w has " + ws.rows() + " rows");
      }
    }
    if (ws.dtype() == DType.I32) {
      throw new IllegalArgumentException("matmul: weight dtype I32 is not supported");
    }
    Matmul.matmul(pool, xs, ws, b, o, xs.rows());
  }

  @Override
  public void rope(Tensor q, Tensor k, Rope rope, DeviceBatch batch) {
    CpuTensor qs = f32(q, "rope q");
    CpuTensor ks = f32(k, "rope k");
    if (!(rope instanceof CpuRope r)) {
      throw new IllegalArgumentException("rope was not created by the cpu backend");
    }
    int hd = r.headDim();
    if (qs.cols() % hd != 0 || ks.cols() % hd != 0) {
      throw new IllegalArgumentException(
          "rope: q width " + qs.cols() + " and k width " + ks.cols() + " must be multiples of headDim " + hd);
    }
    int[] positions = batch.metadata().positions();
    requireRows(qs, positions.length, "rope q");
    requireRows(ks, positions.length, "rope k");
    int qh = qs.cols() / hd;
    int kh = ks.cols() / hd;
    ThreadLocal<float[]> scratch = ThreadLocal.withInitial(() -> new float[hd]);
    forRows(positions.length, qs.cols() + ks.cols(), t -> {
      float[] s = scratch.get();
      r.apply(qs.data(), (long) t * qs.cols(), qh, positions[t], s);
      r.apply(ks.data(), (long) t * ks.cols(), kh, positions[t], s);
    });
  }

  @Override
  public void siluMul(Tensor gateUp, Tensor out) {
    CpuTensor g = f32(gateUp, "siluMul gateUp");
    CpuTensor o = f32(out, "siluMul out");
    if (g.cols() != 2 * o.cols()) {
      throw new IllegalArgumentException(
          "siluMul: gateUp has " + g.cols() + " columns, out " + o.cols() + " needs " + 2 * o.cols());
    }
    requireRows(o, g.rows(), "siluMul out");
    int n = o.cols();
    forRows(g.rows(), n, t -> Activation.siluMulRow(g.data(), (long) t * 2 * n, o.data(), (long) t * n, n));
  }

  @Override
  public void writeKv(Tensor k, Tensor v, KvCache cache, int layer, DeviceBatch batch) {
    CpuTensor ks = f32(k, "writeKv k");
    CpuTensor vs = f32(v, "writeKv v");
    CpuKvCache c = kv(cache);
    int width = c.slotFloats();
    requireCols(ks, width, "writeKv k");
    requireCols(vs, width, "writeKv v");
    int[] slots = batch.metadata().slotMapping();
    requireRows(ks, slots.length, "writeKv k");
    requireRows(vs, slots.length, "writeKv v");
    long numSlots = (long) c.numBlocks() * c.blockSize();
    MemorySegment keys = c.keys(layer);
    MemorySegment values = c.values(layer);
    long rowBytes = (long) width * 4;
    boolean fp8 = c.fp8();
    for (int t = 0; t < slots.length; t++) {
      long slot = slots[t];
      if (slot < 0) {
        continue;
      }
      if (slot >= numSlots) {
        throw new IllegalArgumentException(
            "slot " + slot + " at batch row " + t + " outside kv cache of " + numSlots + " slots");
      }
      if (fp8) {  // rounded to e4m3, as the CUDA kernels round
        for (int i = 0; i < width; i++) {
          keys.set(JAVA_BYTE, slot * width + i, Fp8.encode(ks.data().getAtIndex(JAVA_FLOAT_UNALIGNED, (long) t * width + i)));
          values.set(JAVA_BYTE, slot * width + i, Fp8.encode(vs.data().getAtIndex(JAVA_FLOAT_UNALIGNED, (long) t * width + i)));
        }
        continue;
      }
      MemorySegment.copy(ks.data(), t * rowBytes, keys, slot * rowBytes, rowBytes);
      MemorySegment.copy(vs.data(), t * rowBytes, values, slot * rowBytes, rowBytes);
    }
  }

  @Override
  public void pagedAttention(Tensor q, KvCache cache, int layer, DeviceBatch batch, float scale, Tensor out) {
    CpuKvCache c = kv(cache);
    BatchMetadata b = batch.metadata();
    for (int i = 0; i < b.numRequests(); i++) {
      for (int blk : b.blockTables()[i]) {
        if (blk >= c.numBlocks()) {
          throw new IllegalArgumentException(
              "request " + i + ": block " + blk + " outside kv cache of " + c.numBlocks() + " blocks");
        }
      }
    }
    PagedAttention.run(pool, f32(q, "pagedAttention q"), c, layer, b, scale, f32(out, "pagedAttention out"));
  }

  @Override
  public void gatherLogitRows(Tensor x, DeviceBatch batch, Tensor out) {
    CpuTensor xs = f32(x, "gatherLogitRows x");
    CpuTensor o = f32(out, "gatherLogitRows out");
    int[] idx = batch.metadata().logitsIndices();
    requireCols(o, xs.cols(), "gatherLogitRows out");
    requireRows(o, idx.length, "gatherLogitRows out");
    long rowBytes = xs.rowBytes();
    for (int i = 0; i < idx.length; i++) {
      if (idx[i] < 0 || idx[i] >= xs.rows()) {
        throw new IllegalArgumentException("logits index " + idx[i] + " outside [0, " + xs.rows() + ")");
      }
      MemorySegment.copy(xs.data(), idx[i] * rowBytes, o.data(), i * rowBytes, rowBytes);
    }
  }

  @Override
  public void copyToHost(Tensor t, float[] dst) {
    CpuTensor c = CpuTensor.of(t, "copyToHost tensor");
    long n = (long) c.rows() * c.cols();
    if (dst.length < n) {
      throw new IllegalArgumentException("copyToHost: destination holds " + dst.length + " floats, tensor " + n);
    }
    if (c.dtype() == DType.I32) {
      throw new IllegalArgumentException("copyToHost: I32 tensors cannot be copied to a float array");
    }
    HalfFloats.toFloats(c.data(), c.dtype(), 0, dst, 0, (int) n);
  }

  @Override
  public void argmax(Tensor logits, int[] dst) {
    CpuTensor c = CpuTensor.of(logits, "argmax logits");
    if (c.dtype() != DType.F32) throw new IllegalArgumentException("argmax: logits must be F32, got " + c.dtype());
    if (dst.length < c.rows()) {
      throw new IllegalArgumentException("argmax: destination holds " + dst.length + " ids, tensor has " + c.rows() + " rows");
    }
    Argmax.rows(c.data(), c.rows(), c.cols(), dst);
  }

  @Override
  public void close() {
    pool.close();
  }

  /** Runs body for each row, on all threads when rows * cols is large enough to pay for it. */
  private void forRows(int rows, int cols, IntConsumer body) {
    long elements = (long) rows * cols;
    if (rows < 2 || elements < PARALLEL_MIN_ELEMENTS) {
      for (int t = 0; t < rows; t++) {
        body.accept(t);
      }
      return;
    }
    int tasks = Math.min(rows, pool.parallelism() * 4);
    int per = (rows + tasks - 1) / tasks;
    pool.run(tasks, i -> {
      for (int t = i * per, end = Math.min(rows, (i + 1) * per); t < end; t++) {
        body.accept(t);
      }
    });
  }

  private static CpuTensor f32(Tensor t, String what) {
    CpuTensor c = CpuTensor.of(t, what);
    if (c.dtype() != DType.F32) {
      throw new IllegalArgumentException(what + " must be F32, got " + c.dtype());
    }
    return c;
  }

  private static float[] vector(Tensor t, int n, String what) {
    CpuTensor c = CpuTensor.of(t, what);
    if ((long) c.rows() * c.cols() != n || c.dtype() == DType.I32) {
      throw new IllegalArgumentException(
          what + " must hold " + n + " floats, got " + c.dtype() + " " + c.rows() + "x" + c.cols());
    }
    return c.vectorAsFloats();
  }

  private static CpuKvCache kv(KvCache cache) {
    if (cache instanceof CpuKvCache c) {
      return c;
    }
    throw new IllegalArgumentException("kv cache was not allocated by the cpu backend");
  }

  private static void requireCols(CpuTensor t, int cols, String what) {
    if (t.cols() != cols) {
      throw new IllegalArgumentException(what + " has " + t.cols() + " columns, expected " + cols);
    }
  }

  private static void requireRows(CpuTensor t, int rows, String what) {
    if (t.rows() < rows) {
      throw new IllegalArgumentException(what + " has " + t.rows() + " rows, needs at least " + rows);
    }
  }
}
