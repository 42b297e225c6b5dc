package io.quire.backend.cpu.bench;

import io.quire.backend.cpu.CpuBackend;
import io.quire.spi.BatchMetadata;
import io.quire.spi.DType;
import io.quire.spi.DeviceBatch;
import io.quire.spi.KvCache;
import io.quire.spi.Tensor;

/**
 * Paged attention speed for a Llama-3-8B-shaped layer (32 heads, 8 kv heads, headDim 128, block
 * 16): a decode step of S requests at one context length (reported as KV GB/s, the limit being
 * memory bandwidth) and a prefill of one prompt (reported as GFLOP/s).
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -cp ... io.quire.backend.cpu.bench.AttentionBench [threads]}.
 */
public final class AttentionBench {
  public static void main(String[] args) {
    int threads = args.length > 0 ? Integer.parseInt(args[0]) : Runtime.getRuntime().availableProcessors();
    System.out.printf("threads %d, heads 32/8 kv, headDim 128, block 16%n", threads);
    try (CpuBackend b = new CpuBackend(threads)) {
      run(b, 16, 1024, 1);
      run(b, 64, 512, 1);
      run(b, 1, 1024, 1024);
    }
  }

  private static void run(CpuBackend b, int s, int ctx, int nq) {
    int nh = 32, nkv = 8, hd = 128, bs = 16;
    int blocksPer = (ctx + bs - 1) / bs;
    try (KvCache cache = b.allocateKvCache(1, s * blocksPer, bs, nkv, hd)) {
      int t = s * nq;
      int[] qsl = new int[s + 1];
      int[] seqLens = new int[s];
      int[][] tables = new int[s][blocksPer];
      for (int i = 0; i < s; i++) {
        qsl[i + 1] = qsl[i] + nq;
        seqLens[i] = ctx;
        for (int j = 0; j < blocksPer; j++) {
          tables[i][j] = i * blocksPer + j;
        }
      }
      DeviceBatch batch = b.prepare(new BatchMetadata(new int[t], new int[t], qsl, seqLens, new int[t], tables, new int[0], bs));
      try (Tensor q = b.allocate(DType.F32, t, nh * hd); Tensor out = b.allocate(DType.F32, t, nh * hd)) {
        long best = Long.MAX_VALUE;
        for (int r = 0; r < 40; r++) {
          long t0 = System.nanoTime();
          b.pagedAttention(q, cache, 0, batch, 0.088f, out);
          best = Math.min(best, System.nanoTime() - t0);
        }
        double kvBytes = 2.0 * s * ctx * nkv * hd * 4;
        double pairs = nq == 1 ? (double) s * ctx : (double) s * nq * (ctx - nq + (nq + 1) / 2.0);
        double flops = 4.0 * nh * hd * pairs;
        System.out.printf(
            "S=%-3d ctx=%-5d query=%-5d %8.2f ms  KV read %6.1f GB/s  %6.1f GFLOP/s%n",
            s, ctx, nq, best / 1e6, kvBytes / best, flops / best);
      }
    }
  }
}
