package io.quire.spi;

/**
 * What {@link Backend#sample} returns for each row of a {@link SamplingBatch}: the sampled token id
 * and, for rows that asked, its raw logprob and the top logprobs (row r's j-th at {@code r *
 * MAX_TOP_LOGPROBS + j}, most likely first). Sized once for the largest batch and reused.
 */
public final class SampledRows {
  public final int[] tokenIds;
  public final float[] logprobs;
  public final int[] topIds;
  public final float[] topLogprobs;

  public SampledRows(int maxRows) {
    tokenIds = new int[maxRows];
    logprobs = new float[maxRows];
    topIds = new int[maxRows * SamplingBatch.MAX_TOP_LOGPROBS];
    topLogprobs = new float[maxRows * SamplingBatch.MAX_TOP_LOGPROBS];
  }

  public int capacity() {
    return tokenIds.length;
  }
}
