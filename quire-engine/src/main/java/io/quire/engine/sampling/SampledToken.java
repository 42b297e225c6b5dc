package io.quire.engine.sampling;

import io.quire.engine.TokenLogprob;

/** The token the sampler chose for one row, and its logprobs when the request asked for them. */
public record SampledToken(int tokenId, TokenLogprob logprob) {}
