package io.quire.engine.sampling;

import io.quire.engine.SamplingParams;
import io.quire.tokenizer.Tokenizer;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Turns sampled tokens into output deltas for one model: holds what every sequence's stop check
 * needs (tokenizer, EOS ids, max_model_len) and starts a {@link SequenceOutput} per sequence.
 *
 * <p>EOS follows vLLM: the tokenizer's EOS stops a sequence with no stop_reason; the other eos ids
 * of generation_config.json act as stop token ids (stop_reason the id). ignore_eos disables both;
 * the request's own stop_token_ids still apply.
 */
public final class OutputProcessor {
  private final Tokenizer tokenizer;
  private final int eosTokenId;
  private final Set<Integer> generationEosTokenIds;
  private final Set<Integer> allEosTokenIds;
  private final int maxModelLen;

  /**
   * @param generationConfigEosTokenIds {@code eos_token_id} of generation_config.json (may repeat
   *     the tokenizer's)
   */
  public OutputProcessor(
      Tokenizer tokenizer, Collection<Integer> generationConfigEosTokenIds, int maxModelLen) {
    if (maxModelLen < 1) throw new IllegalArgumentException("max_model_len must be at least 1, got " + maxModelLen);
    this.tokenizer = tokenizer;
    this.eosTokenId = tokenizer.eosTokenId().orElse(-1);
    this.generationEosTokenIds = new LinkedHashSet<>(generationConfigEosTokenIds);
    this.generationEosTokenIds.remove(eosTokenId);
    Set<Integer> all = new LinkedHashSet<>();
    if (eosTokenId >= 0) all.add(eosTokenId);
    all.addAll(generationEosTokenIds);
    this.allEosTokenIds = Set.copyOf(all);
    this.maxModelLen = maxModelLen;
  }

  /** Every EOS id, for {@link SamplingState}'s min_tokens mask. */
  public Set<Integer> eosTokenIds() {
    return allEosTokenIds;
  }

  public int maxModelLen() {
    return maxModelLen;
  }

  /** Starts the output of sequence {@code index} (0..n-1) of a request. */
  public SequenceOutput newSequence(int index, int[] promptTokenIds, SamplingParams params) {
    Set<Integer> stopIds = new LinkedHashSet<>(params.stopTokenIds());
    if (!params.ignoreEos()) stopIds.addAll(generationEosTokenIds);
    return new SequenceOutput(
        index,
        promptTokenIds.length,
        params,
        tokenizer.newDetokenizer(promptTokenIds, params.skipSpecialTokens()),
        params.ignoreEos() ? -1 : eosTokenId,
        Set.copyOf(stopIds),
        maxModelLen);
  }
}
