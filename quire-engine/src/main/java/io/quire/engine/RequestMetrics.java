package io.quire.engine;

/**
 * Timestamps of one request in {@link System#nanoTime()} units (0 when not reached), for the
 * server's latency metrics: queue time, time to first token, inter-token latency, end to end.
 */
public record RequestMetrics(
    long arrivalNanos, long firstScheduledNanos, long firstTokenNanos, long lastTokenNanos, long finishedNanos,
    int numPromptTokens, int numGenerationTokens, int numCachedTokens) {}
