package io.quire.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import io.quire.engine.CompletionDelta;
import io.quire.engine.Prompt;
import io.quire.engine.SamplingParams;
import io.quire.engine.TokenLogprob;
import io.quire.engine.TopLogprob;
import io.quire.jinja.ChatTemplate;
import io.quire.jinja.TemplateException;
import io.quire.server.metrics.ServerMetrics;
import io.quire.server.repository.ModelNotFoundException;
import io.quire.server.repository.ModelRepository;
import io.quire.server.repository.ServedModel;
import io.quire.tokenizer.Tokenizer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.BooleanSupplier;

/**
 * The OpenAI-compatible API as vLLM serves it: {@code /v1/models}, {@code /v1/completions},
 * {@code /v1/chat/completions}, and vLLM's {@code /tokenize} and {@code /detokenize}. Errors are
 * OpenAI error objects {@code {"error": {"message", "type", "param", "code"}}}.
 */
final class OpenAiApi {
  private final ModelRepository repo;
  private final ServerMetrics metrics;
  private final ServerOptions opts;
  private final Map<ServedModel, ChatTemplate> templates = Collections.synchronizedMap(new WeakHashMap<>());

  OpenAiApi(ModelRepository repo, ServerMetrics metrics, ServerOptions opts) {
    this.repo = repo;
    this.metrics = metrics;
    this.opts = opts;
  }

  void register(HttpRouting.Builder r) {
    r.get("/v1/models", (req, res) -> handle(res, () -> models(res)));
    r.post("/v1/completions", (req, res) -> handle(res, () -> completions(req, res)));
    r.post("/v1/chat/completions", (req, res) -> handle(res, () -> chat(req, res)));
    r.post("/tokenize", (req, res) -> handle(res, () -> tokenize(req, res)));
    r.post("/detokenize", (req, res) -> handle(res, () -> detokenize(req, res)));
  }

  static ObjectNode error(int status, String message, String param) {
    ObjectNode o = HttpIo.object();
    String type = switch (status) {
      case 401 -> "AuthenticationError";
      case 404 -> "NotFoundError";
      case 413 -> "RequestEntityTooLarge";
      case 503 -> "ServiceUnavailableError";
      case 504 -> "TimeoutError";
      default -> status >= 500 ? "InternalServerError" : "BadRequestError";
    };
    o.putObject("error").put("message", message).put("type", type).put("param", param).put("code", status);
    return o;
  }

  static void handle(ServerResponse res, TritonApi.ThrowingRunnable body) {
    try {
      body.run();
    } catch (ApiException e) {
      if (!res.isSent()) HttpIo.sendJson(res, e.status(), error(e.status(), e.getMessage(), e.param()));
    } catch (ModelNotFoundException e) {
      if (!res.isSent()) HttpIo.sendJson(res, e.status(), error(e.status(), e.getMessage(), "model"));
    } catch (Generation.ClientGone e) {
      HttpIo.clientGone(res);
    }
  }

  private void models(ServerResponse res) {
    ObjectNode o = HttpIo.object().put("object", "list");
    ArrayNode data = o.putArray("data");
    java.util.Set<String> seen = new java.util.HashSet<>();
    for (ServedModel m : repo.ready()) {
      if (!seen.add(m.name())) continue;
      ObjectNode e = data.addObject().put("id", m.name()).put("object", "model").put("created", now())
          .put("owned_by", "quire").put("root", m.name()).putNull("parent");
      e.put("max_model_len", m.engine().maxModelLen());
      e.putArray("permission");
    }
    HttpIo.sendJson(res, 200, o);
  }

  private static long now() {
    return System.currentTimeMillis() / 1000;
  }

  private ServedModel model(ObjectNode body) {
    JsonNode n = body.get("model");
    if (n == null || n.isNull()) {
      List<ServedModel> ready = repo.ready();
      if (ready.size() == 1) return ready.get(0);
      throw ApiException.badParam("model", ready.isEmpty() ? "no model is ready" : "model is required when several models are served");
    }
    if (!n.isTextual()) throw ApiException.badParam("model", "model must be a string, got " + TritonApi.shortJson(n));
    try {
      return repo.get(n.textValue(), null);
    } catch (ModelNotFoundException e) {
      throw new ApiException(404, "The model `" + n.textValue() + "` does not exist.", "model");
    }
  }

  /** Sampling parameters common to both endpoints (OpenAI's and vLLM's extra names). */
  private SamplingParams.Builder sampling(ObjectNode body, ServedModel m, boolean chat) {
    SamplingParams.Builder b = SamplingParams.builder().maxTokens(m.engine().config().defaultMaxTokens());
    for (var it = body.properties().iterator(); it.hasNext(); ) {
      var e = it.next();
      String k = e.getKey();
      JsonNode v = e.getValue();
      switch (k) {
        case "logprobs" -> {
          if (v.isNull()) continue;
          if (chat) {
            if (SamplingParser.bool(k, v)) {
              JsonNode top = body.get("top_logprobs");
              b.logprobs(top == null || top.isNull() ? 0 : SamplingParser.integer("top_logprobs", top));
            }
          } else {
            b.logprobs(SamplingParser.integer(k, v));
          }
        }
        case "max_new_tokens", "sampling_parameters" -> {}
        case "logit_bias" -> {
          if (!v.isNull() && !(v.isObject() && v.isEmpty())) throw ApiException.badParam(k, "logit_bias is not supported");
        }
        case "best_of" -> {
          if (!v.isNull() && !v.equals(body.path("n")) && !(v.isNumber() && v.intValue() == 1)) {
            throw ApiException.badParam(k, "best_of is not supported");
          }
        }
        case "suffix" -> {
          if (!v.isNull()) throw ApiException.badParam(k, "suffix is not supported");
        }
        default -> SamplingParser.apply(b, k, v);
      }
    }
    if (chat && body.has("top_logprobs") && !body.get("top_logprobs").isNull() && !body.path("logprobs").asBoolean(false)) {
      throw ApiException.badParam("top_logprobs", "top_logprobs requires logprobs to be true");
    }
    return b;
  }

  private static boolean bool(ObjectNode body, String key, boolean dflt) {
    JsonNode v = body.get(key);
    return v == null || v.isNull() ? dflt : SamplingParser.bool(key, v);
  }

  private static boolean includeUsage(ObjectNode body) {
    JsonNode so = body.get("stream_options");
    if (so == null || so.isNull()) return false;
    if (!so.isObject()) throw ApiException.badParam("stream_options", "stream_options must be an object");
    JsonNode iu = so.get("include_usage");
    return iu != null && !iu.isNull() && SamplingParser.bool("stream_options.include_usage", iu);
  }

  // ---- /v1/completions ----

  private void completions(ServerRequest req, ServerResponse res) {
    ObjectNode body = HttpIo.jsonObject(req, opts.maxBodyBytes());
    ServedModel m = model(body);
    List<Prompt> prompts = prompts(body.get("prompt"));
    int vocab = m.engine().tokenizer().vocabSize();
    for (Prompt pr : prompts) {
      if (pr.tokenIds() == null) continue;
      for (int t : pr.tokenIds()) {
        if (t >= vocab) throw ApiException.badParam("prompt", "token id " + t + " is out of range (vocab size " + vocab + ")");
      }
    }
    SamplingParams p = SamplingParser.build(sampling(body, m, false));
    boolean stream = bool(body, "stream", false);
    boolean echo = bool(body, "echo", false);
    String id = "cmpl-" + Generation.newRequestId("").substring(1);
    long created = now();
    Tokenizer tok = m.engine().tokenizer();
    if (stream) {
      if (prompts.size() != 1) throw ApiException.badParam("prompt", "streaming supports a single prompt");
      boolean usage = includeUsage(body);
      streamCompletion(res, m, id, created, prompts.get(0), p, echo, usage, false, ConnectionWatch.start(req));
      return;
    }
    List<Generation.Result> results = runAll(m, prompts, p, ConnectionWatch.start(req));
    ObjectNode o = HttpIo.object().put("id", id).put("object", "text_completion").put("created", created).put("model", m.name());
    ArrayNode choices = o.putArray("choices");
    int promptTokens = 0;
    int completionTokens = 0;
    for (int i = 0; i < results.size(); i++) {
      Generation.Result r = results.get(i);
      promptTokens += r.promptTokenIds.length;
      completionTokens += r.completionTokens();
      String prefix = echo ? promptText(tok, prompts.get(i)) : "";
      for (Generation.Sequence s : r.sequences) {
        ObjectNode c = choices.addObject().put("index", i * p.n() + s.index).put("text", prefix + s.text);
        if (p.logprobs() != null) c.set("logprobs", completionLogprobs(tok, s.logprobs, prefix.length()));
        else c.putNull("logprobs");
        c.put("finish_reason", s.finishReason == null ? null : s.finishReason.wireName());
        putStopReason(c, s.stopReason);
      }
    }
    usage(o, promptTokens, completionTokens);
    HttpIo.sendJson(res, 200, o);
  }

  private static String promptText(Tokenizer tok, Prompt p) {
    return p.text() != null ? p.text() : tok.decode(p.tokenIds(), false);
  }

  private List<Prompt> prompts(JsonNode n) {
    if (n == null || n.isNull()) throw ApiException.badParam("prompt", "prompt is required");
    String bad = "prompt must be a string, a list of strings, a list of token ids or a list of lists of token ids";
    if (n.isTextual()) return List.of(Prompt.text(n.textValue()));
    if (!n.isArray() || n.isEmpty()) throw ApiException.badParam("prompt", bad);
    if (n.get(0).isIntegralNumber()) return List.of(Prompt.tokens(ids("prompt", n)));
    List<Prompt> out = new ArrayList<>();
    for (JsonNode e : n) {
      if (e.isTextual()) out.add(Prompt.text(e.textValue()));
      else if (e.isArray() && !e.isEmpty()) out.add(Prompt.tokens(ids("prompt", e)));
      else throw ApiException.badParam("prompt", bad);
    }
    return out;
  }

  private static int[] ids(String field, JsonNode a) {
    int[] ids = new int[a.size()];
    for (int i = 0; i < ids.length; i++) {
      JsonNode e = a.get(i);
      if (!e.isIntegralNumber() || !e.canConvertToInt() || e.intValue() < 0) {
        throw ApiException.badParam(field, field + " token ids must be non-negative integers, got " + TritonApi.shortJson(e));
      }
      ids[i] = e.intValue();
    }
    return ids;
  }

  private List<Generation.Result> runAll(ServedModel m, List<Prompt> prompts, SamplingParams p, BooleanSupplier gone) {
    if (prompts.size() == 1) {
      return List.of(Generation.run(m, metrics, Generation.newRequestId("cmpl"), prompts.get(0), p, 0, opts.requestTimeoutNanos(), gone, null));
    }
    try (var ex = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<Generation.Result>> fs = new ArrayList<>();
      for (Prompt pr : prompts) {
        fs.add(ex.submit(() -> Generation.run(m, metrics, Generation.newRequestId("cmpl"), pr, p, 0, opts.requestTimeoutNanos(), gone, null)));
      }
      List<Generation.Result> out = new ArrayList<>();
      for (Future<Generation.Result> f : fs) out.add(f.get());
      return out;
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException re) throw re;
      throw new ApiException(500, String.valueOf(e.getCause()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Generation.ClientGone(e);
    }
  }

  private ObjectNode completionLogprobs(Tokenizer tok, List<TokenLogprob> lps, int offset) {
    ObjectNode o = HttpIo.object();
    ArrayNode tokens = o.putArray("tokens");
    ArrayNode tlp = o.putArray("token_logprobs");
    ArrayNode top = o.putArray("top_logprobs");
    ArrayNode off = o.putArray("text_offset");
    int pos = offset;
    for (TokenLogprob lp : lps) {
      String t = tok.decode(new int[] {lp.tokenId()}, false);
      tokens.add(t);
      tlp.add(lp.logprob());
      ObjectNode tops = top.addObject();
      for (TopLogprob tl : lp.top()) tops.put(tok.decode(new int[] {tl.tokenId()}, false), tl.logprob());
      off.add(pos);
      pos += t.length();
    }
    return o;
  }

  private static void putStopReason(ObjectNode c, Object stopReason) {
    if (stopReason instanceof Integer i) c.put("stop_reason", i);
    else if (stopReason != null) c.put("stop_reason", stopReason.toString());
    else c.putNull("stop_reason");
  }

  private static void usage(ObjectNode o, int prompt, int completion) {
    o.putObject("usage").put("prompt_tokens", prompt).put("total_tokens", prompt + completion).put("completion_tokens", completion);
  }

  /** Streams a completion or a chat completion as OpenAI chunks, ending with {@code data: [DONE]}. */
  private void streamCompletion(ServerResponse res, ServedModel m, String id, long created, Prompt prompt,
      SamplingParams p, boolean echo, boolean includeUsage, boolean chat, BooleanSupplier gone) {
    Tokenizer tok = m.engine().tokenizer();
    String object = chat ? "chat.completion.chunk" : "text_completion";
    var sse = new Object() {
      HttpIo.Sse out;
      boolean[] started = new boolean[p.n()];
    };
    try {
      Generation.Result r = Generation.run(m, metrics, Generation.newRequestId(chat ? "chat" : "cmpl"), prompt, p, 0,
          opts.requestTimeoutNanos(), gone, (o, soFar) -> {
            if (sse.out == null) sse.out = new HttpIo.Sse(res);
            for (CompletionDelta d : o.deltas()) {
              if (d.index() < 0 || d.index() >= p.n()) continue;
              String text = d.newText() == null ? "" : d.newText();
              boolean first = !sse.started[d.index()];
              if (text.isEmpty() && !d.finished() && !first) continue;
              sse.started[d.index()] = true;
              ObjectNode chunk = HttpIo.object().put("id", id).put("object", object).put("created", created).put("model", m.name());
              ObjectNode c = chunk.putArray("choices").addObject().put("index", d.index());
              if (chat) {
                ObjectNode delta = c.putObject("delta");
                if (first) delta.put("role", "assistant");
                delta.put("content", text);
                if (p.logprobs() != null && d.logprobs() != null) c.set("logprobs", chatLogprobs(tok, d.logprobs()));
                else c.putNull("logprobs");
              } else {
                String prefix = first && echo ? promptText(tok, prompt) : "";
                c.put("text", prefix + text);
                if (p.logprobs() != null && d.logprobs() != null) c.set("logprobs", completionLogprobs(tok, d.logprobs(), 0));
                else c.putNull("logprobs");
              }
              c.put("finish_reason", d.finishReason() == null ? null : d.finishReason().wireName());
              if (d.finished()) putStopReason(c, d.stopReason());
              sse.out.data(HttpIo.toJson(chunk));
            }
          });
      if (sse.out == null) sse.out = new HttpIo.Sse(res);
      if (includeUsage) {
        ObjectNode chunk = HttpIo.object().put("id", id).put("object", object).put("created", created).put("model", m.name());
        chunk.putArray("choices");
        usage(chunk, r.promptTokenIds.length, r.completionTokens());
        sse.out.data(HttpIo.toJson(chunk));
      }
      sse.out.data("[DONE]");
    } catch (ApiException e) {
      if (sse.out == null) throw e;
      try {
        sse.out.data(HttpIo.toJson(error(e.status(), e.getMessage(), e.param())));
        sse.out.data("[DONE]");
      } catch (java.io.IOException ignored) {
        // client gone
      }
    } catch (java.io.IOException e) {
      // client went away after the last token
    } finally {
      if (sse.out != null) sse.out.close();
    }
  }

  // ---- /v1/chat/completions ----

  private ChatTemplate template(ServedModel m) {
    return templates.computeIfAbsent(m, k -> {
      String src = k.engine().tokenizer().chatTemplate();
      if (src == null || src.isBlank()) {
        throw ApiException.badRequest("model '" + k.name() + "' has no chat template in tokenizer_config.json;"
            + " use /v1/completions");
      }
      try {
        return ChatTemplate.compile(src);
      } catch (TemplateException e) {
        throw ApiException.badRequest("the chat template of model '" + k.name() + "' does not compile: " + e.getMessage());
      }
    });
  }

  /** The conversation rendered with the model's chat template, as token ids (the template adds BOS). */
  int[] renderChat(ServedModel m, ObjectNode body) {
    JsonNode msgs = body.get("messages");
    if (msgs == null || !msgs.isArray() || msgs.isEmpty()) {
      throw ApiException.badParam("messages", "messages must be a non-empty list of {role, content} objects");
    }
    List<Map<String, Object>> messages = new ArrayList<>();
    for (int i = 0; i < msgs.size(); i++) {
      JsonNode msg = msgs.get(i);
      String where = "messages[" + i + "]";
      if (!msg.isObject() || !msg.path("role").isTextual()) {
        throw ApiException.badParam("messages", where + " must be an object with a string role");
      }
      @SuppressWarnings("unchecked")
      Map<String, Object> mm = HttpIo.JSON.convertValue(msg, LinkedHashMap.class);
      JsonNode content = msg.get("content");
      if (content != null && content.isArray()) {
        StringBuilder sb = new StringBuilder();
        for (JsonNode part : content) {
          if (!"text".equals(part.path("type").asText()) || !part.path("text").isTextual()) {
            throw ApiException.badParam("messages", where + ".content: only text parts are supported");
          }
          if (!sb.isEmpty()) sb.append('\n');
          sb.append(part.get("text").textValue());
        }
        mm.put("content", sb.toString());
      } else if (content != null && !content.isNull() && !content.isTextual()) {
        throw ApiException.badParam("messages", where + ".content must be a string or a list of text parts");
      }
      messages.add(mm);
    }
    Tokenizer tok = m.engine().tokenizer();
    Map<String, Object> extra = new LinkedHashMap<>();
    extra.put("bos_token", tok.bosToken() == null ? "" : tok.bosToken());
    extra.put("eos_token", tok.eosToken() == null ? "" : tok.eosToken());
    JsonNode tools = body.get("tools");
    if (tools != null && !tools.isNull()) extra.put("tools", HttpIo.JSON.convertValue(tools, List.class));
    JsonNode kw = body.get("chat_template_kwargs");
    if (kw != null && !kw.isNull()) {
      if (!kw.isObject()) throw ApiException.badParam("chat_template_kwargs", "chat_template_kwargs must be an object");
      extra.putAll(HttpIo.JSON.convertValue(kw, LinkedHashMap.class));
    }
    boolean addGen = bool(body, "add_generation_prompt", true);
    String text;
    try {
      text = template(m).renderChat(messages, addGen, extra);
    } catch (TemplateException e) {
      throw ApiException.badParam("messages", "chat template error: " + e.getMessage());
    } catch (RuntimeException e) {
      if (e instanceof ApiException) throw e;
      throw ApiException.badParam("messages", "chat template error: " + e);
    }
    return tok.encode(text, bool(body, "add_special_tokens", false));
  }

  private void chat(ServerRequest req, ServerResponse res) {
    ObjectNode body = HttpIo.jsonObject(req, opts.maxBodyBytes());
    ServedModel m = model(body);
    int[] ids = renderChat(m, body);
    SamplingParams p = SamplingParser.build(sampling(body, m, true));
    String id = "chatcmpl-" + Generation.newRequestId("").substring(1);
    long created = now();
    Prompt prompt = Prompt.tokens(ids);
    if (bool(body, "stream", false)) {
      streamCompletion(res, m, id, created, prompt, p, false, includeUsage(body), true, ConnectionWatch.start(req));
      return;
    }
    Generation.Result r = Generation.run(m, metrics, Generation.newRequestId("chat"), prompt, p, 0, opts.requestTimeoutNanos(),
        ConnectionWatch.start(req), null);
    Tokenizer tok = m.engine().tokenizer();
    ObjectNode o = HttpIo.object().put("id", id).put("object", "chat.completion").put("created", created).put("model", m.name());
    ArrayNode choices = o.putArray("choices");
    for (Generation.Sequence s : r.sequences) {
      ObjectNode c = choices.addObject().put("index", s.index);
      c.putObject("message").put("role", "assistant").put("content", s.text.toString()).putArray("tool_calls");
      if (p.logprobs() != null) c.set("logprobs", chatLogprobs(tok, s.logprobs));
      else c.putNull("logprobs");
      c.put("finish_reason", s.finishReason == null ? null : s.finishReason.wireName());
      putStopReason(c, s.stopReason);
    }
    usage(o, r.promptTokenIds.length, r.completionTokens());
    HttpIo.sendJson(res, 200, o);
  }

  private static ObjectNode chatLogprobs(Tokenizer tok, List<TokenLogprob> lps) {
    ObjectNode o = HttpIo.object();
    ArrayNode content = o.putArray("content");
    for (TokenLogprob lp : lps) {
      ObjectNode e = tokenEntry(content.addObject(), tok.decode(new int[] {lp.tokenId()}, false), lp.logprob());
      ArrayNode top = e.putArray("top_logprobs");
      for (TopLogprob t : lp.top()) tokenEntry(top.addObject(), tok.decode(new int[] {t.tokenId()}, false), t.logprob());
    }
    return o;
  }

  private static ObjectNode tokenEntry(ObjectNode e, String token, float logprob) {
    e.put("token", token).put("logprob", logprob);
    ArrayNode bytes = e.putArray("bytes");
    for (byte b : token.getBytes(StandardCharsets.UTF_8)) bytes.add(b & 0xff);
    return e;
  }

  // ---- vLLM /tokenize, /detokenize ----

  private void tokenize(ServerRequest req, ServerResponse res) {
    ObjectNode body = HttpIo.jsonObject(req, opts.maxBodyBytes());
    ServedModel m = model(body);
    Tokenizer tok = m.engine().tokenizer();
    int[] ids;
    if (body.has("messages")) {
      ids = renderChat(m, body);
    } else {
      JsonNode p = body.get("prompt");
      if (p == null || !p.isTextual()) throw ApiException.badParam("prompt", "prompt must be a string (or send messages)");
      ids = tok.encode(p.textValue(), bool(body, "add_special_tokens", true));
    }
    ObjectNode o = HttpIo.object().put("count", ids.length).put("max_model_len", m.engine().maxModelLen());
    ArrayNode t = o.putArray("tokens");
    for (int id : ids) t.add(id);
    if (bool(body, "return_token_strs", false)) {
      ArrayNode s = o.putArray("token_strs");
      for (int id : ids) s.add(tok.idToToken(id));
    } else {
      o.putNull("token_strs");
    }
    HttpIo.sendJson(res, 200, o);
  }

  private void detokenize(ServerRequest req, ServerResponse res) {
    ObjectNode body = HttpIo.jsonObject(req, opts.maxBodyBytes());
    ServedModel m = model(body);
    JsonNode t = body.get("tokens");
    if (t == null || !t.isArray()) throw ApiException.badParam("tokens", "tokens must be a list of token ids");
    int[] ids = ids("tokens", t);
    Tokenizer tok = m.engine().tokenizer();
    for (int id : ids) {
      if (id >= tok.vocabSize()) {
        throw ApiException.badParam("tokens", "token id " + id + " is out of range (vocab size " + tok.vocabSize() + ")");
      }
    }
    HttpIo.sendJson(res, 200, HttpIo.object().put("prompt", tok.decode(ids, false)));
  }
}
