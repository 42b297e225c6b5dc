package io.quire.bench.serve;

/**
 * What one streamed request measured. Times are nanoseconds from the moment it was sent.
 *
 * @param error null on success, else its kind: {@code http_<status>}, {@code timeout},
 *     {@code connection_refused}, {@code stream_error}, {@code io_error}
 * @param chunkNanos arrival time of each streamed chunk that carried output
 * @param inputTokens as the server reported it, else as the workload built it
 * @param outputTokens as the server reported it, else the number of chunks
 */
public record RequestResult(String error, String message, long[] chunkNanos, long e2eNanos, int inputTokens, int outputTokens) {
  public boolean ok() {
    return error == null;
  }

  static RequestResult failed(String kind, String message, long e2eNanos) {
    return new RequestResult(kind, message, new long[0], e2eNanos, 0, 0);
  }

  /** Time to first token in ms. */
  public double ttftMs() {
    return chunkNanos[0] / 1e6;
  }

  /** Time per output token after the first, in ms (0 for a single-token output, as vLLM counts it). */
  public double tpotMs() {
    return outputTokens > 1 ? (e2eNanos - chunkNanos[0]) / 1e6 / (outputTokens - 1) : 0;
  }
}
