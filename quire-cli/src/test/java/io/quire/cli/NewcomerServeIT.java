package io.quire.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * What a newcomer does after cloning: {@code bin/quire serve} with no arguments, then the seed's
 * style of request against the embedded demo model. Runs after {@code package} (failsafe), so
 * bin/quire finds the built jars as it would after its first-use build.
 */
class NewcomerServeIT {
  static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void bareServeAnswersInEnglishOverHttp() throws Exception {
    Path root = Path.of("").toAbsolutePath();
    while (!Files.exists(root.resolve("bin/quire"))) root = root.getParent();
    for (int port : new int[] {8000, 8002}) {
      try (ServerSocket s = new ServerSocket(port)) {
        s.setReuseAddress(true);
      } catch (java.io.IOException e) {
        fail("port " + port + " is busy; `bin/quire serve` with no arguments needs it free");
      }
    }
    ProcessBuilder pb = new ProcessBuilder(root.resolve("bin/quire").toString(), "serve")
        .directory(root.toFile()).redirectErrorStream(true).redirectOutput(new File("target/newcomer-serve.log"));
    pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
    Process p = pb.start();
    try {
      HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
      boolean ready = false;
      for (int i = 0; i < 300 && !ready && p.isAlive(); i++) {
        try {
          ready = http.send(HttpRequest.newBuilder(URI.create("http://localhost:8000/v2/health/ready")).build(),
              HttpResponse.BodyHandlers.ofString()).statusCode() == 200;
        } catch (java.io.IOException e) {
          Thread.sleep(1000);
        }
      }
      assertTrue(ready, "server ready within 300 s; log: " + Files.readString(Path.of("target/newcomer-serve.log")));
      String body = """
          {"text_input": [{"name": "input_text", "datatype": "BYTES", "data": ["The old house on the hill was"]}],
           "parameters": {"max_new_tokens": 40, "min_tokens": 10, "seed": 7, "exclude_input_in_output": true}}""";
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://localhost:8000/v2/models/quire-demo/generate"))
          .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, r.statusCode(), r.body());
      String text = JSON.readTree(r.body()).get("text_output").asText();
      long words = text.strip().split("\\s+").length;
      long letters = text.chars().filter(c -> (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')).count();
      assertTrue(words >= 5 && letters > text.length() / 2, "an English completion, got: " + text);
      JsonNode chat = JSON.readTree(http.send(HttpRequest.newBuilder(URI.create("http://localhost:8000/v1/chat/completions"))
          .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
              "{\"model\":\"quire-demo\",\"messages\":[{\"role\":\"user\",\"content\":\"Tell me about the city.\"}],\"max_tokens\":30,\"temperature\":0}"))
          .build(), HttpResponse.BodyHandlers.ofString()).body());
      assertTrue(chat.at("/choices/0/message/content").asText().strip().length() > 10, chat.toString());
      // The served model's greedy output equals transformers' for the same files.
      JsonNode golden = JSON.readTree(Files.readString(root.resolve("tools/demo-model/results/golden.json"))).get("cases").get(0);
      String greedy = "{\"text_input\": " + JSON.writeValueAsString(golden.get("prompt").asText())
          + ", \"parameters\": {\"max_new_tokens\": 40, \"temperature\": 0, \"exclude_input_in_output\": true}}";
      HttpResponse<String> g = http.send(HttpRequest.newBuilder(URI.create("http://localhost:8000/v2/models/quire-demo/generate"))
          .POST(HttpRequest.BodyPublishers.ofString(greedy)).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(golden.get("text").asText(), JSON.readTree(g.body()).get("text_output").asText(), g.body());
    } finally {
      p.destroy();
      if (!p.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)) p.destroyForcibly();
    }
  }
}
