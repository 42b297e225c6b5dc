package io.quire.backend.cuda;

import io.quire.backend.cpu.CpuBackend;
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
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Each CUDA op against the CPU backend on the same bf16-representable inputs. The CPU computes in
 * fp32 throughout; CUDA rounds each op's output to bf16 (relative step 2^-8), so an element passes
 * when |gpu - cpu| <= 2^-7 |cpu| + 1e-2 rms(cpu).
 */
final class OpChecks {
  record Result(String name, boolean pass, String detail) {
    @Override
    public String toString() {
      return (pass ? "PASS " : "FAIL ") + name + ": " + detail;
    }
  }

  private final Backend gpu;
  private final CpuBackend cpu = new CpuBackend(2);
  private final SplittableRandom rnd = new SplittableRandom(42);
  private final List<Result> results = new ArrayList<>();

  OpChecks(Backend gpu) {
    this.gpu = gpu;
  }

  static List<Result> run(Backend gpu) {
    OpChecks c = new OpChecks(gpu);
    try {
      c.embedding();
      c.rmsNorm(5, 1000);
      c.rmsNorm(3, 4096);
      c.addRmsNorm(5, 1000);
      c.addRmsNorm(2, 4096);
      c.addRmsNorm(2, 1003);
      c.rmsNorm(2, 1003);
      c.headRmsNorm(3, 6, 128);
      c.headRmsNorm(4, 4, 32);
      c.matmul(1, 1000, 777, false, DType.BF16);
      c.matmul(7, 1000, 777, true, DType.BF16);
      c.matmul(33, 4096, 512, false, DType.BF16);
      c.matmul(600, 520, 4100, true, DType.BF16);  // batch-invariant mode: the 128 x 128 tiles, ragged edges
      c.matmul(3, 512, 1001, false, DType.F32);
      c.matmul(1, 14336, 300, false, DType.BF16);
      c.matmul(1, 2048, 5001, false, DType.F32);
      c.matmul(1, 1000, 777, true, DType.F32);
      c.matmulShared(1, 4096, new int[] {4096, 1024, 1024}, false);
      c.matmulShared(1, 512, new int[] {896, 128, 128}, true);
      c.matmulShared(2, 512, new int[] {256, 64, 64}, true);
      c.rope(128, 8, 2);
      c.rope(64, 4, 4);
      c.siluMul(4, 1000);
      c.matmulSiluMul(1, 4096, 1000);
      c.matmulSiluMul(1, 512, 14336);
      c.matmulSiluMul(2, 512, 300);
      c.attention(8, 2, 128, new int[] {37, 35, 9, 700}, new int[] {1, 20, 9, 1});
      c.attention(4, 4, 64, new int[] {1, 16, 17, 50}, new int[] {1, 16, 5, 50});
      c.attention(4, 2, 16, new int[] {5, 33}, new int[] {5, 1});
      c.attention(32, 8, 128, new int[] {512}, new int[] {1});
      c.attention(32, 8, 128, new int[] {2000}, new int[] {1});
      c.attention(32, 8, 128, new int[] {300, 40}, new int[] {300, 1});
      c.attention(64, 4, 128, new int[] {300, 1000}, new int[] {1, 1});
      c.attention(28, 4, 128, new int[] {100, 3}, new int[] {1, 3});
      c.attention(8, 2, 96, new int[] {130}, new int[] {1});
      c.attention(8, 8, 256, new int[] {77, 600}, new int[] {2, 1});
      c.attention(32, 32, 128, new int[] {600, 1000, 3}, new int[] {1, 1, 1});  // G = 1 decode (Llama-2-7B)
      c.attention(64, 8, 128, new int[] {300, 77, 64}, new int[] {1, 1, 1});   // G = 8
      // Decode rows x kv heads filling the GPU: unsplit by the fill heuristic; then split by max positions.
      int[] many = new int[48], ones = new int[48];
      for (int i = 0; i < many.length; i++) {
        many[i] = 200 + 37 * i;
        ones[i] = 1;
      }
      c.attention(32, 8, 128, many, ones);
      if (gpu instanceof CudaBackend cuda) {
        int prev = cuda.splitMaxPositions(256);
        try {
          c.attention(32, 8, 128, many, ones);
          c.attention(32, 8, 128, new int[] {300, 40}, new int[] {300, 1});
        } finally {
          cuda.splitMaxPositions(prev);
        }
      }
      if (gpu instanceof CudaBackend cuda) {  // attention_decode.cu at any batch size
        int prev = cuda.attnDecMode(2);
        try {
          c.attention(32, 32, 128, new int[] {600, 1000, 3}, new int[] {1, 1, 1});
          c.attention(64, 8, 128, new int[] {300, 77, 64}, new int[] {1, 1, 1});
          c.attention(4, 4, 64, new int[] {1, 16, 17, 50}, new int[] {1, 1, 1, 1});
          if (gpu.supportsKvCacheDType(DType.FP8_E4M3)) {
            c.attention(32, 32, 128, new int[] {600, 1000, 3}, new int[] {1, 1, 1}, true);
            c.attention(28, 4, 64, new int[] {100, 3, 70}, new int[] {1, 1, 1}, true);
          }
        } finally {
          cuda.attnDecMode(prev);
        }
      }
      c.ropeWriteKv(128, 8, 2);
      c.ropeWriteKv(64, 32, 32, false, 61);  // positions past the 64-position table (angles computed)
      c.ropeWriteKv(40, 4, 2);               // head_dim % 16 != 0: the one-pair-a-thread kernel
      c.qkvRopeWriteKv(37, 512, 8, 2, 128, false);   // one GEMM of the stacked q/k/v weights on CUDA
      c.qkvRopeWriteKv(300, 1024, 8, 8, 128, false);
      c.qkvRopeWriteKv(33, 512, 4, 4, 64, false);
      c.siluMul(37, 11008);
      c.siluMul(3, 1004);                    // n % 8 != 0: the one-column kernel
      if (gpu.supportsKvCacheDType(DType.FP8_E4M3)) {  // kv_cache_dtype fp8: the CPU reads e4m3-rounded K/V
        c.attention(8, 2, 128, new int[] {37, 35, 9, 700}, new int[] {1, 20, 9, 1}, true);
        c.attention(4, 4, 64, new int[] {1, 16, 17, 50}, new int[] {1, 16, 5, 50}, true);
        c.attention(4, 2, 16, new int[] {5, 33}, new int[] {5, 1}, true);
        c.attention(32, 32, 128, new int[] {600, 1000}, new int[] {1, 1}, true);  // Llama-2-7B heads, split
        c.attention(32, 8, 128, many, ones, true);
        c.attention(32, 8, 128, new int[] {300, 40}, new int[] {300, 1}, true);
        c.ropeWriteKv(128, 8, 2, true);
        c.ropeWriteKv(128, 32, 32, true, 61);
        c.qkvRopeWriteKv(37, 512, 8, 2, 128, true);
      }
      c.gather();
    } finally {
      c.cpu.close();
    }
    return c.results;
  }

  // ---- inputs ----

  private float[] randn(int n, double scale) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) a[i] = Bf16.toFloat(Bf16.fromFloat((float) (gauss() * scale)));
    return a;
  }

  private double gauss() {
    return Math.sqrt(-2 * Math.log(1 - rnd.nextDouble())) * Math.cos(2 * Math.PI * rnd.nextDouble());
  }

  /** The same values as a tensor of backend b (f32 on the CPU, bf16 on CUDA). */
  private static Tensor tensor(Backend b, float[] data, int rows, int cols) {
    MemorySegment s = Arena.ofAuto().allocate(4L * data.length, 64);
    MemorySegment.copy(data, 0, s, ValueLayout.JAVA_FLOAT, 0, data.length);
    return b.loadWeight(new WeightData("t", DType.F32, rows, cols, s));
  }

  private static Tensor bf16Weight(Backend b, float[] data, int rows, int cols) {
    MemorySegment s = Arena.ofAuto().allocate(2L * data.length, 64);
    for (int i = 0; i < data.length; i++) s.setAtIndex(ValueLayout.JAVA_SHORT, i, Bf16.fromFloat(data[i]));
    return b.loadWeight(new WeightData("w", DType.BF16, rows, cols, s));
  }

  private static WeightData bf16Data(float[] data, int rows, int cols) {
    MemorySegment s = Arena.ofAuto().allocate(2L * data.length, 64);
    for (int i = 0; i < data.length; i++) s.setAtIndex(ValueLayout.JAVA_SHORT, i, Bf16.fromFloat(data[i]));
    return new WeightData("w", DType.BF16, rows, cols, s);
  }

  private static float[] host(Backend b, Tensor t) {
    float[] out = new float[t.rows() * t.cols()];
    b.copyToHost(t, out);
    return out;
  }

  private void compare(String name, float[] want, float[] got) {
    double ss = 0;
    for (float w : want) ss += (double) w * w;
    double rms = Math.sqrt(ss / Math.max(1, want.length));
    double maxErr = 0, worstRatio = 0;
    int bad = 0, worst = -1;
    for (int i = 0; i < want.length; i++) {
      double err = Math.abs(got[i] - want[i]);
      double tol = 0x1p-7 * Math.abs(want[i]) + 1e-2 * rms;
      if (!(err <= tol)) bad++;
      if (!(err / tol <= worstRatio)) {
        worstRatio = err / tol;
        worst = i;
      }
      maxErr = Math.max(maxErr, Double.isNaN(err) ? Double.POSITIVE_INFINITY : err);
    }
    String detail = String.format("%d values, max |err| %.3g (rms %.3g), worst err/tol %.2f at %d (cpu %s gpu %s), %d outside tolerance",
        want.length, maxErr, rms, worstRatio, worst, worst < 0 ? "-" : want[worst], worst < 0 ? "-" : got[worst], bad);
    results.add(new Result(name, bad == 0, detail));
  }

  private void guard(String name, Runnable r) {
    try {
      r.run();
    } catch (RuntimeException e) {
      results.add(new Result(name, false, "threw " + e));
    }
  }

  private static BatchMetadata rows(int t) {
    int[] ids = new int[t], pos = new int[t], slots = new int[t];
    for (int i = 0; i < t; i++) {
      pos[i] = i;
      slots[i] = -1;
    }
    return new BatchMetadata(ids, pos, new int[] {0, t}, new int[] {t}, slots,
        new int[][] {new int[(t + 15) / 16 + 1]}, new int[] {t - 1}, 16);
  }

  // ---- ops ----

  void embedding() {
    guard("embedding", () -> {
      int vocab = 300, dim = 200;
      float[] table = randn(vocab * dim, 1);
      int[] ids = {0, 299, 17, 17, 123};
      BatchMetadata m = rows(ids.length);
      m = new BatchMetadata(ids, m.positions(), m.queryStartLoc(), m.seqLens(), m.slotMapping(), m.blockTables(), m.logitsIndices(), 16);
      float[][] outs = new float[2][];
      int k = 0;
      for (Backend b : List.of(cpu, gpu)) {
        Tensor tb = bf16Weight(b, table, vocab, dim);
        Tensor out = b.allocate(b.activationDType(), ids.length, dim);
        try (DeviceBatch db = b.prepare(m)) {
          b.embedding(tb, db, out);
        }
        outs[k++] = host(b, out);
      }
      compare("embedding", outs[0], outs[1]);
    });
  }

  void rmsNorm(int t, int n) {
    guard("rmsNorm " + t + "x" + n, () -> {
      float[] x = randn(t * n, 3), w = randn(n, 0.2);
      for (int i = 0; i < n; i++) w[i] = Bf16.toFloat(Bf16.fromFloat(1 + w[i]));
      float[][] outs = new float[2][];
      int k = 0;
      for (Backend b : List.of(cpu, gpu)) {
        Tensor out = b.allocate(b.activationDType(), t, n);
        b.rmsNorm(tensor(b, x, t, n), bf16Weight(b, w, 1, n), 1e-5f, out);
        outs[k++] = host(b, out);
      }
      compare("rmsNorm " + t + "x" + n, outs[0], outs[1]);
    });
  }

  void addRmsNorm(int t, int n) {
    guard("addRmsNorm " + t + "x" + n, () -> {
      float[] x = randn(t * n, 1), r = randn(t * n, 2), w = randn(n, 1);
      float[][] outs = new float[2][], res = new float[2][];
      int k = 0;
      for (Backend b : List.of(cpu, gpu)) {
        Tensor out = b.allocate(b.activationDType(), t, n);
        Tensor rt = tensor(b, r, t, n);
        b.addRmsNorm(tensor(b, x, t, n), rt, bf16Weight(b, w, 1, n), 1e-6f, out);
        outs[k] = host(b, out);
        res[k++] = host(b, rt);
      }
      compare("addRmsNorm " + t + "x" + n + " out", outs[0], outs[1]);
      compare("addRmsNorm " + t + "x" + n + " residual", res[0], res[1]);
    });
  }

  void headRmsNorm(int t, int heads, int hd) {
    guard("headRmsNorm hd " + hd, () -> {
      float[] x = randn(t * heads * hd, 2), w = randn(hd, 1);
      float[][] outs = new float[2][];
      int k = 0;
      for (Backend b : List.of(cpu, gpu)) {
        Tensor xt = tensor(b, x, t, heads * hd);
        b.headRmsNorm(xt, hd, bf16Weight(b, w, 1, hd), 1e-6f);
        outs[k++] = host(b, xt);
      }
      compare("headRmsNorm " + t + "x" + heads + "x" + hd, outs[0], outs[1]);
    });
  }

  void matmul(int t, int in, int outCols, boolean bias, DType outType) {
    String name = "matmul " + t + "x" + in + " @ " + outCols + "x" + in + "^T" + (bias ? " + bias" : "") + " -> " + outType;
    guard(name, () -> {
      float[] x = randn(t * in, 1), w = randn(outCols * in, 1 / Math.sqrt(in)), bv = randn(outCols, 1);
      float[][] outs = new float[2][];
      int k = 0;
      for (Backend b : List.of(cpu, gpu)) {
        DType ot = b == cpu ? DType.F32 : outType;
        Tensor out = b.allocate(ot, t, outCols);
        b.matmul(tensor(b, x, t, in), bf16Weight(b, w, outCols, in), bias ? bf16Weight(b, bv, 1, outCols) : null, out);
        outs[k++] = host(b, out);
      }
      compare(name, outs[0], outs[1]);
    });
  }

  /**
   * Several matmuls of one x one after another (q, k and v of a layer: the CUDA backend may fuse
   * them into one launch), each checked.
   */
  void matmulShared(int t, int in, int[] outs, boolean bias) {
    String name = "matmul " + t + "x" + in + " @ " + java.util.Arrays.toString(outs) + " sharing x" + (bias ? " + bias" : "");
    guard(name, () -> {
      float[] x = randn(t * in, 1);
      float[][] w = new float[outs.length][], bv = new float[outs.length][];
      for (int i = 0; i < outs.length; i++) {
        w[i] = randn(outs[i] * in, 1 / Math.sqrt(in));
        bv[i] = randn(outs[i], 1);
      }
      float[][][] res = new float[2][outs.length][];
      int k = 0;
      for (Backend b : List.of(cpu, gpu)) {
        Tensor xt = tensor(b, x, t, in);
        Tensor[] ws = new Tensor[outs.length], os = new Tensor[outs.length], bs = new Tensor[outs.length];
        for (int i = 0; i < outs.length; i++) {
          ws[i] = bf16Weight(b, w[i], outs[i], in);
          bs[i] = bias && i != 1 ? bf16Weight(b, bv[i], 1, outs[i]) : null;
          os[i] = b.allocate(b.activationDType(), t, outs[i]);
        }
        for (int i = 0; i < outs.length; i++) b.matmul(xt, ws[i], bs[i], os[i]);
        for (int i = 0; i < outs.length; i++) res[k][i] = host(b, os[i]);
        k++;
      }
      for (int i = 0; i < outs.length; i++) compare(name + " out " + i, res[0][i], res[1][i]);
    });
  }

  /**
   * A layer's attention input as the model runs it: q, k and v matmuls of one input with weights loaded by
   * loadStacked (one GEMM on CUDA for more than one row), rope, writeKv, attention over the written cache,
   * for one request's prefill of t tokens. The rotated q, k and v are checked against the CPU backend's;
   * the attention against the CPU's attention over the GPU's own rotated q, k and v (the GEMM's rounding
   * differs from the CPU's by an ulp here and there, and an ulp of k can move its e4m3 code).
   */
  void qkvRopeWriteKv(int t, int hidden, int qh, int kh, int hd, boolean fp8) {
    String label = "q/k/v matmuls (stacked) + rope + writeKv, " + t + " tokens, hidden " + hidden + ", " + qh + "/" + kh
        + " heads x " + hd + (fp8 ? ", fp8 cache" : "");
    guard(label, () -> {
      int bs = 16, blocks = (t + bs - 1) / bs;
      float[] x = randn(t * hidden, 1);
      float[] wq = randn(qh * hd * hidden, 1 / Math.sqrt(hidden)), wk = randn(kh * hd * hidden, 1 / Math.sqrt(hidden));
      float[] wv = randn(kh * hd * hidden, 1 / Math.sqrt(hidden));
      float[] inv = new float[hd / 2];
      for (int i = 0; i < inv.length; i++) inv[i] = (float) (1 / Math.pow(10000, 2.0 * i / hd));
      int[] pos = new int[t], slots = new int[t], table = new int[blocks];
      for (int i = 0; i < t; i++) {
        pos[i] = i;
        slots[i] = (blocks - 1 - i / bs) * bs + i % bs;  // blocks in reverse order
      }
      for (int j = 0; j < blocks; j++) table[j] = blocks - 1 - j;
      BatchMetadata m = new BatchMetadata(new int[t], pos, new int[] {0, t}, new int[] {t}, slots, new int[][] {table},
          new int[] {t - 1}, bs);
      float[][][] res = new float[2][][];
      float[][] gpuQkv = null;
      for (Backend b : List.of(gpu, cpu)) {
        Tensor[] w = b.loadStacked(bf16Data(wq, qh * hd, hidden), bf16Data(wk, kh * hd, hidden), bf16Data(wv, kh * hd, hidden));
        Tensor xt = tensor(b, x, t, hidden);
        Tensor q = b.allocate(b.activationDType(), t, qh * hd), kt = b.allocate(b.activationDType(), t, kh * hd);
        Tensor v = b.allocate(b.activationDType(), t, kh * hd), out = b.allocate(b.activationDType(), t, qh * hd);
        Rope r = b.createRope(inv, hd, 4096);
        try (KvCache cache = fp8 && b == gpu ? b.allocateKvCache(1, blocks, bs, kh, hd, DType.FP8_E4M3)
                : b.allocateKvCache(1, blocks, bs, kh, hd);
            DeviceBatch db = b.prepare(m)) {
          b.matmul(xt, w[0], null, q);
          b.matmul(xt, w[1], null, kt);
          b.matmul(xt, w[2], null, v);
          b.rope(q, kt, r, db);
          if (b == gpu) {
            b.writeKv(kt, v, cache, 0, db);
            b.pagedAttention(q, cache, 0, db, (float) (1 / Math.sqrt(hd)), out);
            gpuQkv = new float[][] {host(b, q), host(b, kt), host(b, v)};
            res[1] = new float[][] {gpuQkv[0], gpuQkv[1], gpuQkv[2], host(b, out)};
          } else {  // the GPU's rotated q, k and v (as its cache holds them) through the CPU's attention
            b.writeKv(tensor(b, round8(gpuQkv[1], fp8), t, kh * hd), tensor(b, round8(gpuQkv[2], fp8), t, kh * hd),
                cache, 0, db);
            b.pagedAttention(tensor(b, gpuQkv[0], t, qh * hd), cache, 0, db, (float) (1 / Math.sqrt(hd)), out);
            res[0] = new float[][] {host(b, q), host(b, kt), host(b, v), host(b, out)};
          }
        }
      }
      String[] names = {"q", "k", "v", "attention"};
      for (int i = 0; i < 4; i++) compare(label + " " + names[i], res[0][i], res[1][i]);
    });
  }

  /** Each value rounded to bf16 (bf16 first: the GPU's k and v are bf16) and then, with e4m3, to e4m3. */
  private static float[] round8(float[] a, boolean e4m3) {
    float[] r = new float[a.length];
    for (int i = 0; i < a.length; i++) {
      float f = Bf16.toFloat(Bf16.fromFloat(a[i]));
      r[i] = e4m3 ? Fp8.round(f) : f;
    }
    return r;
  }

  /** rope then writeKv of the same k (fused on CUDA), then attention reading the cache back. */
  void ropeWriteKv(int hd, int qh, int kh) {
    ropeWriteKv(hd, qh, kh, false);
  }

  /**
   * With fp8, the GPU's cache is e4m3: its bytes must be exactly {@link Fp8#encode} of the GPU's rotated
   * bf16 k (and of v), and the CPU's attention reads the e4m3-rounded rotated k and v.
   */
  void ropeWriteKv(int hd, int qh, int kh, boolean fp8) {
    ropeWriteKv(hd, qh, kh, fp8, 0);
  }

  /** As above, the 5 tokens at positions p0 .. p0 + 4 for rope (a 64-position table). */
  void ropeWriteKv(int hd, int qh, int kh, boolean fp8, int p0) {
    String label = "rope + writeKv hd " + hd + " " + qh + "/" + kh + " heads" + (fp8 ? " fp8 cache" : "")
        + (p0 > 0 ? " positions " + p0 + ".." + (p0 + 4) : "");
    guard(label, () -> {
      int t = 5, bs = 16;
      int[] pos = {p0, p0 + 1, p0 + 2, p0 + 3, p0 + 4};
      float[] inv = new float[hd / 2];
      for (int i = 0; i < inv.length; i++) inv[i] = (float) (1 / Math.pow(500000, 2.0 * i / hd));
      float[] q = randn(t * qh * hd, 1), kk = randn(t * kh * hd, 1), vv = randn(t * kh * hd, 1);
      int[][] tables = {{3}};
      int[] slots = new int[t];
      for (int i = 0; i < t; i++) slots[i] = 3 * bs + i;
      BatchMetadata m = new BatchMetadata(new int[t], pos, new int[] {0, t}, new int[] {t}, slots, tables, new int[] {t - 1}, bs);
      float[][] qs = new float[2][], ks = new float[2][], os = new float[2][];
      int k = 0;
      String bad = null;
      for (Backend b : List.of(cpu, gpu)) {
        boolean gpu8 = fp8 && b == gpu;
        Rope r = b.createRope(inv, hd, 64);
        Tensor qt = tensor(b, q, t, qh * hd), kt = tensor(b, kk, t, kh * hd), vt = tensor(b, vv, t, kh * hd);
        Tensor out = b.allocate(b.activationDType(), t, qh * hd);
        try (KvCache cache = gpu8 ? b.allocateKvCache(1, 5, bs, kh, hd, DType.FP8_E4M3) : b.allocateKvCache(1, 5, bs, kh, hd);
            DeviceBatch db = b.prepare(m)) {
          b.rope(qt, kt, r, db);
          if (fp8 && b == cpu) {  // the reference reads what an e4m3 cache holds
            float[] kr = host(b, kt), vr = vv.clone();
            for (int i = 0; i < kr.length; i++) kr[i] = Fp8.round(Bf16.toFloat(Bf16.fromFloat(kr[i])));
            for (int i = 0; i < vr.length; i++) vr[i] = Fp8.round(vr[i]);
            b.writeKv(tensor(b, kr, t, kh * hd), tensor(b, vr, t, kh * hd), cache, 0, db);
          } else {
            b.writeKv(kt, vt, cache, 0, db);
          }
          b.pagedAttention(qt, cache, 0, db, (float) (1 / Math.sqrt(hd)), out);
          qs[k] = host(b, qt);
          ks[k] = host(b, kt);
          os[k++] = host(b, out);
          if (gpu8) bad = fp8Bytes((CudaBackend) b, cache, 0, slots, ks[1], vv, kh * hd);
        }
      }
      compare(label + " q", qs[0], qs[1]);
      compare(label + " k", ks[0], ks[1]);
      compare(label + " attention over the written cache", os[0], os[1]);
      if (fp8) results.add(new Result(label + " e4m3 bytes", bad == null, bad == null ? "all bytes = Fp8.encode" : bad));
    });
  }

  void rope(int hd, int qh, int kh) {
    guard("rope hd " + hd, () -> {
      int[] pos = {0, 5, 99, 100, 1000, 40000};
      int t = pos.length;
      float[] inv = new float[hd / 2];
      for (int i = 0; i < inv.length; i++) inv[i] = (float) (1 / Math.pow(10000, 2.0 * i / hd));
      float[] q = randn(t * qh * hd, 1), kk = randn(t * kh * hd, 1);
      BatchMetadata base = rows(t);
      BatchMetadata m = new BatchMetadata(base.inputIds(), pos, base.queryStartLoc(), base.seqLens(), base.slotMapping(),
          base.blockTables(), base.logitsIndices(), 16);
      float[][] qs = new float[2][], ks = new float[2][];
      int k = 0;
      for (Backend b : List.of(cpu, gpu)) {
        Rope r = b.createRope(inv, hd, 100);
        Tensor qt = tensor(b, q, t, qh * hd), kt = tensor(b, kk, t, kh * hd);
        try (DeviceBatch db = b.prepare(m)) {
          b.rope(qt, kt, r, db);
        }
        qs[k] = host(b, qt);
        ks[k++] = host(b, kt);
      }
      compare("rope hd " + hd + " q (positions to 40000, table of 100)", qs[0], qs[1]);
      compare("rope hd " + hd + " k", ks[0], ks[1]);
    });
  }

  /**
   * The MLP's gate+up matmul followed by siluMul of its output (the CUDA backend may fold the
   * activation into a one-token gemv): both the gate+up output and the activation checked.
   */
  void matmulSiluMul(int t, int in, int n) {
    String name = "matmul " + t + "x" + in + " @ " + 2 * n + "x" + in + "^T then siluMul";
    guard(name, () -> {
      float[] x = randn(t * in, 1), w = randn(2 * n * in, 1 / Math.sqrt(in));
      float[][] gu = new float[2][], act = new float[2][];
      int k = 0;
      for (Backend b : List.of(cpu, gpu)) {
        Tensor g = b.allocate(b.activationDType(), t, 2 * n);
        Tensor out = b.allocate(b.activationDType(), t, n);
        b.matmul(tensor(b, x, t, in), bf16Weight(b, w, 2 * n, in), null, g);
        b.siluMul(g, out);
        act[k] = host(b, out);
        gu[k++] = host(b, g);
      }
      compare(name + ": gate+up", gu[0], gu[1]);
      compare(name + ": activation", act[0], act[1]);
    });
  }

  void siluMul(int t, int n) {
    guard("siluMul", () -> {
      float[] g = randn(t * 2 * n, 2);
      float[][] outs = new float[2][];
      int k = 0;
      for (Backend b : List.of(cpu, gpu)) {
        Tensor out = b.allocate(b.activationDType(), t, n);
        b.siluMul(tensor(b, g, t, 2 * n), out);
        outs[k++] = host(b, out);
      }
      compare("siluMul " + t + "x" + n, outs[0], outs[1]);
    });
  }

  /**
   * A mixed batch: request i has context ctx[i] of which the last nq[i] tokens are this step's
   * queries (decode when 1, a prefill chunk after cached tokens, or a whole prefill). All K/V are
   * written first (a full-context step), through scattered physical blocks.
   */
  void attention(int heads, int kvHeads, int hd, int[] ctx, int[] nq) {
    attention(heads, kvHeads, hd, ctx, nq, false);
  }

  /**
   * With fp8 the GPU's cache is e4m3 (kv_cache_dtype fp8) and the CPU reference attends over K/V rounded
   * to e4m3 on the host ({@link Fp8}); the GPU's cache bytes must equal that rounding exactly.
   */
  void attention(int heads, int kvHeads, int hd, int[] ctx, int[] nq, boolean fp8) {
    String name = "pagedAttention heads " + heads + "/" + kvHeads + " hd " + hd + " ctx " + java.util.Arrays.toString(ctx)
        + " queries " + java.util.Arrays.toString(nq) + (fp8 ? " fp8 cache" : "");
    guard(name, () -> {
      int bs = 16, s = ctx.length;
      int numBlocks = 0;
      for (int c : ctx) numBlocks += (c + bs - 1) / bs;
      numBlocks += 3;
      int[] perm = new int[numBlocks];
      for (int i = 0; i < numBlocks; i++) perm[i] = i;
      for (int i = numBlocks - 1; i > 0; i--) {
        int j = rnd.nextInt(i + 1), x = perm[i];
        perm[i] = perm[j];
        perm[j] = x;
      }
      int[][] tables = new int[s][];
      int next = 0;
      for (int i = 0; i < s; i++) {
        tables[i] = new int[(ctx[i] + bs - 1) / bs];
        for (int j = 0; j < tables[i].length; j++) tables[i][j] = perm[next++];
      }
      int total = 0;
      for (int c : ctx) total += c;
      int width = kvHeads * hd;
      float[] kAll = randn(total * width, 1), vAll = randn(total * width, 1);
      int[] allPos = new int[total], allSlots = new int[total], allQsl = new int[s + 1];
      for (int i = 0, t = 0; i < s; i++) {
        allQsl[i] = t;
        for (int p = 0; p < ctx[i]; p++, t++) {
          allPos[t] = p;
          allSlots[t] = tables[i][p / bs] * bs + p % bs;
        }
      }
      allQsl[s] = total;
      BatchMetadata writeAll = new BatchMetadata(new int[total], allPos, allQsl, ctx.clone(), allSlots, tables,
          new int[0], bs);
      int tq = 0;
      for (int n : nq) tq += n;
      int[] qPos = new int[tq], qSlots = new int[tq], qsl = new int[s + 1];
      for (int i = 0, t = 0; i < s; i++) {
        qsl[i] = t;
        for (int p = ctx[i] - nq[i]; p < ctx[i]; p++, t++) {
          qPos[t] = p;
          qSlots[t] = tables[i][p / bs] * bs + p % bs;
        }
      }
      qsl[s] = tq;
      BatchMetadata step = new BatchMetadata(new int[tq], qPos, qsl, ctx.clone(), qSlots, tables, new int[0], bs);
      float[] q = randn(tq * heads * hd, 1);
      float scale = (float) (1 / Math.sqrt(hd));
      float[][] outs = new float[2][];
      int k = 0;
      String bad = null;
      for (Backend b : List.of(cpu, gpu)) {
        boolean gpu8 = fp8 && b == gpu;
        try (KvCache cache = gpu8 ? b.allocateKvCache(2, numBlocks, bs, kvHeads, hd, DType.FP8_E4M3)
            : b.allocateKvCache(2, numBlocks, bs, kvHeads, hd)) {
          float[] kw = kAll, vw = vAll;
          if (fp8 && b == cpu) {
            kw = kAll.clone();
            vw = vAll.clone();
            for (int i = 0; i < kw.length; i++) {
              kw[i] = Fp8.round(kw[i]);
              vw[i] = Fp8.round(vw[i]);
            }
          }
          try (DeviceBatch db = b.prepare(writeAll)) {
            b.writeKv(tensor(b, kw, total, width), tensor(b, vw, total, width), cache, 1, db);
          }
          Tensor out = b.allocate(b.activationDType(), tq, heads * hd);
          try (DeviceBatch db = b.prepare(step)) {
            b.pagedAttention(tensor(b, q, tq, heads * hd), cache, 1, db, scale, out);
          }
          outs[k++] = host(b, out);
          if (gpu8) bad = fp8Bytes((CudaBackend) b, cache, 1, allSlots, kAll, vAll, width);
        }
      }
      compare(name, outs[0], outs[1]);
      if (fp8) results.add(new Result(name + " e4m3 bytes", bad == null, bad == null ? "all bytes = Fp8.encode" : bad));
    });
  }

  /** null when layer's K and V bytes at each token's slot are Fp8.encode of k and v (rows of width); else the first miss. */
  private static String fp8Bytes(CudaBackend b, KvCache cache, int layer, int[] slots, float[] k, float[] v, int width) {
    byte[] kb = b.kvBytes(cache, layer, false), vb = b.kvBytes(cache, layer, true);
    for (int t = 0; t < slots.length; t++) {
      for (int i = 0; i < width; i++) {
        long at = (long) slots[t] * width + i;
        byte wk = Fp8.encode(k[t * width + i]), wv = Fp8.encode(v[t * width + i]);
        if (kb[(int) at] != wk || vb[(int) at] != wv) {
          return String.format("token %d element %d: k %02x want %02x (%s), v %02x want %02x (%s)", t, i, kb[(int) at], wk,
              k[t * width + i], vb[(int) at], wv, v[t * width + i]);
        }
      }
    }
    return null;
  }

  void gather() {
    guard("gatherLogitRows", () -> {
      int t = 10, n = 300;
      float[] x = randn(t * n, 1);
      BatchMetadata base = rows(t);
      int[] idx = {9, 0, 4};
      BatchMetadata m = new BatchMetadata(base.inputIds(), base.positions(), base.queryStartLoc(), base.seqLens(),
          base.slotMapping(), base.blockTables(), idx, 16);
      float[][] outs = new float[2][];
      int k = 0;
      for (Backend b : List.of(cpu, gpu)) {
        Tensor out = b.allocate(b.activationDType(), idx.length, n);
        try (DeviceBatch db = b.prepare(m)) {
          b.gatherLogitRows(tensor(b, x, t, n), db, out);
        }
        outs[k++] = host(b, out);
      }
      compare("gatherLogitRows", outs[0], outs[1]);
    });
  }
}
