package io.quire.engine.sampling;

import io.quire.engine.CompletionDelta;
import io.quire.engine.FinishReason;
import io.quire.engine.SamplingParams;
import io.quire.engine.TokenLogprob;
import io.quire.tokenizer.IncrementalDetokenizer;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * The output of one sequence: turns each sampled token into a {@link CompletionDelta} and decides
 * when the sequence stops, as vLLM v1's scheduler ({@code check_stop}) and detokenizer do:
 *
 * <ul>
 *   <li>before min_tokens tokens exist, nothing but max_model_len stops it;
 *   <li>then, in this order: EOS (unless ignore_eos; stop_reason null), a stop token id
 *       (stop_reason the id), max_tokens (length); max_model_len (length) always;
 *   <li>the text of a stopping EOS or stop token is left out unless include_stop_str_in_output;
 *   <li>stop strings are searched in the text of tokens after the first min_tokens; a match wins
 *       over the other reasons (stop_reason the string); the text is cut before it (or after it
 *       with include_stop_str_in_output) and whatever followed it is dropped;
 *   <li>while running, text that could still turn into a stop string is held back: the longest
 *       suffix that is a proper prefix of a stop string (at most the longest stop length - 1
 *       characters, vLLM's fixed buffer). It is released as soon as it cannot, and at the end.
 * </ul>
 */
public final class SequenceOutput {
  private final int index;
  private final int numPromptTokens;
  private final SamplingParams params;
  private final IncrementalDetokenizer detokenizer;
  private final int eosTokenId;
  private final Set<Integer> stopTokenIds;
  private final int maxModelLen;
  private final boolean holdBack;

  private final StringBuilder text = new StringBuilder();
  private int emitted;
  private int[] tokenIds = new int[16];
  private int numOutputTokens;
  private FinishReason finishReason;
  private Object stopReason;

  SequenceOutput(
      int index,
      int numPromptTokens,
      SamplingParams params,
      IncrementalDetokenizer detokenizer,
      int eosTokenId,
      Set<Integer> stopTokenIds,
      int maxModelLen) {
    this.index = index;
    this.numPromptTokens = numPromptTokens;
    this.params = params;
    this.detokenizer = detokenizer;
    this.eosTokenId = eosTokenId;
    this.stopTokenIds = stopTokenIds;
    this.maxModelLen = maxModelLen;
    this.holdBack = !params.stop().isEmpty() && !params.includeStopStrInOutput();
  }

  /**
   * Adds one generated token.
   *
   * @param logprob the sampler's logprobs for it, or null when the request asked for none
   * @return the new token, the text it releases, and the finish reason once the sequence stops
   */
  public CompletionDelta append(int tokenId, TokenLogprob logprob) {
    if (finishReason != null) {
      throw new IllegalStateException(
          "sequence " + index + " already finished (" + finishReason.wireName() + ")");
    }
    if (numOutputTokens == tokenIds.length) tokenIds = Arrays.copyOf(tokenIds, 2 * tokenIds.length);
    tokenIds[numOutputTokens++] = tokenId;

    FinishReason reason = null;
    Object why = null;
    boolean stoppedByToken = false;
    if (numOutputTokens >= params.minTokens()) {
      if (tokenId == eosTokenId) {
        reason = FinishReason.STOP;
        stoppedByToken = true;
      } else if (stopTokenIds.contains(tokenId)) {
        reason = FinishReason.STOP;
        why = tokenId;
        stoppedByToken = true;
      } else if (params.maxTokens() != null && numOutputTokens >= params.maxTokens()) {
        reason = FinishReason.LENGTH;
      }
    }
    if (reason == null && numPromptTokens + numOutputTokens >= maxModelLen) {
      reason = FinishReason.LENGTH;
    }

    int before = text.length();
    if (!stoppedByToken || params.includeStopStrInOutput()) text.append(detokenizer.add(tokenId));
    if (!params.stop().isEmpty() && numOutputTokens > params.minTokens()) {
      StopStrings.Match match =
          StopStrings.find(
              text, text.length() - before, params.stop(), params.includeStopStrInOutput());
      if (match != null) {
        text.setLength(match.truncateTo());
        reason = FinishReason.STOP;
        why = match.stop();
      }
    }
    finishReason = reason;
    stopReason = why;

    List<TokenLogprob> logprobs =
        params.logprobs() == null ? null : logprob == null ? List.of() : List.of(logprob);
    return new CompletionDelta(index, new int[] {tokenId}, release(), logprobs, reason, why);
  }

  /** Ends the sequence on the client's or the server's request, releasing held-back text. */
  public CompletionDelta abort() {
    return finish(FinishReason.ABORT);
  }

  /**
   * Ends the sequence for a reason decided outside (abort, or a length limit the scheduler
   * enforces), releasing held-back text.
   */
  public CompletionDelta finish(FinishReason reason) {
    if (finishReason != null) {
      throw new IllegalStateException(
          "sequence " + index + " already finished (" + finishReason.wireName() + ")");
    }
    finishReason = reason;
    return new CompletionDelta(
        index, new int[0], release(), params.logprobs() == null ? null : List.of(), reason, null);
  }

  private String release() {
    int end = text.length();
    if (finishReason == null && holdBack) end -= StopStrings.heldBack(text, params.stop());
    if (end <= emitted) return "";
    String delta = text.substring(emitted, end);
    emitted = end;
    return delta;
  }

  public int index() {
    return index;
  }

  public boolean isFinished() {
    return finishReason != null;
  }

  /** Null while running. */
  public FinishReason finishReason() {
    return finishReason;
  }

  /** The stop string (String) or stop token id (Integer) that ended the sequence, else null. */
  public Object stopReason() {
    return stopReason;
  }

  /** The output text so far, held-back characters included; final once finished. */
  public String text() {
    return text.toString();
  }

  public int[] tokenIds() {
    return Arrays.copyOf(tokenIds, numOutputTokens);
  }

  public int numOutputTokens() {
    return numOutputTokens;
  }
}
