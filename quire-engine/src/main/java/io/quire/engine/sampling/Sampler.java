package io.quire.engine.sampling;

import io.quire.engine.SamplingParams;
import io.quire.engine.TokenLogprob;
import io.quire.engine.TopLogprob;
import io.quire.spi.SamplingMath;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Picks the next token of each row of a batch of host logits, in vLLM v1's order:
 *
 * <ol>
 *   <li>logprobs, when asked for, from the raw logits (vLLM's default {@code raw_logprobs} mode);
 *   <li>min_tokens: EOS and stop token ids get -inf until min_tokens tokens exist;
 *   <li>penalties: repetition (prompt + output), frequency and presence (output);
 *   <li>greedy rows (temperature below {@link SamplingParams#SAMPLING_EPS}) take the argmax,
 *       lowest id on ties;
 *   <li>otherwise temperature, min_p (relative to the most likely token), top_k (exactly k, lowest
 *       ids on ties), top_p (smallest most-likely-first prefix whose mass reaches p), and a draw
 *       from what is left by inverse CDF with the row's counter-based uniform.
 * </ol>
 *
 * <p>Weights are {@code exp((logit - max) / T)} in fp32 and masses are exact integers, both as
 * {@link SamplingMath} defines them, so a device sampler ({@code Backend.sample}) keeps the same
 * tokens and draws the same id for the same uniform number. No pass sorts the vocab: top_k keeps a
 * size-k heap and sorts the k survivors (top_p then walks them); top_p alone is a radix select on
 * the weights ({@link Nucleus}). Rows run in parallel when the batch is large. The logits array is
 * scratch: penalties and masks are written into it.
 */
public final class Sampler {
  private static final int MAX_HEAP_TOP_K = 4096;
  private static final long PARALLEL_MIN_ELEMENTS = 1L << 18;

  private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(Scratch::new);

  /**
   * Samples one token per row.
   *
   * @param logits rows.size() rows of vocabSize logits, row-major; overwritten
   * @param rows the sequence sampled from each row, in row order
   */
  public List<SampledToken> sample(float[] logits, int vocabSize, List<SamplingState> rows) {
    int n = rows.size();
    if ((long) n * vocabSize > logits.length) {
      throw new IllegalArgumentException(
          "logits hold " + logits.length + " values, need " + n + " rows x " + vocabSize);
    }
    SampledToken[] out = new SampledToken[n];
    IntStream range = IntStream.range(0, n);
    if (n > 1 && (long) n * vocabSize >= PARALLEL_MIN_ELEMENTS) range = range.parallel();
    range.forEach(r -> out[r] = sampleRow(logits, r * vocabSize, vocabSize, rows.get(r)));
    return Arrays.asList(out);
  }

  /**
   * The distribution a row is drawn from after masks, penalties, temperature, min_p, top_k and
   * top_p: each token's kept mass over the kept total (0 for the others; 1 at the argmax for a
   * greedy row). The same code paths as {@link #sample}; for tests and device checks.
   *
   * @param logits one row of vocabSize logits; overwritten
   */
  public double[] probabilities(float[] logits, int vocabSize, SamplingState state) {
    double[] probs = new double[vocabSize];
    Scratch s = scratch.get();
    s.ensure(vocabSize);
    applyMasksAndPenalties(logits, 0, vocabSize, state);
    if (state.params().isGreedy()) {
      probs[RowKernels.argmax(logits, 0, vocabSize)] = 1;
    } else {
      sampleRandom(logits, 0, vocabSize, state.params(), 0, s, probs);
    }
    return probs;
  }

  private SampledToken sampleRow(float[] logits, int off, int vocab, SamplingState state) {
    SamplingParams params = state.params();
    Scratch s = scratch.get();
    s.ensure(vocab);

    double logZ = 0;
    List<TopLogprob> top = null;
    if (params.logprobs() != null) {
      System.arraycopy(logits, off, s.raw, 0, vocab);
      logZ = logSumExp(s.raw, vocab, s);
      top = topLogprobs(s, vocab, params.logprobs(), logZ);
    }

    applyMasksAndPenalties(logits, off, vocab, state);
    int token =
        params.isGreedy()
            ? RowKernels.argmax(logits, off, vocab)
            : sampleRandom(logits, off, vocab, params, state.nextUniformBits(), s, null);

    TokenLogprob logprob =
        top == null ? null : new TokenLogprob(token, (float) (s.raw[token] - logZ), top);
    return new SampledToken(token, logprob);
  }

  /** log(sum exp(x)) of a raw row: max + log(mass of the weights exp(x - max)) / 2^massShift. */
  private static double logSumExp(float[] raw, int vocab, Scratch s) {
    float max = RowKernels.max(raw, 0, vocab);
    float scale = SamplingMath.massScale(SamplingMath.massShift(vocab));
    long mass = RowKernels.expWeights(raw, 0, vocab, max, 1f, Float.NEGATIVE_INFINITY, scale, s.w, s.blockMass);
    return max + Math.log(mass / (double) scale);
  }

  private static void applyMasksAndPenalties(float[] logits, int off, int vocab, SamplingState state) {
    int[] mask = state.minTokensMask();
    if (mask != null) {
      for (int id : mask) if (id < vocab) logits[off + id] = Float.NEGATIVE_INFINITY;
    }
    if (state.penalized()) {
      Penalties.apply(logits, off, vocab, state.params(), state.promptCounts(), state.outputCounts());
    }
  }

  /** (float) (1 / temperature): weights are exp((logit - max) * this). */
  static float invTemperature(SamplingParams params) {
    return (float) (1.0 / params.temperature());
  }

  /** min_p keeps p_i >= min_p * p_max, i.e. logit_i >= max + T * ln(min_p); -inf without min_p. */
  static double minPOffset(SamplingParams params) {
    return params.minP() > 0f
        ? params.temperature() * Math.log(params.minP())
        : Double.NEGATIVE_INFINITY;
  }

  private static List<TopLogprob> topLogprobs(Scratch s, int vocab, int k, double logZ) {
    if (k == 0) return List.of();
    int count =
        k < 0 || k >= vocab
            ? RowKernels.sortAll(s.raw, 0, vocab, Float.NEGATIVE_INFINITY, s.packed(vocab))
            : RowKernels.topM(s.raw, 0, vocab, k, Float.NEGATIVE_INFINITY, s.packed(k));
    List<TopLogprob> top = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      int id = RowKernels.unpackId(s.packed[i]);
      top.add(new TopLogprob(id, (float) (s.raw[id] - logZ)));
    }
    return top;
  }

  /**
   * Draws with the 53-bit uniform number {@code u} (u * 2^-53 in [0, 1)) or, when probs is not
   * null, writes the distribution into it instead (and returns -1).
   */
  private static int sampleRandom(
      float[] logits, int off, int vocab, SamplingParams params, long u, Scratch s, double[] probs) {
    float max = RowKernels.max(logits, off, vocab);
    if (!(max > Float.NEGATIVE_INFINITY && max < Float.POSITIVE_INFINITY)) {
      int token = RowKernels.argmax(logits, off, vocab);
      if (probs != null) probs[token] = 1;
      return token;
    }
    float invT = invTemperature(params);
    double offset = minPOffset(params);
    float threshold = offset > Double.NEGATIVE_INFINITY ? (float) (max + offset) : Float.NEGATIVE_INFINITY;
    float scale = SamplingMath.massScale(SamplingMath.massShift(vocab));
    int k = params.topK();
    float p = params.topP();

    if (k > 0 && k < vocab) {
      int count;
      if (k <= MAX_HEAP_TOP_K) {
        count = RowKernels.topM(logits, off, vocab, k, threshold, s.packed(k));
      } else {
        count = Math.min(k, RowKernels.sortAll(logits, off, vocab, threshold, s.packed(vocab)));
      }
      return sampleSorted(logits, off, count, max, invT, p, scale, u, s, probs);
    }
    long total = RowKernels.expWeights(logits, off, vocab, max, invT, threshold, scale, s.w, s.blockMass);
    if (p < 1f) {
      Nucleus.Cut cut = Nucleus.cut(s.w, vocab, total, p, scale, s.candidates, s.members, s.hist);
      if (probs != null) {
        for (int j = 0; j < cut.count(); j++) {
          int i = cut.candidates()[j];
          if (cut.keeps(s.w[i], i)) probs[i] = (long) (s.w[i] * scale) / (double) cut.keptMass();
        }
        return -1;
      }
      return Nucleus.walk(s.w, cut, SamplingMath.drawTarget(cut.keptMass(), u), scale);
    }
    if (probs != null) {
      for (int i = 0; i < vocab; i++) probs[i] = (long) (s.w[i] * scale) / (double) total;
      return -1;
    }
    return RowKernels.walk(s.w, s.blockMass, vocab, SamplingMath.drawTarget(total, u), scale);
  }

  /** Samples among s.packed[0..count), most likely first, after cutting to the top_p nucleus. */
  private static int sampleSorted(
      float[] logits,
      int off,
      int count,
      float max,
      float invT,
      float p,
      float scale,
      long u,
      Scratch s,
      double[] probs) {
    long[] masses = s.sortedMasses(count);
    long total = 0;
    for (int i = 0; i < count; i++) {
      int id = RowKernels.unpackId(s.packed[i]);
      masses[i] = (long) (SamplingMath.weight((logits[off + id] - max) * invT) * scale);
      total += masses[i];
    }
    int keep = count;
    if (p < 1f) {
      // vLLM v1 drops the tokens whose ascending cumulative mass stays <= 1 - p; equivalently it
      // keeps token i while the mass before it is < p. At least one token stays.
      long target = SamplingMath.topPTarget(total, SamplingMath.fraction64(p));
      long before = 0;
      for (int i = 0; i < count; i++) {
        if (i > 0 && before >= target) {
          keep = i;
          break;
        }
        before += masses[i];
      }
      total = 0;
      for (int i = 0; i < keep; i++) total += masses[i];
    }
    if (probs != null) {
      for (int i = 0; i < keep; i++) probs[RowKernels.unpackId(s.packed[i])] = masses[i] / (double) total;
      return -1;
    }
    long target = SamplingMath.drawTarget(total, u);
    long acc = 0;
    for (int i = 0; i < keep; i++) {
      acc += masses[i];
      if (acc > target) return RowKernels.unpackId(s.packed[i]);
    }
    return RowKernels.unpackId(s.packed[keep - 1]); // not reached: target < total
  }

  /** Per-thread buffers, grown to the vocab once. */
  private static final class Scratch {
    float[] raw = new float[0];
    float[] w = new float[0];
    long[] blockMass = new long[0];
    long[] packed = new long[0];
    long[] sorted = new long[0];
    int[] candidates = new int[0];
    int[] members = new int[0];
    final long[] hist = new long[1 << 12];

    void ensure(int vocab) {
      if (raw.length < vocab) {
        raw = new float[vocab];
        w = new float[vocab];
        blockMass = new long[(vocab + RowKernels.BLOCK - 1) / RowKernels.BLOCK];
        candidates = new int[vocab];
        members = new int[vocab];
      }
    }

    long[] packed(int n) {
      if (packed.length < n) packed = new long[Math.max(n, 2 * packed.length)];
      return packed;
    }

    long[] sortedMasses(int n) {
      if (sorted.length < n) sorted = new long[Math.max(n, 2 * sorted.length)];
      return sorted;
    }
  }
}
