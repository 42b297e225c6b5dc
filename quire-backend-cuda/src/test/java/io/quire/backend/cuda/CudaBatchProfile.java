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
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Per-launch device time (CUDA events, {@link CudaBackend#startProfile}) of batched steps as the
 * engine runs them: forward of all rows, then the device argmax of every logit row (only ids back).
 * The KV cache is zeroed, not prefilled: attention reads the same bytes whatever they hold, so each
 * decode row simply starts at {@code context}. Cases: {@code decode:B} (B sequences, one token each,
 * context C growing by one per step) and {@code mixed:P:D} (a first prefill chunk of P tokens of a
 * new sequence after D decode rows at context C; D + 1 logit rows) and {@code prefill:N:P[:D]} (first
 * chunks of P tokens of N new sequences after D decode rows, as the offline benchmark's prefill steps
 * are; D + N logit rows). Per launch label: us/call,
 * calls/step, share, and for cuBLAS/gemv labels (NxK) the TFLOP/s at M = the step's rows (logit rows
 * for the lm_head), for attn_split the KV bytes read per call (the sum of context lengths times
 * 2 x kv heads x head dim x 2 bytes) per second.
 *
 * <p>Usage: {@code CudaBatchProfile <model-dir> [context=600] [cases=decode:256,decode:64,mixed:512:200]
 * [profiled-steps=8] [shape]}: with a shape (llama-3-8b, ...) and no model there, random bf16 weights
 * are written first.
 */
public final class CudaBatchProfile {
  private static final int BS = 16;
  private static final Pattern LINE = Pattern.compile(
      "^\\s+(.+?)\\s+([0-9.]+) ms/step\\s+([0-9.]+)% \\s*([0-9.]+) calls/step\\s+([0-9.]+) us/call$");
  private static final Pattern GEMM = Pattern.compile("^(?:cublas|gemv|gemm_bi) (\\d+)x(\\d+).*");

  public static void main(String[] args) throws IOException {
    Locale.setDefault(Locale.ROOT);
    Path dir = Path.of(args[0]);
    int context = args.length > 1 ? Integer.parseInt(args[1]) : 600;
    String[] cases = (args.length > 2 ? args[2] : "decode:256,decode:64,mixed:512:200").split(",");
    int profiled = args.length > 3 ? Integer.parseInt(args[3]) : 8;
    if (args.length > 4 && !Files.exists(dir.resolve("config.json"))) {
      long w0 = System.nanoTime();
      DummyWeights.write(dir, DummyWeights.preset(args[4]), 0, 2L << 30);
      System.out.printf("wrote %s (%s) in %.1f s%n", dir, args[4], (System.nanoTime() - w0) / 1e9);
    }
    int maxTokens = 256, maxRows = 256, maxSeqs = 256, maxPrefill = 0;
    for (String c : cases) {
      String[] p = c.split(":");
      int[] c3 = shape(p);
      maxTokens = Math.max(maxTokens, c3[0] + c3[1] * c3[2]);
      maxSeqs = Math.max(maxSeqs, c3[0] + c3[1]);
      maxRows = Math.max(maxRows, c3[0] + c3[1]);
      maxPrefill = Math.max(maxPrefill, c3[2]);
    }
    int steps = 4 + profiled + 5;
    int perSeq = (Math.max(Math.max(context + steps + 8, 600), maxPrefill) + BS - 1) / BS;
    try (CudaBackend gpu = new CudaBackend()) {
      long t0 = System.nanoTime();
      try (LlamaModel model = LlamaModel.load(dir, gpu, maxTokens, maxRows)) {
        gpu.synchronize();
        var cfg = model.config();
        System.out.printf("loaded %s in %.1f s on %s; %d layers, hidden %d, %d heads / %d kv heads, head dim %d, PDL %s%n",
            dir, (System.nanoTime() - t0) / 1e9, gpu.deviceName(), cfg.numLayers(), cfg.hiddenSize(), cfg.numHeads(),
            cfg.numKvHeads(), cfg.headDim(), gpu.pdl());
        int blocks = maxSeqs * perSeq;
        try (KvCache cache = model.allocateKvCache(blocks, BS, FixtureChecks.kvDtype())) {
          int[][] tables = new int[maxSeqs][perSeq];
          for (int s = 0; s < maxSeqs; s++) for (int j = 0; j < perSeq; j++) tables[s][j] = s * perSeq + j;
          for (String c : cases) {
            int[] c3 = shape(c.split(":"));
            profile(gpu, model, cache, tables, c3[0], c3[1], c3[2], context, profiled);
          }
        }
      }
    }
  }

  /** A case as {decode rows, prefill sequences, prefill tokens each}. */
  private static int[] shape(String[] p) {
    return switch (p[0]) {
      case "decode" -> new int[] {Integer.parseInt(p[1]), 0, 0};
      case "mixed" -> new int[] {Integer.parseInt(p[2]), 1, Integer.parseInt(p[1])};
      case "prefill" -> new int[] {p.length > 3 ? Integer.parseInt(p[3]) : 0, Integer.parseInt(p[1]), Integer.parseInt(p[2])};
      default -> throw new IllegalArgumentException("case " + String.join(":", p) + ": decode:B, mixed:P:D or prefill:N:P[:D]");
    };
  }

  /** Decode rows 0..d-1 at context ctx + step, then requests d..d+np-1's first chunks of prefill tokens each. */
  private static BatchMetadata step(int d, int np, int prefill, int ctx, int vocab, int[][] tables, int salt) {
    if (prefill == 0) np = 0;
    int t = d + np * prefill, reqs = d + np;
    int[] ids = new int[t], pos = new int[t], slots = new int[t], qsl = new int[reqs + 1], lens = new int[reqs];
    int[] logits = new int[reqs];
    int[][] bt = new int[reqs][];
    for (int s = 0; s < d; s++) {
      ids[s] = (int) (((s + 1L) * 2654435761L + salt) % vocab);
      pos[s] = ctx - 1;
      slots[s] = tables[s][(ctx - 1) / BS] * BS + (ctx - 1) % BS;
      qsl[s + 1] = s + 1;
      lens[s] = ctx;
      logits[s] = s;
      bt[s] = tables[s];
    }
    for (int r = d; r < reqs; r++) {
      int base = d + (r - d) * prefill;
      for (int i = 0; i < prefill; i++) {
        ids[base + i] = (int) (((i + 7L + r) * 40503L) % vocab);
        pos[base + i] = i;
        slots[base + i] = tables[r][i / BS] * BS + i % BS;
      }
      qsl[r + 1] = base + prefill;
      lens[r] = prefill;
      logits[r] = base + prefill - 1;
      bt[r] = tables[r];
    }
    return new BatchMetadata(ids, pos, qsl, lens, slots, bt, logits, BS);
  }

  private static void profile(CudaBackend gpu, LlamaModel model, KvCache cache, int[][] tables, int d, int np,
      int prefill, int context, int profiled) {
    var cfg = model.config();
    int vocab = cfg.vocabSize();
    if (prefill == 0) np = 0;
    int rows = d + np, t = d + np * prefill;
    int[] out = new int[rows];
    String what = np > 0
        ? String.format("mixed step: %d x %d-token first prefill chunks + %d decode rows at context ~%d (%d tokens, %d logit rows)",
            np, prefill, d, context, t, rows)
        : String.format("decode step: %d sequences at context ~%d", d, context);
    int ctx = context;
    for (int w = 0; w < 4; w++) run(gpu, model, cache, step(d, np, prefill, ctx++, vocab, tables, w), out);
    // unprofiled wall clock
    int plain = 5;
    long s0 = System.nanoTime();
    for (int w = 0; w < plain; w++) run(gpu, model, cache, step(d, np, prefill, ctx++, vocab, tables, w), out);
    double wall = (System.nanoTime() - s0) / 1e6 / plain;
    int from = ctx;
    gpu.startProfile();
    long p0 = System.nanoTime();
    for (int w = 0; w < profiled; w++) run(gpu, model, cache, step(d, np, prefill, ctx++, vocab, tables, w), out);
    double pwall = (System.nanoTime() - p0) / 1e6 / profiled;
    String rep = gpu.profileReport(profiled);
    gpu.stopProfile();
    double avgCtx = (from + ctx - 1) / 2.0;
    // KV bytes one attention launch reads: sum over rows of (context) x kv heads x head dim x 2 (K,V) x 2 bytes
    // distinct KV bytes one attention launch reads: context positions x kv heads x head dim x 2 (K,V) x 2 bytes
    double kvBytes = ((double) d * avgCtx + (double) np * prefill) * cfg.numKvHeads() * cfg.headDim() * 2.0
        * (FixtureChecks.kvDtype() == io.quire.spi.DType.FP8_E4M3 ? 1 : 2);
    System.out.printf("%n=== %s, %s%n", what, gpu.deviceName());
    System.out.printf("wall %.2f ms/step unprofiled (mean of %d), %.2f ms/step while profiling (%d steps, context %d..%d)%n",
        wall, plain, pwall, profiled, from, ctx - 1);
    System.out.println("| launch | us/call | calls/step | ms/step | share | rate |");
    System.out.println("|---|---:|---:|---:|---:|---|");
    double gemmMs = 0, attnMs = 0, flops = 0;
    for (String line : rep.split("\n")) {
      Matcher m = LINE.matcher(line);
      if (!m.matches()) {
        if (!line.isBlank()) System.out.println("| " + line.trim() + " |");
        continue;
      }
      String label = m.group(1);
      double msStep = Double.parseDouble(m.group(2)), share = Double.parseDouble(m.group(3));
      double calls = Double.parseDouble(m.group(4)), us = Double.parseDouble(m.group(5));
      String rate = "";
      Matcher g = GEMM.matcher(label);
      if (g.matches()) {
        long n = Long.parseLong(g.group(1)), k = Long.parseLong(g.group(2));
        long mm = n == vocab ? rows : t;
        double f = 2.0 * mm * n * k;
        rate = String.format("M=%d: %.0f TFLOP/s (%.0f%% of 800)", mm, f / (us * 1e-6) / 1e12, 100 * f / (us * 1e-6) / 800e12);
        gemmMs += msStep;
        flops += f * calls;
      } else if (label.startsWith("attn_split") || label.startsWith("attn_decode") || label.startsWith("attn_dec") || label.startsWith("attn_prefill")
          || label.startsWith("attn_rows")
          || label.startsWith("paged_attention")) {
        rate = String.format("%.1f MB KV/call: %.2f TB/s", kvBytes / 1e6, kvBytes / (us * 1e-6) / 1e12);
        attnMs += msStep;
      } else if (label.startsWith("attn_reduce")) {
        attnMs += msStep;
      }
      System.out.printf("| %s | %.1f | %.1f | %.3f | %.1f%% | %s |%n", label, us, calls, msStep, share, rate);
    }
    System.out.printf("GEMMs %.2f ms/step (%.0f TFLOP/s overall, %.1f TFLOP/step), attention %.2f ms/step "
            + "(KV %.2f GB/step at %.2f TB/s)%n", gemmMs, flops / (gemmMs * 1e-3) / 1e12, flops / 1e12, attnMs,
        kvBytes * cfg.numLayers() / 1e9, kvBytes * cfg.numLayers() / (attnMs * 1e-3) / 1e12);
    System.out.print("raw profiler report:\n" + rep);
  }

  private static void run(CudaBackend gpu, LlamaModel model, KvCache cache, BatchMetadata m, int[] out) {
    try (DeviceBatch db = gpu.prepare(m)) {
      Tensor logits = model.forward(db, cache);
      gpu.argmax(logits, out);
    }
  }
}
