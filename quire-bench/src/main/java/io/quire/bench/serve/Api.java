package io.quire.bench.serve;

/** The protocol the load generator speaks. */
public enum Api {
  /** POST /v1/completions with stream true (OpenAI; vLLM's ignore_eos extension). */
  OPENAI,
  /** POST /v2/models/{model}/generate_stream (Triton's generate extension, vLLM backend parameters). */
  TRITON;

  public static Api parse(String s) {
    return switch (s.toLowerCase(java.util.Locale.ROOT)) {
      case "openai" -> OPENAI;
      case "triton" -> TRITON;
      default -> throw new IllegalArgumentException("--api must be openai or triton, got " + s);
    };
  }
}
