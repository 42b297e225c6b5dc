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

  /** Query tokens in one tile of attn_rows_tc (batch-invariant mode): its 16 rows, or one token. */
  static int invariantTileTokens(int group) {
    return Math.max(1, 16 / group);
  }

  /** Query tokens in one prefill tile for {@code group} q heads per kv head. */
  static int tokensPerTile(int group) {
    return Math.max(1, 64 / group);
  }

  /** The plan for a batch with the given {@code queryStartLoc} (s + 1 offsets) and group size. */
  static AttentionPlan of(int[] queryStartLoc, int group) {
    return of(queryStartLoc, group, false);
  }

  /**
   * The plan, with {@code batchInvariant}: no decode list; every request's query tokens, a decode token
   * included, in tiles of {@link #invariantTileTokens} tokens from its first token, for attn_rows_tc (one
   * order over a row's keys whichever tokens share its block; see attention_tc.cu).
   */
  static AttentionPlan of(int[] queryStartLoc, int group, boolean batchInvariant) {
    int perTile = batchInvariant ? invariantTileTokens(group) : tokensPerTile(group);
    int s = queryStartLoc.length - 1;
    int nDecode = 0, nPrefill = 0;
    for (int i = 0; i < s; i++) {
      int nq = queryStartLoc[i + 1] - queryStartLoc[i];
      if (nq == 1 && !batchInvariant) nDecode++;
      else if (nq >= 1) nPrefill += (nq + perTile - 1) / perTile;
    }
    int[] decode = new int[nDecode];
    int[] prefill = new int[2 * nPrefill];
    int d = 0, p = 0;
    for (int i = 0; i < s; i++) {
      int start = queryStartLoc[i], end = queryStartLoc[i + 1];
      if (end - start == 1 && !batchInvariant) {
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
