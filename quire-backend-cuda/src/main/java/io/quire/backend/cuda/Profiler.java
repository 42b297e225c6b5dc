package io.quire.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Device-side timing of every launch: an event pair around each kernel, cuBLAS call and copy, read
 * back at the next synchronization and summed by label. No extra synchronization is added between
 * launches, so the queue runs as it does unprofiled (the events add a little host time per launch).
 */
final class Profiler implements AutoCloseable {
  private final CudaDriver cu;
  private final MemorySegment stream;
  private final List<MemorySegment> pool = new ArrayList<>();
  private final List<String> labels = new ArrayList<>();
  private final Map<String, double[]> totals = new LinkedHashMap<>();
  private final Arena arena = Arena.ofConfined();
  private final MemorySegment scratch = arena.allocate(ValueLayout.JAVA_FLOAT);
  private int used;

  Profiler(CudaDriver cu, MemorySegment stream) {
    this.cu = cu;
    this.stream = stream;
  }

  private MemorySegment next() {
    if (used == pool.size()) pool.add(cu.eventCreate());
    MemorySegment e = pool.get(used++);
    cu.eventRecord(e, stream);
    return e;
  }

  void before(String label) {
    labels.add(label);
    next();
  }

  void after() {
    next();
  }

  /** Reads the recorded pairs (waits for the last) and adds them to the totals. */
  void collect() {
    if (used == 0) return;
    cu.eventSynchronize(pool.get(used - 1));
    for (int i = 0; i < labels.size(); i++) {
      float ms = cu.eventElapsed(pool.get(2 * i), pool.get(2 * i + 1), scratch);
      double[] a = totals.computeIfAbsent(labels.get(i), k -> new double[2]);
      a[0] += ms;
      a[1]++;
    }
    labels.clear();
    used = 0;
  }

  void reset() {
    collect();
    totals.clear();
  }

  /** Milliseconds of device time over all labels so far. */
  double totalMs() {
    double all = 0;
    for (double[] a : totals.values()) all += a[0];
    return all;
  }

  /** A table sorted by time: label, ms per step, share, calls per step, us per call. */
  String report(int steps) {
    double all = totalMs();
    StringBuilder sb = new StringBuilder();
    totals.entrySet().stream().sorted((x, y) -> Double.compare(y.getValue()[0], x.getValue()[0])).forEach(e -> {
      double[] a = e.getValue();
      sb.append(String.format("  %-36s %8.3f ms/step %6.1f%% %6.1f calls/step %8.1f us/call%n", e.getKey(), a[0] / steps,
          100 * a[0] / all, a[1] / steps, 1e3 * a[0] / a[1]));
    });
    sb.append(String.format("  %-36s %8.3f ms/step%n", "sum of device time", all / steps));
    return sb.toString();
  }

  @Override
  public void close() {
    for (MemorySegment e : pool) cu.eventDestroy(e);
    pool.clear();
    arena.close();
  }
}
