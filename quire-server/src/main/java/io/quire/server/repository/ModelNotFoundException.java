package io.quire.server.repository;

/** No such model or version (404), or it exists but is not ready (503): the message is Triton's. */
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
