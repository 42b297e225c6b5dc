package io.quire.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quire.backend.cpu.CpuBackend;
import io.quire.testkit.Fixtures;
import io.quire.models.DummyWeights;
import io.quire.spi.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The same weights stored as fp16 or fp32 (the dummy values are exact in every format) give
 * transformers' greedy tokens, as the bf16 files do.
 */
class WeightDtypesTest {
  @TempDir Path tmp;

  @ParameterizedTest
  @EnumSource(value = DType.class, names = {"F16", "F32"})
  void fp16AndFp32CheckpointsGiveTheReferenceTokens(DType dtype) throws Exception {
    String name = "llama2-tiny";
    Path src = Fixtures.modelDir(name);
    Path dir = tmp.resolve(dtype.name());
    ObjectNode config = (ObjectNode) new ObjectMapper().readTree(Files.readString(src.resolve("config.json")));
    DummyWeights.write(dir, config, 0, 1L << 22, dtype); // several shards, with an index
    for (String f : new String[] {"generation_config.json", "tokenizer.json.gz", "tokenizer_config.json"}) {
      Files.copy(src.resolve(f), dir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
    }
    JsonNode golden = Fixtures.golden(name);
    try (CpuBackend backend = new CpuBackend();
        Engine engine = Engine.start(EngineConfig.cpuDefaults(dir).withNumKvBlocks(64), backend)) {
      for (JsonNode c : golden.get("cases")) {
        EngineTest.Result r = EngineTest.drain(engine.submit(c.get("prompt").asText(), Prompt.text(c.get("prompt").asText()),
            SamplingParams.builder().temperature(0f).maxTokens(16).build(), 0));
        assertArrayEquals(Fixtures.ints(c.get("greedy_ids")), r.tokens().get(0), dtype + ": " + c.get("prompt").asText());
      }
    }
  }
}
