package io.quire.backend.cpu.bench;

import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import io.quire.backend.cpu.CpuBackend;
import io.quire.spi.DType;
import io.quire.spi.Tensor;
import io.quire.spi.WeightData;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.DoubleAdder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Weight-streaming speed of the bf16 matmul against the machine's read bandwidth, measured in the
 * same run. Matmul [T x 2048] @ [8192 x 2048]^T for T = 1 and 16: once with one 32 MiB matrix reused
 * (cache resident when the last-level cache is larger) and once cycling through distinct matrices
 * whose total exceeds the cache (the decode case: a model's weights are read once per step).
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -cp quire-spi.jar:quire-backend-cpu.jar
 * io.quire.backend.cpu.bench.MatmulBench [streamGiB [threads]]}. Figures are the best of
 * several repetitions, so that a busy machine shows what it can do rather than what it was left.
 */
public final class MatmulBench {
  private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;

  public static void main(String[] args) {
    double streamGiB = args.length > 0 ? Double.parseDouble(args[0]) : 1.0;
    int threads = args.length > 1 ? Integer.parseInt(args[1]) : Runtime.getRuntime().availableProcessors();
    System.out.printf(
        "threads %d of %d cpus, vector %s, streaming set %.1f GiB%n",
        threads, Runtime.getRuntime().availableProcessors(), FS, streamGiB);
    int rows = 8192;
    int cols = 2048;
    long matBytes = (long) rows * cols * 2;
    int numMats = (int) Math.max(1, Math.ceil(streamGiB * (1L << 30) / matBytes));

    Arena arena = Arena.ofShared();
    MemorySegment all = arena.allocate(matBytes * numMats, 64);
    fillBf16(all, new SplittableRandom(1));

    System.out.println("-- memory read bandwidth (sum of f32 with all threads)");
    double dram = readBandwidth(all, threads);
    double cached = readBandwidth(all.asSlice(0, matBytes), threads);
    System.out.printf("read %.2f GiB set: %.1f GB/s; read 32 MiB set: %.1f GB/s%n", all.byteSize() / (double) (1L << 30), dram, cached);

    double peak = fmaPeak(threads);
    System.out.printf("fp32 FMA peak (L1-resident, 8 chains per thread): %.0f GFLOP/s%n", peak);

    try (CpuBackend backend = new CpuBackend(threads)) {
      Tensor[] ws = new Tensor[numMats];
      for (int i = 0; i < numMats; i++) {
        ws[i] = backend.loadWeight(new WeightData("w" + i, DType.BF16, rows, cols, all.asSlice(i * matBytes, matBytes)));
      }
      System.out.println("-- bf16 matmul [T x 2048] @ [8192 x 2048]^T");
      for (int t : new int[] {1, 4, 16}) {
        Tensor x = backend.allocate(DType.F32, t, cols);
        Tensor out = backend.allocate(DType.F32, t, rows);
        double hot = matmulBandwidth(backend, x, new Tensor[] {ws[0]}, out, matBytes);
        double stream = matmulBandwidth(backend, x, ws, out, matBytes);
        double gflops = 2.0 * t * rows * cols * stream / matBytes;
        System.out.printf(
            "T=%-3d reused matrix: %6.1f GB/s (%3.0f%% of 32 MiB read) | streamed over %d matrices: %6.1f GB/s"
                + " (%3.0f%% of DRAM read), %.2f ms/matmul, %.0f GFLOP/s (%.0f%% of FMA peak)%n",
            t, hot, 100 * hot / cached, numMats, stream, 100 * stream / dram, matBytes / stream / 1e6,
            gflops, 100 * gflops / peak);
        x.close();
        out.close();
      }
      // Prefill shape for information: compute rate when weights are reused across many rows.
      int t = 512;
      Tensor x = backend.allocate(DType.F32, t, cols);
      Tensor out = backend.allocate(DType.F32, t, rows);
      long best = Long.MAX_VALUE;
      for (int i = 0; i < 5; i++) {
        long t0 = System.nanoTime();
        backend.matmul(x, ws[0], null, out);
        best = Math.min(best, System.nanoTime() - t0);
      }
      double gflops = 2.0 * t * rows * cols / best;
      System.out.printf("T=%d prefill: %.0f GFLOP/s (%.0f%% of FMA peak, %.1f ms)%n", t, gflops, 100 * gflops / peak, best / 1e6);
    }
    arena.close();
  }

  private static void fillBf16(MemorySegment seg, SplittableRandom r) {
    long n = seg.byteSize() / 2;
    for (long i = 0; i < n; i++) {
      float f = (float) (r.nextDouble() - 0.5) * 0.1f;
      seg.setAtIndex(JAVA_SHORT_UNALIGNED, i, (short) (Float.floatToRawIntBits(f) >>> 16));
    }
  }

  /** Best GB/s of weight bytes per matmul over repeated calls, cycling through the matrices. */
  private static double matmulBandwidth(CpuBackend backend, Tensor x, Tensor[] ws, Tensor out, long matBytes) {
    int calls = Math.max(40, 2 * ws.length);
    for (int i = 0; i < calls; i++) {
      backend.matmul(x, ws[i % ws.length], null, out);
    }
    double[] gbs = new double[9];
    for (int rep = 0; rep < gbs.length; rep++) {
      long t0 = System.nanoTime();
      for (int i = 0; i < calls; i++) {
        backend.matmul(x, ws[i % ws.length], null, out);
      }
      gbs[rep] = (double) matBytes * calls / (System.nanoTime() - t0);
    }
    Arrays.sort(gbs);
    return gbs[gbs.length - 1];
  }

  /** Best GB/s of summing the segment as floats, split among threads. */
  private static double readBandwidth(MemorySegment seg, int threads) {
    long per = seg.byteSize() / threads / 64 * 64;
    long passes = Math.max(1, (8L << 30) / seg.byteSize());
    double[] gbs = new double[7];
    DoubleAdder sink = new DoubleAdder();
    for (int rep = -2; rep < gbs.length; rep++) {
      Thread[] ts = new Thread[threads];
      long t0 = System.nanoTime();
      for (int i = 0; i < threads; i++) {
        MemorySegment part = seg.asSlice(i * per, per);
        ts[i] = Thread.ofPlatform().start(() -> {
          for (long p = 0; p < passes; p++) {
            sink.add(sum(part));
          }
        });
      }
      for (Thread t : ts) {
        try {
          t.join();
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
      }
      if (rep >= 0) {
        gbs[rep] = (double) per * threads * passes / (System.nanoTime() - t0);
      }
    }
    Arrays.sort(gbs);
    return gbs[gbs.length - 1];
  }

  /** GFLOP/s of independent FMA chains over an L1-resident array, all threads. */
  private static double fmaPeak(int threads) {
    int reps = 200_000;
    float[] x = new float[1024];
    double best = 0;
    // Warm up with many short calls so C2 compiles the method itself, not only an OSR version.
    float warm = 0;
    for (int i = 0; i < 20_000; i++) {
      warm += fmaChains(x, 10);
    }
    DoubleAdder sink = new DoubleAdder();
    for (int rep = 0; rep < 5; rep++) {
      Thread[] ts = new Thread[threads];
      long t0 = System.nanoTime();
      for (int i = 0; i < threads; i++) {
        ts[i] = Thread.ofPlatform().start(() -> sink.add(fmaChains(x, reps)));
      }
      for (Thread t : ts) {
        try {
          t.join();
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
      }
      best = Math.max(best, 2.0 * x.length * reps * threads / (System.nanoTime() - t0));
    }
    return best + 0 * warm;
  }

  private static float fmaChains(float[] x, int reps) {
    FloatVector w = FloatVector.broadcast(FS, 0.999f);
    FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    int l = FS.length();
    for (int r = 0; r < reps; r++) {
      for (int i = 0; i + 8 * l <= x.length; i += 8 * l) {
        a0 = FloatVector.fromArray(FS, x, i).fma(w, a0);
        a1 = FloatVector.fromArray(FS, x, i + l).fma(w, a1);
        a2 = FloatVector.fromArray(FS, x, i + 2 * l).fma(w, a2);
        a3 = FloatVector.fromArray(FS, x, i + 3 * l).fma(w, a3);
        a4 = FloatVector.fromArray(FS, x, i + 4 * l).fma(w, a4);
        a5 = FloatVector.fromArray(FS, x, i + 5 * l).fma(w, a5);
        a6 = FloatVector.fromArray(FS, x, i + 6 * l).fma(w, a6);
        a7 = FloatVector.fromArray(FS, x, i + 7 * l).fma(w, a7);
      }
    }
    return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).reduceLanes(VectorOperators.ADD);
  }

  private static float sum(MemorySegment s) {
    FloatVector a = FloatVector.zero(FS);
    FloatVector b = FloatVector.zero(FS);
    FloatVector c = FloatVector.zero(FS);
    FloatVector d = FloatVector.zero(FS);
    long step = FS.vectorByteSize();
    long n = s.byteSize() / (4 * step) * (4 * step);
    for (long o = 0; o < n; o += 4 * step) {
      a = a.add(FloatVector.fromMemorySegment(FS, s, o, ByteOrder.LITTLE_ENDIAN));
      b = b.add(FloatVector.fromMemorySegment(FS, s, o + step, ByteOrder.LITTLE_ENDIAN));
      c = c.add(FloatVector.fromMemorySegment(FS, s, o + 2 * step, ByteOrder.LITTLE_ENDIAN));
      d = d.add(FloatVector.fromMemorySegment(FS, s, o + 3 * step, ByteOrder.LITTLE_ENDIAN));
    }
    return a.add(b).add(c).add(d).reduceLanes(VectorOperators.ADD);
  }
}
