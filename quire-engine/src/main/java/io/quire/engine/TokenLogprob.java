package io.quire.engine;

import java.util.List;

/**
 * The log-probability of a generated token and the {@code logprobs} most likely tokens at its
 * position (most likely first), as vLLM returns them: computed from the model's raw logits, before
 * penalties, temperature and truncation.
 */
public record TokenLogprob(int tokenId, float logprob, List<TopLogprob> top) {
  public TokenLogprob {
    top = List.copyOf(top);
  }
}
