package io.quire.backend.cuda;

/**
 * The tensor-core attention's work for one batch (attention_tc.cu): the decode tokens (requests with
 * one query token), and prefill tiles of at most {@code 64 / G} consecutive query tokens of one request
 * (G = q heads per kv head, so a tile is at most 64 mma rows), as (request, first token) pairs.
 *
 * @param decodeTokens batch token index of each decode token, in request order
 * @param prefillItems (request, first batch token) of each prefill tile, flattened, in request order
 */
record AttentionPlan(int[] decodeTokens, int[] prefillItems) {

  /** Query tokens in one prefill tile for {@code group} q heads per kv head. */
  static int tokensPerTile(int group) {
    return Math.max(1, 64 / group);
  }

  /** The plan for a batch with the given {@code queryStartLoc} (s + 1 offsets) and group size. */
  static AttentionPlan of(int[] queryStartLoc, int group) {
    return of(queryStartLoc, group, false);
  }

  /**
   * The plan, with {@code decodeAsTiles} (batch-invariant mode): a decode token becomes a one-token
   * prefill tile, so that every query row, decode or prefill, walks its keys in the prefill kernel's
   * order (one warp per 16 rows over 32-key tiles from key 0, no context split), and its result does not
   * depend on whether it came alone, in a chunk or recomputed after preemption.
   */
  static AttentionPlan of(int[] queryStartLoc, int group, boolean decodeAsTiles) {
    int perTile = tokensPerTile(group);
    int s = queryStartLoc.length - 1;
    int nDecode = 0, nPrefill = 0;
    for (int i = 0; i < s; i++) {
      int nq = queryStartLoc[i + 1] - queryStartLoc[i];
      if (nq == 1 && !decodeAsTiles) nDecode++;
      else if (nq >= 1) nPrefill += (nq + perTile - 1) / perTile;
    }
    int[] decode = new int[nDecode];
    int[] prefill = new int[2 * nPrefill];
    int d = 0, p = 0;
    for (int i = 0; i < s; i++) {
      int start = queryStartLoc[i], end = queryStartLoc[i + 1];
      if (end - start == 1 && !decodeAsTiles) {
        decode[d++] = start;
      } else {
        for (int t0 = start; t0 < end; t0 += perTile) {
          prefill[p++] = i;
          prefill[p++] = t0;
        }
      }
    }
    return new AttentionPlan(decode, prefill);
  }

  int prefillTiles() {
    return prefillItems.length / 2;
  }

  /**
   * Context splits per decode token: enough that decode tokens x kv heads x head groups x splits reach
   * about four resident blocks per multiprocessor, at most {@code maxSplits}; 1 once the batch fills the
   * GPU. Depends on the batch's size only (each block derives its chunk from its own context on the
   * device), so a CUDA graph recorded for a decode shape stays valid as contexts grow.
   */
  static int decodeSplits(int decodeTokens, int kvHeads, int headGroups, int smCount, int maxSplits) {
    long units = (long) decodeTokens * kvHeads * headGroups;
    long target = 4L * smCount;
    if (units <= 0 || units >= target) return 1;
    return (int) Math.min(maxSplits, (target + units - 1) / units);
  }
}
