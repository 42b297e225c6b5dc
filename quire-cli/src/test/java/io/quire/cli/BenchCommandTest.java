package io.quire.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quire.models.DummyWeights;
import io.quire.server.QuireServer;
import io.quire.server.http.ServerOptions;
import io.quire.server.repository.EngineLauncher;
import io.quire.server.repository.ModelRepository;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `quire bench offline` and `quire bench serve` as a user runs them (llama2-tiny fixture, CPU). */
class BenchCommandTest {
  static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path tmp;
  static Path model;

  @BeforeAll
  static void buildFixture() throws Exception {
    Path testdata = Path.of("").toAbsolutePath();
    while (!Files.isDirectory(testdata.resolve("testdata"))) testdata = testdata.getParent();
    testdata = testdata.resolve("testdata");
    model = tmp.resolve("llama2-tiny");
    DummyWeights.write(model, (ObjectNode) JSON.readTree(Files.readString(testdata.resolve("models/llama2-tiny/config.json"))), 0, 1L << 40);
    Files.copy(testdata.resolve("tokenizers/llama2/tokenizer.json.gz"), model.resolve("tokenizer.json.gz"));
    Files.copy(testdata.resolve("tokenizers/llama2/tokenizer_config.json"), model.resolve("tokenizer_config.json"));
  }

  @Test
  void offlineReportsExactTokenTotalsAndKvFigures() throws Exception {
    Path json = tmp.resolve("offline.json");
    CliTest.Run r = CliTest.run("bench", "offline", "--model", model.toString(), "--device", "cpu", "--num-kv-blocks", "64",
        "--num-prompts", "6", "--input-len", "20", "--output-len", "5", "--result-json", json.toString());
    assertEquals(0, r.exit(), r.err());
    assertTrue(r.out().contains("Peak KV blocks in use:"), r.out());
    JsonNode res = JSON.readTree(json.toFile()).get("result");
    assertEquals(6, res.get("requests").asInt());
    assertEquals(6 * 20, res.get("total_input_tokens").asLong());
    assertEquals(6 * 5, res.get("total_output_tokens").asLong());
    // Six requests of 24 tokens in 16-token blocks: two blocks each while all run together.
    assertTrue(res.get("peak_kv_blocks_used").asInt() >= 2 && res.get("peak_kv_blocks_used").asInt() <= 12, res.toString());
    assertEquals(0, res.get("preemptions").asInt());
  }

  @Test
  void serveRateSweepWritesJsonAndChart() throws Exception {
    ModelRepository repo = ModelRepository.ofModelFolder(model, "tiny", Map.of("max_model_len", 128, "num_gpu_blocks_override", 128),
        new ModelRepository.Options("cpu", Map.of()), new EngineLauncher());
    try (QuireServer s = QuireServer.start(repo, ServerOptions.defaults(), "127.0.0.1", 0, 0, List.of("*"))) {
      Path json = tmp.resolve("sweep.json");
      CliTest.Run r = CliTest.run("bench", "serve", "--url", "http://127.0.0.1:" + s.httpPort(), "--api", "triton",
          "--num-prompts", "4", "--input-len", "uniform:4-16", "--output-len", "4", "--sweep-rates", "20,inf",
          "--slo", "ttft_ms=60000", "--result-json", json.toString());
      assertEquals(0, r.exit(), r.err());
      JsonNode j = JSON.readTree(json.toFile());
      assertEquals("tiny", j.get("model").asText());
      assertEquals(2, j.get("results").size());
      assertEquals(20.0, j.get("results").get(0).get("load").asDouble());
      assertTrue(j.get("results").get(1).get("load").isNull(), "inf is null in JSON");
      for (JsonNode p : j.get("results")) {
        assertEquals(4, p.get("completed").asInt());
        assertEquals(16, p.get("total_output_tokens").asInt());
      }
      BufferedImage png = ImageIO.read(tmp.resolve("sweep.png").toFile());
      assertEquals(480, png.getHeight());
      CliTest.Run bad = CliTest.run("bench", "serve", "--url", "http://127.0.0.1:" + s.httpPort(), "--model", "other");
      assertEquals(1, bad.exit());
      assertEquals("quire: model 'other' is not served by http://127.0.0.1:" + s.httpPort() + "; it serves [tiny]\n", bad.err());
    }
  }
}
