package io.quire.bench.offline;

import io.quire.bench.report.ProgressBar;
import io.quire.bench.workload.BenchRequest;
import io.quire.engine.CompletionDelta;
import io.quire.engine.Engine;
import io.quire.engine.EngineStats;
import io.quire.engine.Prompt;
import io.quire.engine.RequestOutput;
import io.quire.engine.RequestStream;
import io.quire.engine.SamplingParams;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Offline throughput (vLLM's benchmark_throughput): every request submitted at once to an
 * in-process engine, greedy with ignore_eos so outputs have their exact lengths; KV figures come
 * from {@link EngineStats}, sampled every millisecond for the peak.
 */
public final class OfflineBench {
  private OfflineBench() {}

  public static OfflineReport run(Engine engine, List<BenchRequest> requests) throws Exception {
    EngineStats before = engine.stats();
    AtomicInteger peak = new AtomicInteger(before.kvBlocksUsed());
    Thread sampler = Thread.ofPlatform().daemon().name("bench-kv-sampler").start(() -> {
      while (!Thread.currentThread().isInterrupted()) {
        peak.accumulateAndGet(engine.stats().kvBlocksUsed(), Math::max);
        try {
          Thread.sleep(1);
        } catch (InterruptedException e) {
          return;
        }
      }
    });
    long in = 0, out = 0;
    long t0 = System.nanoTime();
    try (ProgressBar bar = new ProgressBar("offline", requests.size());
        var ex = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<long[]>> fs = new ArrayList<>();
      for (int i = 0; i < requests.size(); i++) {
        BenchRequest r = requests.get(i);
        SamplingParams p = SamplingParams.builder().temperature(0f).ignoreEos(true).maxTokens(r.outputTokens()).build();
        RequestStream s = engine.submit("bench-" + i, Prompt.text(r.prompt()), p, 0);
        fs.add(ex.submit(() -> {
          long prompt = 0, generated = 0;
          for (RequestOutput o; (o = s.next()) != null; ) {
            prompt = o.promptTokenIds().length;
            for (CompletionDelta d : o.deltas()) generated += d.newTokenIds().length;
          }
          bar.step();
          return new long[] {prompt, generated};
        }));
      }
      for (Future<long[]> f : fs) {
        long[] c = f.get();
        in += c[0];
        out += c[1];
      }
    } finally {
      sampler.interrupt();
      sampler.join();
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    EngineStats after = engine.stats();
    peak.accumulateAndGet(after.kvBlocksUsed(), Math::max);
    long queries = after.prefixCacheQueries() - before.prefixCacheQueries();
    long hits = after.prefixCacheHits() - before.prefixCacheHits();
    double stepS = (after.stepNanos() - before.stepNanos()) / 1e9;
    double executeS = (after.executeNanos() - before.executeNanos()) / 1e9;
    return new OfflineReport(requests.size(), seconds, in, out, peak.get(), after.kvBlocksTotal(),
        after.numPreemptions() - before.numPreemptions(), queries == 0 ? Double.NaN : (double) hits / queries,
        after.numSteps() - before.numSteps(), stepS, stepS - executeS);
  }
}
