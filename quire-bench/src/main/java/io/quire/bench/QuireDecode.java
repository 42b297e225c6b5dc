package io.quire.bench;

import io.quire.backend.cpu.CpuBackend;
import io.quire.engine.Engine;
import io.quire.engine.EngineConfig;
import io.quire.engine.Prompt;
import io.quire.engine.RequestMetrics;
import io.quire.engine.RequestOutput;
import io.quire.engine.RequestStream;
import io.quire.engine.SamplingParams;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Greedy decode through Quire's engine (scheduler, model, sampler, output processing) on the CPU backend. */
final class QuireDecode implements AutoCloseable {
  private final Engine engine;
  private int nextId;

  QuireDecode(Path modelDir, int threads, int maxStreams, int maxLen) {
    int blocksPerStream = (maxLen + 15) / 16;
    EngineConfig config = EngineConfig.cpuDefaults(modelDir)
        .withMaxModelLen(maxLen)
        .withNumKvBlocks(2 * maxStreams * blocksPerStream)
        .withMaxNumSeqs(Math.max(maxStreams, 1));
    engine = Engine.start(config, new CpuBackend(threads));
  }

  /** Runs {@code streams} requests at once, each a distinct prompt and exactly {@code tokens} greedy output tokens. */
  DecodeResult run(int streams, int tokens) throws InterruptedException {
    SamplingParams params = SamplingParams.builder().temperature(0f).maxTokens(tokens).ignoreEos(true).build();
    long submitted = System.nanoTime();
    List<RequestStream> open = new ArrayList<>();
    for (int i = 0; i < streams; i++) {
      open.add(engine.submit("bench-" + nextId++, Prompt.text(Prompts.forStream(i)), params, 0));
    }
    long firstToken = Long.MAX_VALUE;
    long lastToken = 0;
    int generated = 0;
    int decoded = 0;
    int promptTokens = 0;
    for (RequestStream s : open) {
      RequestMetrics m = null;
      for (RequestOutput o; (o = s.next()) != null; ) {
        if (o.finished()) m = o.metrics();
      }
      if (m == null || m.numGenerationTokens() != tokens) {
        throw new IllegalStateException("request " + s.requestId() + " ended after " + (m == null ? 0 : m.numGenerationTokens()) + " tokens, expected " + tokens);
      }
      firstToken = Math.min(firstToken, m.firstTokenNanos());
      lastToken = Math.max(lastToken, m.lastTokenNanos());
      generated += m.numGenerationTokens();
      decoded += m.numGenerationTokens() - 1;
      promptTokens = m.numPromptTokens();
    }
    // Engine-side timestamps: the first token of every stream comes out of the prefill step.
    return new DecodeResult(streams, promptTokens, generated, decoded / ((lastToken - firstToken) / 1e9),
        generated / ((lastToken - submitted) / 1e9));
  }

  @Override
  public void close() {
    engine.close();
  }
}
