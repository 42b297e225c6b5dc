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
