package io.quire.models;

/** A model folder that cannot be loaded: one line that names the file or field at fault. */
public final class ModelLoadException extends RuntimeException {
  public ModelLoadException(String message) {
    super(message);
  }

  public ModelLoadException(String message, Throwable cause) {
    super(message, cause);
  }
}
