package io.quire.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Memory read bandwidth: {@code threads} platform threads each sum their share of an off-heap array
 * much larger than the last-level cache, as floats with four independent accumulators (so the loop
 * is load bound, not add-latency bound). Best of several passes, since other processes can only
 * slow a pass down.
 */
final class MemoryBandwidth {
  private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;

  private MemoryBandwidth() {}

  /** Best GB/s (1e9 bytes/s) of {@code passes} timed passes over {@code bytes}, after one untimed pass. */
  static double measure(long bytes, int threads, int passes) {
    try (Arena arena = Arena.ofShared()) {
      MemorySegment all = arena.allocate(bytes, 64);
      all.fill((byte) 1); // touch every page, so the timed passes read memory, not zero pages
      long per = bytes / threads / (4L * FS.vectorByteSize()) * (4L * FS.vectorByteSize());
      double best = 0;
      float[] sink = new float[threads];
      for (int pass = -1; pass < passes; pass++) {
        Thread[] ts = new Thread[threads];
        long t0 = System.nanoTime();
        for (int i = 0; i < threads; i++) {
          int id = i;
          MemorySegment part = all.asSlice(i * per, per);
          ts[i] = Thread.ofPlatform().start(() -> sink[id] += sum(part));
        }
        for (Thread t : ts) join(t);
        long ns = System.nanoTime() - t0;
        if (pass >= 0) best = Math.max(best, (double) per * threads / ns);
      }
      if (Float.isNaN(sink[0])) System.out.print(""); // keeps the sums alive
      return best;
    }
  }

  private static void join(Thread t) {
    try {
      t.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static float sum(MemorySegment s) {
    FloatVector a = FloatVector.zero(FS);
    FloatVector b = FloatVector.zero(FS);
    FloatVector c = FloatVector.zero(FS);
    FloatVector d = FloatVector.zero(FS);
    long step = FS.vectorByteSize();
    for (long o = 0, n = s.byteSize(); o < n; o += 4 * step) {
      a = a.add(FloatVector.fromMemorySegment(FS, s, o, ByteOrder.LITTLE_ENDIAN));
      b = b.add(FloatVector.fromMemorySegment(FS, s, o + step, ByteOrder.LITTLE_ENDIAN));
      c = c.add(FloatVector.fromMemorySegment(FS, s, o + 2 * step, ByteOrder.LITTLE_ENDIAN));
      d = d.add(FloatVector.fromMemorySegment(FS, s, o + 3 * step, ByteOrder.LITTLE_ENDIAN));
    }
    return a.add(b).add(c).add(d).reduceLanes(VectorOperators.ADD);
  }
}
