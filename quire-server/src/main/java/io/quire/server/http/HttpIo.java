package io.quire.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.helidon.http.HeaderNames;
import io.helidon.http.Status;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/** Request bodies with a size limit, JSON responses, and server-sent events written as raw bytes. */
final class HttpIo {
  static final ObjectMapper JSON = new ObjectMapper()
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);
  private static final ObjectMapper OUT = new ObjectMapper();

  private HttpIo() {}

  static ObjectNode object() {
    return OUT.createObjectNode();
  }

  /** Reads at most {@code limit} bytes; a bigger body is a 413. */
  static byte[] body(ServerRequest req, long limit) {
    if (!req.content().hasEntity()) return new byte[0];
    try (InputStream in = req.content().inputStream()) {
      byte[] b = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, limit + 1));
      if (b.length > limit) throw new ApiException(413, "request body exceeds the limit of " + limit + " bytes");
      return b;
    } catch (IOException e) {
      throw new ApiException(400, "failed to read the request body: " + e.getMessage());
    } catch (RuntimeException e) {
      if (e instanceof ApiException) throw e;
      // Helidon reports a body over its own max-payload-size this way.
      throw new ApiException(413, "request body exceeds the limit of " + limit + " bytes");
    }
  }

  /** The body as a JSON object; malformed JSON is a 400 with the parser's message (no stack trace). */
  static ObjectNode jsonObject(ServerRequest req, long limit) {
    byte[] b = body(req, limit);
    if (b.length == 0) throw ApiException.badRequest("request body is empty; expected a JSON object");
    JsonNode n;
    try {
      n = JSON.readTree(b);
    } catch (JsonProcessingException e) {
      throw ApiException.badRequest("failed to parse the request JSON buffer: " + e.getOriginalMessage()
          + " at line " + e.getLocation().getLineNr() + " column " + e.getLocation().getColumnNr());
    } catch (IOException e) {
      throw ApiException.badRequest("failed to parse the request JSON buffer: " + e.getMessage());
    }
    if (n == null || !n.isObject()) throw ApiException.badRequest("request body must be a JSON object");
    return (ObjectNode) n;
  }

  static void sendJson(ServerResponse res, int status, Object body) {
    byte[] bytes;
    try {
      bytes = OUT.writeValueAsBytes(body);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    res.status(Status.create(status));
    res.header(HeaderNames.CONTENT_TYPE, "application/json");
    res.send(bytes);
  }

  /**
   * Ends the exchange of a client that went away (its request aborted already): nginx's 499 with
   * {@code Connection: close}, which Helidon fails to write quietly, instead of no answer at all.
   */
  static void clientGone(ServerResponse res) {
    if (res.isSent()) return;
    try {
      res.status(Status.create(499, "Client Closed Request"));
      res.header(HeaderNames.CONNECTION, "close");
      res.send();
    } catch (RuntimeException ignored) {
      // the connection is gone
    }
  }

  static String toJson(Object o) {
    try {
      return OUT.writeValueAsString(o);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A server-sent event stream: {@code data: <payload>\n\n} per event, flushed at once. */
  static final class Sse implements AutoCloseable {
    private final OutputStream out;

    Sse(ServerResponse res) {
      res.status(Status.OK_200);
      res.header(HeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8");
      res.header(HeaderNames.CACHE_CONTROL, "no-cache");
      this.out = res.outputStream();
    }

    void data(String payload) throws IOException {
      out.write(("data: " + payload + "\n\n").getBytes(StandardCharsets.UTF_8));
      out.flush();
    }

    @Override
    public void close() {
      try {
        out.close();
      } catch (IOException | RuntimeException ignored) {
        // the client is gone; nothing to tell it
      }
    }
  }
}
