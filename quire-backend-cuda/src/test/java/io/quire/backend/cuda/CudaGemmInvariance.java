package io.quire.backend.cuda;

import io.quire.spi.DType;
import io.quire.spi.Tensor;
import io.quire.spi.WeightData;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Whether a matmul row's bits depend on how many rows the call has (the batch invariance of the
 * engine rests on it): for the Llama-3-8B shapes, out = x @ w^T of 1024 rows against the first M rows
 * alone, M = 1 .. 600, once with the default paths (M = 1: the gemv; else cuBLAS) and once in
 * batch-invariant mode (gemm_bi.cu, all three tile shapes). Prints, per shape and mode, the M whose rows
 * differ and how many values, and how far batch-invariant results are from the default (cuBLAS) ones.
 * Usage: {@code CudaGemmInvariance}.
 */
public final class CudaGemmInvariance {
  public static void main(String[] args) {
    int[][] shapes = {{4096, 6144}, {4096, 4096}, {4096, 28672}, {14336, 4096}, {4096, 128256}};
    int[] ms = {1, 2, 3, 4, 8, 16, 17, 32, 48, 64, 99, 100, 300, 600};
    SplittableRandom rnd = new SplittableRandom(3);
    try (CudaBackend gpu = new CudaBackend()) {
      System.out.println("device " + gpu.deviceName());
      for (int[] s : shapes) {
        int in = s[0], outCols = s[1], t = 1024;
        float[] x = new float[t * in];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextDouble() * 2 - 1);
        short[] w = new short[outCols * in];
        for (int i = 0; i < w.length; i++) w[i] = Bf16.fromFloat((float) ((rnd.nextDouble() * 2 - 1) / Math.sqrt(in)));
        Tensor wt = bf16(gpu, w, outCols, in);
        float[] reference = null;
        for (boolean invariant : new boolean[] {false, true}) {
          gpu.batchInvariant(invariant);
          float[] full = run(gpu, x, t, in, wt, outCols);
          List<String> differ = new ArrayList<>();
          for (int m : ms) {
            float[] part = run(gpu, java.util.Arrays.copyOf(x, m * in), m, in, wt, outCols);
            int n = 0;
            for (int i = 0; i < part.length; i++) if (Float.floatToRawIntBits(part[i]) != Float.floatToRawIntBits(full[i])) n++;
            if (n > 0) differ.add("M=" + m + ": " + n + " of " + part.length);
          }
          String mode = invariant ? "batch-invariant" : "default";
          System.out.printf("%d x %d %s: %s%n", outCols, in, mode,
              differ.isEmpty() ? "every M identical to M=" + t : String.join(", ", differ));
          if (!invariant) {
            reference = full;
          } else {
            double maxAbs = 0, maxRef = 0;
            int n = 0;
            for (int i = 0; i < full.length; i++) {
              maxAbs = Math.max(maxAbs, Math.abs(full[i] - reference[i]));
              maxRef = Math.max(maxRef, Math.abs(reference[i]));
              if (full[i] != reference[i]) n++;
            }
            System.out.printf("%d x %d batch-invariant vs cuBLAS (M=%d): %d of %d differ, max abs %.3g (max |out| %.3g)%n",
                outCols, in, t, n, full.length, maxAbs, maxRef);
            // Every launch shape, forced for all 1024 rows, against the chosen shapes' result.
            List<String> bad = new ArrayList<>();
            for (String k : GemmBiShape.KERNELS) {
              gpu.forceGemmBiShape(k);
              float[] forced = run(gpu, x, t, in, wt, outCols);
              int d = 0;
              for (int i = 0; i < forced.length; i++) if (Float.floatToRawIntBits(forced[i]) != Float.floatToRawIntBits(full[i])) d++;
              if (d > 0) bad.add(k + ": " + d);
            }
            gpu.forceGemmBiShape(null);
            System.out.printf("%d x %d batch-invariant, each of %d launch shapes for all rows: %s%n", outCols, in,
                GemmBiShape.KERNELS.size(), bad.isEmpty() ? "identical bits" : "DIFFER " + String.join(", ", bad));
          }
        }
        gpu.batchInvariant(false);
      }
    }
  }

  private static float[] run(CudaBackend gpu, float[] x, int t, int in, Tensor w, int outCols) {
    MemorySegment s = Arena.ofAuto().allocate(4L * x.length, 64);
    MemorySegment.copy(x, 0, s, ValueLayout.JAVA_FLOAT, 0, x.length);
    Tensor xt = gpu.loadWeight(new WeightData("x", DType.F32, t, in, s));
    Tensor out = gpu.allocate(DType.BF16, t, outCols);
    gpu.matmul(xt, w, null, out);
    float[] h = new float[t * outCols];
    gpu.copyToHost(out, h);
    return h;
  }

  private static Tensor bf16(CudaBackend gpu, short[] w, int rows, int cols) {
    MemorySegment s = Arena.ofAuto().allocate(2L * w.length, 64);
    MemorySegment.copy(w, 0, s, ValueLayout.JAVA_SHORT, 0, w.length);
    return gpu.loadWeight(new WeightData("w", DType.BF16, rows, cols, s));
  }
}
