package io.quire.engine.core;

import io.quire.spi.BatchMetadata;
import java.util.List;

/**
 * What one step runs: the scheduled requests in batch order, the requests preempted to make room
 * (already back in the waiting queue, their blocks freed), and the flat batch for the model.
 * Logits rows ({@code batch.logitsIndices}) follow the order of the sampling requests here. Under
 * async scheduling, the input id of token {@code feedTokens[i]} is a placeholder for the id the
 * previous step sampled in its row {@code feedRows[i]} (empty when every id is known).
 */
public record SchedulerOutput(
    List<ScheduledRequest> scheduled, List<Request> preempted, BatchMetadata batch, int[] feedTokens, int[] feedRows) {

  public SchedulerOutput(List<ScheduledRequest> scheduled, List<Request> preempted, BatchMetadata batch) {
    this(scheduled, preempted, batch, new int[0], new int[0]);
  }

  public boolean isEmpty() {
    return scheduled.isEmpty();
  }

  public int numScheduledTokens() {
    return batch.numTokens();
  }

  /** Number of sampled token ids {@code onStepDone} expects. */
  public int numSamples() {
    return batch.logitsIndices().length;
  }
}
