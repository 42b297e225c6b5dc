package io.quire.engine.sampling;

import io.quire.spi.SampledRows;
import io.quire.spi.SamplingBatch;
import io.quire.spi.SamplingMath;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The {@link SamplingBatch} contract written out plainly, one loop or full sort per rule, with
 * none of the host sampler's selection code: an independent reading of the contract to check the
 * packing ({@link DeviceSampling}) and the host sampler against, and a stand-in device sampler for
 * engine tests.
 */
public final class ReferenceSampler {
  private ReferenceSampler() {}

  /** Samples every row of {@code logits} (rows x vocab, overwritten) into out. */
  public static void sample(float[] logits, int vocab, SamplingBatch batch, SampledRows out) {
    for (int r = 0; r < batch.numRows(); r++) {
      float[] x = new float[vocab];
      System.arraycopy(logits, r * vocab, x, 0, vocab);
      float[] raw = x.clone();
      SamplingBatch.Row p = batch.row(r);
      double logZ = 0;
      if (p.topLogprobs() >= 0) {
        float max = max(raw);
        float scale = SamplingMath.massScale(SamplingMath.massShift(vocab));
        long mass = 0;
        for (float v : raw) mass += SamplingMath.mass(SamplingMath.weight(v - max), scale);
        logZ = max + Math.log(mass / (double) scale);
        List<Integer> order = ranked(raw, i -> !Float.isNaN(raw[i]), byLogit(raw));
        for (int j = 0; j < Math.min(p.topLogprobs(), order.size()); j++) {
          int id = order.get(j);
          out.topIds[r * SamplingBatch.MAX_TOP_LOGPROBS + j] = id;
          out.topLogprobs[r * SamplingBatch.MAX_TOP_LOGPROBS + j] = (float) (raw[id] - logZ);
        }
      }
      for (int e = batch.entryStart(r); e < batch.entryStart(r + 1); e++) {
        int t = batch.entryToken(e);
        int count = batch.entryOutputCount(e);
        int flags = batch.entryFlags(e);
        float v = x[t];
        if ((flags & SamplingBatch.MASKED) != 0) v = Float.NEGATIVE_INFINITY;
        if ((flags & SamplingBatch.IN_PROMPT) != 0 || count > 0) {
          v = v > 0f ? v / p.repetitionPenalty() : v * p.repetitionPenalty();
        }
        if (count > 0) {
          v -= p.frequencyPenalty() * count;
          v -= p.presencePenalty();
        }
        x[t] = v;
      }
      int token = p.greedy() ? argmax(x) : draw(x, p);
      out.tokenIds[r] = token;
      out.logprobs[r] = (float) (raw[token] - logZ);
      System.arraycopy(x, 0, logits, r * vocab, vocab);
    }
  }

  private static int draw(float[] x, SamplingBatch.Row p) {
    int vocab = x.length;
    float m = max(x);
    if (!(m > Float.NEGATIVE_INFINITY && m < Float.POSITIVE_INFINITY)) return argmax(x);
    float threshold = p.minPOffset() > Double.NEGATIVE_INFINITY ? (float) (m + p.minPOffset()) : Float.NEGATIVE_INFINITY;
    float scale = SamplingMath.massScale(SamplingMath.massShift(vocab));
    float[] w = new float[vocab];
    long[] mass = new long[vocab];
    for (int i = 0; i < vocab; i++) {
      if (x[i] >= threshold) {
        w[i] = SamplingMath.weight((x[i] - m) * p.invTemperature());
        mass[i] = SamplingMath.mass(w[i], scale);
      }
    }
    List<Integer> ranked;
    if (p.topK() > 0) {
      ranked = ranked(x, i -> x[i] >= threshold, byLogit(x));
      ranked = new ArrayList<>(ranked.subList(0, Math.min(p.topK(), ranked.size())));
    } else {
      Comparator<Integer> byWeight = (a, b) -> Integer.compare(Float.floatToRawIntBits(w[b]), Float.floatToRawIntBits(w[a]));
      ranked = ranked(x, i -> x[i] >= threshold, byWeight.thenComparingInt(i -> i));
    }
    long total = 0;
    for (int i : ranked) total += mass[i];
    List<Integer> kept = ranked;
    if (p.topP() < 1f) {
      long target = SamplingMath.topPTarget(total, SamplingMath.fraction64(p.topP()));
      kept = new ArrayList<>();
      long before = 0;
      for (int i : ranked) {
        if (!kept.isEmpty() && before >= target) break;
        kept.add(i);
        before += mass[i];
      }
    }
    long keptMass = 0;
    for (int i : kept) keptMass += mass[i];
    if (p.topK() == 0) kept = kept.stream().sorted().toList(); // the draw walks in id order
    long target = SamplingMath.drawTarget(keptMass, p.uniformBits());
    long acc = 0;
    for (int i : kept) {
      acc += mass[i];
      if (acc > target) return i;
    }
    throw new AssertionError("draw target " + target + " not below kept mass " + keptMass);
  }

  private static Comparator<Integer> byLogit(float[] x) {
    Comparator<Integer> byKey = (a, b) -> Integer.compare(SamplingMath.orderedKey(x[b]), SamplingMath.orderedKey(x[a]));
    return byKey.thenComparingInt(i -> i);
  }

  private static List<Integer> ranked(float[] x, java.util.function.IntPredicate keep, Comparator<Integer> order) {
    List<Integer> ids = new ArrayList<>();
    for (int i = 0; i < x.length; i++) if (keep.test(i)) ids.add(i);
    ids.sort(order);
    return ids;
  }

  private static float max(float[] x) {
    float m = Float.NEGATIVE_INFINITY;
    for (float v : x) if (v > m) m = v;
    return m;
  }

  /** Lowest id of the largest value; NaN never wins; 0 when every value is NaN. */
  static int argmax(float[] x) {
    int best = -1;
    for (int i = 0; i < x.length; i++) {
      if (Float.isNaN(x[i])) continue;
      if (best < 0 || x[i] > x[best]) best = i;
    }
    return Math.max(best, 0);
  }
}
