package io.quire.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quire.spi.BatchMetadata;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The profile step is the largest step the scheduler can build, and a valid batch. */
class MemoryProfilerTest {
  @Test
  void tokenBudgetIsSpreadOverMaxNumSeqsPrompts() {
    BatchMetadata b = MemoryProfiler.dummyBatch(8192, 256, 16, 4096);
    assertEquals(8192, b.numTokens());
    assertEquals(256, b.numRequests());
    int[] lens = new int[256];
    Arrays.fill(lens, 32);
    assertArrayEquals(lens, b.seqLens());
    assertEquals(31, b.logitsIndices()[0]);
    assertEquals(8191, b.logitsIndices()[255]);
    assertEquals(0, b.positions()[32]);
    assertEquals(31, b.positions()[63]);
    checkValid(b);
  }

  @Test
  void unevenSplitsDifferByAtMostOneToken() {
    BatchMetadata b = MemoryProfiler.dummyBatch(1000, 3, 16, 4096);
    assertArrayEquals(new int[] {334, 333, 333}, b.seqLens());
    assertArrayEquals(new int[] {0, 334, 667, 1000}, b.queryStartLoc());
    assertArrayEquals(new int[] {333, 666, 999}, b.logitsIndices());
    checkValid(b);
  }

  @Test
  void noSequenceIsLongerThanMaxModelLen() {
    // 256 sequences of at most 10 tokens hold 2560 of the 8192-token budget: the scheduler cannot build more.
    BatchMetadata b = MemoryProfiler.dummyBatch(8192, 256, 16, 10);
    assertEquals(2560, b.numTokens());
    assertEquals(10, b.maxSeqLen());
    checkValid(b);
  }

  @Test
  void fewerTokensThanSequencesGiveOneTokenEach() {
    BatchMetadata b = MemoryProfiler.dummyBatch(100, 256, 16, 4096);
    assertEquals(100, b.numRequests());
    assertEquals(1, b.maxSeqLen());
    assertEquals(100, b.logitsIndices().length);
    checkValid(b);
  }

  /** Each token's slot is its position in the blocks of its table; tables cover each context. */
  private static void checkValid(BatchMetadata b) {
    int[] qsl = b.queryStartLoc();
    assertEquals(0, qsl[0]);
    assertEquals(b.numTokens(), qsl[b.numRequests()]);
    for (int i = 0; i < b.numRequests(); i++) {
      assertEquals(b.seqLens()[i], qsl[i + 1] - qsl[i], "a fresh prompt's context is its tokens");
      assertTrue(b.blockTables()[i].length * b.blockSize() >= b.seqLens()[i]);
      for (int t = qsl[i]; t < qsl[i + 1]; t++) {
        int p = b.positions()[t];
        assertEquals(t - qsl[i], p);
        int slot = b.slotMapping()[t];
        assertEquals(b.blockTables()[i][p / b.blockSize()] * b.blockSize() + p % b.blockSize(), slot);
      }
    }
  }
}
