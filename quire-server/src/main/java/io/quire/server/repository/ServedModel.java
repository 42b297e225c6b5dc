package io.quire.server.repository;

import io.quire.engine.Engine;
import io.quire.server.repository.proto.ModelConfig;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/** One loaded version of a model: its completed config, its engine, and Triton's statistics. */
public final class ServedModel implements AutoCloseable {
  private final String name;
  private final String version;
  private final ModelConfig config;
  private final Engine engine;
  private final String backend;
  private final AutoCloseable onClose;
  public final Stats stats = new Stats();

  public ServedModel(String name, String version, ModelConfig config, Engine engine, String backend, AutoCloseable onClose) {
    this.name = name;
    this.version = version;
    this.config = config;
    this.engine = engine;
    this.backend = backend;
    this.onClose = onClose;
  }

  public String name() {
    return name;
  }

  public String version() {
    return version;
  }

  public ModelConfig config() {
    return config;
  }

  public Engine engine() {
    return engine;
  }

  /** "cpu" or "cuda". */
  public String backend() {
    return backend;
  }

  @Override
  public void close() {
    try {
      engine.close();
    } finally {
      try {
        if (onClose != null) onClose.close();
      } catch (Exception ignored) {
        // The backend is going away with the model; nothing left to report to.
      }
    }
  }

  /** Triton's per-model inference statistics (durations in nanoseconds). */
  public static final class Stats {
    public final LongAdder successCount = new LongAdder();
    public final LongAdder successNs = new LongAdder();
    public final LongAdder failCount = new LongAdder();
    public final LongAdder failNs = new LongAdder();
    public final LongAdder queueNs = new LongAdder();
    public final LongAdder computeNs = new LongAdder();
    public final LongAdder inferenceCount = new LongAdder();
    public final LongAdder executionCount = new LongAdder();
    public final AtomicInteger pending = new AtomicInteger();
    public final AtomicLong lastInferenceMs = new AtomicLong();
  }
}
