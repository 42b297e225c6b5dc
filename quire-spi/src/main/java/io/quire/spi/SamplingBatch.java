package io.quire.spi;

import java.util.Arrays;

/**
 * The sampling work of one step for {@link Backend#sample}: one {@link Row} per logits row and, per
 * row, sparse token entries (the tokens that penalties or a min_tokens mask touch). Filled by the
 * engine, reused between steps; a backend ships it to the device in one copy.
 *
 * <p>What a row gets, in this order (the engine's host sampler, vLLM v1's order, with the arithmetic
 * of {@link SamplingMath}):
 *
 * <ol>
 *   <li>when {@code topLogprobs >= 0}: the raw row's log-softmax, logZ = max + log(sum of
 *       weight(x - max), summed as masses): the {@code topLogprobs} largest logits (larger first,
 *       lower id first on ties) and, at the end, the sampled token's raw logprob;
 *   <li>each entry, in place: -inf if masked; then, if the token occurs in the prompt or the
 *       output, x / repetition when x > 0, else x * repetition; then, if it occurs in the output,
 *       x - frequency * count, then x - presence (fp32, each step rounded, no fused multiply-add;
 *       a neutral penalty leaves x as it is);
 *   <li>greedy rows take the argmax (lowest id on ties; NaN never wins);
 *   <li>otherwise m = max, eligible tokens x >= (float) (m + minPOffset) (not NaN), weight w =
 *       weight((x - m) * invTemperature), mass = {@link SamplingMath#mass}. With top_k (0 < k <
 *       vocab) the candidates are the k eligible tokens of largest {@link SamplingMath#orderedKey},
 *       lowest id first among equals, ranked in that order; without, every eligible token, ranked by
 *       weight bits (larger first), then lower id. top_p (p < 1) keeps the first ranked candidate and
 *       each later one whose ranked-before mass is below {@link SamplingMath#topPTarget}; the draw
 *       target is {@link SamplingMath#drawTarget} of the kept mass, and the token is the first kept
 *       one, walking in rank order (top_k) or id order (no top_k), whose running mass exceeds it.
 * </ol>
 *
 * A row whose maximum is -inf or +inf, or only NaN, is sampled greedily.
 */
public final class SamplingBatch {
  /** The most top logprobs a device sampler returns per row (the engine's max_logprobs). */
  public static final int MAX_TOP_LOGPROBS = 20;

  /** Entry flag: the token occurs in the prompt. */
  public static final int IN_PROMPT = 1;

  /** Entry flag: the token is masked to -inf (EOS and stop tokens before min_tokens). */
  public static final int MASKED = 2;

  /**
   * One row's parameters, reduced to what the device needs.
   *
   * @param greedy temperature below vLLM's epsilon: argmax, the other sampling fields are unused
   * @param invTemperature (float) (1.0 / temperature)
   * @param topK 0 for none; otherwise 0 < topK < vocab
   * @param topP in (0, 1]; 1 for none
   * @param minPOffset temperature * ln(min_p) in double; -inf for none
   * @param uniformBits the row's uniform number u times 2^53 (53 bits)
   * @param topLogprobs -1 for none, else 0..{@link #MAX_TOP_LOGPROBS}
   */
  public record Row(
      boolean greedy,
      float invTemperature,
      int topK,
      float topP,
      double minPOffset,
      float repetitionPenalty,
      float frequencyPenalty,
      float presencePenalty,
      long uniformBits,
      int topLogprobs) {
    public Row {
      if (topK < 0) throw new IllegalArgumentException("topK must be >= 0, got " + topK);
      if (!(topP > 0f && topP <= 1f)) throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
      if (!greedy && !(invTemperature > 0f && Float.isFinite(invTemperature))) {
        throw new IllegalArgumentException("invTemperature must be finite and > 0, got " + invTemperature);
      }
      if (minPOffset > 0 || Double.isNaN(minPOffset)) {
        throw new IllegalArgumentException("minPOffset must be <= 0 or -inf, got " + minPOffset);
      }
      if (!(repetitionPenalty > 0f && Float.isFinite(repetitionPenalty))) {
        throw new IllegalArgumentException("repetitionPenalty must be finite and > 0, got " + repetitionPenalty);
      }
      if ((uniformBits >>> 53) != 0) throw new IllegalArgumentException("uniformBits must fit 53 bits, got " + uniformBits);
      if (topLogprobs < -1 || topLogprobs > MAX_TOP_LOGPROBS) {
        throw new IllegalArgumentException("topLogprobs must be -1 or 0.." + MAX_TOP_LOGPROBS + ", got " + topLogprobs);
      }
    }
  }

  private Row[] rows = new Row[16];
  private int numRows;
  private int[] entryStart = new int[17];
  private int[] entryToken = new int[64];
  private int[] entryOutputCount = new int[64];
  private int[] entryFlags = new int[64];
  private int numEntries;

  /** Empties the batch for the next step (arrays are kept). */
  public void clear() {
    Arrays.fill(rows, 0, numRows, null);
    numRows = 0;
    numEntries = 0;
  }

  /** Appends a row; the entries added next belong to it. */
  public void addRow(Row row) {
    if (numRows == rows.length) {
      rows = Arrays.copyOf(rows, 2 * numRows);
      entryStart = Arrays.copyOf(entryStart, 2 * numRows + 1);
    }
    rows[numRows++] = row;
    entryStart[numRows] = numEntries;
  }

  /**
   * Appends an entry to the last row: a token id (each at most once per row, below the vocab),
   * how often it occurs in the output so far, and {@link #IN_PROMPT} / {@link #MASKED} flags.
   */
  public void addEntry(int token, int outputCount, int flags) {
    if (numRows == 0) throw new IllegalStateException("addEntry before addRow");
    if (token < 0) throw new IllegalArgumentException("token must be >= 0, got " + token);
    if (outputCount < 0 || outputCount >= 1 << 29) throw new IllegalArgumentException("outputCount out of range: " + outputCount);
    if ((flags & ~(IN_PROMPT | MASKED)) != 0) throw new IllegalArgumentException("unknown entry flags " + flags);
    if (numEntries == entryToken.length) {
      entryToken = Arrays.copyOf(entryToken, 2 * numEntries);
      entryOutputCount = Arrays.copyOf(entryOutputCount, 2 * numEntries);
      entryFlags = Arrays.copyOf(entryFlags, 2 * numEntries);
    }
    entryToken[numEntries] = token;
    entryOutputCount[numEntries] = outputCount;
    entryFlags[numEntries] = flags;
    numEntries++;
    entryStart[numRows] = numEntries;
  }

  public int numRows() {
    return numRows;
  }

  public Row row(int r) {
    return rows[r];
  }

  /** Row r's entries are {@code entryStart(r) .. entryStart(r + 1)}. */
  public int entryStart(int r) {
    return entryStart[r];
  }

  public int numEntries() {
    return numEntries;
  }

  public int entryToken(int e) {
    return entryToken[e];
  }

  public int entryOutputCount(int e) {
    return entryOutputCount[e];
  }

  public int entryFlags(int e) {
    return entryFlags[e];
  }

  /** Whether any row asks for logprobs (so results carry them). */
  public boolean wantsLogprobs() {
    for (int r = 0; r < numRows; r++) if (rows[r].topLogprobs() >= 0) return true;
    return false;
  }
}
