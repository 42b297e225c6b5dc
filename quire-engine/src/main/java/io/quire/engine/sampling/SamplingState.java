package io.quire.engine.sampling;

import io.quire.engine.SamplingParams;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * What the sampler keeps for one sequence between steps: its params, a view of its tokens, the
 * token counts the penalties need, and its random stream.
 *
 * <p>Randomness is counter-based: the uniform number for the token at output index i is a hash of
 * (seed, i). A seeded sequence therefore gets the same tokens whatever else is in the batch, in
 * whichever row, and after preemption and recompute (the output index does not change); no
 * generator state needs saving. Sequence j of a seeded request with n > 1 uses seed + j, as vLLM's
 * parallel sampling does. An unseeded sequence draws a random seed when created.
 *
 * <p>Owned by the engine thread (kept in {@code Request.engineState}); the sampler touches each
 * state from one thread at a time.
 */
public final class SamplingState {
  private final SamplingParams params;
  private final long seed;
  private final TokenHistory history;
  private final int[] minTokensStopIds;
  private final boolean penalized;
  private final TokenCounts promptCounts = new TokenCounts();
  private final TokenCounts outputCounts = new TokenCounts();
  private int absorbed;

  /**
   * @param eosTokenIds the tokenizer's EOS and generation_config's eos ids: masked, with the
   *     request's stop_token_ids, until min_tokens tokens are generated (vLLM masks them even
   *     with ignore_eos)
   */
  public SamplingState(
      SamplingParams params, long seed, TokenHistory history, Collection<Integer> eosTokenIds) {
    this.params = params;
    this.seed = seed;
    this.history = history;
    Set<Integer> stopIds = new LinkedHashSet<>(params.stopTokenIds());
    stopIds.addAll(eosTokenIds);
    this.minTokensStopIds = stopIds.stream().mapToInt(Integer::intValue).toArray();
    this.penalized =
        params.repetitionPenalty() != 1f
            || params.presencePenalty() != 0f
            || params.frequencyPenalty() != 0f;
  }

  /** State for sequence {@code sequenceIndex} (0..n-1) of a request. */
  public static SamplingState create(
      SamplingParams params,
      int sequenceIndex,
      TokenHistory history,
      Collection<Integer> eosTokenIds) {
    long seed =
        params.seed() != null
            ? params.seed() + sequenceIndex
            : ThreadLocalRandom.current().nextLong();
    return new SamplingState(params, seed, history, eosTokenIds);
  }

  public SamplingParams params() {
    return params;
  }

  public long seed() {
    return seed;
  }

  public TokenHistory history() {
    return history;
  }

  /** The uniform number in [0, 1) that picks the token at this output index. */
  public static double uniform(long seed, long outputIndex) {
    return uniformBits(seed, outputIndex) * 0x1.0p-53;
  }

  /** {@link #uniform} times 2^53: its 53 bits, as the samplers use them. */
  public static long uniformBits(long seed, long outputIndex) {
    long z = mix64(mix64(seed) + (outputIndex + 1) * 0x9E3779B97F4A7C15L);
    return z >>> 11;
  }

  long nextUniformBits() {
    return uniformBits(seed, history.numOutputTokens());
  }

  int[] minTokensMask() {
    return history.numOutputTokens() < params.minTokens() ? minTokensStopIds : null;
  }

  boolean penalized() {
    return penalized;
  }

  TokenCounts promptCounts() {
    absorbHistory();
    return promptCounts;
  }

  TokenCounts outputCounts() {
    absorbHistory();
    return outputCounts;
  }

  /** Counts the tokens appended since the last step; history only grows (recompute keeps it). */
  private void absorbHistory() {
    int total = history.numTokens();
    if (total < absorbed) {
      promptCounts.clear();
      outputCounts.clear();
      absorbed = 0;
    }
    int numPrompt = history.numPromptTokens();
    for (int i = absorbed; i < total; i++) {
      (i < numPrompt ? promptCounts : outputCounts).increment(history.tokenAt(i));
    }
    absorbed = total;
  }

  // SplitMix64's finaliser (Steele, Lea, Flood 2014), as in java.util.SplittableRandom.
  private static long mix64(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
