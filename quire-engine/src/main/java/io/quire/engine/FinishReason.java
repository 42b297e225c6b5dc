package io.quire.engine;

/** Why a sequence stopped, with the names the protocols use ("stop", "length", "abort"). */
public enum FinishReason {
  /** EOS, a stop token id or a stop string. */
  STOP("stop"),
  /** max_tokens or max_model_len reached. */
  LENGTH("length"),
  /** Aborted by the client (disconnect, cancel) or by the server (timeout, shutdown). */
  ABORT("abort");

  private final String wireName;

  FinishReason(String wireName) {
    this.wireName = wireName;
  }

  public String wireName() {
    return wireName;
  }
}
