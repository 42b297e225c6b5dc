package io.quire.engine.core;

/**
 * One request's share of a step: {@code numTokens} tokens from {@code request.numComputedTokens};
 * {@code samples} when they reach the end of its sequence, so its logits are needed.
 */
public record ScheduledRequest(Request request, int numTokens, boolean samples) {}
