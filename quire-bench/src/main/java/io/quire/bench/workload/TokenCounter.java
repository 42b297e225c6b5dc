package io.quire.bench.workload;

/**
 * Counts the tokens a server makes of a prompt (special tokens included, as a completion request
 * gets them): the server's {@code /tokenize} in serve mode, the engine's tokenizer offline.
 */
public interface TokenCounter {
  int count(String text);

  /** The server's max_model_len, or 0 when unknown. */
  default int maxModelLen() {
    return 0;
  }
}
