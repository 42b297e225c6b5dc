package io.quire.engine;

/** A snapshot of the engine for /metrics and model stats. Counters are totals since start. */
public record EngineStats(
    int numRunning,
    int numWaiting,
    int kvBlocksUsed,
    int kvBlocksTotal,
    double kvUsage,
    long prefixCacheQueries,
    long prefixCacheHits,
    long numPreemptions,
    long promptTokens,
    long generationTokens,
    long numSteps,
    long requestsFinishedStop,
    long requestsFinishedLength,
    long requestsFinishedAbort,
    /** Wall time the engine thread spent in steps (scheduling, forward, sampling, outputs), ns. */
    long stepNanos,
    /** Of that, in the forward pass and sampling, up to the sampled ids on the host (the device's share), ns. */
    long executeNanos) {}
