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
    /**
     * Of that, in the forward pass and sampling, up to the sampled ids on the host (the device's share),
     * ns. Under async scheduling, the rest (scheduling, taking in ids, outputs) runs while the device
     * computes the next step, so it no longer adds to the step time.
     */
    long executeNanos) {}
