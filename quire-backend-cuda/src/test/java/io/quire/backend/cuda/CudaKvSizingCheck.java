package io.quire.backend.cuda;

import io.quire.engine.CompletionDelta;
import io.quire.engine.Engine;
import io.quire.engine.EngineConfig;
import io.quire.engine.FinishReason;
import io.quire.engine.KvCacheSizing;
import io.quire.engine.MemoryProfile;
import io.quire.engine.Prompt;
import io.quire.engine.RequestOutput;
import io.quire.engine.RequestStream;
import io.quire.engine.SamplingParams;
import io.quire.spi.DeviceMemory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The KV pool sized from gpu_memory_utilization on the GPU: the engine profiles a step of
 * max_num_batched_tokens, fills the budget with blocks, and the device's memory in use stays within
 * total x utilization after start and after serving 64 concurrent requests (256 random prompt tokens,
 * 64 generated, greedy, ignore_eos); then an absurd utilization on a fresh backend must fail at start
 * with the numbers. Prints PASS/FAIL lines; exits 1 on any FAIL. Usage:
 * {@code CudaKvSizingCheck <model-dir> [utilization=0.9] [absurd-utilization=0.05] [max-num-batched-tokens=8192]}.
 */
public final class CudaKvSizingCheck {
  private static final double GIB = 1L << 30;

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    double util = args.length > 1 ? Double.parseDouble(args[1]) : EngineConfig.DEFAULT_GPU_MEMORY_UTILIZATION;
    double absurd = args.length > 2 ? Double.parseDouble(args[2]) : 0.05;
    int batched = args.length > 3 ? Integer.parseInt(args[3]) : 8192;
    EngineConfig config = EngineConfig.cpuDefaults(dir).withMaxNumBatchedTokens(batched);
    boolean ok = true;
    try (CudaBackend gpu = new CudaBackend()) {
      DeviceMemory before = gpu.deviceMemory().orElseThrow();
      System.out.printf("device %s (%s): total %s GiB, free %s GiB before the model%n", gpu.deviceName(), gpu.arch(),
          gib(before.totalBytes()), gib(before.freeBytes()));
      long t0 = System.nanoTime();
      try (Engine e = Engine.start(config.withGpuMemoryUtilization(util), gpu)) {
        System.out.printf("engine up in %.1f s (gpu_memory_utilization %s, max_num_batched_tokens %d, max_num_seqs %d,"
            + " max_model_len %d)%n", (System.nanoTime() - t0) / 1e9, util, batched, config.maxNumSeqs(), e.maxModelLen());
        KvCacheSizing s = e.kvCacheSizing().orElseThrow(() -> new AssertionError("the pool was not sized from utilization"));
        MemoryProfile p = s.profile();
        System.out.println(s.summary());
        System.out.printf("profile: total %s GiB, in use before the weights %s GiB, weights %s GiB, peak %s GiB"
            + " (activations %s GiB); %d blocks of %d bytes = %s GiB%n", gib(p.totalBytes()), gib(p.baselineBytes()),
            gib(p.weightBytes()), gib(p.peakBytes()), gib(p.activationBytes()), s.numBlocks(), s.bytesPerBlock(),
            gib(s.kvBytes()));
        ok &= withinBudget("after start", gpu, s.budgetBytes());
        ok &= serve(e);
        ok &= withinBudget("after serving", gpu, s.budgetBytes());
      }
    }
    try (CudaBackend gpu = new CudaBackend()) {
      Engine e = Engine.start(config.withGpuMemoryUtilization(absurd), gpu);
      e.close();
      System.out.println("FAIL gpu_memory_utilization " + absurd + " started an engine");
      ok = false;
    } catch (IllegalArgumentException ex) {
      boolean named = ex.getMessage().contains("needs") && ex.getMessage().contains("available");
      System.out.println((named ? "PASS" : "FAIL") + " gpu_memory_utilization " + absurd + " fails at start: " + ex.getMessage());
      ok &= named;
    }
    System.out.println(ok ? "ALL PASS" : "SOME FAILED");
    System.exit(ok ? 0 : 1);
  }

  private static boolean withinBudget(String when, CudaBackend gpu, long budget) {
    gpu.synchronize();
    DeviceMemory m = gpu.deviceMemory().orElseThrow();
    boolean pass = m.usedBytes() <= budget;
    System.out.printf("%s %s: device memory in use %s GiB, budget %s GiB (free %s GiB; this backend holds %s GiB)%n",
        pass ? "PASS" : "FAIL", when, gib(m.usedBytes()), gib(budget), gib(m.freeBytes()), gib(m.allocatedBytes()));
    return pass;
  }

  /** 64 concurrent greedy requests; all must finish with their 64 tokens. */
  private static boolean serve(Engine e) throws InterruptedException {
    SplittableRandom rnd = new SplittableRandom(11);
    SamplingParams p = SamplingParams.builder().temperature(0f).ignoreEos(true).maxTokens(64).build();
    List<RequestStream> streams = new ArrayList<>();
    long t0 = System.nanoTime();
    for (int i = 0; i < 64; i++) streams.add(e.submit("r" + i, Prompt.tokens(rnd.ints(256, 1000, 4000).toArray()), p, 0));
    AtomicInteger peakBlocks = new AtomicInteger();
    Thread sampler = Thread.ofPlatform().daemon().start(() -> {
      while (!Thread.currentThread().isInterrupted()) {
        peakBlocks.accumulateAndGet(e.stats().kvBlocksUsed(), Math::max);
        try {
          Thread.sleep(2);
        } catch (InterruptedException x) {
          return;
        }
      }
    });
    int complete = 0;
    for (RequestStream s : streams) {
      int tokens = 0;
      FinishReason reason = null;
      for (RequestOutput o; (o = s.poll(120, TimeUnit.SECONDS)) != null; ) {
        for (CompletionDelta d : o.deltas()) {
          tokens += d.newTokenIds().length;
          if (d.finishReason() != null) reason = d.finishReason();
        }
        if (o.finished()) break;
      }
      if (tokens == 64 && reason == FinishReason.LENGTH) complete++;
    }
    sampler.interrupt();
    sampler.join();
    boolean pass = complete == streams.size();
    System.out.printf("%s served %d/%d requests (256 in, 64 out) in %.1f s; KV blocks in use at most %d of %d%n",
        pass ? "PASS" : "FAIL", complete, streams.size(), (System.nanoTime() - t0) / 1e9, peakBlocks.get(),
        e.stats().kvBlocksTotal());
    return pass;
  }

  private static String gib(long bytes) {
    return String.format("%.2f", bytes / GIB);
  }
}
