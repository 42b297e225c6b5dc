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
 * engine rests on it): for the Llama-3-8B shapes, out = x @ w^T of 100 rows against the first M rows
 * alone, M = 1 (the gemv), 2, 4, ... 99 (cuBLAS). Prints, per shape, the M whose rows differ and how
 * many values. Usage: {@code CudaGemmInvariance}.
 */
public final class CudaGemmInvariance {
  public static void main(String[] args) {
    int[][] shapes = {{4096, 6144}, {4096, 4096}, {4096, 28672}, {14336, 4096}, {4096, 128256}};
    int[] ms = {1, 2, 3, 4, 8, 16, 32, 48, 64, 99};
    SplittableRandom rnd = new SplittableRandom(3);
    try (CudaBackend gpu = new CudaBackend()) {
      System.out.println("device " + gpu.deviceName());
      for (int[] s : shapes) {
        int in = s[0], outCols = s[1], t = 100;
        float[] x = new float[t * in];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextDouble() * 2 - 1);
        short[] w = new short[outCols * in];
        for (int i = 0; i < w.length; i++) w[i] = Bf16.fromFloat((float) ((rnd.nextDouble() * 2 - 1) / Math.sqrt(in)));
        Tensor wt = bf16(gpu, w, outCols, in);
        float[] full = run(gpu, x, t, in, wt, outCols);
        List<String> differ = new ArrayList<>();
        for (int m : ms) {
          float[] part = run(gpu, java.util.Arrays.copyOf(x, m * in), m, in, wt, outCols);
          int n = 0;
          for (int i = 0; i < part.length; i++) if (Float.floatToRawIntBits(part[i]) != Float.floatToRawIntBits(full[i])) n++;
          if (n > 0) differ.add("M=" + m + ": " + n + " of " + part.length);
        }
        System.out.printf("%d x %d: %s%n", outCols, in, differ.isEmpty() ? "every M identical to M=100" : String.join(", ", differ));
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
