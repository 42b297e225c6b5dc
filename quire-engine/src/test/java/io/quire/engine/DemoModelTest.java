package io.quire.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quire.backend.cpu.CpuBackend;
import io.quire.testkit.Fixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The embedded demo model (models/quire-demo/1) against transformers' greedy run on the same files. */
class DemoModelTest {
  @Test
  void greedyOutputEqualsTransformers() throws Exception {
    Path root = Fixtures.testdata().getParent();
    JsonNode golden = new ObjectMapper().readTree(Files.readString(root.resolve("tools/demo-model/results/golden.json")));
    int max = golden.get("max_new_tokens").asInt();
    SamplingParams greedy = SamplingParams.builder().temperature(0f).maxTokens(max).build();
    EngineConfig cfg = EngineConfig.cpuDefaults(root.resolve("models/quire-demo/1")).withNumKvBlocks(128);
    try (CpuBackend backend = new CpuBackend(); Engine engine = Engine.start(cfg, backend)) {
      int i = 0;
      for (JsonNode c : golden.get("cases")) {
        EngineTest.Result r = EngineTest.drain(engine.submit("p" + i++, Prompt.text(c.get("prompt").asText()), greedy, 0));
        assertArrayEquals(Fixtures.ints(c.get("prompt_token_ids")), r.promptIds(), c.get("prompt").asText());
        assertArrayEquals(Fixtures.ints(c.get("token_ids")), r.tokens().get(0), c.get("prompt").asText());
        assertEquals(c.get("text").asText(), r.texts().get(0));
      }
      for (JsonNode c : golden.get("chat_cases")) {
        int[] prompt = Fixtures.ints(c.get("prompt_token_ids"));
        assertArrayEquals(prompt, engine.tokenizer().encode(c.get("rendered").asText(), false), "rendered chat prompt ids");
        EngineTest.Result r = EngineTest.drain(engine.submit("c" + i++, Prompt.tokens(prompt), greedy, 0));
        assertArrayEquals(Fixtures.ints(c.get("token_ids")), r.tokens().get(0), c.get("rendered").asText());
      }
    }
  }
}
