package io.quire.bench;

/**
 * One decode measurement.
 *
 * @param streams concurrent sequences
 * @param promptTokens prompt length of each stream
 * @param generatedTokens output tokens of all streams together
 * @param decodeTokensPerSecond output tokens per second after each stream's first token (prefill excluded)
 * @param endToEndTokensPerSecond output tokens per second from submission to the last token (prefill included)
 */
record DecodeResult(int streams, int promptTokens, int generatedTokens, double decodeTokensPerSecond, double endToEndTokensPerSecond) {

  /** A line the parent process parses back: {@code RESULT streams prompt generated decode e2e}. */
  String toLine() {
    return "RESULT " + streams + " " + promptTokens + " " + generatedTokens + " " + decodeTokensPerSecond + " " + endToEndTokensPerSecond;
  }

  static DecodeResult parse(String line) {
    String[] f = line.trim().split(" ");
    return new DecodeResult(Integer.parseInt(f[1]), Integer.parseInt(f[2]), Integer.parseInt(f[3]),
        Double.parseDouble(f[4]), Double.parseDouble(f[5]));
  }
}
