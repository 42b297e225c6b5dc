package io.quire.engine;

import java.util.List;

/**
 * One message of a request's output stream: the deltas of its sequences since the last message.
 * The last message has {@code finished} true and carries the request's metrics.
 */
public record RequestOutput(
    String requestId, int[] promptTokenIds, List<CompletionDelta> deltas, boolean finished, RequestMetrics metrics) {}
