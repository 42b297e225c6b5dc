package io.quire.engine.sampling;

import io.quire.engine.SamplingParams;
import io.quire.engine.TokenLogprob;
import io.quire.engine.TopLogprob;
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
 * <p>Probabilities are {@code exp((logit - max) / T)} in fp32 (vectorised), summed in fp64. No
 * pass sorts the vocab: top_k keeps a size-k heap and sorts the k survivors (top_p then walks
 * them); top_p alone is a radix select on the weights ({@link Nucleus}). Rows run in parallel
 * when the batch is large. The logits array is scratch: penalties and masks are written into it.
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

  private SampledToken sampleRow(float[] logits, int off, int vocab, SamplingState state) {
    SamplingParams params = state.params();
    Scratch s = scratch.get();
    s.ensure(vocab);

    double logZ = 0;
    List<TopLogprob> top = null;
    if (params.logprobs() != null) {
      System.arraycopy(logits, off, s.raw, 0, vocab);
      float max = RowKernels.max(s.raw, 0, vocab);
      logZ = max + Math.log(RowKernels.expWeights(s.raw, 0, vocab, max, 1f, Float.NEGATIVE_INFINITY, s.w, s.blockSums));
      top = topLogprobs(s, vocab, params.logprobs(), logZ);
    }

    int[] mask = state.minTokensMask();
    if (mask != null) {
      for (int id : mask) if (id < vocab) logits[off + id] = Float.NEGATIVE_INFINITY;
    }
    if (state.penalized()) {
      Penalties.apply(logits, off, vocab, params, state.promptCounts(), state.outputCounts());
    }

    int token =
        params.isGreedy()
            ? RowKernels.argmax(logits, off, vocab)
            : sampleRandom(logits, off, vocab, params, state.nextUniform(), s);

    TokenLogprob logprob =
        top == null ? null : new TokenLogprob(token, (float) (s.raw[token] - logZ), top);
    return new SampledToken(token, logprob);
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

  private static int sampleRandom(
      float[] logits, int off, int vocab, SamplingParams params, double u, Scratch s) {
    float max = RowKernels.max(logits, off, vocab);
    if (max == Float.NEGATIVE_INFINITY || Float.isNaN(max)) {
      return RowKernels.argmax(logits, off, vocab);
    }
    double temperature = params.temperature();
    float invT = (float) (1.0 / temperature);
    // min_p keeps p_i >= min_p * p_max, i.e. logit_i >= max + T * ln(min_p).
    float threshold =
        params.minP() > 0f
            ? (float) (max + temperature * Math.log(params.minP()))
            : Float.NEGATIVE_INFINITY;
    int k = params.topK();
    float p = params.topP();

    if (k > 0 && k < vocab) {
      int count;
      if (k <= MAX_HEAP_TOP_K) {
        count = RowKernels.topM(logits, off, vocab, k, threshold, s.packed(k));
      } else {
        count = Math.min(k, RowKernels.sortAll(logits, off, vocab, threshold, s.packed(vocab)));
      }
      return sampleSorted(logits, off, count, max, invT, p, u, s);
    }
    double total = RowKernels.expWeights(logits, off, vocab, max, invT, threshold, s.w, s.blockSums);
    if (p < 1f) return Nucleus.sample(s.w, vocab, total, p, u, s.candidates, s.members, s.hist);
    return RowKernels.walk(s.w, s.blockSums, vocab, u * total);
  }

  /** Samples among s.packed[0..count), most likely first, after cutting to the top_p nucleus. */
  private static int sampleSorted(
      float[] logits, int off, int count, float max, float invT, float p, double u, Scratch s) {
    double[] weights = s.sortedWeights(count);
    double total = 0;
    for (int i = 0; i < count; i++) {
      int id = RowKernels.unpackId(s.packed[i]);
      weights[i] = Math.exp((double) (logits[off + id] - max) * invT);
      total += weights[i];
    }
    int keep = count;
    if (p < 1f) {
      // vLLM v1 drops the tokens whose ascending cumulative mass stays <= 1 - p; equivalently it
      // keeps token i while the mass before it is < p. At least one token stays.
      double before = 0;
      for (int i = 0; i < count; i++) {
        if (before >= p * total) {
          keep = i;
          break;
        }
        before += weights[i];
      }
      total = 0;
      for (int i = 0; i < keep; i++) total += weights[i];
    }
    double target = u * total;
    double acc = 0;
    for (int i = 0; i < keep; i++) {
      acc += weights[i];
      if (acc > target) return RowKernels.unpackId(s.packed[i]);
    }
    return RowKernels.unpackId(s.packed[keep - 1]);
  }

  /** Per-thread buffers, grown to the vocab once. */
  private static final class Scratch {
    float[] raw = new float[0];
    float[] w = new float[0];
    double[] blockSums = new double[0];
    long[] packed = new long[0];
    double[] sorted = new double[0];
    int[] candidates = new int[0];
    int[] members = new int[0];
    final double[] hist = new double[1 << 12];

    void ensure(int vocab) {
      if (raw.length < vocab) {
        raw = new float[vocab];
        w = new float[vocab];
        blockSums = new double[(vocab + RowKernels.BLOCK - 1) / RowKernels.BLOCK];
        candidates = new int[vocab];
        members = new int[vocab];
      }
    }

    long[] packed(int n) {
      if (packed.length < n) packed = new long[Math.max(n, 2 * packed.length)];
      return packed;
    }

    double[] sortedWeights(int n) {
      if (sorted.length < n) sorted = new double[Math.max(n, 2 * sorted.length)];
      return sorted;
    }
  }
}
