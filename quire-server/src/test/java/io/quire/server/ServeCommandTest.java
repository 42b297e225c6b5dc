package io.quire.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** tritonserver's flags; --model serves one HF folder; --api-key guards the API. */
class ServeCommandTest {
  @TempDir Path tmp;

  @Test
  void serveOneHfFolderWithApiKey() throws Exception {
    Path hf = TestModels.hfFolder("llama2-tiny", tmp.resolve("tiny"));
    ServeCommand cmd = new ServeCommand();
    new CommandLine(cmd).parseArgs("--model", hf.toString(), "--http-port", "0", "--metrics-port", "0",
        "--grpc-port", "9001", "--device", "cpu", "--api-key", "sekret", "--host", "127.0.0.1",
        "--num-gpu-blocks-override", "64", "--max-model-len", "128");
    try (QuireServer s = cmd.startServer()) {
      HttpClient c = HttpClient.newHttpClient();
      String base = "http://127.0.0.1:" + s.httpPort();
      var noKey = c.send(HttpRequest.newBuilder(URI.create(base + "/v1/models")).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(401, noKey.statusCode());
      assertTrue(noKey.body().contains("\"error\""));
      var ok = c.send(HttpRequest.newBuilder(URI.create(base + "/v1/models")).header("Authorization", "Bearer sekret").build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, ok.statusCode());
      assertTrue(ok.body().contains("\"id\":\"tiny\""), ok.body());
      var live = c.send(HttpRequest.newBuilder(URI.create(base + "/v2/health/live")).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, live.statusCode());
      var ready = c.send(HttpRequest.newBuilder(URI.create(base + "/v2/health/ready")).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, ready.statusCode());
    }
  }

  @Test
  void rejectsBadFlagCombinations() {
    ServeCommand cmd = new ServeCommand();
    CommandLine cl = new CommandLine(cmd);
    cl.parseArgs("--model", "x", "--model-control-mode", "poll");
    assertThrows(cmd);
    cl.parseArgs("--model", "x", "--device", "tpu");
    assertThrows(cmd);
    cl.parseArgs("--model-repository", "r", "--load-model", "m");
    assertThrows(cmd);
  }

  private static void assertThrows(ServeCommand cmd) {
    org.junit.jupiter.api.Assertions.assertThrows(CommandLine.ParameterException.class, cmd::startServer);
  }

  @Test
  void helpListsTritonFlags() {
    String usage = new CommandLine(new ServeCommand()).getUsageMessage();
    for (String f : new String[] {"--model-repository", "--model", "--http-port", "--grpc-port", "--metrics-port",
        "--model-control-mode", "--load-model", "--api-key", "--device"}) {
      assertTrue(usage.contains(f), f);
    }
    assertNotEquals(-1, usage.indexOf("gRPC is not served yet"));
  }
}
