package io.quire.bench.workload;

/**
 * One request of a workload.
 *
 * @param inputTokens prompt length in tokens (with the BOS the server adds), -1 when no tokenizer was available
 * @param outputTokens max_tokens, generated exactly when the server honours ignore_eos
 */
public record BenchRequest(String prompt, int inputTokens, int outputTokens) {}
