package io.quire.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.model.output.FinishReason;
import io.quire.engine.EngineStats;
import io.quire.server.http.ServerOptions;
import io.quire.server.repository.EngineLauncher;
import io.quire.server.repository.ModelRepository;
import io.quire.server.repository.ServedModel;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The running server over real HTTP, with the tiny fixture models on the CPU backend. */
class ServerHttpTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final String SEED = "llama2-7b-chat-v1.0";
  static final String CHAT = "qwen3";
  static final String BUSY = "busy";
  static final String STORM = "storm";

  @TempDir static Path tmp;
  static QuireServer server;
  static HttpClient client;
  static String base;
  static String metricsBase;

  @BeforeAll
  static void start() throws Exception {
    Path llama2 = TestModels.hfFolder("llama2-tiny", tmp.resolve("hf/llama2-tiny"));
    Path qwen3 = TestModels.hfFolder("qwen3-tiny", tmp.resolve("hf/qwen3-tiny"));
    Path repo = tmp.resolve("repo");
    // The seed's layout: model files next to config.pbtxt (its config with KIND_CPU).
    Path seed = repo.resolve(SEED);
    Files.createDirectories(seed);
    try (var s = Files.list(llama2)) {
      for (Path f : s.toList()) Files.copy(f, seed.resolve(f.getFileName()));
    }
    TestModels.write(seed.resolve("config.pbtxt"), TestModels.SEED_CONFIG);
    TestModels.write(seed.resolve("model.json"), "{\"num_gpu_blocks_override\": 1024, \"max_model_len\": 256}");
    // Triton vLLM backend layout: version folder with model.json naming the HF folder.
    TestModels.write(repo.resolve(CHAT + "/config.pbtxt"), "backend: \"vllm\"\ninstance_group [ { kind: KIND_CPU } ]\n"
        + "parameters { key: \"max_model_len\" value: { string_value: \"128\" } }\n");
    TestModels.write(repo.resolve(CHAT + "/1/model.json"),
        "{\"model\": \"" + qwen3 + "\", \"num_gpu_blocks_override\": 256, \"max_model_len\": 512, \"gpu_memory_utilization\": 0.5}");
    // One running sequence and one waiting: the third concurrent request is refused.
    TestModels.write(repo.resolve(BUSY + "/config.pbtxt"), "backend: \"quire\"\n");
    TestModels.write(repo.resolve(BUSY + "/1/model.json"),
        "{\"model\": \"" + llama2 + "\", \"num_gpu_blocks_override\": 64, \"max_waiting\": 1, \"max_num_seqs\": 1}");
    // The disconnect storm's model: the smallest fixture, a pool of 48 blocks of 16 tokens for 100
    // streams, so that some wait or are preempted while others are dropped.
    TestModels.write(repo.resolve(STORM + "/config.pbtxt"), "backend: \"quire\"\n");
    TestModels.write(repo.resolve(STORM + "/1/model.json"),
        "{\"model\": \"" + llama2 + "\", \"num_gpu_blocks_override\": 48, \"max_model_len\": 512}");
    // Broken models: each UNAVAILABLE with its reason, the others keep serving.
    TestModels.write(repo.resolve("bad-syntax/config.pbtxt"), "backend: \"vllm\"\nmax_batch_size: [\n");
    TestModels.write(repo.resolve("gpu-only/config.pbtxt"), "backend: \"vllm\"\ninstance_group [ { kind: KIND_GPU gpus: [ 0 ] } ]\n");
    TestModels.write(repo.resolve("gpu-only/1/model.json"), "{\"model\": \"" + llama2 + "\"}");
    TestModels.write(repo.resolve("no-files/config.pbtxt"), "backend: \"vllm\"\n");
    TestModels.write(repo.resolve("no-files/1/model.json"), "{\"model\": \"does/not/exist\"}");
    TestModels.write(repo.resolve("other-backend/config.pbtxt"), "backend: \"onnxruntime\"\n");

    ModelRepository r = ModelRepository.ofDirectory(repo, new ModelRepository.Options("auto", Map.of()), new EngineLauncher());
    ServerOptions opts = new ServerOptions(null, true, 1L << 20, 0);
    server = QuireServer.start(r, opts, "127.0.0.1", 0, 0, List.of("*"));
    client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    base = "http://127.0.0.1:" + server.httpPort();
    metricsBase = "http://127.0.0.1:" + server.metricsPort();
  }

  @AfterAll
  static void stop() {
    if (server != null) server.close();
  }

  record Res(int status, String body, String contentType) {
    JsonNode json() {
      try {
        return JSON.readTree(body);
      } catch (Exception e) {
        throw new AssertionError("not JSON: " + body, e);
      }
    }
  }

  static Res get(String path) throws Exception {
    HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60)).build(),
        HttpResponse.BodyHandlers.ofString());
    return new Res(r.statusCode(), r.body(), r.headers().firstValue("content-type").orElse(""));
  }

  static Res post(String path, String body) throws Exception {
    HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(120))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
    return new Res(r.statusCode(), r.body(), r.headers().firstValue("content-type").orElse(""));
  }

  static ServedModel model(String name) throws Exception {
    return server.repository().get(name, null);
  }

  // ---- Triton: health, metadata, repository ----

  @Test
  void serverMetadataAndLiveness() throws Exception {
    Res v2 = get("/v2");
    assertEquals(200, v2.status());
    assertEquals("quire", v2.json().get("name").asText());
    assertTrue(v2.json().get("extensions").toString().contains("generate"));
    assertEquals(200, get("/v2/health/live").status());
    // Strict readiness, as Triton: broken models in the repository make the server not ready.
    Res ready = get("/v2/health/ready");
    assertEquals(400, ready.status());
  }

  @Test
  void repositoryIndexShowsReadyModelsAndPreciseReasons() throws Exception {
    Res r = post("/v2/repository/index", "");
    assertEquals(200, r.status());
    Map<String, JsonNode> byName = new java.util.HashMap<>();
    for (JsonNode e : r.json()) byName.put(e.get("name").asText(), e);
    assertEquals("READY", byName.get(SEED).get("state").asText());
    assertEquals("1", byName.get(SEED).get("version").asText());
    assertEquals("READY", byName.get(CHAT).get("state").asText());
    assertEquals("UNAVAILABLE", byName.get("bad-syntax").get("state").asText());
    assertTrue(byName.get("bad-syntax").get("reason").asText().contains("failed to parse config.pbtxt"), r.body());
    assertTrue(byName.get("gpu-only").get("reason").asText().contains("KIND_GPU needs a GPU"), r.body());
    assertTrue(byName.get("no-files").get("reason").asText().contains("does/not/exist"), r.body());
    assertTrue(byName.get("other-backend").get("reason").asText().contains("unsupported backend 'onnxruntime'"), r.body());
    // Triton: a model with no READY version is 404 "has no available versions" (we add the reason);
    // a named version of it is 503 "is not at ready state".
    Res unknown = post("/v2/models/gpu-only/generate", "{\"text_input\": \"hi\"}");
    assertEquals(404, unknown.status());
    assertTrue(unknown.json().get("error").asText().startsWith("Request for unknown model: 'gpu-only' has no available versions"),
        unknown.body());
    assertTrue(unknown.json().get("error").asText().contains("KIND_GPU"), unknown.body());
    Res v1 = post("/v2/models/gpu-only/versions/1/generate", "{\"text_input\": \"hi\"}");
    assertEquals(503, v1.status());
    assertTrue(v1.json().get("error").asText().contains("'gpu-only' version 1 is not at ready state"), v1.body());
  }

  @Test
  void modelMetadataReadyConfigAndStats() throws Exception {
    Res md = get("/v2/models/" + SEED);
    assertEquals(200, md.status(), md.body());
    assertEquals("vllm", md.json().get("platform").asText());
    assertEquals("[\"1\"]", md.json().get("versions").toString());
    String inputs = md.json().get("inputs").toString();
    assertTrue(inputs.contains("\"input_text\"") && inputs.contains("\"text_input\"") && inputs.contains("BYTES"), inputs);
    assertEquals(200, get("/v2/models/" + SEED + "/ready").status());
    assertEquals(200, get("/v2/models/" + SEED + "/versions/1/ready").status());
    // Triton answers 400 for a model or version that is not ready, unknown ones included.
    assertEquals(400, get("/v2/models/" + SEED + "/versions/7/ready").status());
    assertEquals(400, get("/v2/models/nope/ready").status());
    assertEquals(400, get("/v2/models/gpu-only/ready").status());
    Res unknown = get("/v2/models/nope");
    assertEquals(404, unknown.status());
    assertEquals("Request for unknown model: 'nope' is not found", unknown.json().get("error").asText());
    Res unknownVersion = get("/v2/models/" + SEED + "/versions/7/config");
    assertEquals(404, unknownVersion.status());
    assertEquals("Request for unknown model: '" + SEED + "' version 7 is not found", unknownVersion.json().get("error").asText());
    Res cfg = get("/v2/models/" + SEED + "/config");
    assertEquals(200, cfg.status());
    assertEquals(1024, cfg.json().get("max_batch_size").asInt());
    assertEquals("KIND_CPU", cfg.json().get("instance_group").get(0).get("kind").asText());
    assertTrue(cfg.json().get("model_transaction_policy").get("decoupled").asBoolean());
    Res stats = get("/v2/models/" + SEED + "/stats");
    assertEquals(200, stats.status());
    assertEquals(SEED, stats.json().get("model_stats").get(0).get("name").asText());
    assertTrue(stats.json().get("model_stats").get(0).get("inference_stats").has("success"));
    assertEquals(200, get("/v2/models/stats").status());
    assertEquals(200, get("/v2/models/" + SEED + "/versions/1/stats").status());
  }

  @Test
  void explicitLoadUnloadAndNamesCannotEscapeTheRepository() throws Exception {
    Res bad = post("/v2/repository/models/..%2F..%2Fetc/load", "");
    assertTrue(bad.status() == 400 || bad.status() == 404, bad.status() + " " + bad.body());
    assertEquals(404, post("/v2/repository/models/nope/load", "").status());
    Res fail = post("/v2/repository/models/no-files/load", "{}");
    assertEquals(400, fail.status());
    assertTrue(fail.json().get("error").asText().contains("failed to load 'no-files'"), fail.body());
    assertEquals(200, post("/v2/repository/models/" + BUSY + "/unload", "").status());
    assertEquals(400, get("/v2/models/" + BUSY + "/ready").status());
    assertEquals(200, post("/v2/repository/models/" + BUSY + "/load", "").status());
    assertEquals(200, get("/v2/models/" + BUSY + "/ready").status());
  }

  // ---- generate ----

  @Test
  void seedRequestVerbatim() throws Exception {
    Res r = post("/v2/models/llama2-7b-chat-v1.0/generate", """
        {
            "text_input": [{"name": "input_text", "datatype": "BYTES", "data": ["What is the capital of France?"]}],
            "parameters": {"max_new_tokens": 50}
          }""");
    assertEquals(200, r.status(), r.body());
    JsonNode j = r.json();
    assertEquals(SEED, j.get("model_name").asText());
    assertEquals("1", j.get("model_version").asText());
    assertTrue(j.get("text_output").asText().startsWith("What is the capital of France?"), r.body());
    assertEquals(j.get("text_output").asText(), j.get("generated_text").asText());
    assertTrue(j.get("finished").asBoolean());
  }

  @Test
  void generateWithVllmBackendReadmeRequests() throws Exception {
    // The vLLM backend README: parameters at top level, a sampling_parameters JSON string, flags.
    Res r = post("/v2/models/" + SEED + "/generate", """
        {"text_input": "What is Triton Inference Server?", "parameters": {"stream": false, "temperature": 0},
         "max_tokens": 12, "exclude_input_in_output": true, "return_finish_reason": true,
         "return_num_input_tokens": true, "return_num_output_tokens": true, "ignore_eos": true}""");
    assertEquals(200, r.status(), r.body());
    JsonNode j = r.json();
    assertEquals("length", j.get("finish_reason").asText());
    assertEquals(12, j.get("num_output_tokens").asInt());
    assertTrue(j.get("num_input_tokens").asInt() > 3);
    assertFalse(j.get("text_output").asText().startsWith("What is Triton"));
    Res sp = post("/v2/models/" + SEED + "/generate",
        "{\"text_input\": \"What is Triton Inference Server?\", \"sampling_parameters\": \"{\\\"temperature\\\": \\\"0\\\", \\\"max_tokens\\\": \\\"12\\\", \\\"ignore_eos\\\": true}\", \"exclude_input_in_output\": true}");
    assertEquals(200, sp.status(), sp.body());
    assertEquals(j.get("text_output").asText(), sp.json().get("text_output").asText());
    Res lp = post("/v2/models/" + SEED + "/generate",
        "{\"text_input\": \"Hello\", \"max_tokens\": 3, \"temperature\": 0, \"return_logprobs\": true, \"logprobs\": 2, \"ignore_eos\": true}");
    assertEquals(200, lp.status(), lp.body());
    JsonNode lps = JSON.readTree(lp.json().get("logprobs").asText());
    assertEquals(3, lps.size());
  }

  @Test
  void defaultMaxTokensDoesNotCutAt16() throws Exception {
    Res r = post("/v2/models/" + SEED + "/generate",
        "{\"text_input\": \"Once\", \"temperature\": 0, \"ignore_eos\": true, \"return_num_output_tokens\": true}");
    assertEquals(200, r.status(), r.body());
    // The rest of the context (max_model_len 256 minus the prompt), not vLLM's 16.
    assertTrue(r.json().get("num_output_tokens").asInt() > 200, r.body());
  }

  @Test
  void generateStreamFramesServerSentEvents() throws Exception {
    HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(base + "/v2/models/" + SEED + "/generate_stream"))
        .POST(HttpRequest.BodyPublishers.ofString(
            "{\"text_input\": \"Hello\", \"max_tokens\": 8, \"temperature\": 0, \"ignore_eos\": true, \"return_finish_reason\": true}"))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode());
    assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("text/event-stream"));
    String body = r.body();
    assertTrue(body.matches("(?s)(data: \\{[^\n]*\\}\n\n)+"), body);
    List<JsonNode> events = new ArrayList<>();
    for (String ev : body.split("\n\n")) events.add(JSON.readTree(ev.substring("data: ".length())));
    StringBuilder text = new StringBuilder();
    for (JsonNode e : events) text.append(e.get("text_output").asText());
    JsonNode last = events.getLast();
    assertEquals("length", last.get("finish_reason").asText());
    Res whole = post("/v2/models/" + SEED + "/generate",
        "{\"text_input\": \"Hello\", \"max_tokens\": 8, \"temperature\": 0, \"ignore_eos\": true, \"exclude_input_in_output\": true}");
    assertEquals(whole.json().get("text_output").asText(), text.toString());
  }

  @Test
  void inferWithBytesTensor() throws Exception {
    Res r = post("/v2/models/" + SEED + "/infer", """
        {"id": "42", "inputs": [
          {"name": "text_input", "datatype": "BYTES", "shape": [1], "data": ["Hello"]},
          {"name": "sampling_parameters", "datatype": "BYTES", "shape": [1], "data": ["{\\"max_tokens\\": 4, \\"temperature\\": 0, \\"ignore_eos\\": true}"]},
          {"name": "exclude_input_in_output", "datatype": "BOOL", "shape": [1], "data": [true]}
        ]}""");
    assertEquals(200, r.status(), r.body());
    JsonNode j = r.json();
    assertEquals("42", j.get("id").asText());
    JsonNode out = null;
    for (JsonNode o : j.get("outputs")) if (o.get("name").asText().equals("text_output")) out = o;
    assertNotNull(out, r.body());
    assertEquals("BYTES", out.get("datatype").asText());
    assertEquals("[1]", out.get("shape").toString());
    Res bad = post("/v2/models/" + SEED + "/infer", "{\"inputs\": [{\"name\": \"bogus\", \"datatype\": \"BYTES\", \"shape\": [1], \"data\": [\"x\"]}]}");
    assertEquals(400, bad.status());
    assertTrue(bad.json().get("error").asText().contains("bogus"));
  }

  // ---- OpenAI ----

  @Test
  void openAiModelsCompletionsAndChat() throws Exception {
    Res models = get("/v1/models");
    assertEquals(200, models.status());
    assertTrue(models.body().contains("\"id\":\"" + SEED + "\"") && models.body().contains("\"id\":\"" + CHAT + "\""));
    Res c = post("/v1/completions", "{\"model\": \"" + SEED + "\", \"prompt\": \"Hello\", \"max_tokens\": 5, \"temperature\": 0,"
        + " \"ignore_eos\": true, \"logprobs\": 2, \"n\": 1}");
    assertEquals(200, c.status(), c.body());
    JsonNode cj = c.json();
    assertEquals("text_completion", cj.get("object").asText());
    assertEquals("length", cj.get("choices").get(0).get("finish_reason").asText());
    assertEquals(5, cj.get("usage").get("completion_tokens").asInt());
    assertEquals(5, cj.get("choices").get(0).get("logprobs").get("token_logprobs").size());
    Res n = post("/v1/completions", "{\"model\": \"" + SEED + "\", \"prompt\": \"Hello\", \"max_tokens\": 3, \"n\": 3, \"seed\": 7, \"temperature\": 0.8}");
    assertEquals(200, n.status(), n.body());
    assertEquals(3, n.json().get("choices").size());
    Res chat = post("/v1/chat/completions", "{\"model\": \"" + CHAT + "\", \"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"},"
        + " {\"role\": \"user\", \"content\": \"Hi\"}], \"max_completion_tokens\": 6, \"temperature\": 0, \"logprobs\": true, \"top_logprobs\": 2}");
    assertEquals(200, chat.status(), chat.body());
    JsonNode ch = chat.json();
    assertEquals("chat.completion", ch.get("object").asText());
    assertEquals("assistant", ch.get("choices").get(0).get("message").get("role").asText());
    assertTrue(ch.get("usage").get("prompt_tokens").asInt() > 5);
    Res stop = post("/v1/completions", "{\"model\": \"" + SEED + "\", \"prompt\": \"Hello\", \"max_tokens\": 40, \"temperature\": 0, \"ignore_eos\": true}");
    String text = stop.json().get("choices").get(0).get("text").asText();
    String stopStr = text.substring(3, 5);
    Res stopped = post("/v1/completions", "{\"model\": \"" + SEED + "\", \"prompt\": \"Hello\", \"max_tokens\": 40, \"temperature\": 0,"
        + " \"ignore_eos\": true, \"stop\": [" + JSON.writeValueAsString(stopStr) + "]}");
    assertEquals("stop", stopped.json().get("choices").get(0).get("finish_reason").asText(), stopped.body());
    assertEquals(text.substring(0, text.indexOf(stopStr)), stopped.json().get("choices").get(0).get("text").asText());
  }

  @Test
  void openAiClientLibraryChatsStreamingAndNot() throws Exception {
    // langchain4j's OpenAI module (Maven Central), as an application would use it against vLLM.
    String user = "Tell me a story";
    ChatModel chat = OpenAiChatModel.builder().baseUrl(base + "/v1").apiKey("none").modelName(CHAT)
        .temperature(0.0).maxTokens(8).maxRetries(0).timeout(Duration.ofSeconds(60)).build();
    ChatResponse r = chat.chat(UserMessage.from(user));
    Res raw = post("/v1/chat/completions", "{\"model\": \"" + CHAT + "\", \"messages\": [{\"role\": \"user\", \"content\": \""
        + user + "\"}], \"max_tokens\": 8, \"temperature\": 0}");
    String expected = raw.json().get("choices").get(0).get("message").get("content").asText();
    assertFalse(expected.isEmpty(), raw.body());
    assertEquals(expected, r.aiMessage().text());
    assertEquals(FinishReason.LENGTH, r.finishReason());
    assertEquals(8, r.tokenUsage().outputTokenCount());
    assertEquals(raw.json().get("usage").get("prompt_tokens").asInt(), r.tokenUsage().inputTokenCount());

    StreamingChatModel streaming = OpenAiStreamingChatModel.builder().baseUrl(base + "/v1").apiKey("none").modelName(CHAT)
        .temperature(0.0).maxTokens(8).timeout(Duration.ofSeconds(60)).build();
    StringBuilder parts = new StringBuilder();
    List<String> partial = new java.util.concurrent.CopyOnWriteArrayList<>();
    CompletableFuture<ChatResponse> done = new CompletableFuture<>();
    streaming.chat(List.of(UserMessage.from(user)), new StreamingChatResponseHandler() {
      @Override
      public void onPartialResponse(String token) {
        partial.add(token);
        parts.append(token);
      }

      @Override
      public void onCompleteResponse(ChatResponse response) {
        done.complete(response);
      }

      @Override
      public void onError(Throwable error) {
        done.completeExceptionally(error);
      }
    });
    ChatResponse sr = done.get(60, TimeUnit.SECONDS);
    assertTrue(partial.size() > 1, partial.toString());
    assertEquals(expected, parts.toString());
    assertEquals(expected, sr.aiMessage().text());
    assertEquals(FinishReason.LENGTH, sr.finishReason());
    assertEquals(8, sr.tokenUsage().outputTokenCount());
  }

  @Test
  void openAiStreamingEndsWithDone() throws Exception {
    Res s = post("/v1/chat/completions", "{\"model\": \"" + CHAT + "\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}],"
        + " \"max_tokens\": 5, \"temperature\": 0, \"stream\": true, \"stream_options\": {\"include_usage\": true}}");
    assertEquals(200, s.status(), s.body());
    assertTrue(s.body().matches("(?s)(data: [^\n]+\n\n)+"), s.body());
    assertTrue(s.body().endsWith("data: [DONE]\n\n"), s.body());
    String[] events = s.body().split("\n\n");
    JsonNode first = JSON.readTree(events[0].substring(6));
    assertEquals("chat.completion.chunk", first.get("object").asText());
    assertEquals("assistant", first.get("choices").get(0).get("delta").get("role").asText());
    JsonNode usage = JSON.readTree(events[events.length - 2].substring(6));
    assertTrue(usage.get("usage").get("completion_tokens").asInt() >= 1);
    Res c = post("/v1/completions", "{\"model\": \"" + SEED + "\", \"prompt\": \"Hi\", \"max_tokens\": 4, \"stream\": true}");
    assertTrue(c.body().endsWith("data: [DONE]\n\n"), c.body());
  }

  @Test
  void tokenizeAndDetokenize() throws Exception {
    Res t = post("/tokenize", "{\"model\": \"" + SEED + "\", \"prompt\": \"Hello world\"}");
    assertEquals(200, t.status(), t.body());
    assertEquals(1, t.json().get("tokens").get(0).asInt(), "llama2 adds BOS");
    assertEquals(t.json().get("tokens").size(), t.json().get("count").asInt());
    assertEquals(256, t.json().get("max_model_len").asInt());
    Res d = post("/detokenize", "{\"model\": \"" + SEED + "\", \"tokens\": " + t.json().get("tokens") + "}");
    assertEquals(200, d.status(), d.body());
    assertTrue(d.json().get("prompt").asText().endsWith("Hello world"), d.body());
    Res chat = post("/tokenize", "{\"model\": \"" + CHAT + "\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}");
    assertEquals(200, chat.status(), chat.body());
  }

  // ---- bad input, overload ----

  record Bad(String path, String body, int status, String message) {}

  @Test
  void badInputsGetFourHundredsNamingTheField() throws Exception {
    String g = "/v2/models/" + SEED + "/generate";
    List<Bad> table = List.of(
        new Bad(g, "{\"text_input\": ", 400, "failed to parse the request JSON"),
        new Bad(g, "[1, 2]", 400, "JSON object"),
        new Bad(g, "", 400, "empty"),
        new Bad("/v2/models/nope/generate", "{\"text_input\": \"x\"}", 404, "unknown model"),
        new Bad("/v2/models/" + SEED + "/versions/9/generate", "{\"text_input\": \"x\"}", 404, "version 9"),
        new Bad(g, "{\"parameters\": {\"max_tokens\": 3}}", 400, "text_input"),
        new Bad(g, "{\"text_input\": 5}", 400, "text_input must be"),
        new Bad(g, "{\"text_input\": [\"a\", \"b\"]}", 400, "exactly one"),
        new Bad(g, "{\"text_input\": \"x\", \"temperature\": -1}", 400, "temperature"),
        new Bad(g, "{\"text_input\": \"x\", \"temperature\": \"hot\"}", 400, "temperature must be a number"),
        new Bad(g, "{\"text_input\": \"x\", \"max_tokens\": 0}", 400, "max_tokens"),
        new Bad(g, "{\"text_input\": \"x\", \"top_p\": 2}", 400, "top_p"),
        new Bad(g, "{\"text_input\": \"x\", \"n\": 0}", 400, "n must be"),
        new Bad(g, "{\"text_input\": \"x\", \"stop\": 5}", 400, "stop"),
        new Bad(g, "{\"text_input\": \"x\", \"stream\": \"maybe\"}", 400, "stream must be a boolean"),
        new Bad(g, "{\"text_input\": \"x\", \"sampling_parameters\": \"{not json\"}", 400, "sampling_parameters"),
        new Bad(g, "{\"text_input\": \"" + "word ".repeat(400) + "\"}", 400, "max_model_len"),
        new Bad(g, "{\"text_input\": \"" + "a".repeat(2 << 20) + "\"}", 413, "exceeds"),
        new Bad("/v2/models/" + SEED + "/infer", "{\"inputs\": 3}", 400, "inputs"),
        new Bad("/v1/chat/completions", "{\"model\": \"" + CHAT + "\"}", 400, "messages"),
        new Bad("/v1/chat/completions", "{\"model\": \"" + CHAT + "\", \"messages\": [{\"content\": \"x\"}]}", 400, "role"),
        new Bad("/v1/completions", "{\"model\": \"gpt-4\", \"prompt\": \"x\"}", 404, "does not exist"),
        new Bad("/v1/completions", "{\"model\": \"" + SEED + "\"}", 400, "prompt"),
        new Bad("/v1/completions", "{\"model\": \"" + SEED + "\", \"prompt\": [99999999]}", 400, "out of range"),
        new Bad("/v1/completions", "{\"model\": \"" + SEED + "\", \"prompt\": \"x\", \"presence_penalty\": 9}", 400, "presence_penalty"),
        new Bad("/detokenize", "{\"model\": \"" + SEED + "\", \"tokens\": [\"a\"]}", 400, "tokens"),
        new Bad("/v2/nothing-here", "{}", 404, "Not Found"));
    for (Bad b : table) {
      Res r = post(b.path(), b.body());
      String what = b.path() + " " + (b.body().length() > 60 ? b.body().substring(0, 60) : b.body()) + " -> " + r.status() + " " + r.body();
      assertEquals(b.status(), r.status(), what);
      JsonNode err = r.json().get("error");
      assertNotNull(err, what);
      String msg = err.isObject() ? err.get("message").asText() : err.asText();
      assertTrue(msg.contains(b.message()), what);
      assertFalse(r.body().contains("Exception") || r.body().contains("\tat "), what);
      if (b.path().startsWith("/v1")) {
        assertEquals(b.status(), err.get("code").asInt(), what);
        assertTrue(err.has("type") && err.has("param"), what);
      }
    }
    assertEquals(200, post(g, "{\"text_input\": \"still serving\", \"max_tokens\": 2}").status());
  }

  @Test
  void overloadedModelAnswers503() throws Exception {
    // busy runs one sequence and queues one: hold both places with streams, then ask again.
    try (Socket running = openStream(BUSY, "first"); Socket waiting = new Socket("127.0.0.1", server.httpPort())) {
      sendStream(waiting, BUSY, "second");
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (model(BUSY).engine().stats().numWaiting() < 1 && System.nanoTime() < deadline) Thread.sleep(20);
      Res r = post("/v2/models/" + BUSY + "/generate", "{\"text_input\": \"x\", \"max_tokens\": 2}");
      assertEquals(503, r.status(), r.body());
      assertTrue(r.json().get("error").asText().contains("overloaded"), r.body());
      Res o = post("/v1/completions", "{\"model\": \"" + BUSY + "\", \"prompt\": \"x\", \"max_tokens\": 2}");
      assertEquals(503, o.status());
      assertTrue(o.json().get("error").get("message").asText().contains("overloaded"));
    }
  }

  // ---- load, disconnects, metrics ----

  @Test
  void disconnectStormOfHundredStreamsLeavesNoKvBlockInUse() throws Exception {
    ServedModel m = model(STORM);
    EngineStats before = m.engine().stats();
    int storm = 100;
    try (var ex = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<Boolean>> fs = new ArrayList<>();
      for (int i = 0; i < storm; i++) {
        int k = i;
        fs.add(ex.submit(() -> streamThenDrop(STORM, "Story number " + k + " begins")));
      }
      for (Future<Boolean> f : fs) assertTrue(f.get(120, TimeUnit.SECONDS));
    }
    EngineStats s = awaitIdle(m, 20_000);
    assertEquals(0, s.numRunning() + s.numWaiting(), s.toString());
    assertEquals(0, s.kvBlocksUsed(), s.toString());
    // Each stream was dropped mid-generation (after its first tokens, 400 asked): all aborted, none ended.
    assertEquals(storm, s.requestsFinishedAbort() - before.requestsFinishedAbort(), s.toString());
    assertEquals(0, s.requestsFinishedLength() - before.requestsFinishedLength(), s.toString());
    assertEquals(0, s.requestsFinishedStop() - before.requestsFinishedStop(), s.toString());
    assertEquals(200, post("/v2/models/" + STORM + "/generate", "{\"text_input\": \"after the storm\", \"max_tokens\": 4}").status());
  }

  @Test
  void nonStreamingClientThatDisconnectsAbortsItsRequest() throws Exception {
    ServedModel m = model(STORM);
    String body = "{\"text_input\": \"A long answer\", \"max_tokens\": 400, \"ignore_eos\": true}";
    String completion = "{\"model\": \"" + STORM + "\", \"prompt\": \"A long answer\", \"max_tokens\": 400, \"ignore_eos\": true}";
    for (String[] req : List.of(new String[] {"/v2/models/" + STORM + "/generate", body}, new String[] {"/v1/completions", completion})) {
      long aborted = m.engine().stats().requestsFinishedAbort();
      try (Socket sock = new Socket("127.0.0.1", server.httpPort())) {
        sendPost(sock, req[0], req[1]);
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (m.engine().stats().numRunning() < 1 && System.nanoTime() < deadline) Thread.sleep(5);
        assertEquals(1, m.engine().stats().numRunning(), req[0]);
      }
      // Well before the 400 tokens could be done: the request was aborted and its blocks freed.
      EngineStats s = awaitIdle(m, 5_000);
      assertEquals(0, s.numRunning() + s.numWaiting(), req[0] + " " + s);
      assertEquals(0, s.kvBlocksUsed(), req[0] + " " + s);
      assertEquals(aborted + 1, s.requestsFinishedAbort(), req[0] + " " + s);
    }
  }

  @Test
  void tritonTimeoutParameterAbortsALongRequest() throws Exception {
    ServedModel m = model(STORM);
    assertEquals(200, post("/v2/models/" + STORM + "/generate", "{\"text_input\": \"warm\", \"max_tokens\": 2}").status());
    long aborted = m.engine().stats().requestsFinishedAbort();
    // Triton's request parameter "timeout" is in microseconds: 200 ms, for 400 tokens.
    Res r = post("/v2/models/" + STORM + "/generate",
        "{\"text_input\": \"x\", \"max_tokens\": 400, \"ignore_eos\": true, \"parameters\": {\"timeout\": 200000}}");
    assertEquals(504, r.status(), r.body());
    assertTrue(r.json().get("error").asText().contains("timed out after 200 ms"), r.body());
    long deadline = System.nanoTime() + 5_000_000_000L;
    EngineStats s = m.engine().stats();
    while (System.nanoTime() < deadline && (s.requestsFinishedAbort() == aborted || s.kvBlocksUsed() > 0)) {
      Thread.sleep(10);
      s = m.engine().stats();
    }
    assertEquals(aborted + 1, s.requestsFinishedAbort(), s.toString());
    assertEquals(0, s.kvBlocksUsed(), s.toString());
  }

  @Test
  void keepAliveConnectionServesLongRequestsOneAfterAnother() throws Exception {
    // The disconnect watch reads ahead on the connection while a request runs; a kept-alive
    // connection must still serve the next request, also after a request of more than a moment.
    try (Socket sock = new Socket("127.0.0.1", server.httpPort())) {
      sock.setSoTimeout(60_000);
      var in = new java.io.BufferedInputStream(sock.getInputStream());
      for (int tokens : new int[] {300, 3, 200}) {
        sendPost(sock, "/v2/models/" + STORM + "/generate",
            "{\"text_input\": \"Again\", \"max_tokens\": " + tokens + ", \"ignore_eos\": true, \"return_num_output_tokens\": true}");
        String head = readHead(in);
        assertTrue(head.startsWith("HTTP/1.1 200"), head);
        Matcher len = Pattern.compile("(?i)content-length: *(\\d+)").matcher(head);
        assertTrue(len.find(), head);
        JsonNode j = JSON.readTree(in.readNBytes(Integer.parseInt(len.group(1))));
        assertEquals(tokens, j.get("num_output_tokens").asInt(), j.toString());
      }
    }
  }

  private static String readHead(java.io.InputStream in) throws Exception {
    StringBuilder sb = new StringBuilder();
    while (!sb.toString().endsWith("\r\n\r\n")) {
      int c = in.read();
      if (c < 0) throw new AssertionError("connection closed after: " + sb);
      sb.append((char) c);
    }
    return sb.toString();
  }

  private static EngineStats awaitIdle(ServedModel m, long millis) throws Exception {
    long deadline = System.nanoTime() + millis * 1_000_000L;
    EngineStats s = m.engine().stats();
    while (System.nanoTime() < deadline && (s.numRunning() + s.numWaiting() > 0 || s.kvBlocksUsed() > 0)) {
      Thread.sleep(10);
      s = m.engine().stats();
    }
    return s;
  }

  /** Opens a generate_stream, reads the first event, and drops the connection. */
  private static boolean streamThenDrop(String model, String prompt) throws Exception {
    try (Socket s = openStream(model, prompt)) {
      return true;
    }
  }

  /** A generate_stream request whose first event has arrived; closing the socket drops it. */
  private static Socket openStream(String model, String prompt) throws Exception {
    Socket s = new Socket("127.0.0.1", server.httpPort());
    s.setSoTimeout(60_000);
    sendStream(s, model, prompt);
    BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      if (line.contains("data: {")) return s;
    }
    s.close();
    throw new AssertionError("no event from " + model);
  }

  private static void sendStream(Socket s, String model, String prompt) throws Exception {
    sendPost(s, "/v2/models/" + model + "/generate_stream",
        "{\"text_input\": \"" + prompt + "\", \"max_tokens\": 400, \"ignore_eos\": true}");
  }

  private static void sendPost(Socket s, String path, String body) throws Exception {
    OutputStream out = s.getOutputStream();
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    out.write(("POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + "Content-Length: " + b.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    out.write(b);
    out.flush();
  }

  @Test
  void concurrentGreedyRequestsEqualTheSameRequestAlone() throws Exception {
    int distinct = 8;
    int total = 200;
    String path = "/v2/models/" + SEED + "/generate";
    List<String> alone = new ArrayList<>();
    for (int i = 0; i < distinct; i++) alone.add(post(path, request(i)).json().get("text_output").asText());
    double before = metric("nv_inference_request_success", SEED);
    double itlBefore = metric("vllm:inter_token_latency_seconds_count", SEED);
    try (var ex = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<Res>> fs = new ArrayList<>();
      for (int i = 0; i < total; i++) {
        int k = i % distinct;
        fs.add(ex.submit(() -> post(path, request(k))));
      }
      for (int i = 0; i < total; i++) {
        Res r = fs.get(i).get();
        assertEquals(200, r.status(), r.body());
        assertEquals(alone.get(i % distinct), r.json().get("text_output").asText(), "request " + i);
      }
    }
    assertEquals(before + total, metric("nv_inference_request_success", SEED), 0.0);
    // One inter-token interval per token after the first, each timed as it arrived.
    assertEquals(itlBefore + total * 5, metric("vllm:inter_token_latency_seconds_count", SEED), 0.0);
    String text = scrape();
    for (String name : List.of("nv_inference_request_failure", "nv_inference_count", "nv_inference_exec_count",
        "nv_inference_request_duration_us", "nv_inference_queue_duration_us", "nv_inference_pending_request_count",
        "vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc", "vllm:prompt_tokens_total",
        "vllm:generation_tokens_total", "vllm:request_success_total", "vllm:num_preemptions_total",
        "vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total", "vllm:time_to_first_token_seconds_bucket",
        "vllm:inter_token_latency_seconds_bucket", "vllm:e2e_request_latency_seconds_count", "vllm:request_queue_time_seconds_sum")) {
      assertTrue(text.contains(name + "{"), name + " missing from\n" + text);
    }
    assertTrue(text.contains("vllm:request_success_total{finished_reason=\"length\",model=\"" + SEED + "\",version=\"1\"}")
        || text.contains("vllm:request_success_total{model=\"" + SEED + "\",version=\"1\",finished_reason=\"length\"}"), text);
    assertTrue(metric("vllm:generation_tokens_total", SEED) >= total * 6);
    Matcher cache = Pattern.compile("(?m)^vllm:cache_config_info\\{([^}]*model=\"" + SEED + "\"[^}]*)\\} 1$").matcher(text);
    assertTrue(cache.find(), text);
    assertTrue(cache.group(1).contains("num_gpu_blocks=\"1024\""), cache.group(1)); // model.json's num_gpu_blocks_override
    assertTrue(cache.group(1).contains("block_size=\"16\""), cache.group(1));
  }

  private static String request(int k) {
    return "{\"text_input\": \"Request " + k + " says\", \"max_tokens\": 6, \"temperature\": 0, \"ignore_eos\": true}";
  }

  private static String scrape() throws Exception {
    HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(metricsBase + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode());
    return r.body();
  }

  private static double metric(String name, String model) throws Exception {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{([^}]*)\\} (\\S+)$").matcher(scrape());
    while (m.find()) {
      if (m.group(1).contains("model=\"" + model + "\"")) return Double.parseDouble(m.group(2));
    }
    throw new AssertionError(name + " for " + model + " not found");
  }
}
