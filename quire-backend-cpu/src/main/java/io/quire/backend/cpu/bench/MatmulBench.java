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
 * io.quire.backend.cpu.bench.MatmulBench [streamGiB]}.
 */
public final class MatmulBench {
  private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;

  public static void main(String[] args) {
    double streamGiB = args.length > 0 ? Double.parseDouble(args[0]) : 1.0;
    int threads = Runtime.getRuntime().availableProcessors();
    System.out.printf("threads %d, vector %s, streaming set %.1f GiB%n", threads, FS, streamGiB);
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

    try (CpuBackend backend = new CpuBackend(threads)) {
      Tensor[] ws = new Tensor[numMats];
      for (int i = 0; i < numMats; i++) {
        ws[i] = backend.loadWeight(new WeightData("w" + i, DType.BF16, rows, cols, all.asSlice(i * matBytes, matBytes)));
      }
      System.out.println("-- bf16 matmul [T x 2048] @ [8192 x 2048]^T");
      for (int t : new int[] {1, 16}) {
        Tensor x = backend.allocate(DType.F32, t, cols);
        Tensor out = backend.allocate(DType.F32, t, rows);
        double hot = matmulBandwidth(backend, x, new Tensor[] {ws[0]}, out, matBytes);
        double stream = matmulBandwidth(backend, x, ws, out, matBytes);
        System.out.printf(
            "T=%-3d reused matrix: %6.1f GB/s (%.0f%% of 32 MiB read)   streamed over %d matrices: %6.1f GB/s (%.0f%% of DRAM read), %.2f ms/matmul%n",
            t, hot, 100 * hot / cached, numMats, stream, 100 * stream / dram, matBytes / stream / 1e6);
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
      System.out.printf("T=%d prefill: %.1f GFLOP/s (%.1f ms)%n", t, 2.0 * t * rows * cols / best, best / 1e6);
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

  /** Median GB/s of weight bytes per matmul over repeated calls, cycling through the matrices. */
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
    return gbs[gbs.length / 2];
  }

  /** Median GB/s of summing the segment as floats, split among threads. */
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
    return gbs[gbs.length / 2];
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
