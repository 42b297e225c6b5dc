package io.quire.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quire.testkit.Fixtures;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** `quire generate` and `quire tokenize` as a user runs them, against HF's recorded outputs. */
class CliTest {
  static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path tmp;
  static Path model;
  static JsonNode golden;

  @BeforeAll
  static void buildFixture() throws Exception {
    model = Fixtures.hfFolder("qwen3-tiny", tmp.resolve("qwen3-tiny"));
    golden = Fixtures.golden("qwen3-tiny");
  }

  record Run(int exit, String out, String err) {}

  static Run run(String... args) {
    PrintStream saved = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    StringWriter err = new StringWriter();
    try {
      System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
      CommandLine cl = new CommandLine(new Main());
      cl.setErr(new PrintWriter(err, true));
      cl.setExecutionExceptionHandler((ex, cmd, parse) -> {
        cmd.getErr().println("quire: " + Errors.oneLine(ex));
        return 1;
      });
      int code = cl.execute(args);
      return new Run(code, buf.toString(StandardCharsets.UTF_8), err.toString());
    } finally {
      System.setOut(saved);
    }
  }

  @Test
  void generateJsonEqualsTransformersGreedy() throws Exception {
    JsonNode c = golden.get("cases").get(1);
    Run r = run("generate", "--model", model.toString(), "--prompt", c.get("prompt").asText(),
        "--max-tokens", "16", "--temperature", "0", "--device", "cpu", "--num-kv-blocks", "64", "--json");
    assertEquals(0, r.exit(), r.err());
    JsonNode j = JSON.readTree(r.out());
    assertEquals(c.get("prompt_ids"), j.get("prompt_token_ids"));
    assertEquals(c.get("greedy_ids"), j.get("token_ids"));
    assertEquals("length", j.get("finish_reason").asText());
    assertTrue(j.get("text").isTextual());
  }

  @Test
  void tokenizePrintsIdsAsJsonArray() throws Exception {
    JsonNode c = golden.get("cases").get(0);
    Run r = run("tokenize", "--model", model.toString(), "--add-special-tokens", c.get("prompt").asText());
    assertEquals(0, r.exit(), r.err());
    assertEquals(c.get("prompt_ids"), JSON.readTree(r.out()));
  }

  @Test
  void userMistakesAreOneLineErrors() {
    Run missing = run("generate", "--model", tmp.resolve("nope").toString(), "--prompt", "hi");
    assertEquals(1, missing.exit());
    assertEquals(1, missing.err().strip().lines().count(), missing.err());
    assertTrue(missing.err().contains("config.json"), missing.err());
    Run badTemp = run("generate", "--model", model.toString(), "--prompt", "hi", "--temperature", "-1", "--num-kv-blocks", "16");
    assertEquals(1, badTemp.exit());
    assertTrue(badTemp.err().contains("temperature"), badTemp.err());
    Run badDevice = run("generate", "--model", model.toString(), "--prompt", "hi", "--device", "tpu");
    assertTrue(badDevice.err().contains("--device"), badDevice.err());
    Run badUtil = run("generate", "--model", model.toString(), "--prompt", "hi", "--gpu-memory-utilization", "1.5");
    assertEquals(1, badUtil.exit());
    assertTrue(badUtil.err().contains("--gpu-memory-utilization must be in (0, 1], got 1.5"), badUtil.err());
    Run badSpace = run("generate", "--model", model.toString(), "--prompt", "hi", "--kv-cache-space", "0");
    assertTrue(badSpace.err().contains("--kv-cache-space must be > 0"), badSpace.err());
    Run badKv = run("generate", "--model", model.toString(), "--prompt", "hi", "--kv-cache-dtype", "fp8_e5m2");
    assertEquals(1, badKv.exit());
    assertTrue(badKv.err().contains("--kv-cache-dtype must be auto, fp8 or fp8_e4m3"), badKv.err());
  }

  /** kv_cache_dtype fp8 on the CPU: an e4m3 cache; the request runs to its length. */
  @Test
  void generateWithAnFp8KvCache() throws Exception {
    JsonNode c = golden.get("cases").get(1);
    Run r = run("generate", "--model", model.toString(), "--prompt", c.get("prompt").asText(), "--max-tokens", "16",
        "--temperature", "0", "--device", "cpu", "--kv-cache-dtype", "fp8", "--num-kv-blocks", "64", "--json");
    assertEquals(0, r.exit(), r.err());
    JsonNode j = JSON.readTree(r.out());
    assertEquals(c.get("prompt_ids"), j.get("prompt_token_ids"));
    String finish = j.get("finish_reason").asText();
    assertTrue(finish.equals("length") ? j.get("token_ids").size() == 16 : finish.equals("stop"), r.out());
  }
}
