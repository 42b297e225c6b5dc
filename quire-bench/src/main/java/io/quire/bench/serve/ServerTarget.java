package io.quire.bench.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quire.bench.workload.TokenCounter;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;

/**
 * A server under test: its base URL, protocol and model, checked before the first request so that
 * an unreachable server or a model it does not serve is one clear error instead of N failures.
 */
public final class ServerTarget {
  static final ObjectMapper JSON = new ObjectMapper();

  private final String url;
  private final Api api;
  private final String model;
  private final HttpClient client;

  private ServerTarget(String url, Api api, String model, HttpClient client) {
    this.url = url;
    this.api = api;
    this.model = model;
    this.client = client;
  }

  /**
   * Checks that {@code url} answers and serves {@code model} (OpenAI: listed by /v1/models;
   * Triton: /v2/models/{model}/ready is 200). A null model is taken from the server when it
   * serves exactly one.
   */
  public static ServerTarget connect(String url, Api api, String model) {
    String base = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(10)).executor(Executors.newVirtualThreadPerTaskExecutor()).build();
    ServerTarget probe = new ServerTarget(base, api, model, client);
    return new ServerTarget(base, api, probe.checkModel(), client);
  }

  public String url() {
    return url;
  }

  public Api api() {
    return api;
  }

  public String model() {
    return model;
  }

  HttpClient client() {
    return client;
  }

  private String checkModel() {
    if (api == Api.OPENAI) {
      JsonNode models = getJson("/v1/models");
      List<String> ids = new ArrayList<>();
      for (JsonNode m : models.path("data")) ids.add(m.path("id").asText());
      if (model == null) {
        if (ids.size() == 1) return ids.get(0);
        throw new IllegalArgumentException(url + " serves " + (ids.isEmpty() ? "no model" : "the models " + ids) + "; name one with --model");
      }
      if (!ids.contains(model)) throw new IllegalArgumentException("model '" + model + "' is not served by " + url + "; it serves " + ids);
      return model;
    }
    String name = model;
    if (name == null) {
      List<String> ready = new ArrayList<>();
      for (JsonNode e : postJson("/v2/repository/index", "{\"ready\": true}")) {
        if ("READY".equals(e.path("state").asText("READY"))) ready.add(e.path("name").asText());
      }
      if (ready.size() != 1) {
        throw new IllegalArgumentException(url + " has " + (ready.isEmpty() ? "no ready model" : "the ready models " + ready) + "; name one with --model");
      }
      name = ready.get(0);
    }
    HttpResponse<String> r = send(HttpRequest.newBuilder(uri("/v2/models/" + name + "/ready")).GET());
    if (r.statusCode() != 200) {
      throw new IllegalArgumentException("model '" + name + "' is not ready on " + url + " (HTTP " + r.statusCode()
          + (r.body().isBlank() ? "" : ": " + r.body().strip()) + ")");
    }
    return name;
  }

  /**
   * Counts tokens with the server's /tokenize (vLLM's and Quire's extension), which also gives
   * max_model_len. Fails clearly on servers without it (Triton itself): use a local tokenizer there.
   */
  public TokenCounter tokenCounter() {
    String probe = "{\"model\":" + JSON.valueToTree(model) + ",\"prompt\":\"the\"}";
    HttpResponse<String> r = send(HttpRequest.newBuilder(uri("/tokenize")).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(probe)));
    if (r.statusCode() != 200) {
      throw new IllegalArgumentException(url + "/tokenize answered HTTP " + r.statusCode()
          + ": token-exact prompts need it (vLLM and Quire serve it); pass --tokenizer DIR to count with a local tokenizer.json");
    }
    int maxModelLen = readJson(r.body(), "/tokenize").path("max_model_len").asInt(0);
    return new TokenCounter() {
      @Override
      public int count(String text) {
        var body = JSON.createObjectNode().put("model", model).put("prompt", text).put("add_special_tokens", true);
        HttpResponse<String> t = send(HttpRequest.newBuilder(uri("/tokenize")).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body.toString())));
        if (t.statusCode() != 200) throw new IllegalStateException(url + "/tokenize answered HTTP " + t.statusCode() + ": " + t.body());
        return readJson(t.body(), "/tokenize").path("count").asInt();
      }

      @Override
      public int maxModelLen() {
        return maxModelLen;
      }
    };
  }

  URI uri(String path) {
    return URI.create(url + path);
  }

  private JsonNode getJson(String path) {
    HttpResponse<String> r = send(HttpRequest.newBuilder(uri(path)).GET());
    if (r.statusCode() != 200) throw new IllegalArgumentException(url + path + " answered HTTP " + r.statusCode() + ": " + r.body().strip());
    return readJson(r.body(), path);
  }

  private JsonNode postJson(String path, String body) {
    HttpResponse<String> r = send(HttpRequest.newBuilder(uri(path)).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)));
    if (r.statusCode() != 200) throw new IllegalArgumentException(url + path + " answered HTTP " + r.statusCode() + ": " + r.body().strip());
    return readJson(r.body(), path);
  }

  private JsonNode readJson(String body, String path) {
    try {
      return JSON.readTree(body);
    } catch (IOException e) {
      throw new IllegalArgumentException(url + path + " did not answer JSON: " + body.lines().findFirst().orElse(""));
    }
  }

  private HttpResponse<String> send(HttpRequest.Builder b) {
    try {
      return client.send(b.timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
    } catch (ConnectException | HttpConnectTimeoutException e) {
      throw new IllegalArgumentException("cannot connect to " + url + ": " + unreachable(e) + " (is the server running?)");
    } catch (HttpTimeoutException e) {
      throw new IllegalArgumentException(url + " did not answer within 60 s");
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot talk to " + url + ": " + e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted");
    }
  }

  static String unreachable(IOException e) {
    if (e instanceof HttpConnectTimeoutException) return "connection timed out";
    for (Throwable c = e; c != null; c = c.getCause()) {
      if (c instanceof java.nio.channels.UnresolvedAddressException) return "unknown host";
    }
    return "connection refused";
  }
}
