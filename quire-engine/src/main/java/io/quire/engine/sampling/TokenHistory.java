package io.quire.engine.sampling;

import io.quire.engine.core.Request;

/** Read access to one sequence's tokens (prompt then output), as the penalties need them. */
public interface TokenHistory {
  int numPromptTokens();

  /** Prompt plus output tokens. */
  int numTokens();

  /** Token at position i of prompt + output. */
  int tokenAt(int i);

  default int numOutputTokens() {
    return numTokens() - numPromptTokens();
  }

  /** A live view of the scheduler's sequence: tokens it appends are seen at the next step. */
  static TokenHistory of(Request request) {
    return new TokenHistory() {
      @Override
      public int numPromptTokens() {
        return request.numPromptTokens();
      }

      @Override
      public int numTokens() {
        return request.numTokens();
      }

      @Override
      public int tokenAt(int i) {
        return request.tokenAt(i);
      }
    };
  }
}
