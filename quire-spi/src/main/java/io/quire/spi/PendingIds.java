package io.quire.spi;

/**
 * Token ids sampled by one step that are not yet on the host: a later step can take them as input ids
 * on the device ({@link Backend#prepare(BatchMetadata, PendingIds, int[], int[])}) while the host waits
 * for them here. Async scheduling: step N+1 is launched before step N's ids reach the host.
 */
public interface PendingIds {
  /** Number of ids (one per sampled row of the step, in logits order). */
  int rows();

  /** Waits until the ids are on the host and copies them into {@code dst[0..rows)}. */
  void await(int[] dst);

  /**
   * Waits for a {@link Backend#sampleAsync} result and copies ids and asked-for logprobs into {@code
   * out}, as {@link Backend#sample} would have written them. Ids of an argmax have no logprobs.
   */
  default void await(SampledRows out) {
    int[] ids = new int[rows()];
    await(ids);
    System.arraycopy(ids, 0, out.tokenIds, 0, ids.length);
  }

  /** A sample already on the host. */
  static PendingIds of(SampledRows rows, int n) {
    int[] ids = java.util.Arrays.copyOf(rows.tokenIds, n);
    float[] lp = java.util.Arrays.copyOf(rows.logprobs, n);
    int w = SamplingBatch.MAX_TOP_LOGPROBS;
    int[] topIds = java.util.Arrays.copyOf(rows.topIds, n * w);
    float[] topLp = java.util.Arrays.copyOf(rows.topLogprobs, n * w);
    return new PendingIds() {
      @Override
      public int rows() {
        return n;
      }

      @Override
      public void await(int[] dst) {
        System.arraycopy(ids, 0, dst, 0, n);
      }

      @Override
      public void await(SampledRows out) {
        System.arraycopy(ids, 0, out.tokenIds, 0, n);
        System.arraycopy(lp, 0, out.logprobs, 0, n);
        System.arraycopy(topIds, 0, out.topIds, 0, n * w);
        System.arraycopy(topLp, 0, out.topLogprobs, 0, n * w);
      }
    };
  }

  /** Ids already on the host. */
  static PendingIds of(int[] ids) {
    int[] copy = ids.clone();
    return new PendingIds() {
      @Override
      public int rows() {
        return copy.length;
      }

      @Override
      public void await(int[] dst) {
        System.arraycopy(copy, 0, dst, 0, copy.length);
      }
    };
  }
}
