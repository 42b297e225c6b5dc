package io.quire.bench.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quire.testkit.Fixtures;
import io.quire.bench.workload.BenchRequest;
import io.quire.bench.workload.LengthDistribution;
import io.quire.bench.workload.Workload;
import io.quire.server.QuireServer;
import io.quire.server.http.ServerOptions;
import io.quire.server.repository.EngineLauncher;
import io.quire.server.repository.ModelRepository;
import io.quire.bench.report.SweepChart;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** quire bench serve against the real server (llama2-tiny fixture on the CPU backend) over HTTP. */
class ServeBenchTest {
  static final String MODEL = "tiny";

  @TempDir static Path tmp;
  static QuireServer server;
  static String url;

  @BeforeAll
  static void start() throws Exception {
    Path hf = Fixtures.hfFolder("llama2-tiny", tmp.resolve("llama2-tiny"));
    ModelRepository repo = ModelRepository.ofModelFolder(hf, MODEL, Map.of("max_model_len", 256, "num_gpu_blocks_override", 512),
        new ModelRepository.Options("cpu", Map.of()), new EngineLauncher());
    server = QuireServer.start(repo, ServerOptions.defaults(), "127.0.0.1", 0, 0, List.of("*"));
    url = "http://127.0.0.1:" + server.httpPort();
  }

  @AfterAll
  static void stop() {
    if (server != null) server.close();
  }

  /** The model's totals on the server's Prometheus endpoint, summed over label sets. */
  static Map<String, Double> metrics() throws Exception {
    String text = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.metricsPort() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
    Map<String, Double> m = new java.util.HashMap<>();
    for (String name : List.of("vllm:prompt_tokens_total", "vllm:generation_tokens_total", "nv_inference_request_success",
        "vllm:request_success_total")) {
      double sum = 0;
      Matcher x = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{([^}]*)\\} (\\S+)$").matcher(text);
      while (x.find()) if (x.group(1).contains("model=\"" + MODEL + "\"")) sum += Double.parseDouble(x.group(2));
      m.put(name, sum);
    }
    return m;
  }

  static void assertServerSaw(Map<String, Double> before, ServeReport r, int requests) throws Exception {
    Map<String, Double> after = metrics();
    assertEquals(requests, r.completed());
    assertEquals(0, r.failed(), r.errors() + " " + r.errorExamples());
    assertEquals(r.completed(), after.get("nv_inference_request_success") - before.get("nv_inference_request_success"));
    assertEquals(r.completed(), after.get("vllm:request_success_total") - before.get("vllm:request_success_total"));
    assertEquals(r.totalInputTokens(), after.get("vllm:prompt_tokens_total") - before.get("vllm:prompt_tokens_total"));
    assertEquals(r.totalOutputTokens(), after.get("vllm:generation_tokens_total") - before.get("vllm:generation_tokens_total"));
  }

  static List<BenchRequest> workload(ServerTarget t, int n, long seed) {
    return new Workload.Synthetic(n, LengthDistribution.parse("uniform:5-60"), LengthDistribution.parse("uniform:2-24"), seed)
        .build(t.tokenCounter());
  }

  @Test
  void openAiRunCountsWhatTheServerCounts() throws Exception {
    ServerTarget t = ServerTarget.connect(url, Api.OPENAI, null);
    assertEquals(MODEL, t.model(), "the one served model is taken from /v1/models");
    List<BenchRequest> reqs = workload(t, 16, 1);
    Map<String, Double> before = metrics();
    ServeReport r;
    try (StreamingClient c = new StreamingClient(t, Duration.ofSeconds(60))) {
      r = new ServeBenchmark(c).run(reqs, new ServeBenchmark.Settings(Arrivals.allAtOnce(), 4, Slo.parse("ttft_ms=60000,tpot_ms=60000")),
          Sweep.single()).get(0);
    }
    assertServerSaw(before, r, reqs.size());
    // ignore_eos + max_tokens: every request generated exactly its output length.
    assertEquals(reqs.stream().mapToLong(BenchRequest::outputTokens).sum(), r.totalOutputTokens());
    assertEquals(reqs.stream().mapToLong(BenchRequest::inputTokens).sum(), r.totalInputTokens());
    assertEquals(r.requestThroughput(), r.goodput(), 1e-9, "generous SLOs: every request is good");
    assertEquals(16, r.ttftMs().count());
    assertTrue(r.ttftMs().p50() <= r.ttftMs().p99() && r.e2elMs().p99() >= r.ttftMs().p99());
    assertTrue(r.itlMs().count() > 0 && r.tpotMs().count() > 0);
    System.out.println(r.format("Serving Benchmark Result"));
  }

  @Test
  void tritonPoissonRunCountsWhatTheServerCounts() throws Exception {
    ServerTarget t = ServerTarget.connect(url, Api.TRITON, MODEL);
    List<BenchRequest> reqs = workload(t, 12, 2);
    Map<String, Double> before = metrics();
    ServeReport r;
    try (StreamingClient c = new StreamingClient(t, Duration.ofSeconds(60))) {
      r = new ServeBenchmark(c).run(reqs, new ServeBenchmark.Settings(new Arrivals(50, true, 2), 0, Slo.parse("ttft_ms=0.001")),
          Sweep.single()).get(0);
    }
    assertServerSaw(before, r, reqs.size());
    assertEquals(reqs.stream().mapToLong(BenchRequest::outputTokens).sum(), r.totalOutputTokens());
    assertEquals(0, r.goodput(), "a 1 microsecond TTFT objective is never met");
  }

  @Test
  void concurrencySweepWritesJsonFiguresAndAChartWithItsCurves() throws Exception {
    ServerTarget t = ServerTarget.connect(url, Api.OPENAI, MODEL);
    List<BenchRequest> reqs = workload(t, 8, 3);
    Sweep sweep = Sweep.parse(Sweep.Kind.CONCURRENCY, "1,2,8");
    List<ServeReport> reports;
    try (StreamingClient c = new StreamingClient(t, Duration.ofSeconds(60))) {
      reports = new ServeBenchmark(c).run(reqs, new ServeBenchmark.Settings(Arrivals.allAtOnce(), 0, null), sweep);
    }
    assertEquals(3, reports.size());
    for (ServeReport r : reports) assertEquals(8, r.completed());
    assertEquals(8.0, reports.get(2).toJson().get("load").asDouble());
    Path png = tmp.resolve("sweep.png");
    ServeBenchmark.writeChart(png, "quire bench serve: tiny (openai)", "synthetic", sweep, reports);
    BufferedImage img = ImageIO.read(png.toFile());
    assertEquals(1200, img.getWidth());
    for (Color c : List.of(SweepChart.BLUE, SweepChart.ORANGE, SweepChart.RED, SweepChart.GREEN, SweepChart.PURPLE)) {
      assertTrue(pixels(img, c) > 200, "curve colour " + c + " drawn: " + pixels(img, c) + " pixels");
    }
  }

  static int pixels(BufferedImage img, Color c) {
    int n = 0;
    for (int y = 0; y < img.getHeight(); y++) for (int x = 0; x < img.getWidth(); x++) if ((img.getRGB(x, y) & 0xffffff) == (c.getRGB() & 0xffffff)) n++;
    return n;
  }

  @Test
  void unreachableServerAndUnknownModelAreOneClearError() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    var e = assertThrows(IllegalArgumentException.class, () -> ServerTarget.connect("http://127.0.0.1:" + port, Api.OPENAI, null));
    assertEquals("cannot connect to http://127.0.0.1:" + port + ": connection refused (is the server running?)", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> ServerTarget.connect(url, Api.OPENAI, "llama-70b"));
    assertEquals("model 'llama-70b' is not served by " + url + "; it serves [tiny]", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> ServerTarget.connect(url + "/", Api.TRITON, "llama-70b"));
    // Triton answers /v2/models/{m}/ready with 400 for a model it does not know.
    assertTrue(e.getMessage().startsWith("model 'llama-70b' is not ready on " + url + " (HTTP 400")
        && e.getMessage().contains("unknown model"), e.getMessage());
  }

  @Test
  void failuresAreCountedByKind() throws Exception {
    ServerTarget t = ServerTarget.connect(url, Api.OPENAI, MODEL);
    // 300 tokens do not fit max_model_len 256: the server answers 400.
    List<BenchRequest> reqs = List.of(new BenchRequest("the ".repeat(299), 300, 4), new BenchRequest("the cat", 3, 4));
    ServeReport r;
    try (StreamingClient c = new StreamingClient(t, Duration.ofSeconds(60))) {
      r = new ServeBenchmark(c).run(reqs, new ServeBenchmark.Settings(Arrivals.allAtOnce(), 0, null), Sweep.single()).get(0);
    }
    assertEquals(1, r.completed());
    assertEquals(Map.of("http_400", 1), r.errors());
    assertTrue(r.errorExamples().get("http_400").contains("max_model_len"), r.errorExamples().toString());
  }
}
