package io.quire.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * A fixed set of platform threads that run the tasks of one op; the calling thread works too. Tasks
 * are handed out through one atomic counter. Idle workers spin briefly (ops of one forward pass come
 * back to back) and then park, so an idle engine costs no CPU.
 */
final class WorkerPool implements AutoCloseable {
  private static final long SPIN_NANOS = 50_000;

  private final Thread[] workers;
  private final AtomicInteger nextTask = new AtomicInteger();
  private final AtomicInteger busyWorkers = new AtomicInteger();
  private volatile int generation;
  private volatile boolean closed;
  private volatile Throwable failure;
  // Published to workers by the volatile write of generation.
  private IntConsumer body;
  private int numTasks;

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
    this.body = body;
    this.numTasks = n;
    failure = null;
    nextTask.set(0);
    busyWorkers.set(workers.length);
    generation++;
    for (Thread w : workers) {
      LockSupport.unpark(w);
    }
    Throwable mine = null;
    try {
      drain(body, n);
    } catch (Throwable t) {
      mine = t;
      nextTask.set(n);
    }
    int spins = 0;
    while (busyWorkers.get() != 0) {
      if (++spins < 1 << 16) {
        Thread.onSpinWait();
      } else {
        Thread.yield();
      }
    }
    this.body = null;
    Throwable t = mine != null ? mine : failure;
    if (t instanceof RuntimeException re) {
      throw re;
    } else if (t instanceof Error e) {
      throw e;
    } else if (t != null) {
      throw new IllegalStateException(t);
    }
  }

  private void drain(IntConsumer body, int n) {
    int i;
    while ((i = nextTask.getAndIncrement()) < n) {
      body.accept(i);
    }
  }

  private void workerLoop() {
    int seen = 0;
    while (true) {
      long deadline = System.nanoTime() + SPIN_NANOS;
      int g;
      while ((g = generation) == seen && !closed) {
        if (System.nanoTime() < deadline) {
          Thread.onSpinWait();
        } else {
          LockSupport.park(this);
        }
      }
      if (closed) {
        return;
      }
      seen = g;
      try {
        drain(body, numTasks);
      } catch (Throwable t) {
        failure = t;
        nextTask.set(numTasks);
      } finally {
        busyWorkers.decrementAndGet();
      }
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
