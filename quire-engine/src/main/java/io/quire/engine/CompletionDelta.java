package io.quire.engine;

import java.util.List;

/**
 * What one sequence of a request produced since its previous delta.
 *
 * @param index the sequence's index among the request's n
 * @param newTokenIds generated ids, including a stop token or EOS that ended the sequence
 * @param newText text that can no longer change (text that may still become a stop string is
 *     held back until it cannot, or until the sequence finishes)
 * @param logprobs one entry per new token when the request asked for logprobs, else null
 * @param finishReason null while the sequence runs
 * @param stopReason the stop string (String) or stop token id (Integer) that ended it; null for
 *     EOS, length and abort
 */
public record CompletionDelta(
    int index,
    int[] newTokenIds,
    String newText,
    List<TokenLogprob> logprobs,
    FinishReason finishReason,
    Object stopReason) {

  public boolean finished() {
    return finishReason != null;
  }
}
