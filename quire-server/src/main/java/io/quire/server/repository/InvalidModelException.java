package io.quire.server.repository;

/** A model cannot be loaded; the message is the reason shown in the repository index. */
public final class InvalidModelException extends Exception {
  public InvalidModelException(String message) {
    super(message);
  }
}
