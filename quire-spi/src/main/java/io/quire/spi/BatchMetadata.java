package io.quire.spi;

/**
 * The flat, ragged batch of one engine step, on the host (DESIGN.md, "The batch of one step"). S
 * requests, T tokens in all; request i owns tokens {@code queryStartLoc[i] .. queryStartLoc[i+1]}.
 *
 * @param inputIds [T] token ids scheduled this step, request after request
 * @param positions [T] position of each token in its sequence
 * @param queryStartLoc [S+1] prefix sums of tokens per request
 * @param seqLens [S] context length of each request after this step (cached + new)
 * @param slotMapping [T] KV slot (block * blockSize + offset) where each token's K/V goes; -1 for none
 *     (a padding row)
 * @param blockTables [S][*] physical block ids of each request in logical order
 * @param logitsIndices [S'] rows of the flat batch whose logits are needed
 * @param blockSize tokens per KV block
 */
public record BatchMetadata(
    int[] inputIds,
    int[] positions,
    int[] queryStartLoc,
    int[] seqLens,
    int[] slotMapping,
    int[][] blockTables,
    int[] logitsIndices,
    int blockSize) {

  public int numTokens() {
    return inputIds.length;
  }

  public int numRequests() {
    return seqLens.length;
  }

  /** A decode step: at least one request, and every request has exactly one query token. */
  public boolean decodeOnly() {
    if (numTokens() == 0 || numRequests() != numTokens()) return false;
    for (int i = 0; i < queryStartLoc.length; i++) if (queryStartLoc[i] != i) return false;
    return true;
  }

  public int maxSeqLen() {
    int m = 0;
    for (int s : seqLens) m = Math.max(m, s);
    return m;
  }
}
