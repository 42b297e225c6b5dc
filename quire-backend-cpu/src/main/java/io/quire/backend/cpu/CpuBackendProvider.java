package io.quire.backend.cpu;

import io.quire.spi.Backend;
import io.quire.spi.BackendProvider;

/** The Vector API backend; it runs on any JVM started with {@code --add-modules jdk.incubator.vector}. */
public final class CpuBackendProvider implements BackendProvider {
  @Override
  public String name() {
    return "cpu";
  }

  @Override
  public boolean available() {
    return true;
  }

  @Override
  public String unavailableReason() {
    return "";
  }

  @Override
  public Backend create() {
    return new CpuBackend();
  }
}
