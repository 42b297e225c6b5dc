package io.quire.backend.cuda;

import io.quire.backend.cpu.CpuBackend;
import io.quire.engine.CompletionDelta;
import io.quire.engine.Engine;
import io.quire.engine.EngineConfig;
import io.quire.engine.EngineStats;
import io.quire.engine.Prompt;
import io.quire.engine.RequestOutput;
import io.quire.engine.RequestStream;
import io.quire.engine.SamplingParams;
import io.quire.engine.TokenLogprob;
import io.quire.spi.Backend;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Batch invariance on the GPU, as EngineTest.greedyRequestIsBatchInvariantUnderChunkingAndPreemption on
 * the CPU: one greedy request of ~100 random tokens alone (twice, for run-to-run determinism), then the
 * same request among 64 others (half greedy, half seeded sampling) with a small pool (40 blocks of 16),
 * 48-token chunks and at most 32 sequences, so that it is chunked, batched with others and preempted.
 * Usage: {@code CudaBatchInvariance <model-dir> [cuda|cpu] [max-tokens=32]}. Prints IDENTICAL or the first
 * divergence, for the tokens and for the bits of each sampled token's logprob (so a difference in the
 * logits shows even where the greedy path does not flip). Exits 0 either way: by default cuBLAS GEMMs of
 * different M and the split decode attention may round differently in bf16; with QUIRE_BATCH_INVARIANT=1
 * (gemm_bi.cu, one attention order for every row) they must not.
 */
public final class CudaBatchInvariance {
  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    boolean cpu = args.length > 1 && args[1].equals("cpu");
    int maxTokens = args.length > 2 ? Integer.parseInt(args[2]) : 32;
    SplittableRandom rnd = new SplittableRandom(7);
    int[] target = rnd.ints(100, 1000, 4000).toArray();
    long t0 = System.nanoTime();
    try (Backend b = cpu ? new CpuBackend() : new CudaBackend()) {
      int[][] alone, again, batched = null;
      boolean fp8 = FixtureChecks.kvDtype() != null;
      EngineConfig big = EngineConfig.cpuDefaults(dir).withNumKvBlocks(256).withMaxModelLen(1024).withFp8KvCache(fp8);
      try (Engine e = Engine.start(big, b)) {
        alone = drain(e.submit("alone", Prompt.tokens(target), greedyLogprob(maxTokens), 0));
        again = drain(e.submit("again", Prompt.tokens(target), greedyLogprob(maxTokens), 0));
      }
      EngineConfig small = EngineConfig.cpuDefaults(dir).withMaxModelLen(1024).withNumKvBlocks(40)
          .withMaxNumBatchedTokens(48).withMaxNumSeqs(32).withPrefixCaching(false).withFp8KvCache(fp8);
      EngineStats st;
      try (Engine e = Engine.start(small, b)) {
        List<RequestStream> all = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
          int[] p = rnd.ints(4 + rnd.nextInt(60), 1000, 4000).toArray();
          SamplingParams sp = i % 2 == 0 ? greedy(8 + rnd.nextInt(24))
              : SamplingParams.builder().temperature(0.8f).seed((long) i).maxTokens(8 + rnd.nextInt(24)).ignoreEos(true).build();
          all.add(e.submit("o" + i, Prompt.tokens(p), sp, 0));
          if (i == 20) all.add(e.submit("target", Prompt.tokens(target), greedyLogprob(maxTokens), 0));
        }
        for (RequestStream s : all) {
          int[][] t = drain(s);
          if (s.requestId().equals("target")) batched = t;
        }
        st = e.stats();
      }
      System.out.println("mode    : " + (cpu ? "cpu" : ((CudaBackend) b).batchInvariant() ? "batch-invariant" : "default"));
      System.out.println("alone   : " + Arrays.toString(alone[0]));
      System.out.println("again   : " + Arrays.toString(again[0]));
      System.out.println("batched : " + Arrays.toString(batched[0]));
      System.out.printf("small pool: %d preemptions, %d steps, %d prompt + %d generated tokens%n", st.numPreemptions(),
          st.numSteps(), st.promptTokens(), st.generationTokens());
      System.out.println("alone vs again: " + verdict(alone, again));
      System.out.println("alone vs among 64 others (chunked, preempted): " + verdict(alone, batched));
      if (!cpu) {
        long[] g = ((CudaBackend) b).graphStats();
        System.out.printf("CUDA graphs (decode steps padded to capture sizes): %d replays, %d captures%n", g[0], g[1]);
      }
      System.out.printf("device %s, %.1f s%n", cpu ? "cpu" : ((CudaBackend) b).deviceName(), (System.nanoTime() - t0) / 1e9);
    }
  }

  /** Tokens, then logprob bits: IDENTICAL, or the first step where each differs. */
  static String verdict(int[][] a, int[][] b) {
    return "tokens " + verdict(a[0], b[0]) + "; logprob bits " + verdict(a[1], b[1]);
  }

  static String verdict(int[] a, int[] b) {
    if (Arrays.equals(a, b)) return "IDENTICAL (" + a.length + ")";
    int n = Math.min(a.length, b.length), i = 0;
    while (i < n && a[i] == b[i]) i++;
    return "DIFFER from step " + i + " of " + a.length + "/" + b.length;
  }

  static SamplingParams greedyLogprob(int maxTokens) {
    return SamplingParams.builder().temperature(0f).maxTokens(maxTokens).ignoreEos(true).logprobs(0).build();
  }

  static SamplingParams greedy(int maxTokens) {
    return SamplingParams.builder().temperature(0f).maxTokens(maxTokens).ignoreEos(true).build();
  }

  /** The request's tokens and the float bits of their logprobs (none without logprobs). */
  static int[][] drain(RequestStream s) throws InterruptedException {
    List<Integer> toks = new ArrayList<>(), bits = new ArrayList<>();
    for (RequestOutput o; (o = s.poll(300, TimeUnit.SECONDS)) != null; ) {
      for (CompletionDelta d : o.deltas()) {
        if (d.index() != 0) continue;
        for (int t : d.newTokenIds()) toks.add(t);
        if (d.logprobs() != null) for (TokenLogprob l : d.logprobs()) bits.add(Float.floatToRawIntBits(l.logprob()));
      }
      if (o.finished()) break;
    }
    return new int[][] {toks.stream().mapToInt(Integer::intValue).toArray(), bits.stream().mapToInt(Integer::intValue).toArray()};
  }
}
