package io.quire.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The tensor-core attention's work lists: pure host logic, checked by invariants on random batches. */
class AttentionPlanTest {

  @Test
  void decodeTokensAndPrefillTilesCoverEveryQueryTokenOnce() {
    Random rnd = new Random(7);
    int[] groups = {1, 2, 3, 4, 7, 8, 16, 32, 64};
    for (int trial = 0; trial < 500; trial++) {
      int s = 1 + rnd.nextInt(40);
      int[] qsl = new int[s + 1];
      for (int i = 0; i < s; i++) {
        int kind = rnd.nextInt(4);
        int nq = kind == 0 ? 0 : kind == 1 ? 1 : kind == 2 ? 2 + rnd.nextInt(20) : 1 + rnd.nextInt(300);
        qsl[i + 1] = qsl[i] + nq;
      }
      int group = groups[rnd.nextInt(groups.length)];
      AttentionPlan plan = AttentionPlan.of(qsl, group);
      int perTile = 64 / group;
      int[] covered = new int[qsl[s]];
      for (int t : plan.decodeTokens()) covered[t]++;
      int[] items = plan.prefillItems();
      for (int k = 0; k < items.length; k += 2) {
        int r = items[k], t0 = items[k + 1];
        int end = qsl[r + 1];
        assertTrue(t0 >= qsl[r] && t0 < end, "tile start inside its request");
        assertTrue(end - qsl[r] > 1, "only requests of several query tokens are tiled");
        int rows = Math.min(perTile, end - t0) * group;
        assertTrue(rows <= 64, "a tile is at most 64 mma rows, got " + rows);
        for (int t = t0; t < Math.min(t0 + perTile, end); t++) covered[t]++;
      }
      for (int t = 0; t < covered.length; t++) assertEquals(1, covered[t], "token " + t + " covered once");
      // Decode tokens are exactly the requests with one query token, in request order.
      int d = 0;
      for (int i = 0; i < s; i++) {
        if (qsl[i + 1] - qsl[i] == 1) assertEquals(qsl[i], plan.decodeTokens()[d++]);
      }
      assertEquals(d, plan.decodeTokens().length);
    }
  }

  @Test
  void batchInvariantPlanTilesEveryRequestFromItsFirstTokenWithTheSameBoundaries() {
    // In batch-invariant mode every request is tiled for attn_rows_tc, a decode token too: no decode list,
    // every query token in exactly one tile of at most 16 rows, and a request's tiles start at its first
    // token and step by max(1, 16 / G), the same whatever the rest of the batch.
    Random rnd = new Random(11);
    int[] groups = {1, 2, 4, 8, 16, 64};
    for (int trial = 0; trial < 300; trial++) {
      int s = 1 + rnd.nextInt(30);
      int[] qsl = new int[s + 1];
      for (int i = 0; i < s; i++) qsl[i + 1] = qsl[i] + rnd.nextInt(3) * (1 + rnd.nextInt(rnd.nextBoolean() ? 1 : 200)) / 2;
      int group = groups[rnd.nextInt(groups.length)];
      int perTile = AttentionPlan.invariantTileTokens(group);
      assertTrue(perTile * Math.min(group, 16) <= 16, "a tile is at most 16 rows of one head group");
      AttentionPlan plan = AttentionPlan.of(qsl, group, true);
      assertEquals(0, plan.decodeTokens().length, "no decode items");
      int[] covered = new int[qsl[s]];
      int[] items = plan.prefillItems();
      for (int k = 0; k < items.length; k += 2) {
        int r = items[k], t0 = items[k + 1];
        assertTrue(t0 >= qsl[r] && t0 < qsl[r + 1], "tile start inside its request");
        assertEquals(0, (t0 - qsl[r]) % perTile, "tiles step by max(1, 16 / G) from the request's first token");
        for (int t = t0; t < Math.min(t0 + perTile, qsl[r + 1]); t++) covered[t]++;
      }
      for (int t = 0; t < covered.length; t++) assertEquals(1, covered[t], "token " + t + " covered once");
      // The same request's tiles, alone in a batch, are the same (request index aside).
      for (int i = 0; i < s; i++) {
        int nq = qsl[i + 1] - qsl[i];
        int[] alone = AttentionPlan.of(new int[] {0, nq}, group, true).prefillItems();
        int j = 0;
        for (int k = 0; k < items.length; k += 2) {
          if (items[k] != i) continue;
          assertEquals(alone[j + 1], items[k + 1] - qsl[i], "request " + i + " tile " + j / 2);
          j += 2;
        }
        assertEquals(alone.length, j, "request " + i + " has as many tiles as alone");
      }
    }
  }

  @Test
  void decodeSplitsFillTheGpuOnlyWhileTheBatchDoesNot() {
    int sm = 132, max = 64;
    for (int tokens = 1; tokens <= 600; tokens++) {
      for (int kvHeads : new int[] {1, 8, 32}) {
        int splits = AttentionPlan.decodeSplits(tokens, kvHeads, 1, sm, max);
        long units = (long) tokens * kvHeads;
        assertTrue(splits >= 1 && splits <= max, "splits within [1, max]: " + splits);
        if (units >= 4L * sm) {
          assertEquals(1, splits, "a batch that fills the GPU is not split");
        } else {
          // Enough blocks for four per multiprocessor unless capped, and no more splits than needed.
          assertTrue(splits == max || units * splits >= 4L * sm, "fills the GPU: " + units + " x " + splits);
          assertTrue(splits == 1 || units * (splits - 1) < 4L * sm, "no split beyond the one that fills it");
        }
      }
    }
    assertEquals(1, AttentionPlan.decodeSplits(0, 8, 1, sm, max));
  }
}
