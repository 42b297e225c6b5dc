package io.quire.engine.core;

/** Where a request is in its life. */
public enum RequestStatus {
  WAITING,
  RUNNING,
  PREEMPTED,
  FINISHED_STOPPED,
  FINISHED_LENGTH,
  FINISHED_ABORTED;

  public boolean isFinished() {
    return ordinal() >= FINISHED_STOPPED.ordinal();
  }
}
