package io.quire.tokenizer;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Encoding a 10,000-word text takes milliseconds: about 15 to 30 ms of CPU on a 2-core dev box
 * (llama2 is the slowest: with Metaspace split off the whole text is one BPE word). The asserted
 * wall-clock bound is loose for busy CI machines.
 */
class EncodeSpeedTest {
  private static final long BOUND_MS = 1_000;

  @ParameterizedTest
  @ValueSource(strings = {"llama2", "llama3", "qwen3"})
  void encodesTenThousandWordsInMilliseconds(String name) {
    Tokenizer tok = TestData.tokenizer(name, Tokenizer.Mode.AUTO_TOKENIZER);
    String text = tenThousandWords(name);
    int[] ids = tok.encode(text, false);
    var threads = java.lang.management.ManagementFactory.getThreadMXBean();
    long best = Long.MAX_VALUE;
    long bestCpu = Long.MAX_VALUE;
    for (int i = 0; i < 8; i++) {
      long c0 = threads.getCurrentThreadCpuTime();
      long t0 = System.nanoTime();
      tok.encode(text, false);
      best = Math.min(best, System.nanoTime() - t0);
      bestCpu = Math.min(bestCpu, threads.getCurrentThreadCpuTime() - c0);
    }
    System.out.printf(
        "%s: 10000 words -> %d ids in %.1f ms (%.1f ms cpu)%n", name, ids.length, best / 1e6, bestCpu / 1e6);
    assertTrue(ids.length > 10_000);
    assertTrue(best / 1_000_000 < BOUND_MS, name + " took " + best / 1_000_000 + " ms");
  }

  private static String tenThousandWords(String name) {
    List<String> words = new ArrayList<>();
    for (JsonNode c : TestData.golden(name).path("cases")) {
      for (String w : c.path("text").asText().split(" ")) if (!w.isEmpty() && !w.contains("<")) words.add(w);
    }
    Random random = new Random(42);
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 10_000; i++) {
      sb.append(words.get(random.nextInt(words.size()))).append(random.nextInt(12) == 0 ? "\n" : " ");
    }
    return sb.toString();
  }
}
