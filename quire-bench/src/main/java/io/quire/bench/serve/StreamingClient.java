package io.quire.bench.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quire.bench.workload.BenchRequest;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Sends one request as a stream and times its chunks, as vLLM's benchmark_serving does: TTFT is
 * the first chunk that carries output, ITL the gaps between such chunks. Greedy, with
 * {@code ignore_eos} and {@code max_tokens}, so each request generates exactly its output length.
 */
public final class StreamingClient implements AutoCloseable {
  private final ServerTarget target;
  private final Duration timeout;
  private final ScheduledExecutorService deadlines = Executors.newSingleThreadScheduledExecutor(
      Thread.ofPlatform().daemon().name("bench-deadlines").factory());

  public StreamingClient(ServerTarget target, Duration timeout) {
    this.target = target;
    this.timeout = timeout;
  }

  public RequestResult send(BenchRequest req) {
    HttpRequest http = HttpRequest.newBuilder(target.uri(path())).timeout(timeout).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body(req).toString())).build();
    long start = System.nanoTime();
    AtomicBoolean timedOut = new AtomicBoolean();
    Thread caller = Thread.currentThread();
    // The request timeout covers only the response headers; a stream that stalls later is cut here.
    var deadline = deadlines.schedule(() -> {
      timedOut.set(true);
      caller.interrupt();
    }, timeout.toNanos(), TimeUnit.NANOSECONDS);
    try {
      HttpResponse<InputStream> res = target.client().send(http, HttpResponse.BodyHandlers.ofInputStream());
      if (res.statusCode() != 200) {
        String msg;
        try (InputStream in = res.body()) {
          msg = new String(in.readNBytes(500), StandardCharsets.UTF_8).strip();
        }
        return RequestResult.failed("http_" + res.statusCode(), msg, System.nanoTime() - start);
      }
      return read(res.body(), start, req);
    } catch (HttpConnectTimeoutException e) {
      return RequestResult.failed("timeout", "connect timed out", System.nanoTime() - start);
    } catch (HttpTimeoutException e) {
      return RequestResult.failed("timeout", "no response within " + timeout.toMillis() + " ms", System.nanoTime() - start);
    } catch (ConnectException e) {
      return RequestResult.failed("connection_refused", "cannot connect to " + target.url(), System.nanoTime() - start);
    } catch (IOException e) {
      if (timedOut.get()) return RequestResult.failed("timeout", "stream not finished within " + timeout.toMillis() + " ms", System.nanoTime() - start);
      return RequestResult.failed("io_error", String.valueOf(e), System.nanoTime() - start);
    } catch (InterruptedException e) {
      if (timedOut.get()) return RequestResult.failed("timeout", "no response within " + timeout.toMillis() + " ms", System.nanoTime() - start);
      Thread.currentThread().interrupt();
      return RequestResult.failed("io_error", "interrupted", System.nanoTime() - start);
    } finally {
      deadline.cancel(false);
      if (timedOut.get()) Thread.interrupted(); // a deadline that fired as the request ended
    }
  }

  private String path() {
    return target.api() == Api.OPENAI ? "/v1/completions" : "/v2/models/" + target.model() + "/generate_stream";
  }

  private ObjectNode body(BenchRequest req) {
    ObjectNode b = ServerTarget.JSON.createObjectNode();
    if (target.api() == Api.OPENAI) {
      b.put("model", target.model()).put("prompt", req.prompt()).put("max_tokens", req.outputTokens())
          .put("temperature", 0.0).put("ignore_eos", true).put("stream", true);
      b.putObject("stream_options").put("include_usage", true);
    } else {
      // The vLLM backend reads sampling parameters from this JSON string input.
      ObjectNode sp = ServerTarget.JSON.createObjectNode().put("max_tokens", req.outputTokens()).put("ignore_eos", true)
          .put("temperature", 0.0);
      b.put("text_input", req.prompt()).put("stream", true).put("exclude_input_in_output", true)
          .put("return_num_input_tokens", true).put("return_num_output_tokens", true).put("sampling_parameters", sp.toString());
    }
    return b;
  }

  /** Reads the SSE stream ({@code data: {json}} events; OpenAI ends with {@code data: [DONE]}). */
  private RequestResult read(InputStream body, long start, BenchRequest req) throws IOException {
    long[] chunks = new long[Math.max(16, req.outputTokens() + 1)];
    int n = 0;
    int input = req.inputTokens(), output = -1;
    try (BufferedReader in = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8))) {
      for (String line; (line = in.readLine()) != null; ) {
        if (!line.startsWith("data:")) continue;
        long at = System.nanoTime() - start;
        String data = line.substring(5).strip();
        if (data.equals("[DONE]")) break;
        JsonNode ev;
        try {
          ev = ServerTarget.JSON.readTree(data);
        } catch (IOException e) {
          return RequestResult.failed("stream_error", "not JSON: " + data, at);
        }
        if (ev.has("error")) {
          JsonNode err = ev.get("error");
          return RequestResult.failed("stream_error", err.isObject() ? err.path("message").asText() : err.asText(), at);
        }
        boolean carriesOutput;
        if (target.api() == Api.OPENAI) {
          carriesOutput = ev.path("choices").size() > 0;
          JsonNode usage = ev.get("usage");
          if (usage != null && usage.isObject()) {
            input = usage.path("prompt_tokens").asInt(input);
            output = usage.path("completion_tokens").asInt(output);
          }
        } else {
          carriesOutput = ev.has("text_output");
          if (ev.has("num_input_tokens")) input = ev.get("num_input_tokens").asInt();
          if (ev.has("num_output_tokens")) output = ev.get("num_output_tokens").asInt();
        }
        if (carriesOutput) {
          if (n == chunks.length) chunks = Arrays.copyOf(chunks, n * 2);
          chunks[n++] = at;
        }
      }
    }
    long e2e = System.nanoTime() - start;
    if (n == 0) return RequestResult.failed("stream_error", "the stream ended without output", e2e);
    return new RequestResult(null, null, Arrays.copyOf(chunks, n), e2e, input, output >= 0 ? output : n);
  }

  @Override
  public void close() {
    deadlines.shutdownNow();
  }
}
