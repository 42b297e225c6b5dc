package io.quire.engine;

/** The engine failed a request it had accepted (a backend error, shutdown). */
public final class EngineException extends RuntimeException {
  public EngineException(String message, Throwable cause) {
    super(message, cause);
  }
}
