package io.quire.spi;

/** Found by {@link java.util.ServiceLoader}; lets the CLI and server pick a backend by name. */
public interface BackendProvider {
  /** "cpu" or "cuda". */
  String name();

  /** Whether this backend can run here (a GPU and driver for cuda). */
  boolean available();

  /** Why it cannot run here, when {@link #available()} is false. */
  String unavailableReason();

  Backend create();
}
