package io.quire.server;

import io.quire.server.http.HttpFrontend;
import io.quire.server.http.ServerOptions;
import io.quire.server.metrics.ServerMetrics;
import io.quire.server.repository.ModelRepository;
import java.util.List;

/** A running server: the model repository, the HTTP frontend on its port and metrics on theirs. */
public final class QuireServer implements AutoCloseable {
  private final ModelRepository repository;
  private final HttpFrontend frontend;

  private QuireServer(ModelRepository repository, HttpFrontend frontend) {
    this.repository = repository;
    this.frontend = frontend;
  }

  /**
   * Loads models (all of them, or only {@code loadModels} in explicit mode; "*" means all) and
   * starts listening. A model that fails to load is UNAVAILABLE; the server starts anyway.
   */
  public static QuireServer start(ModelRepository repository, ServerOptions opts, String host, int httpPort,
      int metricsPort, List<String> loadModels) {
    if (!opts.explicitModelControl() || loadModels.contains("*")) {
      repository.loadAll();
    } else {
      for (String m : loadModels) {
        try {
          repository.load(m);
        } catch (io.quire.server.repository.ModelNotFoundException e) {
          System.getLogger(QuireServer.class.getName()).log(System.Logger.Level.WARNING, e.getMessage());
        }
      }
    }
    ServerMetrics metrics = new ServerMetrics(repository);
    HttpFrontend f = new HttpFrontend(repository, metrics, opts, host, httpPort, metricsPort).start();
    return new QuireServer(repository, f);
  }

  public ModelRepository repository() {
    return repository;
  }

  public int httpPort() {
    return frontend.httpPort();
  }

  public int metricsPort() {
    return frontend.metricsPort();
  }

  @Override
  public void close() {
    frontend.close();
    repository.close();
  }
}
