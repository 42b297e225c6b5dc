package io.quire.engine.core;

import io.quire.engine.SamplingParams;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One sequence the scheduler runs (a request with n > 1 becomes n of these, sharing the prompt's
 * cached blocks). Tokens are the prompt followed by the generated ids; the scheduler only moves
 * {@code numComputedTokens} towards {@code numTokens()} (vLLM v1's single code path for prefill,
 * chunked prefill, prefix-cache hits and decode).
 */
public final class Request {
  private final String requestId;
  private final int[] promptTokenIds;
  private int[] outputTokenIds = new int[16];
  private int numOutputTokens;
  private final SamplingParams params;
  private final int priority;
  private final long arrivalNanos;

  /** Tokens whose K/V are in the cache (computed or found in the prefix cache). */
  public int numComputedTokens;

  /** Prompt tokens served from the prefix cache when the request was first scheduled. */
  public int numCachedTokens;

  /**
   * Tokens sampled by launched steps whose ids are not on the host yet (async scheduling: 0, 1, or 2
   * for a moment between launching a step and taking in the one before). Positions from
   * {@code numTokens()} on hold them; the scheduler schedules them as placeholders fed on the device.
   */
  public int numPendingTokens;

  /** Sampled row, in its step's logits order, of the latest pending token. */
  public int pendingRow = -1;

  public int numPreemptions;
  public RequestStatus status = RequestStatus.WAITING;

  /**
   * Hash chain of this sequence's full blocks, extended lazily by the {@link KvCacheManager}; tokens
   * never change once appended, so it stays valid across preemptions.
   */
  final List<BlockHash> blockHashes = new ArrayList<>();

  /** Order of admission into the scheduler, to break ties between equal arrival times. */
  long admissionSeq;

  /** Engine-side state (sampler RNG, detokenizer, output stream); the scheduler never reads it. */
  public Object engineState;

  public Request(String requestId, int[] promptTokenIds, SamplingParams params, int priority, long arrivalNanos) {
    if (promptTokenIds.length == 0) throw new IllegalArgumentException("prompt must not be empty");
    this.requestId = requestId;
    this.promptTokenIds = promptTokenIds.clone();
    this.params = params;
    this.priority = priority;
    this.arrivalNanos = arrivalNanos;
  }

  public String requestId() {
    return requestId;
  }

  public SamplingParams params() {
    return params;
  }

  public int priority() {
    return priority;
  }

  public long arrivalNanos() {
    return arrivalNanos;
  }

  public int numPromptTokens() {
    return promptTokenIds.length;
  }

  public int numOutputTokens() {
    return numOutputTokens;
  }

  public int numTokens() {
    return promptTokenIds.length + numOutputTokens;
  }

  /** Tokens including the pending ones: what the scheduler computes towards. */
  public int numTokensWithPending() {
    return numTokens() + numPendingTokens;
  }

  /** Token at position i of prompt + output. */
  public int tokenAt(int i) {
    return i < promptTokenIds.length ? promptTokenIds[i] : outputTokenIds[i - promptTokenIds.length];
  }

  public int[] promptTokenIds() {
    return promptTokenIds.clone();
  }

  public int[] outputTokenIds() {
    return Arrays.copyOf(outputTokenIds, numOutputTokens);
  }

  public int outputTokenAt(int i) {
    return outputTokenIds[i];
  }

  public int lastTokenId() {
    return tokenAt(numTokens() - 1);
  }

  public void appendOutputToken(int tokenId) {
    if (numOutputTokens == outputTokenIds.length) {
      outputTokenIds = Arrays.copyOf(outputTokenIds, outputTokenIds.length * 2);
    }
    outputTokenIds[numOutputTokens++] = tokenId;
  }

  public boolean isFinished() {
    return status.isFinished();
  }

  @Override
  public String toString() {
    return "Request[" + requestId + ", tokens=" + numTokens() + ", computed=" + numComputedTokens + ", " + status + "]";
  }
}
