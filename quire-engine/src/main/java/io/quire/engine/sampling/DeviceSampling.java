package io.quire.engine.sampling;

import io.quire.engine.SamplingParams;
import io.quire.engine.TokenLogprob;
import io.quire.engine.TopLogprob;
import io.quire.spi.Backend;
import io.quire.spi.PendingIds;
import io.quire.spi.SampledRows;
import io.quire.spi.SamplingBatch;
import io.quire.spi.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The engine's side of {@link Backend#sample}: packs each row's sampling state into a {@link
 * SamplingBatch} (the values {@link Sampler} would use: 1/T, the min_p offset, top_k, top_p, the
 * row's 53-bit uniform number, penalty counts and the min_tokens mask as sparse entries) and turns
 * the backend's results back into {@link SampledToken}s. Only ids and asked-for logprobs come back
 * from the device. One instance per engine thread; its buffers are reused between steps.
 */
public final class DeviceSampling {
  private final SamplingBatch batch = new SamplingBatch();
  private SampledRows out = new SampledRows(16);

  /**
   * Whether a device can sample these rows: a request asking for logprobs of the whole vocab (-1),
   * or more than {@link SamplingBatch#MAX_TOP_LOGPROBS}, needs the host sampler.
   */
  public static boolean supports(List<SamplingState> states) {
    for (SamplingState st : states) {
      Integer lp = st.params().logprobs();
      if (lp != null && (lp < 0 || lp > SamplingBatch.MAX_TOP_LOGPROBS)) return false;
    }
    return true;
  }

  /** A batch for the memory profile step: every row sampled (top_p) with the most top logprobs. */
  public static SamplingBatch profileBatch(int rows) {
    SamplingBatch b = new SamplingBatch();
    for (int r = 0; r < rows; r++) {
      b.addRow(new SamplingBatch.Row(false, 1f, 0, 0.9f, Double.NEGATIVE_INFINITY, 1f, 0f, 0f, r, SamplingBatch.MAX_TOP_LOGPROBS));
    }
    return b;
  }

  /** Samples one token per row of {@code logits} ([rows, vocab] F32) on the backend. */
  public List<SampledToken> sample(Backend backend, Tensor logits, int vocab, List<SamplingState> states) {
    pack(states, vocab);
    int rows = states.size();
    if (out.capacity() < rows) out = new SampledRows(Math.max(rows, 2 * out.capacity()));
    backend.sample(logits, batch, out);
    return unpack(states, vocab, out);
  }

  /**
   * Samples as {@link #sample} without waiting (async scheduling): the ids stay on the device for the
   * next step; {@link #take} turns the result into tokens. The states must not sample again before.
   */
  public PendingIds sampleAsync(Backend backend, Tensor logits, int vocab, List<SamplingState> states) {
    pack(states, vocab);
    return backend.sampleAsync(logits, batch);
  }

  /** The tokens of a {@link #sampleAsync} of {@code states}; waits for them. */
  public List<SampledToken> take(PendingIds pending, List<SamplingState> states, int vocab) {
    int rows = states.size();
    if (out.capacity() < rows) out = new SampledRows(Math.max(rows, 2 * out.capacity()));
    pending.await(out);
    return unpack(states, vocab, out);
  }

  /**
   * Fills this instance's batch with one row per state (each row's entries in a fixed order, each
   * token once) and returns it; valid until the next call.
   */
  public SamplingBatch pack(List<SamplingState> states, int vocab) {
    batch.clear();
    for (SamplingState st : states) {
      SamplingParams p = st.params();
      boolean greedy = p.isGreedy();
      int k = p.topK() > 0 && p.topK() < vocab ? p.topK() : 0;
      batch.addRow(new SamplingBatch.Row(
          greedy,
          greedy ? 1f : Sampler.invTemperature(p),
          greedy ? 0 : k,
          greedy ? 1f : p.topP(),
          greedy ? Double.NEGATIVE_INFINITY : Sampler.minPOffset(p),
          p.repetitionPenalty(),
          p.frequencyPenalty(),
          p.presencePenalty(),
          st.nextUniformBits(),
          p.logprobs() == null ? -1 : p.logprobs()));
      addEntries(st, vocab);
    }
    return batch;
  }

  private void addEntries(SamplingState st, int vocab) {
    int[] mask = st.minTokensMask();
    if (mask == null) mask = new int[0];
    boolean penalized = st.penalized();
    TokenCounts prompt = penalized ? st.promptCounts() : null;
    TokenCounts output = penalized ? st.outputCounts() : null;
    for (int id : mask) {
      if (id >= vocab) continue;
      int flags = SamplingBatch.MASKED;
      int count = 0;
      if (penalized) {
        if (prompt.contains(id)) flags |= SamplingBatch.IN_PROMPT;
        count = output.get(id);
      }
      batch.addEntry(id, count, flags);
    }
    if (!penalized) return;
    for (int s = 0; s < prompt.capacity(); s++) {
      int id = prompt.keyAt(s);
      if (id < 0 || id >= vocab || contains(mask, id)) continue;
      batch.addEntry(id, output.get(id), SamplingBatch.IN_PROMPT);
    }
    for (int s = 0; s < output.capacity(); s++) {
      int id = output.keyAt(s);
      if (id < 0 || id >= vocab || contains(mask, id) || prompt.contains(id)) continue;
      batch.addEntry(id, output.countAt(s), 0);
    }
  }

  private static boolean contains(int[] ids, int id) {
    for (int x : ids) if (x == id) return true;
    return false;
  }

  private static List<SampledToken> unpack(List<SamplingState> states, int vocab, SampledRows out) {
    SampledToken[] tokens = new SampledToken[states.size()];
    int width = SamplingBatch.MAX_TOP_LOGPROBS;
    for (int r = 0; r < tokens.length; r++) {
      Integer k = states.get(r).params().logprobs();
      int id = out.tokenIds[r];
      TokenLogprob lp = null;
      if (k != null) {
        int n = Math.min(k, vocab);
        List<TopLogprob> top = new ArrayList<>(n);
        for (int j = 0; j < n; j++) top.add(new TopLogprob(out.topIds[r * width + j], out.topLogprobs[r * width + j]));
        lp = new TokenLogprob(id, out.logprobs[r], top);
      }
      tokens[r] = new SampledToken(id, lp);
    }
    return Arrays.asList(tokens);
  }
}
