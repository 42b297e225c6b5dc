package io.quire.bench.serve;

import io.quire.bench.workload.BenchRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.locks.LockSupport;

/**
 * Sends a workload at its arrival times, one virtual thread per request; a request beyond the
 * concurrency cap waits for a slot after its arrival (so the cap, not the rate, then sets the pace).
 */
public final class LoadGenerator {
  private final StreamingClient client;

  public LoadGenerator(StreamingClient client) {
    this.client = client;
  }

  /**
   * @param maxConcurrency most requests in flight; 0 for no cap
   * @param onDone called after each request (a progress bar)
   */
  public List<RequestResult> run(List<BenchRequest> requests, Arrivals arrivals, int maxConcurrency, Runnable onDone)
      throws InterruptedException {
    long[] offsets = arrivals.offsetsNanos(requests.size());
    Semaphore slots = maxConcurrency > 0 ? new Semaphore(maxConcurrency) : null;
    List<Future<RequestResult>> fs = new ArrayList<>();
    long t0 = System.nanoTime();
    try (var ex = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < requests.size(); i++) {
        long wait;
        while ((wait = t0 + offsets[i] - System.nanoTime()) > 0) LockSupport.parkNanos(wait);
        BenchRequest r = requests.get(i);
        fs.add(ex.submit(() -> {
          if (slots != null) slots.acquire();
          try {
            return client.send(r);
          } finally {
            if (slots != null) slots.release();
            onDone.run();
          }
        }));
      }
    }
    List<RequestResult> out = new ArrayList<>();
    for (Future<RequestResult> f : fs) {
      try {
        out.add(f.get());
      } catch (ExecutionException e) {
        out.add(RequestResult.failed("io_error", String.valueOf(e.getCause()), 0));
      }
    }
    return out;
  }
}
