package io.quire.server.repository;

/** No such model or version, or none ready (404), or a named version not ready (503): Triton's messages. */
public final class ModelNotFoundException extends Exception {
  private final int status;

  public ModelNotFoundException(String message) {
    this(message, 404);
  }

  public ModelNotFoundException(String message, int status) {
    super(message);
    this.status = status;
  }

  public int status() {
    return status;
  }
}
