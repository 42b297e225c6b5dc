package io.quire.backend.cuda;

import io.quire.spi.DType;
import io.quire.spi.Tensor;
import io.quire.spi.WeightData;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * How fast cuBLAS's default (cublasGemmEx) runs the model's matmuls against every algorithm cuBLASLt's
 * heuristic offers for the same shape: out[t, n] = x[t, k] w[n, k]^T, bf16 in and out, fp32
 * accumulation, random data, 4 copies of the weight in turn (so none stays in L2), CUDA events over
 * {@code reps} calls after 3 warm-up calls. Prints per shape the default's and the heuristic's first
 * choice's us/call and TFLOP/s, and the fastest candidate.
 *
 * <p>Usage: {@code CudaGemmTune [shapes=7b|8b|N:K,...] [rows=512,2048,8192] [reps=20] [algos=16] [pool=1048576]}:
 * the data repeat a pool of that many random values.
 */
public final class CudaGemmTune {
  public static void main(String[] args) {
    Locale.setDefault(Locale.ROOT);
    String shapeArg = args.length > 0 ? args[0] : "7b";
    int[][] shapes = switch (shapeArg) {
      case "7b" -> new int[][] {{12288, 4096}, {4096, 4096}, {22016, 4096}, {4096, 11008}};
      case "8b" -> new int[][] {{6144, 4096}, {4096, 4096}, {28672, 4096}, {4096, 14336}};
      default -> parse(shapeArg);
    };
    String[] rowArg = (args.length > 1 ? args[1] : "512,2048,8192").split(",");
    int reps = args.length > 2 ? Integer.parseInt(args[2]) : 20;
    int maxAlgos = args.length > 3 ? Integer.parseInt(args[3]) : 16;
    int pool = args.length > 4 ? Integer.parseInt(args[4]) : 1 << 20;
    SplittableRandom rnd = new SplittableRandom(7);
    try (CudaBackend gpu = new CudaBackend()) {
      System.out.println("device " + gpu.deviceName());
      CudaDriver cu = gpu.driver();
      MemorySegment stream = gpu.stream(), e0 = cu.eventCreate(), e1 = cu.eventCreate();
      MemorySegment scratch = Arena.ofAuto().allocate(4);
      CublasLt lt = gpu.lt();
      for (int[] s : shapes) {
        int n = s[0], k = s[1];
        Tensor[] w = new Tensor[4];
        for (int i = 0; i < w.length; i++) w[i] = random(gpu, rnd, n, k, 1 / Math.sqrt(k), pool);
        for (String ra : rowArg) {
          int t = Integer.parseInt(ra);
          Tensor x = random(gpu, rnd, t, k, 1, pool), out = gpu.allocate(DType.BF16, t, n);
          long xp = ((CudaTensor) x).ptr(), op = ((CudaTensor) out).ptr();
          double flop = 2.0 * n * k * t;
          int[] turn = {0};  // the weight copy the next call reads
          double usDefault = time(cu, stream, e0, e1, scratch, reps,
              () -> gpu.cublasMatmul(xp, ((CudaTensor) w[turn[0]++ & 3]).ptr(), op, Cublas.CUDA_R_16BF, t, n, k));
          try (CublasLt.Plan plan = lt.plan(n, t, k, Cublas.CUDA_R_16BF, maxAlgos)) {
            double first = Double.NaN, best = Double.MAX_VALUE;
            CublasLt.Algo bestAlgo = null;
            StringBuilder all = new StringBuilder();
            for (CublasLt.Algo a : plan.algos) {
              double us;
              try {
                us = time(cu, stream, e0, e1, scratch, reps,
                    () -> plan.run(a, xp, ((CudaTensor) w[turn[0]++ & 3]).ptr(), op, false));
              } catch (CudaException e) {
                all.append(' ').append(a.index()).append(":fail");
                continue;
              }
              if (Double.isNaN(first)) first = us;
              all.append(String.format(" %d:%.1f", a.index(), us));
              if (us < best) {
                best = us;
                bestAlgo = a;
              }
            }
            System.out.printf("%dx%d t=%d: default %.1f us (%.0f TFLOP/s), lt first %.1f us (%.0f), best #%s %.1f us (%.0f)"
                + " = %.3f of default; %d candidates:%s%n", n, k, t, usDefault, flop / usDefault / 1e6, first,
                flop / first / 1e6, bestAlgo == null ? "-" : bestAlgo.index(), best, flop / best / 1e6, best / usDefault,
                plan.algos.size(), all);
          }
          x.close();
          out.close();
        }
        for (Tensor t : w) t.close();
      }
      cu.eventDestroy(e0);
      cu.eventDestroy(e1);
    }
  }

  private static double time(CudaDriver cu, MemorySegment stream, MemorySegment e0, MemorySegment e1,
      MemorySegment scratch, int reps, Runnable r) {
    for (int i = 0; i < 3; i++) r.run();
    cu.eventRecord(e0, stream);
    for (int i = 0; i < reps; i++) r.run();
    cu.eventRecord(e1, stream);
    cu.eventSynchronize(e1);
    return cu.eventElapsed(e0, e1, scratch) * 1000.0 / reps;
  }

  /** rows x cols bf16 values: a pool of uniform values (standard deviation scale) repeated. */
  private static Tensor random(CudaBackend gpu, SplittableRandom rnd, int rows, int cols, double scale, int pool) {
    pool = (int) Math.min(pool, (long) rows * cols);
    short[] v = new short[pool];
    for (int i = 0; i < pool; i++) v[i] = Bf16.fromFloat((float) ((rnd.nextDouble() * 2 - 1) * scale * Math.sqrt(3)));
    long count = (long) rows * cols;
    MemorySegment s = Arena.ofAuto().allocate(2 * count, 64);
    for (long off = 0; off < count; off += pool) {
      MemorySegment.copy(v, 0, s, ValueLayout.JAVA_SHORT, 2 * off, (int) Math.min(pool, count - off));
    }
    return gpu.loadWeight(new WeightData("random", DType.BF16, rows, cols, s));
  }

  private static int[][] parse(String spec) {
    String[] p = spec.split(",");
    int[][] r = new int[p.length][];
    for (int i = 0; i < p.length; i++) {
      String[] nk = p[i].split(":");
      r[i] = new int[] {Integer.parseInt(nk[0]), Integer.parseInt(nk[1])};
    }
    return r;
  }
}
