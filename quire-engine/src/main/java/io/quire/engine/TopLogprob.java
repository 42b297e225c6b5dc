package io.quire.engine;

/** One of the most likely tokens at a position, with its log-probability. */
public record TopLogprob(int tokenId, float logprob) {}
