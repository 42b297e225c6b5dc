package io.quire.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** vLLM's gpu_memory_utilization rule and its startup errors, on numbers worked out by hand. */
class KvCacheSizingTest {
  private static final long GIB = 1L << 30, MIB = 1L << 20;
  /** Llama-3-8B in bf16: 2 (K, V) x 32 layers x 16 tokens x 8 kv heads x 128 head dim x 2 bytes = 2 MiB. */
  private static final long LLAMA3_8B_BLOCK = 2 * MIB;

  /** An 80 GiB device, 0.5 GiB held before the weights, 15 GiB of weights, 1.5 GiB more at the step's peak. */
  private static MemoryProfile h100(long extraPeak) {
    return new MemoryProfile(80 * GIB, GIB / 2, 15 * GIB, 17 * GIB + extraPeak);
  }

  @Test
  void blocksFillWhatTheUtilizationLeavesAfterThePeak() {
    // 0.75 x 80 GiB = 60 GiB exactly; 60 - 17 = 43 GiB = 44032 MiB = 22016 blocks of 2 MiB.
    KvCacheSizing s = KvCacheSizing.fromUtilization(h100(0), 0.75, LLAMA3_8B_BLOCK, 16, 8192);
    assertEquals(22016, s.numBlocks());
    assertEquals(43 * GIB, s.kvBytes());
    assertEquals(60 * GIB, s.budgetBytes());
  }

  @Test
  void partialBlocksAreDropped() {
    // 0.9 x 80 GiB = 72 GiB; minus 17 GiB + 1 MiB leaves 56319 MiB: 28159.5 blocks, so 28159.
    assertEquals(28159, KvCacheSizing.fromUtilization(h100(MIB), 0.9, LLAMA3_8B_BLOCK, 16, 8192).numBlocks());
  }

  @Test
  void summaryNamesEveryShareOfTheBudget() {
    KvCacheSizing s = KvCacheSizing.fromUtilization(h100(0), 0.75, LLAMA3_8B_BLOCK, 16, 8192);
    assertEquals("KV cache: 22016 blocks (43.00 GiB, 352256 tokens); weights 15.00 GiB, peak activations 1.50 GiB,"
        + " CUDA context and other processes 0.50 GiB; of 80.00 GiB x gpu_memory_utilization 0.75 = 60.00 GiB", s.summary());
  }

  @Test
  void exactlyOneSequenceOfMaxModelLenIsEnough() {
    // 0.5 x 40 GiB = 20 GiB; a peak of 19 GiB leaves 1 GiB = 512 blocks = 8192 tokens.
    MemoryProfile p = new MemoryProfile(40 * GIB, GIB / 2, 15 * GIB, 19 * GIB);
    assertEquals(512, KvCacheSizing.fromUtilization(p, 0.5, LLAMA3_8B_BLOCK, 16, 8192).numBlocks());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> KvCacheSizing.fromUtilization(p, 0.5, LLAMA3_8B_BLOCK, 16, 8193));
    assertTrue(e.getMessage().contains("lower max_model_len to at most 8192"), e.getMessage());
  }

  @Test
  void modelLargerThanTheBudgetFailsWithNeededAndAvailable() {
    // 0.05 x 80 GiB = 4 GiB; the model needs 17 GiB plus one 8192-token sequence (512 blocks, 1 GiB) = 18 GiB,
    // which 18 / 80 = 0.225, so 0.23, of the device holds.
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> KvCacheSizing.fromUtilization(h100(0), 0.05, LLAMA3_8B_BLOCK, 16, 8192));
    String m = e.getMessage();
    assertEquals("the model does not fit in gpu_memory_utilization 0.05 of the device: needs 18.00 GiB (weights 15.00"
        + " + peak activations 1.50 + CUDA context and other processes 0.50 + KV of one max_model_len 8192 sequence"
        + " 1.00), available 4.00 GiB (gpu_memory_utilization 0.05 of 80.00 GiB); raise gpu_memory_utilization to at"
        + " least 0.23, or lower max_num_batched_tokens or max_num_seqs (peak activations)", m);
    assertEquals(1, m.lines().count());
  }

  @Test
  void poolShorterThanMaxModelLenFailsNamingTheLengthThatFits() {
    // 0.5 x 40 GiB = 20 GiB; 20 - 17 = 3 GiB = 1536 blocks = 24576 tokens. max_model_len 131072 needs 8192
    // blocks (16 GiB): 33 GiB in all, 0.825 of the device, so 0.83.
    MemoryProfile p = new MemoryProfile(40 * GIB, GIB / 2, 15 * GIB, 17 * GIB);
    String m = assertThrows(IllegalArgumentException.class,
        () -> KvCacheSizing.fromUtilization(p, 0.5, LLAMA3_8B_BLOCK, 16, 131072)).getMessage();
    assertTrue(m.startsWith("the KV cache cannot hold one sequence of max_model_len 131072 (it holds 24576 tokens):"
        + " needs 33.00 GiB ("), m);
    assertTrue(m.contains("KV of one max_model_len 131072 sequence 16.00), available 20.00 GiB"), m);
    assertTrue(m.contains("raise gpu_memory_utilization to at least 0.83, or lower max_model_len to at most 24576"), m);
  }

  @Test
  void suggestedUtilizationIsEnough() {
    for (long extra = 0; extra < 64 * MIB; extra += 7 * MIB + 12345) {
      MemoryProfile p = h100(extra);
      String m = assertThrows(IllegalArgumentException.class,
          () -> KvCacheSizing.fromUtilization(p, 0.1, LLAMA3_8B_BLOCK, 16, 32768)).getMessage();
      Matcher u = Pattern.compile("at least (0\\.\\d\\d)").matcher(m);
      assertTrue(u.find(), m);
      double min = Double.parseDouble(u.group(1));
      assertTrue(KvCacheSizing.fromUtilization(p, min, LLAMA3_8B_BLOCK, 16, 32768).numBlocks() >= 2048);
      assertThrows(IllegalArgumentException.class,
          () -> KvCacheSizing.fromUtilization(p, min - 0.01, LLAMA3_8B_BLOCK, 16, 32768), "0.01 less must not fit");
    }
  }

  @Test
  void deviceTooSmallForTheModelSaysSo() {
    MemoryProfile p = new MemoryProfile(16 * GIB, GIB / 2, 15 * GIB, 17 * GIB);
    String m = assertThrows(IllegalArgumentException.class,
        () -> KvCacheSizing.fromUtilization(p, 1.0, LLAMA3_8B_BLOCK, 16, 8192)).getMessage();
    assertTrue(m.contains("needs 18.00 GiB"), m);
    assertTrue(m.contains("available 16.00 GiB"), m);
    assertTrue(m.endsWith("use a GPU with more memory"), m);
    assertFalse(m.contains("raise gpu_memory_utilization"), m);
  }

  @Test
  void explicitBytesGiveWholeBlocksAndAtLeastOne() {
    assertEquals(262144, KvCacheSizing.blocksFromBytes(2 * GIB, 8192));
    assertEquals(1, KvCacheSizing.blocksFromBytes(100, 8192));
    assertEquals(Integer.MAX_VALUE, KvCacheSizing.blocksFromBytes(Long.MAX_VALUE, 1));
  }

  @Test
  void utilizationOutsideTheUnitIntervalIsRejected() {
    for (double u : new double[] {0, -0.5, 1.01, Double.NaN}) {
      String m = assertThrows(IllegalArgumentException.class,
          () -> KvCacheSizing.fromUtilization(h100(0), u, LLAMA3_8B_BLOCK, 16, 8192)).getMessage();
      assertTrue(m.startsWith("gpu_memory_utilization must be in (0, 1]"), m);
    }
  }
}
