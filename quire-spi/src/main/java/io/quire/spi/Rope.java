package io.quire.spi;

/**
 * Rotary position embedding tables prepared by a backend from the model's inverse frequencies
 * (rotate-half layout, as HF Llama/Mistral/Qwen apply it). The model computes {@code invFreq},
 * including Llama 3 scaling; the backend only applies it.
 */
public interface Rope extends AutoCloseable {
  int headDim();

  @Override
  default void close() {}
}
