package io.quire.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quire.server.http.ServerOptions;
import io.quire.server.repository.EngineLauncher;
import io.quire.server.repository.ModelRepository;
import io.quire.spi.BackendProvider;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A stream's first event reaches the client as soon as the engine has its first token. The engine
 * is the real one (CPU backend, llama2-tiny); a gate in front of its forward passes lets the test
 * hold the second step until the client has read the first event, so nothing later can release it.
 */
class StreamFirstEventTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final String MODEL = "tiny";
  /** Its first greedy token decodes to text (some tokens of the tiny model are held as partial UTF-8). */
  static final String PROMPT = "The old house on the hill";
  /** Far above a loopback write (well under a millisecond), far below a delayed ACK (40 ms on Linux). */
  static final long ACK_WAIT_NANOS = 20_000_000L;

  @TempDir static Path tmp;
  static final StepGate gate = new StepGate();
  static QuireServer server;

  enum Endpoint {
    TRITON("/v2/models/" + MODEL + "/generate_stream",
        "{\"text_input\": \"%s\", \"max_tokens\": 4, \"ignore_eos\": true, \"temperature\": 0}"),
    OPENAI("/v1/completions",
        "{\"model\": \"" + MODEL + "\", \"prompt\": \"%s\", \"max_tokens\": 4, \"ignore_eos\": true, \"temperature\": 0, \"stream\": true}");

    final String path;
    final String body;

    Endpoint(String path, String body) {
      this.path = path;
      this.body = body;
    }

    /** The generated text an event carries, or null for an event without one. */
    String text(JsonNode event) {
      JsonNode t = this == TRITON ? event.get("text_output") : event.path("choices").path(0).get("text");
      return t == null ? null : t.asText();
    }
  }

  @BeforeAll
  static void start() throws Exception {
    Path llama2 = TestModels.hfFolder("llama2-tiny", tmp.resolve("hf/llama2-tiny"));
    Path repo = tmp.resolve("repo");
    TestModels.write(repo.resolve(MODEL + "/config.pbtxt"), "backend: \"vllm\"\ninstance_group [ { kind: KIND_CPU } ]\n");
    TestModels.write(repo.resolve(MODEL + "/1/model.json"),
        "{\"model\": \"" + llama2.toString().replace("\\", "\\\\") + "\", \"num_gpu_blocks_override\": 64}");
    BackendProvider cpu = ServiceLoader.load(BackendProvider.class).stream().map(ServiceLoader.Provider::get)
        .filter(p -> p.name().equals("cpu")).findFirst().orElseThrow();
    ModelRepository r = ModelRepository.ofDirectory(repo, new ModelRepository.Options("cpu", Map.of()),
        new EngineLauncher(List.of(gate.around(cpu))));
    server = QuireServer.start(r, new ServerOptions(null, false, 1L << 20, 0), "127.0.0.1", 0, -1, List.of("*"));
  }

  @AfterEach
  void openGate() {
    gate.open();
  }

  @AfterAll
  static void stop() {
    gate.open();
    if (server != null) server.close();
  }

  @ParameterizedTest
  @EnumSource(Endpoint.class)
  void firstEventReachesTheClientBeforeTheSecondTokenIsComputed(Endpoint e) throws Exception {
    try (Socket s = connect()) {
      streamWithSecondStepHeld(s, e);
    }
  }

  /**
   * The response headers and the first event are two writes (Helidon sends the headers of a chunked
   * response on their own). With Nagle's algorithm on, the event waits for the client's ACK of the
   * headers, which a client answering back-to-back requests delays (40 ms on Linux): the ~43 ms
   * between the server's first token and the client's first chunk measured on the GPU.
   */
  @ParameterizedTest
  @EnumSource(Endpoint.class)
  void firstEventFollowsTheHeadersWithoutWaitingForTheClientsAck(Endpoint e) throws Exception {
    List<Long> gaps = new ArrayList<>();
    try (Socket s = connect()) {
      for (int i = 0; i < 6; i++) {
        Exchange x = streamWithSecondStepHeld(s, e);
        // The first exchange of a connection is ACKed at once (TCP quick-ACK at its start).
        if (i > 0) gaps.add(x.firstEventNanos() - x.headersNanos());
      }
    }
    long[] sorted = gaps.stream().mapToLong(Long::longValue).sorted().toArray();
    long median = sorted[sorted.length / 2];
    assertTrue(median < ACK_WAIT_NANOS, "headers -> first event (ms): " + Arrays.toString(
        gaps.stream().mapToDouble(g -> g / 1e6).toArray()));
  }

  /** When the response headers and the first event arrived (System.nanoTime). */
  record Exchange(long headersNanos, long firstEventNanos) {}

  private static Socket connect() throws IOException {
    Socket s = new Socket("127.0.0.1", server.httpPort());
    s.setTcpNoDelay(true);
    s.setSoTimeout(10_000);
    return s;
  }

  /**
   * Sends one streaming request of {@link #PROMPT} on {@code s}, lets the engine run only its first
   * step (prefill and the first token) until the first event has arrived and carries that token's
   * text, then lets it finish and reads the rest.
   */
  private static Exchange streamWithSecondStepHeld(Socket s, Endpoint e) throws Exception {
    int before = gate.allow(1);
    byte[] body = String.format(e.body, PROMPT).getBytes(StandardCharsets.UTF_8);
    ByteArrayOutputStream req = new ByteArrayOutputStream();
    req.writeBytes(("POST " + e.path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
        + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    req.writeBytes(body);
    s.getOutputStream().write(req.toByteArray());
    ChunkedSse in = new ChunkedSse(s.getInputStream());
    long headersAt;
    String data;
    try {
      String status = in.headers();
      assertTrue(status.startsWith("HTTP/1.1 200"), status);
      headersAt = in.lastArrival();
      data = in.nextEvent();
    } catch (SocketTimeoutException ex) {
      throw new AssertionError("no event within 10 s while the engine was held before its second step: "
          + "the first token's event waits for a later token", ex);
    }
    long firstAt = in.lastArrival();
    assertNotNull(data, "the stream ended without an event");
    String text = e.text(JSON.readTree(data));
    assertTrue(text != null && !text.isEmpty(), "the first event carries the first token's text: " + data);
    assertEquals(before + 1, gate.steps(), "steps the engine ran for this request before its first event arrived");
    gate.open();
    while (in.nextEvent() != null) {
      // the remaining events, up to the terminating chunk; the connection stays open
    }
    return new Exchange(headersAt, firstAt);
  }

  /**
   * Lets the test decide how many forward passes the engine may start: each one waits at the gate
   * until allowed. Wraps a real backend; everything else passes through.
   */
  static final class StepGate {
    private int allowed = Integer.MAX_VALUE;
    private int steps;

    BackendProvider around(BackendProvider p) {
      return BackendCalls.around(p, name -> {
        if (name.equals("runForward")) beforeStep();
      });
    }

    private synchronized void beforeStep() {
      try {
        while (allowed == 0) wait();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt(); // the engine is shutting down
      }
      if (allowed != Integer.MAX_VALUE) allowed--;
      steps++;
    }

    /** From now on, {@code n} more steps; returns the steps run so far. */
    synchronized int allow(int n) {
      allowed = n;
      notifyAll();
      return steps;
    }

    synchronized void open() {
      allow(Integer.MAX_VALUE);
    }

    synchronized int steps() {
      return steps;
    }
  }

  /**
   * Reads an HTTP/1.1 response with a chunked SSE body from a socket, noting when the bytes last
   * read arrived (the time of the read that brought them).
   */
  static final class ChunkedSse {
    private final InputStream in;
    private final byte[] buf = new byte[8192];
    private int pos, end;
    private long lastArrival;
    private final StringBuilder pending = new StringBuilder();

    ChunkedSse(InputStream in) {
      this.in = in;
    }

    long lastArrival() {
      return lastArrival;
    }

    /** The status line; reads up to the end of the headers. */
    String headers() throws IOException {
      String status = line();
      while (!line().isEmpty()) {
        // header fields
      }
      return status;
    }

    /** The next event's data, or null after the terminating chunk. */
    String nextEvent() throws IOException {
      while (true) {
        int i = pending.indexOf("\n\n");
        if (i >= 0) {
          String ev = pending.substring(0, i);
          pending.delete(0, i + 2);
          if (ev.startsWith("data: ")) return ev.substring(6);
          continue;
        }
        int size = Integer.parseInt(line().strip(), 16);
        if (size == 0) {
          line();
          return null;
        }
        ByteArrayOutputStream chunk = new ByteArrayOutputStream();
        for (int k = 0; k < size; k++) chunk.write(read());
        line();
        pending.append(chunk.toString(StandardCharsets.UTF_8));
      }
    }

    private String line() throws IOException {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      for (int c; (c = read()) != '\n'; ) if (c != '\r') b.write(c);
      return b.toString(StandardCharsets.US_ASCII);
    }

    private int read() throws IOException {
      if (pos == end) {
        end = in.read(buf);
        if (end < 0) throw new IOException("connection closed");
        lastArrival = System.nanoTime();
        pos = 0;
      }
      return buf[pos++] & 0xff;
    }
  }
}
