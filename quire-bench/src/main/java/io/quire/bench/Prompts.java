package io.quire.bench;

/** The prompt text both engines decode after: about 32 Llama 3 tokens, distinct per stream. */
final class Prompts {
  private Prompts() {}

  private static final String BODY =
      "is a benchmark prompt. The quick brown fox jumps over the lazy dog while the engine reads every"
          + " weight of the model once for each token it writes out.";

  /** Prompt of stream {@code i}; the leading number differs so that no two streams share a KV block. */
  static String forStream(int i) {
    return "Stream " + i + " " + BODY;
  }
}
