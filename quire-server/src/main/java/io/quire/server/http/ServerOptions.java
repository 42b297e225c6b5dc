package io.quire.server.http;

/**
 * How the HTTP frontends behave.
 *
 * @param apiKey when set, every endpoint except /v2/health/* needs {@code Authorization: Bearer KEY}
 * @param explicitModelControl --model-control-mode explicit: load/unload allowed
 * @param maxBodyBytes larger request bodies are refused with 413
 * @param requestTimeoutNanos per-request limit (0: none); a request may set Triton's {@code timeout}
 */
public record ServerOptions(String apiKey, boolean explicitModelControl, long maxBodyBytes, long requestTimeoutNanos) {
  public static final String VERSION = "0.1.0";

  public static ServerOptions defaults() {
    return new ServerOptions(null, false, 16L << 20, 0);
  }
}
