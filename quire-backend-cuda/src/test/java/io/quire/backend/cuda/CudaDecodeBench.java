package io.quire.backend.cuda;

import io.quire.models.DummyWeights;
import io.quire.models.LlamaModel;
import io.quire.spi.BatchMetadata;
import io.quire.spi.DeviceBatch;
import io.quire.spi.KvCache;
import io.quire.spi.PendingIds;
import io.quire.spi.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * Batch-1 decode on the CUDA backend: prefill {@code context} tokens, then time {@code steps} decode
 * steps (forward, logits to the host, argmax), as tokens/s against weight bytes / bandwidth; then the
 * same with the speed paths switched off one by one (at the longer contexts that follow), the logits
 * of one step compared between the fast and the simple paths, and a per-launch device-time breakdown
 * (CUDA events) of both. Usage: {@code CudaDecodeBench <model-dir> [context=512] [steps=128] [shape]}:
 * with a shape (llama-3-8b, llama-2-7b, llama-3.2-1b) and no model there, random bf16 weights are
 * written first. With {@code -Dquire.bench.quick=true}, only the first configuration (for A/B runs);
 * {@code -Dquire.bench.sync=true}: decode steps one after the other (no async scheduling).
 */
public final class CudaDecodeBench {
  private final CudaBackend gpu;
  private final LlamaModel model;
  private final KvCache cache;
  private final int[] table;
  private final float[] logits;
  private int next;
  private int len;

  private CudaDecodeBench(CudaBackend gpu, LlamaModel model, KvCache cache, int[] table) {
    this.gpu = gpu;
    this.model = model;
    this.cache = cache;
    this.table = table;
    this.logits = new float[model.config().vocabSize()];
  }

  public static void main(String[] args) throws IOException {
    Path dir = Path.of(args[0]);
    int context = args.length > 1 ? Integer.parseInt(args[1]) : 512;
    int steps = args.length > 2 ? Integer.parseInt(args[2]) : 128;
    if (args.length > 3 && !Files.exists(dir.resolve("config.json"))) {
      long w0 = System.nanoTime();
      DummyWeights.write(dir, DummyWeights.preset(args[3]), 0, 2L << 30);
      System.out.printf("wrote %s (%s) in %.1f s%n", dir, args[3], (System.nanoTime() - w0) / 1e9);
    }
    long weightBytes;
    try (Stream<Path> files = Files.list(dir)) {
      weightBytes = files.filter(p -> p.toString().endsWith(".safetensors")).mapToLong(p -> p.toFile().length()).sum();
    }
    try (CudaBackend gpu = new CudaBackend()) {
      long t0 = System.nanoTime();
      try (LlamaModel model = LlamaModel.load(dir, gpu, context, 1)) {
        gpu.synchronize();
        System.out.printf("loaded %s (%.2f GB of safetensors) in %.1f s on %s%n", dir, weightBytes / 1e9,
            (System.nanoTime() - t0) / 1e9, gpu.deviceName());
        int bs = 16;
        int total = context + steps + 600;
        int[] table = new int[(total + bs - 1) / bs];
        for (int i = 0; i < table.length; i++) table[i] = i;
        try (KvCache cache = model.allocateKvCache(table.length, bs, FixtureChecks.kvDtype())) {
          new CudaDecodeBench(gpu, model, cache, table).run(context, steps, weightBytes);
        }
      }
    }
  }

  private void run(int context, int steps, long weightBytes) {
    int vocab = model.config().vocabSize();
    int[] ids = new int[context], pos = new int[context], slots = new int[context];
    for (int i = 0; i < context; i++) {
      ids[i] = (int) ((i * 2654435761L) % vocab);
      pos[i] = i;
      slots[i] = i;
    }
    for (int rep = 0; rep < 2; rep++) {  // the first prefill also compiles nothing but warms cuBLAS
      long p0 = System.nanoTime();
      try (DeviceBatch db = gpu.prepare(new BatchMetadata(ids, pos, new int[] {0, context}, new int[] {context}, slots,
          new int[][] {table}, new int[] {context - 1}, 16))) {
        gpu.copyToHost(model.forward(db, cache), logits);
        next = argmax(logits);
      }
      System.out.printf("prefill %d tokens: %.1f ms%n", context, (System.nanoTime() - p0) / 1e6);
    }
    len = context;
    double bw = gpu.deviceName().contains("H200") ? 4.8e12 : gpu.deviceName().contains("H100") ? 3.35e12 : Double.NaN;
    boolean pdl = gpu.pdl();
    String[] names = {"all speed paths (tensor-core split-K attention, gemv, fusion" + (pdl ? ", programmatic dependent launch" : "")
        + ", CUDA graphs)", "all speed paths, CUDA graphs off", "all speed paths, CUDA graphs and programmatic dependent launch off",
        "cuBLAS instead of gemv, no graphs", "simple paths (old attention, cuBLAS, no fusion, no graphs)"};
    // {fast attention, gemv, fusion, PDL, graphs}
    boolean[][] configs = {{true, true, true, pdl, true}, {true, true, true, pdl, false}, {true, true, true, false, false},
        {true, false, true, pdl, false}, {false, false, false, false, false}};
    boolean quick = Boolean.getBoolean("quire.bench.quick");  // only the first configuration
    for (int c = 0; c < configs.length; c++) {
      if (quick && c > 0) return;
      if (c == 2 && !pdl) continue;
      gpu.configure(configs[c][0], configs[c][1], configs[c][2]);
      gpu.configurePdl(configs[c][3]);
      gpu.graphs(configs[c][4]);
      int n = c <= 2 ? steps : steps / 2;
      int from = len;
      decode(8);
      long[] g0 = gpu.graphStats();
      long start = System.nanoTime();
      decode(n);
      double sec = (System.nanoTime() - start) / 1e9;
      long[] g1 = gpu.graphStats();
      double tps = n / sec;
      System.out.printf("%s: decode batch 1, context %d..%d, %d steps: %.3f ms/token, %.1f tokens/s; %.0f GB/s of weights"
              + " (%.1f%% of %s %.2f TB/s datasheet; limit %.0f tokens/s); graph replays %d, captures %d%n",
          names[c], from + 8, len, n, 1e3 * sec / n, tps, weightBytes * tps / 1e9, 100 * weightBytes * tps / bw,
          gpu.deviceName(), bw / 1e12, bw / weightBytes, g1[0] - g0[0], g1[1] - g0[1]);
      if (c == 0) {
        // The same steps without the host round trip between them: each step is prepared and launched
        // while the previous one runs (the token fed is the last sampled one, not each step's own), so
        // the GPU never waits for the host. The gap to the line above is what overlapping host work with
        // the GPU could win at batch 1.
        int from2 = len;
        long s1 = System.nanoTime();
        for (int s = 0; s < n; s++) {
          BatchMetadata m = new BatchMetadata(new int[] {next}, new int[] {len}, new int[] {0, 1}, new int[] {len + 1},
              new int[] {len}, new int[][] {table}, new int[] {0}, 16);
          try (DeviceBatch db = gpu.prepare(m)) {
            gpu.runForward(cache, db, () -> model.forward(db, cache));
          }
          len++;
        }
        gpu.synchronize();
        double sec2 = (System.nanoTime() - s1) / 1e9;
        System.out.printf("no host round trip: decode batch 1, context %d..%d, %d steps: %.3f ms/token, %.1f tokens/s"
            + " (%.1f%% of %s %.2f TB/s datasheet)%n", from2 + 1, len, n, 1e3 * sec2 / n, n / sec2,
            100 * weightBytes * n / sec2 / bw, gpu.deviceName(), bw / 1e12);
      }
    }
    // Async scheduling against step by step: the same 48 steps (same start, so the same positions and
    // slots) give the same ids.
    {
      int len0 = len, next0 = next;
      int[] async = new int[48], sync = new int[48];
      decode(48, false, async);
      len = len0;
      next = next0;
      decode(48, true, sync);
      System.out.printf("async vs step-by-step decode, 48 steps from context %d: %s tokens%n", len0 + 1,
          java.util.Arrays.equals(async, sync) ? "identical" : "DIFFERENT " + java.util.Arrays.toString(async) + " vs "
              + java.util.Arrays.toString(sync));
    }
    // A replayed graph against the eager step: the same step (token, position, slot) run eagerly, then
    // three times through runForward with graphs on (eager, recorded + replayed, replayed).
    gpu.configure(true, true, true);
    gpu.configurePdl(pdl);
    gpu.graphs(false);
    step(next, len);
    float[] eager = logits.clone();
    gpu.graphs(true);
    double worst = 0;
    for (int i = 0; i < 3; i++) {
      BatchMetadata m = new BatchMetadata(new int[] {next}, new int[] {len}, new int[] {0, 1}, new int[] {len + 1},
          new int[] {len}, new int[][] {table}, new int[] {0}, 16);
      try (DeviceBatch db = gpu.prepare(m)) {
        gpu.copyToHost(gpu.runForward(cache, db, () -> model.forward(db, cache)), logits);
      }
      for (int j = 0; j < eager.length; j++) worst = Math.max(worst, Math.abs(eager[j] - logits[j]));
    }
    System.out.printf("graph replay vs eager step at context %d: max |logit difference| %.3g (%s); graph replays %d,"
        + " captures %d in all%n", len + 1, worst, worst == 0 ? "identical" : "DIFFERENT", gpu.graphStats()[0],
        gpu.graphStats()[1]);
    gpu.graphs(false);
    // The same step (same token, position and slot, so the cache write repeats) on both paths.
    float[][] l = new float[2][];
    for (int c = 0; c < 2; c++) {
      gpu.configure(c == 0, c == 0, c == 0);
      gpu.configurePdl(c == 0 && pdl);
      step(next, len);
      l[c] = logits.clone();
    }
    double se = 0, sr = 0;
    for (int i = 0; i < l[0].length; i++) {
      se += (l[0][i] - l[1][i]) * (double) (l[0][i] - l[1][i]);
      sr += (double) l[1][i] * l[1][i];
    }
    System.out.printf("logits fast vs simple paths at context %d: relative L2 difference %.2e, argmax %d vs %d%n", len + 1,
        Math.sqrt(se / sr), argmax(l[0]), argmax(l[1]));
    for (int c : new int[] {1, 4}) {
      gpu.configure(configs[c][0], configs[c][1], configs[c][2]);
      gpu.configurePdl(configs[c][3]);
      decode(2);
      int profiled = 16;
      gpu.startProfile();
      long s0 = System.nanoTime();
      decode(profiled);
      double ms = (System.nanoTime() - s0) / 1e6 / profiled;
      System.out.printf("device time per launch, %s, context %d (%.3f ms/step wall while profiling):%n%s", names[c], len,
          ms, gpu.profileReport(profiled));
      gpu.stopProfile();
    }
    gpu.configure(true, true, true);
    gpu.configurePdl(pdl);
  }

  /**
   * n decode steps as the engine runs them: through runForward (graphs where on), argmax on the device,
   * and async scheduling (each step launched with the previous step's id fed on the device, before
   * that id reaches the host); with {@code -Dquire.bench.sync=true}, step by step.
   */
  private void decode(int n) {
    decode(n, Boolean.getBoolean("quire.bench.sync"), null);
  }

  /** n decode steps, async or step by step; the sampled ids into {@code record} when not null. */
  private void decode(int n, boolean sync, int[] record) {
    int[] id = new int[1];
    PendingIds prev = null;
    for (int s = 0; s < n; s++) {
      BatchMetadata m = new BatchMetadata(new int[] {prev != null ? 0 : next}, new int[] {len}, new int[] {0, 1},
          new int[] {len + 1}, new int[] {len}, new int[][] {table}, new int[] {0}, 16);
      try (DeviceBatch db = prev == null ? gpu.prepare(m) : gpu.prepare(m, prev, new int[] {0}, new int[] {0})) {
        Tensor logits = gpu.runForward(cache, db, () -> model.forward(db, cache));
        if (prev != null) {
          prev.await(id);
          next = id[0];
          if (record != null) record[s - 1] = next;
        }
        if (sync) {
          gpu.argmax(logits, id);
          next = id[0];
          if (record != null) record[s] = next;
          prev = null;
        } else {
          prev = gpu.argmaxAsync(logits);
        }
      }
      len++;
    }
    if (prev != null) {
      prev.await(id);
      next = id[0];
      if (record != null) record[n - 1] = next;
    }
  }

  /** One decode step of token {@code id} at position {@code p} (context p + 1); logits into {@link #logits}. */
  private void step(int id, int p) {
    BatchMetadata m = new BatchMetadata(new int[] {id}, new int[] {p}, new int[] {0, 1}, new int[] {p + 1},
        new int[] {p}, new int[][] {table}, new int[] {0}, 16);
    try (DeviceBatch db = gpu.prepare(m)) {
      Tensor out = model.forward(db, cache);
      gpu.copyToHost(out, logits);
    }
  }

  static int argmax(float[] a) {
    int best = 0;
    for (int i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
    return best;
  }
}
