package io.quire.spi;

/**
 * A {@link BatchMetadata} made ready for one backend (uploaded to device memory where it has one).
 * Valid for one step.
 */
public interface DeviceBatch extends AutoCloseable {
  BatchMetadata metadata();

  @Override
  default void close() {}
}
