package io.quire.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.quire.backend.cpu.CpuBackend;
import io.quire.engine.core.EngineOverloadedException;
import io.quire.testkit.Fixtures;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The whole engine (tokenizer, scheduler, paged KV cache, CPU model, sampler) end to end. */
class EngineTest {
  static String[] models() {
    return Fixtures.MODELS.toArray(String[]::new);
  }

  /** All tokens and text of a finished request, per sequence index. */
  record Result(int[] promptIds, List<int[]> tokens, List<String> texts, List<FinishReason> reasons, RequestMetrics metrics) {}

  static Result drain(RequestStream s) throws InterruptedException {
    List<List<Integer>> toks = new ArrayList<>();
    List<StringBuilder> texts = new ArrayList<>();
    List<FinishReason> reasons = new ArrayList<>();
    int[] prompt = null;
    RequestMetrics m = null;
    for (RequestOutput o; (o = s.poll(120, TimeUnit.SECONDS)) != null; ) {
      prompt = o.promptTokenIds();
      for (CompletionDelta d : o.deltas()) {
        while (toks.size() <= d.index()) {
          toks.add(new ArrayList<>());
          texts.add(new StringBuilder());
          reasons.add(null);
        }
        for (int t : d.newTokenIds()) toks.get(d.index()).add(t);
        texts.get(d.index()).append(d.newText());
        if (d.finishReason() != null) reasons.set(d.index(), d.finishReason());
      }
      if (o.finished()) {
        m = o.metrics();
        break;
      }
    }
    if (m == null) throw new AssertionError("request did not finish within 120 s");
    return new Result(prompt, toks.stream().map(l -> l.stream().mapToInt(Integer::intValue).toArray()).toList(),
        texts.stream().map(StringBuilder::toString).toList(), reasons, m);
  }

  static SamplingParams greedy(int maxTokens) {
    return SamplingParams.builder().temperature(0f).maxTokens(maxTokens).build();
  }

  @ParameterizedTest
  @MethodSource("models")
  void greedyOutputEqualsTransformers(String name) throws Exception {
    JsonNode golden = Fixtures.golden(name);
    try (CpuBackend backend = new CpuBackend();
        Engine engine = Engine.start(EngineConfig.cpuDefaults(Fixtures.modelDir(name)).withNumKvBlocks(256), backend)) {
      List<RequestStream> streams = new ArrayList<>();
      int i = 0;
      for (JsonNode c : golden.get("cases")) {
        streams.add(engine.submit("r" + i++, Prompt.text(c.get("prompt").asText()), greedy(16), 0));
      }
      i = 0;
      for (JsonNode c : golden.get("cases")) {
        Result r = drain(streams.get(i++));
        assertArrayEquals(Fixtures.ints(c.get("prompt_ids")), r.promptIds(), name + " prompt ids");
        int[] want = Fixtures.ints(c.get("greedy_ids"));
        assertArrayEquals(want, r.tokens().get(0), name + ": " + c.get("prompt").asText());
        assertEquals(want.length < 16 ? FinishReason.STOP : FinishReason.LENGTH, r.reasons().get(0));
        // As vLLM, the text is decoded in the prompt's context (a SentencePiece word keeps its space).
        int[] all = java.util.stream.IntStream.concat(Arrays.stream(r.promptIds()), Arrays.stream(want)).toArray();
        String full = engine.tokenizer().decode(all, true), prefix = engine.tokenizer().decode(r.promptIds(), true);
        assertTrue(full.startsWith(prefix), full);
        assertEquals(full.substring(prefix.length()), r.texts().get(0), "streamed text equals the full decode");
      }
      awaitIdle(engine);
      assertEquals(0, engine.stats().kvBlocksUsed(), "every block back in the pool");
    }
  }

  /**
   * A greedy request gives the same tokens alone and among 64 others, with chunked prefill (a
   * 48-token step budget) and preemption forced by a pool too small for all of them.
   */
  @Test
  void greedyRequestIsBatchInvariantUnderChunkingAndPreemption() throws Exception {
    String name = "qwen2-tiny";
    JsonNode c = Fixtures.golden(name).get("cases").get(3); // the long prompt
    int[] alone;
    try (CpuBackend backend = new CpuBackend();
        Engine engine = Engine.start(EngineConfig.cpuDefaults(Fixtures.modelDir(name)).withNumKvBlocks(256), backend)) {
      alone = drain(engine.submit("alone", Prompt.text(c.get("prompt").asText()), greedy(24), 0)).tokens().get(0);
    }
    assertArrayEquals(Arrays.copyOf(Fixtures.ints(c.get("greedy_ids")), 16), Arrays.copyOf(alone, 16));
    EngineConfig small = EngineConfig.cpuDefaults(Fixtures.modelDir(name))
        .withNumKvBlocks(40).withMaxNumBatchedTokens(48).withMaxNumSeqs(32).withPrefixCaching(false);
    try (CpuBackend backend = new CpuBackend(); Engine engine = Engine.start(small, backend)) {
      List<RequestStream> others = new ArrayList<>();
      java.util.SplittableRandom rnd = new java.util.SplittableRandom(7);
      for (int i = 0; i < 64; i++) {
        String p = "Request " + i + " " + "words ".repeat(1 + rnd.nextInt(20));
        SamplingParams sp = i % 2 == 0 ? greedy(8 + rnd.nextInt(24))
            : SamplingParams.builder().temperature(0.8f).seed((long) i).maxTokens(8 + rnd.nextInt(24)).build();
        others.add(engine.submit("o" + i, Prompt.text(p), sp, 0));
        if (i == 20) others.add(engine.submit("target", Prompt.text(c.get("prompt").asText()), greedy(24), 0));
      }
      int[] batched = null;
      for (RequestStream s : others) {
        Result r = drain(s);
        if (s.requestId().equals("target")) batched = r.tokens().get(0);
      }
      assertArrayEquals(alone, batched);
      EngineStats st = engine.stats();
      assertTrue(st.numPreemptions() > 0, "the small pool forced preemption: " + st);
      awaitIdle(engine);
      assertEquals(0, engine.stats().kvBlocksUsed());
    }
  }

  @Test
  void seededSamplingRepeatsAndNGivesDistinctSequences() throws Exception {
    try (CpuBackend backend = new CpuBackend();
        Engine engine = Engine.start(EngineConfig.cpuDefaults(Fixtures.modelDir("llama2-tiny")).withNumKvBlocks(128), backend)) {
      SamplingParams p = SamplingParams.builder().temperature(1.0f).seed(1234L).n(3).maxTokens(12).ignoreEos(true).build();
      Result a = drain(engine.submit("a", Prompt.text("The capital of France is"), p, 0));
      Result b = drain(engine.submit("b", Prompt.text("The capital of France is"), p, 0));
      assertEquals(3, a.tokens().size());
      for (int i = 0; i < 3; i++) {
        assertArrayEquals(a.tokens().get(i), b.tokens().get(i), "same seed, same tokens");
        assertEquals(12, a.tokens().get(i).length);
        assertEquals(FinishReason.LENGTH, a.reasons().get(i));
      }
      assertFalse(Arrays.equals(a.tokens().get(0), a.tokens().get(1)) && Arrays.equals(a.tokens().get(1), a.tokens().get(2)),
          "n sequences are sampled independently");
      assertTrue(engine.stats().prefixCacheHits() > 0 || a.metrics().numCachedTokens() >= 0);
    }
  }

  @Test
  void abortFreesBlocksAndEndsTheStream() throws Exception {
    try (CpuBackend backend = new CpuBackend();
        Engine engine = Engine.start(EngineConfig.cpuDefaults(Fixtures.modelDir("llama3-tiny")).withNumKvBlocks(128), backend)) {
      RequestStream s = engine.submit("x", Prompt.text("Once upon a time"),
          SamplingParams.builder().temperature(0f).maxTokens(100000).ignoreEos(true).build(), 0);
      RequestOutput first = s.poll(60, TimeUnit.SECONDS);
      assertTrue(first != null && !first.finished());
      s.cancel();
      Result r = drain(s);
      assertEquals(FinishReason.ABORT, r.reasons().get(0));
      awaitIdle(engine);
      assertEquals(0, engine.stats().kvBlocksUsed());
      assertEquals(1, engine.stats().requestsFinishedAbort());
    }
  }

  @Test
  void badRequestsAreRefusedWithTheFieldAndLimit() throws Exception {
    EngineConfig cfg = EngineConfig.cpuDefaults(Fixtures.modelDir("llama2-tiny")).withNumKvBlocks(64).withMaxModelLen(64).withMaxWaiting(2);
    try (CpuBackend backend = new CpuBackend(); Engine engine = Engine.start(cfg, backend)) {
      IllegalArgumentException tooLong = assertThrows(IllegalArgumentException.class,
          () -> engine.submit("l", Prompt.text("word ".repeat(100)), greedy(4), 0));
      assertTrue(tooLong.getMessage().contains("max_model_len is 64"), tooLong.getMessage());
      IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
          () -> engine.submit("e", Prompt.tokens(new int[0]), greedy(4), 0));
      assertTrue(empty.getMessage().contains("prompt"), empty.getMessage());
      IllegalArgumentException oov = assertThrows(IllegalArgumentException.class,
          () -> engine.submit("v", Prompt.tokens(new int[] {1, 999999}), greedy(4), 0));
      assertTrue(oov.getMessage().contains("999999"), oov.getMessage());
      IllegalArgumentException temp = assertThrows(IllegalArgumentException.class,
          () -> SamplingParams.builder().temperature(-1f).build());
      assertTrue(temp.getMessage().contains("temperature"), temp.getMessage());
      // Bounded waiting queue: the third concurrent submission is refused as overloaded.
      List<RequestStream> ok = new ArrayList<>();
      SamplingParams longRun = SamplingParams.builder().temperature(0f).maxTokens(40).ignoreEos(true).build();
      EngineOverloadedException over = null;
      for (int i = 0; i < 50 && over == null; i++) {
        try {
          ok.add(engine.submit("w" + i, Prompt.text("hello"), longRun, 0));
        } catch (EngineOverloadedException e) {
          over = e;
        }
      }
      assertNotEquals(null, over, "a full waiting queue refuses new requests");
      assertTrue(over.getMessage().contains("overloaded"), over.getMessage());
      for (RequestStream s : ok) drain(s);
      // And it keeps serving afterwards.
      assertEquals(4, drain(engine.submit("after", Prompt.text("hello"), greedy(4), 0)).tokens().get(0).length);
    }
  }

  static void awaitIdle(Engine engine) throws InterruptedException {
    for (int i = 0; i < 200 && (engine.stats().numRunning() > 0 || engine.stats().kvBlocksUsed() > 0); i++) Thread.sleep(10);
  }
}
