package io.quire.engine;

import io.quire.models.ModelConfig;
import io.quire.spi.Backend;
import io.quire.tokenizer.Tokenizer;

/**
 * The engine API that frontends see (DESIGN.md): submit a prompt with sampling parameters and read
 * its stream of deltas, abort, and take stats. One engine serves one model; its engine thread is
 * the only writer of scheduler and KV state.
 */
public final class Engine implements AutoCloseable {

  /** Loads the model folder onto {@code backend} and starts the engine thread. */
  public static Engine start(EngineConfig config, Backend backend) {
    throw new UnsupportedOperationException("engine loop lands next");
  }

  /**
   * Queues a request. Throws IllegalArgumentException (bad sampling values, prompt longer than
   * max_model_len, empty prompt: the message names the field and the limit) or
   * {@link io.quire.engine.core.EngineOverloadedException} when the waiting queue is full.
   *
   * @param requestId unique among live requests
   * @param priority lower runs first under the priority policy (vLLM's convention)
   */
  public RequestStream submit(String requestId, Prompt prompt, SamplingParams params, int priority) {
    throw new UnsupportedOperationException();
  }

  /** Aborts a live request; returns false if it is unknown or already finished. */
  public boolean abort(String requestId) {
    throw new UnsupportedOperationException();
  }

  public EngineStats stats() {
    throw new UnsupportedOperationException();
  }

  public Tokenizer tokenizer() {
    throw new UnsupportedOperationException();
  }

  public ModelConfig modelConfig() {
    throw new UnsupportedOperationException();
  }

  public EngineConfig config() {
    throw new UnsupportedOperationException();
  }

  /** max_model_len in effect. */
  public int maxModelLen() {
    throw new UnsupportedOperationException();
  }

  @Override
  public void close() {}
}
