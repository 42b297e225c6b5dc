package io.quire.server.repository;

import io.quire.engine.Engine;
import io.quire.engine.EngineConfig;
import io.quire.spi.Backend;
import io.quire.spi.BackendProvider;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;

/** Finds backends through {@link ServiceLoader} and starts engines on them. */
public final class EngineLauncher {
  private final List<BackendProvider> providers = new ArrayList<>();

  public EngineLauncher() {
    ServiceLoader.load(BackendProvider.class).forEach(providers::add);
  }

  /** Starts engines only on these backends (the first of a name wins). */
  public EngineLauncher(List<BackendProvider> providers) {
    this.providers.addAll(providers);
  }

  public Optional<BackendProvider> provider(String name) {
    return providers.stream().filter(p -> p.name().equals(name)).findFirst();
  }

  /** Whether a backend of that name is on the class path and can run here. */
  public boolean available(String name) {
    return provider(name).map(BackendProvider::available).orElse(false);
  }

  /** Why {@code name} cannot run here. */
  public String unavailableReason(String name) {
    return provider(name)
        .map(p -> p.available() ? "" : p.unavailableReason())
        .orElse("no '" + name + "' backend on the class path");
  }

  /** A started engine and the backend it owns. */
  public record Launched(Engine engine, Backend backend) {}

  public Launched launch(EngineConfig config, String backendName) {
    return launch(config, backendName, false);
  }

  /** {@link #launch}, with vLLM's enforce_eager: the backend runs every step eagerly (no CUDA graphs). */
  public Launched launch(EngineConfig config, String backendName, boolean enforceEager) {
    BackendProvider p = provider(backendName)
        .orElseThrow(() -> new IllegalStateException("no '" + backendName + "' backend on the class path"));
    Backend backend = p.create();
    try {
      if (enforceEager) backend.enforceEager();
      return new Launched(Engine.start(config, backend), backend);
    } catch (RuntimeException | Error e) {
      try {
        backend.close();
      } catch (Exception suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }
}
