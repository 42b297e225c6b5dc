package io.quire.backend.cuda;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.quire.spi.SampledRows;
import io.quire.spi.SamplingBatch;
import io.quire.spi.SamplingMath;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * sample.cu's rules run on the host from the bytes {@link CudaSampler#pack} writes (row parameters
 * read at the struct's offsets, entries as (token, count << 2 | flags)), with full sorts instead of
 * radix selects: lets {@link CudaSamplingCheck} and its plumbing run where there is no GPU.
 */
final class SampleKernelEmulator implements SamplingDevice {
  private record HostLogits(float[] data, int rows, int vocab) implements Logits {
    @Override
    public void close() {}
  }

  @Override
  public String name() {
    return "host emulation of sample.cu";
  }

  @Override
  public Logits upload(float[][] rows, int copies, int vocab) {
    float[] data = new float[rows.length * copies * vocab];
    for (int c = 0; c < copies; c++) {
      for (int r = 0; r < rows.length; r++) System.arraycopy(rows[r], 0, data, (c * rows.length + r) * vocab, vocab);
    }
    return new HostLogits(data, rows.length * copies, vocab);
  }

  @Override
  public float[] download(Logits logits) {
    return ((HostLogits) logits).data().clone();
  }

  @Override
  public int[] argmax(Logits logits) {
    HostLogits l = (HostLogits) logits;
    int[] ids = new int[l.rows()];
    for (int r = 0; r < l.rows(); r++) ids[r] = argmax(l.data(), r * l.vocab(), l.vocab());
    return ids;
  }

  @Override
  public void close() {}

  @Override
  public void sample(Logits logits, SamplingBatch batch, SampledRows out, boolean noSort, byte[] keptMask) {
    HostLogits l = (HostLogits) logits;
    int vocab = l.vocab(), rows = batch.numRows();
    long entriesAt = (((long) rows * CudaSampler.ROW_BYTES) + 255) & ~255L;
    try (Arena a = Arena.ofConfined()) {
      MemorySegment buf = a.allocate(entriesAt + 8L * batch.numEntries() + 8, 8);
      CudaSampler.pack(batch, vocab, noSort, buf, entriesAt);
      for (int r = 0; r < rows; r++) {
        row(l.data(), r * vocab, vocab, buf, r * (long) CudaSampler.ROW_BYTES, entriesAt, out, r, keptMask);
      }
    }
  }

  private static void row(float[] all, int off, int vocab, MemorySegment buf, long p, long entriesAt, SampledRows out, int r,
      byte[] keptMask) {
    double minpOffset = buf.get(JAVA_DOUBLE, p + CudaSampler.MINP_OFFSET);
    long ubits = buf.get(JAVA_LONG, p + CudaSampler.UBITS);
    float invT = buf.get(JAVA_FLOAT, p + CudaSampler.INV_T);
    float topP = buf.get(JAVA_FLOAT, p + CudaSampler.TOP_P);
    float rep = buf.get(JAVA_FLOAT, p + CudaSampler.REP);
    float freq = buf.get(JAVA_FLOAT, p + CudaSampler.FREQ);
    float pres = buf.get(JAVA_FLOAT, p + CudaSampler.PRES);
    int topK = buf.get(JAVA_INT, p + CudaSampler.TOP_K);
    int flags = buf.get(JAVA_INT, p + CudaSampler.FLAGS);
    int topLogprobs = buf.get(JAVA_INT, p + CudaSampler.TOP_LOGPROBS);
    int e0 = buf.get(JAVA_INT, p + CudaSampler.ENTRY_START), e1 = buf.get(JAVA_INT, p + CudaSampler.ENTRY_END);
    long pfrac = buf.get(JAVA_LONG, p + CudaSampler.PFRAC);
    float scale = SamplingMath.massScale(SamplingMath.massShift(vocab));
    float[] raw = new float[vocab];
    System.arraycopy(all, off, raw, 0, vocab);
    int w = SamplingBatch.MAX_TOP_LOGPROBS;

    double lse = 0;
    if (topLogprobs >= 0) {
      float mr = Float.NEGATIVE_INFINITY;
      for (float v : raw) if (v > mr) mr = v;
      long mass = 0;
      List<Integer> valid = new ArrayList<>();
      for (int i = 0; i < vocab; i++) {
        if (Float.isNaN(raw[i])) continue;
        valid.add(i);
        mass += SamplingMath.mass(SamplingMath.weight(raw[i] - mr), scale);
      }
      lse = mr + Math.log(mass / (double) scale);
      valid.sort(byKey(raw));
      for (int j = 0; j < Math.min(topLogprobs, valid.size()); j++) {
        int id = valid.get(j);
        out.topIds[r * w + j] = id;
        out.topLogprobs[r * w + j] = (float) (raw[id] - lse);
      }
    }
    for (int e = e0; e < e1; e++) {
      int t = buf.get(JAVA_INT, entriesAt + 8L * e), info = buf.get(JAVA_INT, entriesAt + 8L * e + 4), count = info >> 2;
      float v = all[off + t];
      if ((info & SamplingBatch.MASKED) != 0) v = Float.NEGATIVE_INFINITY;
      if ((info & SamplingBatch.IN_PROMPT) != 0 || count > 0) v = v > 0f ? v / rep : v * rep;
      if (count > 0) {
        v = v - freq * (float) count;
        v = v - pres;
      }
      all[off + t] = v;
    }
    float[] x = new float[vocab];
    System.arraycopy(all, off, x, 0, vocab);

    int token;
    boolean[] kept = new boolean[vocab];
    float m = Float.NEGATIVE_INFINITY;
    for (float v : x) if (v > m) m = v;
    if ((flags & CudaSampler.ROW_GREEDY) != 0 || !(m > Float.NEGATIVE_INFINITY && m < Float.POSITIVE_INFINITY)) {
      token = argmax(x, 0, vocab);
      kept[token] = true;
    } else {
      float thr = minpOffset > Double.NEGATIVE_INFINITY ? (float) (m + minpOffset) : Float.NEGATIVE_INFINITY;
      float[] wt = new float[vocab];
      long[] mass = new long[vocab];
      List<Integer> ranked = new ArrayList<>();
      for (int i = 0; i < vocab; i++) {
        if (!(x[i] >= thr)) continue;
        wt[i] = SamplingMath.weight((x[i] - m) * invT);
        mass[i] = SamplingMath.mass(wt[i], scale);
        ranked.add(i);
      }
      if (topK > 0) {
        ranked.sort(byKey(x));
        ranked = ranked.subList(0, Math.min(topK, ranked.size()));
      } else {
        Comparator<Integer> byWeight = (a, b) -> Integer.compare(Float.floatToRawIntBits(wt[b]), Float.floatToRawIntBits(wt[a]));
        ranked.sort(byWeight.thenComparingInt(i -> i));
      }
      long total = 0;
      for (int i : ranked) total += mass[i];
      int keep = ranked.size();
      if (topP < 1f) {
        long t = Math.unsignedMultiplyHigh(total, pfrac);
        t = t > 0 ? t - 1 : 0;
        long c = 0;
        for (int j = 0; j < ranked.size(); j++) {
          c += mass[ranked.get(j)];
          if (c > t) {
            keep = j + 1;
            break;
          }
        }
      }
      List<Integer> walk = new ArrayList<>(ranked.subList(0, keep));
      long keptMass = 0;
      for (int i : walk) {
        keptMass += mass[i];
        kept[i] = mass[i] > 0;
      }
      if (topK == 0) walk.sort(Comparator.naturalOrder());
      long d = Math.unsignedMultiplyHigh(keptMass, ubits << 11);
      long c = 0;
      token = -1;
      for (int i : walk) {
        c += mass[i];
        if (c > d) {
          token = i;
          break;
        }
      }
    }
    out.tokenIds[r] = token;
    out.logprobs[r] = topLogprobs >= 0 ? (float) (raw[token] - lse) : 0f;
    if (keptMask != null) {
      for (int i = 0; i < vocab; i++) keptMask[r * vocab + i] = (byte) (kept[i] ? 1 : 0);
    }
  }

  private static Comparator<Integer> byKey(float[] x) {
    Comparator<Integer> c = (a, b) -> Integer.compare(SamplingMath.orderedKey(x[b]), SamplingMath.orderedKey(x[a]));
    return c.thenComparingInt(i -> i);
  }

  private static int argmax(float[] x, int off, int n) {
    int best = -1;
    for (int i = 0; i < n; i++) {
      float v = x[off + i];
      if (Float.isNaN(v)) continue;
      if (best < 0 || v > x[off + best]) best = i;
    }
    return Math.max(best, 0);
  }
}
