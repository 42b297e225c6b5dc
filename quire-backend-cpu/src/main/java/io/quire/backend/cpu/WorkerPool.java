package io.quire.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * A fixed set of platform threads that run the tasks of one op; the calling thread works too.
 *
 * <p>Tasks are claimed one at a time from the op's atomic counter, so a thread that the OS takes
 * away holds up at most the task it is in, and the caller waits only for tasks that were claimed,
 * never for a worker to wake up: a worker that comes late finds nothing left and goes back to
 * waiting. Idle workers spin briefly (ops of one forward pass come back to back) and then park, so
 * an idle engine costs no CPU. A caller whose share is done spins briefly for the tasks still
 * running and then parks (the thread that completes the last task unparks it), so it gives its core
 * to a descheduled worker instead of burning it.
 */
final class WorkerPool implements AutoCloseable {
  private static final long SPIN_NANOS = 50_000;
  /** How long the caller spins for the last tasks of an op before it parks. */
  private static final long CALLER_SPIN_NANOS = 20_000;

  /** One call of run: its tasks, the claim counter and the count of completed tasks. */
  private static final class Op {
    final IntConsumer body;
    final int n;
    final AtomicInteger next = new AtomicInteger();
    final AtomicInteger done = new AtomicInteger();
    final Thread caller;
    volatile boolean callerParked;
    volatile Throwable failure;

    Op(IntConsumer body, int n, Thread caller) {
      this.body = body;
      this.n = n;
      this.caller = caller;
    }

    /** Claims and runs tasks until none is left; after a failure claimed tasks are only counted. */
    void drain() {
      int completed = 0;
      int i;
      while ((i = next.getAndIncrement()) < n) {
        if (failure == null) {
          try {
            body.accept(i);
          } catch (Throwable t) {
            failure = t;
          }
        }
        completed++;
      }
      if (completed != 0 && done.addAndGet(completed) == n && callerParked) {
        LockSupport.unpark(caller);
      }
    }

    void await() {
      long deadline = System.nanoTime() + CALLER_SPIN_NANOS;
      while (done.get() != n) {
        if (System.nanoTime() < deadline) {
          Thread.onSpinWait();
          continue;
        }
        // Handshake with drain(): the caller publishes that it parks and then re-reads the count; a
        // worker adds to the count and then reads callerParked. One of them sees the other.
        callerParked = true;
        while (done.get() != n) {
          LockSupport.park(this);
        }
        return;
      }
    }
  }

  private final Thread[] workers;
  private volatile Op current;
  private volatile boolean closed;

  WorkerPool(int parallelism) {
    if (parallelism < 1) {
      throw new IllegalArgumentException("parallelism must be >= 1, got " + parallelism);
    }
    workers = new Thread[parallelism - 1];
    for (int i = 0; i < workers.length; i++) {
      workers[i] = Thread.ofPlatform().daemon().name("quire-cpu-" + (i + 1)).start(this::workerLoop);
    }
  }

  int parallelism() {
    return workers.length + 1;
  }

  /** Runs body(0) .. body(n-1) on all threads and returns when all are done. */
  synchronized void run(int n, IntConsumer body) {
    if (n <= 0) {
      return;
    }
    if (n == 1 || workers.length == 0) {
      for (int i = 0; i < n; i++) {
        body.accept(i);
      }
      return;
    }
    if (closed) {
      throw new IllegalStateException("cpu backend is closed");
    }
    Op op = new Op(body, n, Thread.currentThread());
    current = op;
    for (Thread w : workers) {
      LockSupport.unpark(w);
    }
    op.drain();
    op.await();
    Throwable t = op.failure;
    if (t instanceof RuntimeException re) {
      throw re;
    } else if (t instanceof Error e) {
      throw e;
    } else if (t != null) {
      throw new IllegalStateException(t);
    }
  }

  private void workerLoop() {
    Op seen = null;
    while (true) {
      long deadline = System.nanoTime() + SPIN_NANOS;
      Op op;
      while ((op = current) == seen && !closed) {
        if (System.nanoTime() < deadline) {
          Thread.onSpinWait();
        } else {
          LockSupport.park(this);
        }
      }
      if (closed) {
        return;
      }
      seen = op;
      op.drain();
    }
  }

  @Override
  public void close() {
    closed = true;
    for (Thread w : workers) {
      LockSupport.unpark(w);
    }
  }
}
