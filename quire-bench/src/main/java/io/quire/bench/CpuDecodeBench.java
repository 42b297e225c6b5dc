package io.quire.bench;

import io.quire.models.ModelConfig;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * CPU decode throughput of Quire against the machine's memory bandwidth and against Jlama, all in
 * one run: (1) read bandwidth with all threads; (2) Quire, greedy, one stream and then 16
 * concurrent streams, tokens/s after the prefill step; (3) Jlama on the same folder in a child JVM
 * (it needs {@code --enable-preview}); (4) one table.
 *
 * <p>At batch 1 every weight is read once per token, so bandwidth / weight bytes is the ceiling.
 *
 * <p>Run through {@code tools/bench/cpu-decode.sh}, which builds, writes the model and starts this.
 */
public final class CpuDecodeBench {
  private CpuDecodeBench() {}

  private static final String USAGE = """
      usage: CpuDecodeBench --model DIR [--threads N] [--tokens 128] [--streams 16] [--repeats 3]
                            [--jlama-stream-tokens 32] [--no-jlama] [--bandwidth-gib 2]""";

  public static void main(String[] args) throws Exception {
    Path model = null;
    int threads = Runtime.getRuntime().availableProcessors();
    int tokens = 128;
    int streams = 16;
    int repeats = 3;
    int jlamaStreamTokens = 32;
    boolean jlama = true;
    double bandwidthGiB = 2;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--model" -> model = Path.of(args[++i]);
        case "--threads" -> threads = Integer.parseInt(args[++i]);
        case "--tokens" -> tokens = Integer.parseInt(args[++i]);
        case "--streams" -> streams = Integer.parseInt(args[++i]);
        case "--repeats" -> repeats = Integer.parseInt(args[++i]);
        case "--jlama-stream-tokens" -> jlamaStreamTokens = Integer.parseInt(args[++i]);
        case "--no-jlama" -> jlama = false;
        case "--bandwidth-gib" -> bandwidthGiB = Double.parseDouble(args[++i]);
        default -> {
          System.err.println("unknown argument " + args[i] + "\n" + USAGE);
          System.exit(2);
        }
      }
    }
    if (model == null || !Files.isRegularFile(model.resolve("config.json"))) {
      System.err.println("--model must name a model folder with config.json\n" + USAGE);
      System.exit(2);
    }
    ModelConfig mc = ModelConfig.load(model);
    long weightBytes = weightBytesPerToken(mc);
    System.out.printf(Locale.ROOT, "model %s: %d layers, hidden %d, vocab %d; %.3f GB of bf16 weights read per token%n",
        model, mc.numLayers(), mc.hiddenSize(), mc.vocabSize(), weightBytes / 1e9);

    long bwBytes = (long) (bandwidthGiB * (1L << 30));
    double bwAll = MemoryBandwidth.measure(bwBytes, threads, 5);
    double bwOne = MemoryBandwidth.measure(bwBytes, 1, 3);
    System.out.printf(Locale.ROOT, "memory read: %.1f GB/s with %d threads, %.1f GB/s with 1 (best of passes over %.1f GiB)%n",
        bwAll, threads, bwOne, bandwidthGiB);
    double limit = bwAll * 1e9 / weightBytes;

    List<DecodeResult> quire1 = new ArrayList<>();
    List<DecodeResult> quireN = new ArrayList<>();
    try (QuireDecode q = new QuireDecode(model, threads, streams, 64 + tokens)) {
      q.run(1, 32); // warm-up: JIT of the batch-1 and batch-N paths
      q.run(streams, 8);
      for (int r = 0; r < repeats; r++) {
        quire1.add(report("quire", q.run(1, tokens)));
        quireN.add(report("quire", q.run(streams, tokens)));
      }
    }
    DecodeResult jlama1 = null;
    DecodeResult jlamaN = null;
    if (jlama) {
      List<DecodeResult> js = runJlama(model, threads, tokens, streams, jlamaStreamTokens);
      for (DecodeResult d : js) report("jlama", d);
      jlama1 = js.stream().filter(d -> d.streams() == 1).findFirst().orElse(null);
      jlamaN = js.stream().filter(d -> d.streams() > 1).findFirst().orElse(null);
    }

    DecodeResult q1 = best(quire1);
    DecodeResult qn = best(quireN);
    System.out.println();
    System.out.printf(Locale.ROOT, "memory read bandwidth %.1f GB/s (%d threads); %.3f GB weights/token; batch-1 limit %.1f tokens/s%n",
        bwAll, threads, weightBytes / 1e9, limit);
    System.out.printf(Locale.ROOT, "%-26s %12s %12s %10s %10s%n", "decode, greedy", "tokens/s", "spread", "of limit", "vs Jlama");
    row("Quire, 1 stream", q1, spread(quire1), limit, jlama1);
    row("Quire, " + streams + " streams (aggregate)", qn, spread(quireN), limit, jlamaN);
    if (jlama1 != null) row("Jlama 0.8.4, 1 stream", jlama1, "", limit, null);
    if (jlamaN != null) row("Jlama 0.8.4, " + streams + " sessions", jlamaN, "", limit, null);
  }

  /** bf16 bytes of every matrix a decode step reads in full (the embedding contributes one row). */
  static long weightBytesPerToken(ModelConfig c) {
    long h = c.hiddenSize();
    long perLayer = h * c.qSize() + 2L * h * c.kvSize() + (long) c.qSize() * h + 3L * h * c.intermediateSize() + 2L * h;
    return 2 * (c.numLayers() * perLayer + (long) c.vocabSize() * h + 2 * h);
  }

  private static DecodeResult report(String engine, DecodeResult d) {
    System.out.printf(Locale.ROOT, "%s: %2d stream(s), prompt %d tokens, %d generated: decode %.2f tokens/s, end to end %.2f tokens/s%n",
        engine, d.streams(), d.promptTokens(), d.generatedTokens(), d.decodeTokensPerSecond(), d.endToEndTokensPerSecond());
    return d;
  }

  private static DecodeResult best(List<DecodeResult> ds) {
    DecodeResult b = ds.getFirst();
    for (DecodeResult d : ds) if (d.decodeTokensPerSecond() > b.decodeTokensPerSecond()) b = d;
    return b;
  }

  private static String spread(List<DecodeResult> ds) {
    double lo = Double.MAX_VALUE, hi = 0;
    for (DecodeResult d : ds) {
      lo = Math.min(lo, d.decodeTokensPerSecond());
      hi = Math.max(hi, d.decodeTokensPerSecond());
    }
    return String.format(Locale.ROOT, "%.1f-%.1f", lo, hi);
  }

  private static void row(String name, DecodeResult d, String spread, double limit, DecodeResult jlama) {
    System.out.printf(Locale.ROOT, "%-26s %12.2f %12s %9.0f%% %10s%n", name, d.decodeTokensPerSecond(), spread,
        100 * d.decodeTokensPerSecond() / limit,
        jlama == null ? "" : String.format(Locale.ROOT, "%.2fx", d.decodeTokensPerSecond() / jlama.decodeTokensPerSecond()));
  }

  /** Jlama in a child JVM with the flags it needs on Java 25, on this JVM's class path. */
  private static List<DecodeResult> runJlama(Path model, int threads, int tokens, int streams, int streamTokens)
      throws IOException, InterruptedException {
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> cmd = List.of(java, "--add-modules", "jdk.incubator.vector", "--enable-preview",
        "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
        JlamaDecode.class.getName(), model.toString(), Integer.toString(threads), Integer.toString(tokens),
        Integer.toString(streams), Integer.toString(streamTokens));
    Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    List<DecodeResult> out = new ArrayList<>();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = r.readLine()) != null; ) {
        if (line.startsWith("RESULT ")) out.add(DecodeResult.parse(line));
        else System.out.println("jlama: " + line);
      }
    }
    int rc = p.waitFor();
    if (rc != 0) System.err.println("jlama exited with status " + rc);
    return out;
  }
}
