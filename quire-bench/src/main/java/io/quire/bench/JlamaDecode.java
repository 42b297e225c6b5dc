package io.quire.bench;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.ModelSupport;
import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.safetensors.prompt.PromptContext;
import com.github.tjake.jlama.util.PhysicalCoreExecutor;
import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Jlama 0.8.4 on the same model folder, run by {@link CpuDecodeBench} as a child process because
 * Jlama needs {@code --enable-preview}. Prints one {@link DecodeResult#toLine()} per measurement.
 *
 * <p>Jlama has no batched decode of several sequences (its {@code batchForward} takes one
 * session's prompt), so "streams" are concurrent {@code generate} calls, each with its own session.
 *
 * <p>Arguments: {@code MODEL_DIR THREADS TOKENS STREAMS STREAM_TOKENS}.
 */
public final class JlamaDecode {
  private JlamaDecode() {}

  public static void main(String[] args) throws Exception {
    File dir = new File(args[0]);
    int threads = Integer.parseInt(args[1]);
    int tokens = Integer.parseInt(args[2]);
    int streams = Integer.parseInt(args[3]);
    int streamTokens = Integer.parseInt(args[4]);
    PhysicalCoreExecutor.overrideThreadCount(threads);
    // F32 activations, bf16 weights as stored, bf16 for the quantized side of each dot product.
    AbstractModel model = ModelSupport.loadModel(dir, DType.F32, DType.BF16);
    System.err.println("jlama: model " + model.getModelType() + ", weights " + model.getWorkingDType() + " working, threads " + threads);
    generate(model, 0, 16); // warm-up
    System.out.println(run(model, 1, tokens).toLine());
    if (streams > 1) System.out.println(run(model, streams, streamTokens).toLine());
    System.out.flush();
    System.exit(0); // Jlama's pools are not daemon threads
  }

  private record One(int promptTokens, int generated, long submitted, long first, long last) {}

  private static DecodeResult run(AbstractModel model, int streams, int tokens) throws InterruptedException {
    List<One> results = new ArrayList<>();
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < streams; i++) {
      int stream = i;
      ts.add(Thread.ofPlatform().start(() -> {
        One r = generate(model, stream, tokens);
        synchronized (results) {
          results.add(r);
        }
      }));
    }
    for (Thread t : ts) t.join();
    long submitted = Long.MAX_VALUE, first = Long.MAX_VALUE, last = 0;
    int generated = 0, decoded = 0;
    for (One r : results) {
      submitted = Math.min(submitted, r.submitted());
      first = Math.min(first, r.first());
      last = Math.max(last, r.last());
      generated += r.generated();
      decoded += r.generated() - 1;
    }
    return new DecodeResult(streams, results.getFirst().promptTokens(), generated,
        decoded / ((last - first) / 1e9), generated / ((last - submitted) / 1e9));
  }

  private static One generate(AbstractModel model, int stream, int tokens) {
    String prompt = Prompts.forStream(stream);
    int promptTokens = model.encodePrompt(PromptContext.of(prompt)).length;
    AtomicInteger n = new AtomicInteger();
    AtomicLong first = new AtomicLong();
    AtomicLong last = new AtomicLong();
    long t0 = System.nanoTime();
    // Jlama's limit counts the prompt and stops one past it (measured: limit p + t gives t + 1 tokens); temperature 0 is greedy.
    model.generate(UUID.randomUUID(), PromptContext.of(prompt), 0.0f, promptTokens + tokens - 1, (text, ms) -> {
      long now = System.nanoTime();
      if (n.getAndIncrement() == 0) first.set(now);
      last.set(now);
    });
    return new One(promptTokens, n.get(), t0, first.get(), last.get());
  }
}
