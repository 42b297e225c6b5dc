package io.quire.server.http;

import io.helidon.common.socket.SocketOptions;
import io.helidon.http.HeaderNames;
import io.helidon.http.Status;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import io.helidon.webserver.http1.Http1Config;
import io.quire.server.metrics.ServerMetrics;
import io.quire.server.repository.ModelRepository;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The HTTP listener (Helidon SE, one virtual thread per request) with Triton's and the OpenAI
 * routes, and the metrics listener. Anything unexpected becomes a 500 with a one-line message.
 */
public final class HttpFrontend implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(HttpFrontend.class.getName());
  private final WebServer http;
  private final WebServer metricsServer;

  public HttpFrontend(ModelRepository repo, ServerMetrics metrics, ServerOptions opts, String host, int httpPort, int metricsPort) {
    TritonApi triton = new TritonApi(repo, metrics, opts);
    OpenAiApi openai = new OpenAiApi(repo, metrics, opts);
    HttpRouting.Builder r = HttpRouting.builder();
    // Bodies over the limit get a JSON 413 here; Helidon's own limit would answer with an empty body.
    r.any((req, res) -> {
      long len = req.headers().contentLength().orElse(-1);
      if (len > opts.maxBodyBytes()) {
        String msg = "request body of " + len + " bytes exceeds the limit of " + opts.maxBodyBytes() + " bytes";
        if (req.path().path().startsWith("/v2")) HttpIo.sendJson(res, 413, TritonApi.error(msg));
        else HttpIo.sendJson(res, 413, OpenAiApi.error(413, msg, null));
      } else {
        res.next();
      }
    });
    if (opts.apiKey() != null && !opts.apiKey().isEmpty()) {
      r.any((req, res) -> {
        String path = req.path().path();
        if (path.startsWith("/v2/health/") || authorized(req, opts.apiKey())) {
          res.next();
        } else if (path.startsWith("/v2")) {
          HttpIo.sendJson(res, 401, TritonApi.error("Unauthorized: missing or invalid API key"));
        } else {
          HttpIo.sendJson(res, 401, OpenAiApi.error(401, "Unauthorized: missing or invalid API key", null));
        }
      });
    }
    triton.register(r);
    openai.register(r);
    r.any((req, res) -> {
      String path = req.path().path();
      if (path.startsWith("/v1") || path.equals("/tokenize") || path.equals("/detokenize")) {
        HttpIo.sendJson(res, 404, OpenAiApi.error(404, "Not Found: " + req.prologue().method().text() + " " + path, null));
      } else {
        HttpIo.sendJson(res, 404, TritonApi.error("Not Found: " + req.prologue().method().text() + " " + path));
      }
    });
    r.error(Throwable.class, (req, res, t) -> internalError(res, t));
    // The receive listener lets handlers watch their connection for a client that goes away.
    // TCP_NODELAY (Helidon's default is off): a stream's events are small writes that must leave at once.
    // Helidon writes a chunked response's headers and its first chunk separately; under Nagle's algorithm
    // the first event waited for the client's delayed ACK of the headers, 40 ms on Linux (docs/benchmarks.md).
    http = WebServer.builder().host(host).port(httpPort).routing(r)
        .connectionOptions(SocketOptions.builder().tcpNoDelay(true).build())
        .addProtocol(Http1Config.builder().addReceiveListener(ConnectionWatch.listener()).build())
        .build();

    HttpRouting.Builder mr = HttpRouting.builder();
    mr.get("/metrics", (req, res) -> {
      res.header(HeaderNames.CONTENT_TYPE, metrics.contentType());
      res.send(metrics.scrape());
    });
    metricsServer = metricsPort < 0 ? null : WebServer.builder().host(host).port(metricsPort).routing(mr).build();
  }

  private static boolean authorized(ServerRequest req, String key) {
    return req.headers().first(HeaderNames.AUTHORIZATION).map(v -> v.equals("Bearer " + key)).orElse(false);
  }

  private static void internalError(ServerResponse res, Throwable t) {
    LOG.log(Level.SEVERE, "unexpected error while serving a request", t);
    if (res.isSent()) return;
    try {
      res.status(Status.INTERNAL_SERVER_ERROR_500);
      HttpIo.sendJson(res, 500, TritonApi.error("internal error: " + t.getClass().getSimpleName()
          + (t.getMessage() == null ? "" : ": " + t.getMessage())));
    } catch (RuntimeException ignored) {
      // response already committed
    }
  }

  public HttpFrontend start() {
    http.start();
    if (metricsServer != null) metricsServer.start();
    return this;
  }

  public int httpPort() {
    return http.port();
  }

  public int metricsPort() {
    return metricsServer == null ? -1 : metricsServer.port();
  }

  @Override
  public void close() {
    http.stop();
    if (metricsServer != null) metricsServer.stop();
  }
}
