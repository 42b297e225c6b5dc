package io.quire.engine.core;

/** Which request runs first, and which running request is preempted when blocks run out. */
public enum SchedulingPolicy {
  /** Arrival order; the most recently admitted running request is preempted first. */
  FCFS,
  /** Lowest (priority, arrival) first, as vLLM; the largest (priority, arrival) is preempted first. */
  PRIORITY
}
