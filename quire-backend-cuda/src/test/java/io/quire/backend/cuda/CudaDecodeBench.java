package io.quire.backend.cuda;

import io.quire.models.DummyWeights;
import io.quire.models.LlamaModel;
import io.quire.spi.BatchMetadata;
import io.quire.spi.DeviceBatch;
import io.quire.spi.KvCache;
import io.quire.spi.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * Batch-1 decode on the CUDA backend: prefill {@code context} tokens, then time {@code steps} decode
 * steps (forward, logits to the host, argmax), as tokens/s against weight bytes / bandwidth.
 * Usage: {@code CudaDecodeBench <model-dir> [context=512] [steps=128] [shape]}: with a shape
 * (llama-3-8b, llama-2-7b, llama-3.2-1b) and no model there, random bf16 weights are written first.
 */
public final class CudaDecodeBench {
  public static void main(String[] args) throws IOException {
    Path dir = Path.of(args[0]);
    int context = args.length > 1 ? Integer.parseInt(args[1]) : 512;
    int steps = args.length > 2 ? Integer.parseInt(args[2]) : 128;
    int warmup = 8;
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
        int total = context + warmup + steps + 1;
        int nb = (total + bs - 1) / bs;
        int[] table = new int[nb];
        for (int i = 0; i < nb; i++) table[i] = i;
        int vocab = model.config().vocabSize();
        float[] logits = new float[vocab];
        try (KvCache cache = model.allocateKvCache(nb, bs)) {
          int[] ids = new int[context], pos = new int[context], slots = new int[context];
          for (int i = 0; i < context; i++) {
            ids[i] = (int) ((i * 2654435761L) % vocab);
            pos[i] = i;
            slots[i] = i;
          }
          long p0 = System.nanoTime();
          int next;
          try (DeviceBatch db = gpu.prepare(new BatchMetadata(ids, pos, new int[] {0, context}, new int[] {context},
              slots, new int[][] {table}, new int[] {context - 1}, bs))) {
            gpu.copyToHost(model.forward(db, cache), logits);
            next = argmax(logits);
          }
          System.out.printf("prefill %d tokens: %.1f ms%n", context, (System.nanoTime() - p0) / 1e6);
          int len = context;
          long start = 0;
          for (int s = 0; s < warmup + steps; s++) {
            if (s == warmup) start = System.nanoTime();
            BatchMetadata m = new BatchMetadata(new int[] {next}, new int[] {len}, new int[] {0, 1}, new int[] {len + 1},
                new int[] {len}, new int[][] {table}, new int[] {0}, bs);
            try (DeviceBatch db = gpu.prepare(m)) {
              Tensor out = model.forward(db, cache);
              gpu.copyToHost(out, logits);
            }
            next = argmax(logits);
            len++;
          }
          double sec = (System.nanoTime() - start) / 1e9;
          // The same steps again, each op synchronized and timed on the host.
          OpTimer timer = new OpTimer(gpu);
          int profiled = 16;
          try (LlamaModel timed = LlamaModel.load(dir, timer, context, 1)) {
            for (int s = 0; s < profiled + 2; s++) {
              if (s == 2) timer.totals.clear();
              BatchMetadata m = new BatchMetadata(new int[] {next}, new int[] {len - 1}, new int[] {0, 1},
                  new int[] {len}, new int[] {len - 1}, new int[][] {table}, new int[] {0}, bs);
              try (DeviceBatch db = timer.prepare(m)) {
                timer.copyToHost(timed.forward(db, cache), logits);
              }
            }
          }
          System.out.printf("per-op time of one decode step at context %d (host-timed, synchronized around each op):%n%s",
              len, timer.report(profiled));
          double tps = steps / sec;
          double bw = gpu.deviceName().contains("H200") ? 4.8e12 : gpu.deviceName().contains("H100") ? 3.35e12 : Double.NaN;
          System.out.printf("decode batch 1, context %d..%d, %d steps: %.2f ms/token, %.1f tokens/s; %.0f GB/s of weights"
                  + " (%.1f%% of %s %.2f TB/s datasheet; limit %.0f tokens/s)%n",
              context, len, steps, 1e3 * sec / steps, tps, weightBytes * tps / 1e9, 100 * weightBytes * tps / bw,
              gpu.deviceName(), bw / 1e12, bw / weightBytes);
        }
      }
    }
  }

  static int argmax(float[] a) {
    int best = 0;
    for (int i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
    return best;
  }
}
