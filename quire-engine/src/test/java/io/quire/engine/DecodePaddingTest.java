package io.quire.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quire.spi.BatchMetadata;
import org.junit.jupiter.api.Test;

class DecodePaddingTest {
  /** Three decode requests at positions 40, 7, 19 (block size 16), as the scheduler builds them. */
  private static BatchMetadata decode(int[] logitsIndices) {
    return new BatchMetadata(new int[] {11, 12, 13}, new int[] {40, 7, 19}, new int[] {0, 1, 2, 3},
        new int[] {41, 8, 20}, new int[] {5 * 16 + 8, 2 * 16 + 7, 9 * 16 + 3},
        new int[][] {{3, 4, 5}, {2}, {6, 9}}, logitsIndices, 16);
  }

  @Test
  void realRequestsKeepTheirRowsAndDummiesFollowWithNoKvSlot() {
    BatchMetadata b = decode(new int[] {0, 1, 2});
    BatchMetadata p = DecodePadding.pad(b, 8);
    assertEquals(8, p.numTokens());
    assertEquals(8, p.numRequests());
    assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8}, p.queryStartLoc());
    assertArrayEquals(new int[] {11, 12, 13, 0, 0, 0, 0, 0}, p.inputIds());
    assertArrayEquals(new int[] {40, 7, 19, 0, 0, 0, 0, 0}, p.positions());
    assertArrayEquals(new int[] {41, 8, 20, 1, 1, 1, 1, 1}, p.seqLens());
    assertArrayEquals(new int[] {88, 39, 147, -1, -1, -1, -1, -1}, p.slotMapping());
    for (int i = 0; i < 3; i++) assertArrayEquals(b.blockTables()[i], p.blockTables()[i]);
    for (int i = 3; i < 8; i++) assertArrayEquals(new int[] {0}, p.blockTables()[i], "dummy " + i + " reads block 0");
    assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7}, p.logitsIndices(), "one logits row per request, real ones first");
    assertEquals(16, p.blockSize());
    assertTrue(p.decodeOnly());
    assertArrayEquals(new int[] {11, 12, 13}, b.inputIds(), "the scheduler's batch is left as it was");
    assertEquals(3, b.numRequests());
  }

  @Test
  void theRealLogitsRowsStayFirstWhenNotEveryRequestSamples() {
    BatchMetadata p = DecodePadding.pad(decode(new int[] {0, 2}), 4);
    assertArrayEquals(new int[] {0, 2, 3}, p.logitsIndices());
  }

  @Test
  void aBatchAlreadyAtTheSizeIsReturnedAsItIs() {
    BatchMetadata b = decode(new int[] {0, 1, 2});
    assertSame(b, DecodePadding.pad(b, 3));
    assertSame(b, DecodePadding.pad(b, 1));
  }

  @Test
  void onlyStepsOfOneQueryTokenPerRequestAreDecodeSteps() {
    BatchMetadata prefill = new BatchMetadata(new int[] {1, 2, 3}, new int[] {0, 1, 0}, new int[] {0, 2, 3},
        new int[] {2, 1}, new int[] {0, 1, 16}, new int[][] {{0}, {1}}, new int[] {1, 2}, 16);
    assertFalse(prefill.decodeOnly());
    assertThrows(IllegalArgumentException.class, () -> DecodePadding.pad(prefill, 8));
    BatchMetadata empty = new BatchMetadata(new int[0], new int[0], new int[] {0}, new int[0], new int[0], new int[0][],
        new int[0], 16);
    assertFalse(empty.decodeOnly());
    assertTrue(decode(new int[] {0, 1, 2}).decodeOnly());
  }
}
