package io.quire.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.helidon.http.Status;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import io.quire.engine.Prompt;
import io.quire.engine.SamplingParams;
import io.quire.engine.TokenLogprob;
import io.quire.engine.TopLogprob;
import io.quire.server.metrics.ServerMetrics;
import io.quire.server.repository.ModelConfigs;
import io.quire.server.repository.ModelNotFoundException;
import io.quire.server.repository.ModelRepository;
import io.quire.server.repository.ServedModel;
import io.quire.server.repository.proto.DataType;
import io.quire.server.repository.proto.ModelInput;
import io.quire.server.repository.proto.ModelOutput;
import io.quire.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * Triton's HTTP protocol: KServe v2 (health, metadata, config, statistics, infer), the model
 * repository extension, and the generate extension with the vLLM backend's inputs and outputs.
 * Errors are {@code {"error": "..."}}.
 */
final class TritonApi {
  /** vLLM-backend inputs that are flags or sampling parameters, not the prompt. */
  private static final Set<String> CONTROL_INPUTS = Set.of(
      "stream", "sampling_parameters", "exclude_input_in_output", "return_finish_reason",
      "return_cumulative_logprob", "return_logprobs", "return_num_input_tokens", "return_num_output_tokens",
      "parameters");
  private static final Set<String> ROLE_OUTPUTS = Set.of(
      "finish_reason", "cumulative_logprob", "logprobs", "num_input_tokens", "num_output_tokens");

  private final ModelRepository repo;
  private final ServerMetrics metrics;
  private final ServerOptions opts;

  TritonApi(ModelRepository repo, ServerMetrics metrics, ServerOptions opts) {
    this.repo = repo;
    this.metrics = metrics;
    this.opts = opts;
  }

  void register(HttpRouting.Builder r) {
    r.get("/v2", (req, res) -> serverMetadata(res));
    r.get("/v2/health/live", (req, res) -> res.status(Status.OK_200).send());
    r.get("/v2/health/ready", (req, res) -> {
      if (repo.allReady() && !repo.ready().isEmpty()) res.status(Status.OK_200).send();
      else HttpIo.sendJson(res, 400, error("server is not ready: not every model is READY"));
    });
    r.get("/v2/models/stats", (req, res) -> handle(res, () -> stats(res, null, null)));
    r.route(io.helidon.http.Method.POST, "/v2/repository/index", (req, res) -> index(res));
    r.get("/v2/repository/index", (req, res) -> index(res));
    r.post("/v2/repository/models/{model}/load", (req, res) -> handle(res, () -> load(req, res, true)));
    r.post("/v2/repository/models/{model}/unload", (req, res) -> handle(res, () -> load(req, res, false)));
    for (String base : List.of("/v2/models/{model}", "/v2/models/{model}/versions/{version}")) {
      r.get(base, (req, res) -> handle(res, () -> metadata(res, model(req))));
      r.get(base + "/ready", (req, res) -> handle(res, () -> ready(req, res)));
      r.get(base + "/config", (req, res) -> handle(res, () -> HttpIo.sendJson(res, 200, ProtoJson.toJson(model(req).config()))));
      r.get(base + "/stats", (req, res) -> handle(res, () -> stats(res, req.path().pathParameters().get("model"), version(req))));
      r.post(base + "/generate", (req, res) -> handle(res, () -> generate(req, res, false)));
      r.post(base + "/generate_stream", (req, res) -> handle(res, () -> generate(req, res, true)));
      r.post(base + "/infer", (req, res) -> handle(res, () -> infer(req, res)));
    }
  }

  static ObjectNode error(String message) {
    return HttpIo.object().put("error", message);
  }

  /** Runs a handler, turning refusals into Triton's error JSON; never lets a stack trace out. */
  static void handle(ServerResponse res, ThrowingRunnable body) {
    try {
      body.run();
    } catch (ApiException e) {
      if (!res.isSent()) HttpIo.sendJson(res, e.status(), error(e.getMessage()));
    } catch (ModelNotFoundException e) {
      if (!res.isSent()) HttpIo.sendJson(res, e.status(), error(e.getMessage()));
    } catch (Generation.ClientGone e) {
      HttpIo.clientGone(res);
    }
  }

  interface ThrowingRunnable {
    void run() throws ModelNotFoundException;
  }

  private static String version(ServerRequest req) {
    var p = req.path().pathParameters();
    return p.contains("version") ? p.get("version") : null;
  }

  private ServedModel model(ServerRequest req) throws ModelNotFoundException {
    return repo.get(req.path().pathParameters().get("model"), version(req));
  }

  private void serverMetadata(ServerResponse res) {
    ObjectNode o = HttpIo.object().put("name", "quire").put("version", ServerOptions.VERSION);
    ArrayNode ext = o.putArray("extensions");
    for (String e : List.of("model_repository", "model_configuration", "statistics", "generate", "parameters")) ext.add(e);
    HttpIo.sendJson(res, 200, o);
  }

  /** Triton answers 200 when ready and 400 otherwise, unknown models and versions included. */
  private void ready(ServerRequest req, ServerResponse res) throws ModelNotFoundException {
    try {
      model(req);
      res.status(Status.OK_200).send();
    } catch (ModelNotFoundException e) {
      HttpIo.sendJson(res, 400, error(e.getMessage()));
    }
  }

  private void index(ServerResponse res) {
    ArrayNode a = HttpIo.JSON.createArrayNode();
    for (ModelRepository.IndexEntry e : repo.index()) {
      ObjectNode o = a.addObject().put("name", e.name());
      if (!e.version().isEmpty()) o.put("version", e.version());
      if (e.state() != null) {
        o.put("state", e.state().name());
        o.put("reason", e.reason() == null ? "" : e.reason());
      }
    }
    HttpIo.sendJson(res, 200, a);
  }

  private void load(ServerRequest req, ServerResponse res, boolean load) throws ModelNotFoundException {
    String name = req.path().pathParameters().get("model");
    HttpIo.body(req, opts.maxBodyBytes());
    if (!opts.explicitModelControl()) {
      throw new ApiException(503, "explicit model load / unload is not allowed if model control mode is not EXPLICIT"
          + " (start with --model-control-mode explicit)");
    }
    if (load) {
      repo.load(name);
      ModelRepository.IndexEntry st = repo.status(name);
      if (st == null || st.state() != io.quire.server.repository.ModelState.READY) {
        throw ApiException.badRequest("failed to load '" + name + "': " + (st == null ? "unknown" : st.reason()));
      }
    } else {
      repo.unload(name);
    }
    HttpIo.sendJson(res, 200, HttpIo.object());
  }

  private void metadata(ServerResponse res, ServedModel m) {
    ObjectNode o = HttpIo.object().put("name", m.name());
    List<String> versions = new ArrayList<>();
    for (ServedModel s : repo.ready()) if (s.name().equals(m.name())) versions.add(s.version());
    ArrayNode v = o.putArray("versions");
    versions.forEach(v::add);
    o.put("platform", !m.config().getPlatform().isEmpty() ? m.config().getPlatform() : m.config().getBackend());
    ArrayNode in = o.putArray("inputs");
    for (ModelInput i : m.config().getInputList()) {
      ObjectNode t = in.addObject().put("name", i.getName()).put("datatype", ModelConfigs.kserveType(i.getDataType()));
      ArrayNode shape = t.putArray("shape");
      if (m.config().getMaxBatchSize() > 0) shape.add(-1);
      i.getDimsList().forEach(shape::add);
    }
    ArrayNode out = o.putArray("outputs");
    for (ModelOutput i : m.config().getOutputList()) {
      ObjectNode t = out.addObject().put("name", i.getName()).put("datatype", ModelConfigs.kserveType(i.getDataType()));
      ArrayNode shape = t.putArray("shape");
      if (m.config().getMaxBatchSize() > 0) shape.add(-1);
      i.getDimsList().forEach(shape::add);
    }
    HttpIo.sendJson(res, 200, o);
  }

  private void stats(ServerResponse res, String name, String version) throws ModelNotFoundException {
    List<ServedModel> models = new ArrayList<>();
    if (name == null) {
      models.addAll(repo.ready());
    } else if (version == null) {
      repo.get(name, null);
      for (ServedModel m : repo.ready()) if (m.name().equals(name)) models.add(m);
    } else {
      models.add(repo.get(name, version));
    }
    ObjectNode o = HttpIo.object();
    ArrayNode a = o.putArray("model_stats");
    for (ServedModel m : models) {
      ServedModel.Stats s = m.stats;
      ObjectNode ms = a.addObject().put("name", m.name()).put("version", m.version())
          .put("last_inference", s.lastInferenceMs.get())
          .put("inference_count", s.inferenceCount.sum())
          .put("execution_count", s.executionCount.sum());
      ObjectNode is = ms.putObject("inference_stats");
      duration(is, "success", s.successCount.sum(), s.successNs.sum());
      duration(is, "fail", s.failCount.sum(), s.failNs.sum());
      duration(is, "queue", s.successCount.sum(), s.queueNs.sum());
      duration(is, "compute_input", s.successCount.sum(), 0);
      duration(is, "compute_infer", s.successCount.sum(), s.computeNs.sum());
      duration(is, "compute_output", s.successCount.sum(), 0);
      duration(is, "cache_hit", 0, 0);
      duration(is, "cache_miss", 0, 0);
      ms.putArray("batch_stats");
    }
    HttpIo.sendJson(res, 200, o);
  }

  private static void duration(ObjectNode o, String name, long count, long ns) {
    o.putObject(name).put("count", count).put("ns", ns);
  }

  // ---- generate / generate_stream / infer ----

  /** A parsed generate request. */
  record Spec(String id, String prompt, SamplingParams params, boolean stream, boolean excludeInput,
      boolean returnFinishReason, boolean returnCumulativeLogprob, boolean returnLogprobs,
      boolean returnNumInputTokens, boolean returnNumOutputTokens, int priority, long timeoutNanos) {}

  /**
   * Reads a generate request: keys that name a model input become inputs (the prompt is
   * {@code text_input}, or the config's own string input such as the seed's {@code input_text});
   * the others, and the {@code parameters} object, are parameters by vLLM's names; a
   * {@code sampling_parameters} JSON string is read first, so explicit keys override it.
   */
  Spec parse(ObjectNode body, ServedModel m) {
    Map<String, ModelInput> inputs = new LinkedHashMap<>();
    for (ModelInput i : m.config().getInputList()) inputs.put(i.getName(), i);
    String prompt = null;
    Map<String, JsonNode> flags = new LinkedHashMap<>();
    Map<String, JsonNode> params = new LinkedHashMap<>();
    JsonNode sp = null;
    String id = null;
    for (var it = body.properties().iterator(); it.hasNext(); ) {
      var e = it.next();
      String k = e.getKey();
      JsonNode v = e.getValue();
      if (k.equals("id")) {
        id = v.isTextual() ? v.textValue() : v.toString();
      } else if (k.equals("parameters") && v.isObject()) {
        v.properties().forEach(p -> params.put(p.getKey(), p.getValue()));
      } else if (k.equals("sampling_parameters")) {
        sp = scalar(k, v);
      } else if (CONTROL_INPUTS.contains(k)) {
        flags.put(k, scalar(k, v));
      } else if (k.equals("text_input") || (inputs.containsKey(k) && inputs.get(k).getDataType() == DataType.TYPE_STRING)) {
        if (prompt != null) throw ApiException.badParam(k, "more than one prompt input: '" + k + "' and text_input");
        prompt = promptText(k, v);
      } else {
        params.put(k, v);
      }
    }
    if (prompt == null) {
      throw ApiException.badParam("text_input", "missing required input 'text_input' for model '" + m.name() + "'");
    }
    SamplingParams.Builder b = SamplingParams.builder().maxTokens(m.engine().config().defaultMaxTokens());
    if (sp != null) {
      JsonNode obj = sp;
      if (sp.isTextual()) {
        try {
          obj = HttpIo.JSON.readTree(sp.textValue());
        } catch (Exception ex) {
          throw ApiException.badParam("sampling_parameters", "sampling_parameters must be a JSON object string: " + ex.getMessage());
        }
      }
      if (obj == null || !obj.isObject()) throw ApiException.badParam("sampling_parameters", "sampling_parameters must be a JSON object");
      for (var it = obj.properties().iterator(); it.hasNext(); ) {
        var e = it.next();
        if (!SamplingParser.apply(b, e.getKey(), e.getValue()) && CONTROL_INPUTS.contains(e.getKey())) {
          flags.putIfAbsent(e.getKey(), e.getValue());
        }
      }
    }
    int priority = 0;
    long timeout = 0;
    for (var e : params.entrySet()) {
      String k = e.getKey();
      if (SamplingParser.apply(b, k, e.getValue())) continue;
      if (CONTROL_INPUTS.contains(k)) flags.put(k, e.getValue());
      else if (k.equals("priority")) priority = SamplingParser.integer(k, e.getValue());
      else if (k.equals("timeout")) timeout = Math.max(0, SamplingParser.longValue(k, e.getValue())) * 1000L;
      // Other parameters are Triton request parameters this backend does not use; Triton passes them on too.
    }
    boolean returnLogprobs = flag(flags, "return_logprobs");
    SamplingParams p = SamplingParser.build(b);
    if (returnLogprobs && p.logprobs() == null) p = SamplingParser.build(p.toBuilder().logprobs(0));
    return new Spec(id, prompt, p, flag(flags, "stream"), flag(flags, "exclude_input_in_output"),
        flag(flags, "return_finish_reason"), flag(flags, "return_cumulative_logprob"), returnLogprobs,
        flag(flags, "return_num_input_tokens"), flag(flags, "return_num_output_tokens"), priority, timeout);
  }

  private static boolean flag(Map<String, JsonNode> flags, String k) {
    JsonNode v = flags.get(k);
    return v != null && !v.isNull() && SamplingParser.bool(k, v);
  }

  /** A tensor-shaped value ({"data": [x]} or [x]) reduced to its single element. */
  private static JsonNode scalar(String k, JsonNode v) {
    if (v.isObject() && v.has("data")) v = v.get("data");
    if (v.isArray()) {
      if (v.size() == 1 && v.get(0).isObject() && v.get(0).has("data")) return scalar(k, v.get(0));
      while (v.isArray() && v.size() == 1) v = v.get(0);
      if (v.isArray()) throw ApiException.badParam(k, k + " must hold exactly one element, got " + v.size());
    }
    return v;
  }

  private static String promptText(String k, JsonNode v) {
    JsonNode s = scalar(k, v);
    if (s.isObject() && s.has("datatype") && !"BYTES".equals(s.get("datatype").asText())) {
      throw ApiException.badParam(k, k + " must have datatype BYTES");
    }
    if (!s.isTextual()) {
      throw ApiException.badParam(k, k + " must be a string, a list of one string, or a BYTES tensor"
          + " {\"name\", \"datatype\": \"BYTES\", \"data\": [\"...\"]}; got " + shortJson(v));
    }
    return s.textValue();
  }

  static String shortJson(JsonNode v) {
    String s = v.toString();
    return s.length() > 80 ? s.substring(0, 77) + "..." : s;
  }

  private void generate(ServerRequest req, ServerResponse res, boolean streamEndpoint) throws ModelNotFoundException {
    ServedModel m = model(req);
    ObjectNode body = HttpIo.jsonObject(req, opts.maxBodyBytes());
    Spec spec = parse(body, m);
    String rid = Generation.newRequestId("triton");
    Prompt prompt = Prompt.text(spec.prompt());
    BooleanSupplier gone = ConnectionWatch.start(req);
    if (!streamEndpoint) {
      Generation.Result r = Generation.run(m, metrics, rid, prompt, spec.params(), spec.priority(), timeout(spec), gone, null);
      HttpIo.sendJson(res, 200, response(m, spec, r, null, true));
      return;
    }
    // The response is committed at the first event; refusals before it (overload, a prompt too
    // long) are still plain JSON errors with their status.
    var sse = new Object() {
      HttpIo.Sse out;
    };
    try {
      Generation.run(m, metrics, rid, prompt, spec.params(), spec.priority(), timeout(spec), gone, (o, soFar) -> {
        String[] deltas = new String[spec.params().n()];
        boolean any = o.finished();
        for (var d : o.deltas()) {
          if (d.index() >= 0 && d.index() < deltas.length && d.newText() != null && !d.newText().isEmpty()) {
            deltas[d.index()] = d.newText();
            any = true;
          }
        }
        if (!any) return;
        if (sse.out == null) sse.out = new HttpIo.Sse(res);
        sse.out.data(HttpIo.toJson(response(m, spec, soFar, deltas, o.finished())));
      });
    } catch (ApiException e) {
      if (sse.out == null) throw e;
      try {
        sse.out.data(HttpIo.toJson(error(e.getMessage())));
      } catch (java.io.IOException ignored) {
        // client gone as well
      }
    } finally {
      if (sse.out != null) sse.out.close();
    }
  }

  private long timeout(Spec spec) {
    return spec.timeoutNanos() > 0 ? spec.timeoutNanos() : opts.requestTimeoutNanos();
  }

  /**
   * The JSON response of generate (deltas null: whole texts) or one generate_stream event (the
   * texts since the previous event). A tensor of one element is a scalar, of n elements a list.
   */
  private ObjectNode response(ServedModel m, Spec spec, Generation.Result r, String[] deltas, boolean finished) {
    ObjectNode o = HttpIo.object();
    if (spec.id() != null) o.put("id", spec.id());
    o.put("model_name", m.name()).put("model_version", m.version());
    int n = r.sequences.length;
    List<String> texts = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      if (deltas != null) texts.add(deltas[i] == null ? "" : deltas[i]);
      else texts.add((spec.excludeInput() ? "" : spec.prompt()) + r.sequences[i].text);
    }
    for (ModelOutput out : m.config().getOutputList()) {
      String name = out.getName();
      if (ROLE_OUTPUTS.contains(name)) continue;
      if (out.getDataType() == DataType.TYPE_STRING) put(o, name, texts, ObjectNode::textNode);
      else if (out.getDataType() == DataType.TYPE_BOOL) o.put(name, finished);
    }
    if (!o.has("text_output")) put(o, "text_output", texts, ObjectNode::textNode);
    if (finished || deltas == null) {
      if (spec.returnFinishReason()) {
        List<String> fr = new ArrayList<>();
        for (var s : r.sequences) fr.add(s.finishReason == null ? null : s.finishReason.wireName());
        put(o, "finish_reason", fr, ObjectNode::textNode);
      }
      if (spec.returnNumInputTokens()) o.put("num_input_tokens", r.promptTokenIds.length);
      if (spec.returnNumOutputTokens()) {
        List<Integer> c = new ArrayList<>();
        for (var s : r.sequences) c.add(s.tokenIds.size());
        if (c.size() == 1) o.put("num_output_tokens", c.get(0));
        else c.forEach(o.putArray("num_output_tokens")::add);
      }
      if (spec.returnCumulativeLogprob()) {
        List<Double> c = new ArrayList<>();
        for (var s : r.sequences) {
          double sum = 0;
          for (TokenLogprob lp : s.logprobs) sum += lp.logprob();
          c.add(sum);
        }
        if (c.size() == 1) o.put("cumulative_logprob", c.get(0));
        else c.forEach(o.putArray("cumulative_logprob")::add);
      }
      if (spec.returnLogprobs()) {
        Tokenizer tok = m.engine().tokenizer();
        List<String> lps = new ArrayList<>();
        for (var s : r.sequences) lps.add(HttpIo.toJson(logprobsJson(tok, s.logprobs)));
        put(o, "logprobs", lps, ObjectNode::textNode);
      }
    }
    return o;
  }

  /** vLLM backend's logprobs output: per token, {token_id: {logprob, rank, decoded_token}}. */
  private static ArrayNode logprobsJson(Tokenizer tok, List<TokenLogprob> lps) {
    ArrayNode a = HttpIo.JSON.createArrayNode();
    for (TokenLogprob lp : lps) {
      ObjectNode pos = a.addObject();
      int rank = 1;
      boolean sampledListed = false;
      for (TopLogprob t : lp.top()) {
        pos.putObject(Integer.toString(t.tokenId())).put("logprob", t.logprob()).put("rank", rank++)
            .put("decoded_token", tok.decode(new int[] {t.tokenId()}, false));
        if (t.tokenId() == lp.tokenId()) sampledListed = true;
      }
      if (!sampledListed) {
        pos.putObject(Integer.toString(lp.tokenId())).put("logprob", lp.logprob())
            .put("decoded_token", tok.decode(new int[] {lp.tokenId()}, false));
      }
    }
    return a;
  }

  private static <T> void put(ObjectNode o, String name, List<T> values, java.util.function.BiFunction<ObjectNode, T, JsonNode> f) {
    if (values.size() == 1) {
      T v = values.get(0);
      if (v == null) o.putNull(name);
      else o.set(name, HttpIo.JSON.valueToTree(v));
    } else {
      ArrayNode a = o.putArray(name);
      for (T v : values) a.add(v == null ? null : HttpIo.JSON.valueToTree(v));
    }
  }

  /** KServe v2 infer: the same request as generate, as named tensors; never streams. */
  private void infer(ServerRequest req, ServerResponse res) throws ModelNotFoundException {
    ServedModel m = model(req);
    ObjectNode body = HttpIo.jsonObject(req, opts.maxBodyBytes());
    JsonNode inputs = body.get("inputs");
    if (inputs == null || !inputs.isArray()) throw ApiException.badParam("inputs", "inputs must be a list of tensors");
    Set<String> declared = new java.util.HashSet<>();
    m.config().getInputList().forEach(i -> declared.add(i.getName()));
    ObjectNode gen = HttpIo.object();
    for (JsonNode t : inputs) {
      if (!t.isObject() || !t.path("name").isTextual()) {
        throw ApiException.badParam("inputs", "each input must be an object with name, datatype, shape and data");
      }
      String name = t.get("name").textValue();
      if (!declared.contains(name)) {
        throw ApiException.badParam(name, "unexpected inference input '" + name + "' for model '" + m.name() + "'");
      }
      if (!t.has("data")) throw ApiException.badParam(name, "input '" + name + "' has no data");
      if (!t.path("datatype").isTextual()) throw ApiException.badParam(name, "input '" + name + "' has no datatype");
      gen.set(name, t.get("data"));
    }
    if (body.get("parameters") instanceof ObjectNode p) gen.set("parameters", p);
    if (body.has("id")) gen.set("id", body.get("id"));
    Spec spec = parse(gen, m);
    if (spec.stream()) {
      throw ApiException.badParam("stream", "infer does not stream; use generate_stream or set stream false");
    }
    Generation.Result r = Generation.run(m, metrics, Generation.newRequestId("infer"), Prompt.text(spec.prompt()),
        spec.params(), spec.priority(), timeout(spec), ConnectionWatch.start(req), null);
    ObjectNode flat = response(m, spec, r, null, true);
    Set<String> wanted = null;
    if (body.get("outputs") instanceof ArrayNode outs) {
      wanted = new java.util.HashSet<>();
      for (JsonNode o : outs) wanted.add(o.path("name").asText());
    }
    ObjectNode o = HttpIo.object();
    if (spec.id() != null) o.put("id", spec.id());
    o.put("model_name", m.name()).put("model_version", m.version());
    ArrayNode out = o.putArray("outputs");
    for (var it = flat.properties().iterator(); it.hasNext(); ) {
      var e = it.next();
      if (Set.of("id", "model_name", "model_version").contains(e.getKey())) continue;
      if (wanted != null && !wanted.contains(e.getKey())) continue;
      JsonNode v = e.getValue();
      ArrayNode data = v.isArray() ? (ArrayNode) v : HttpIo.JSON.createArrayNode().add(v);
      String type = data.isEmpty() ? "BYTES" : data.get(0).isBoolean() ? "BOOL" : data.get(0).isIntegralNumber() ? "INT32"
          : data.get(0).isNumber() ? "FP32" : "BYTES";
      ObjectNode t = out.addObject().put("name", e.getKey()).put("datatype", type);
      t.putArray("shape").add(data.size());
      t.set("data", data);
    }
    HttpIo.sendJson(res, 200, o);
  }
}
