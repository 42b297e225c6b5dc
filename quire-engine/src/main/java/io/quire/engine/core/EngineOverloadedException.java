package io.quire.engine.core;

/** The waiting queue is full: the request is refused now (HTTP 503) rather than queued forever. */
public final class EngineOverloadedException extends RuntimeException {
  public EngineOverloadedException(int waiting, int maxWaiting) {
    super("engine overloaded: " + waiting + " requests waiting, max_waiting is " + maxWaiting
        + "; retry later");
  }
}
