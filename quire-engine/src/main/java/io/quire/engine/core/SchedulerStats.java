package io.quire.engine.core;

/** A snapshot of the scheduler for metrics; counters are totals since start. */
public record SchedulerStats(
    int numRunning,
    int numWaiting,
    int kvBlocksUsed,
    int kvBlocksTotal,
    double kvUsage,
    long prefixCacheQueries,
    long prefixCacheHits,
    long numPreemptions) {}
