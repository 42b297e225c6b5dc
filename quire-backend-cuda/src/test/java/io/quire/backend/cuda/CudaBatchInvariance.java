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
 * divergence; exits 0 either way (cuBLAS GEMMs of different M may round differently in bf16).
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
      int[] alone, again, batched = null;
      EngineConfig big = EngineConfig.cpuDefaults(dir).withNumKvBlocks(256).withMaxModelLen(1024);
      try (Engine e = Engine.start(big, b)) {
        alone = drain(e.submit("alone", Prompt.tokens(target), greedy(maxTokens), 0));
        again = drain(e.submit("again", Prompt.tokens(target), greedy(maxTokens), 0));
      }
      EngineConfig small = EngineConfig.cpuDefaults(dir).withMaxModelLen(1024).withNumKvBlocks(40)
          .withMaxNumBatchedTokens(48).withMaxNumSeqs(32).withPrefixCaching(false);
      EngineStats st;
      try (Engine e = Engine.start(small, b)) {
        List<RequestStream> all = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
          int[] p = rnd.ints(4 + rnd.nextInt(60), 1000, 4000).toArray();
          SamplingParams sp = i % 2 == 0 ? greedy(8 + rnd.nextInt(24))
              : SamplingParams.builder().temperature(0.8f).seed((long) i).maxTokens(8 + rnd.nextInt(24)).ignoreEos(true).build();
          all.add(e.submit("o" + i, Prompt.tokens(p), sp, 0));
          if (i == 20) all.add(e.submit("target", Prompt.tokens(target), greedy(maxTokens), 0));
        }
        for (RequestStream s : all) {
          int[] t = drain(s);
          if (s.requestId().equals("target")) batched = t;
        }
        st = e.stats();
      }
      System.out.println("alone   : " + Arrays.toString(alone));
      System.out.println("again   : " + Arrays.toString(again));
      System.out.println("batched : " + Arrays.toString(batched));
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

  static String verdict(int[] a, int[] b) {
    if (Arrays.equals(a, b)) return "IDENTICAL (" + a.length + " tokens)";
    int n = Math.min(a.length, b.length), i = 0;
    while (i < n && a[i] == b[i]) i++;
    return "DIFFER from step " + i + " of " + a.length + "/" + b.length;
  }

  static SamplingParams greedy(int maxTokens) {
    return SamplingParams.builder().temperature(0f).maxTokens(maxTokens).ignoreEos(true).build();
  }

  static int[] drain(RequestStream s) throws InterruptedException {
    List<Integer> toks = new ArrayList<>();
    for (RequestOutput o; (o = s.poll(300, TimeUnit.SECONDS)) != null; ) {
      for (CompletionDelta d : o.deltas()) if (d.index() == 0) for (int t : d.newTokenIds()) toks.add(t);
      if (o.finished()) break;
    }
    return toks.stream().mapToInt(Integer::intValue).toArray();
  }
}
