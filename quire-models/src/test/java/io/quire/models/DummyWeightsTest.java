package io.quire.models;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quire.spi.WeightData;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DummyWeightsTest {
  @TempDir Path tmp;

  /** The oracle hashed, in torch, the bf16 bytes of every weight it gave transformers. */
  @ParameterizedTest
  @ValueSource(strings = {"llama2-tiny", "llama3-tiny", "mistral-tiny", "qwen2-tiny", "qwen3-tiny"})
  void writesTheSameWeightsAsTheOracleScript(String fixture) throws Exception {
    Path fx = TestData.root().resolve("models").resolve(fixture);
    ObjectMapper m = new ObjectMapper();
    ObjectNode config = (ObjectNode) m.readTree(Files.readString(fx.resolve("config.json")));
    Path out = tmp.resolve(fixture);
    DummyWeights.write(out, config, 0, 1L << 20); // small shards: exercises the index too
    JsonNode want = m.readTree(Files.readString(fx.resolve("golden.json"))).get("tensor_sha256");
    try (WeightStore store = WeightStore.open(out)) {
      assertEquals(want.size(), store.names().size(), "tensor count");
      for (Iterator<Map.Entry<String, JsonNode>> it = want.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        WeightData w = store.get(e.getKey());
        byte[] bytes = w.data().toArray(ValueLayout.JAVA_BYTE);
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        assertEquals(e.getValue().get("sha256").asText(), sha, e.getKey());
      }
    }
  }
}
