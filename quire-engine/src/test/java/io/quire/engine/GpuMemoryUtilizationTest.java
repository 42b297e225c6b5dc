package io.quire.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quire.backend.cpu.CpuBackend;
import io.quire.testkit.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The engine sizes its KV pool from gpu_memory_utilization on a backend with device memory (a
 * simulated device around the CPU backend), keeps explicit sizes, and keeps the CPU's default.
 */
class GpuMemoryUtilizationTest {
  private static final long MIB = 1L << 20, GIB = 1L << 30;
  /** llama2-tiny, fp32 KV on the CPU: 2 (K, V) x 2 layers x 16 tokens x 2 kv heads x 16 head dim x 4 bytes. */
  private static final long BLOCK_BYTES = 8192;
  /**
   * llama2-tiny's parameters: embed and lm_head 32000 x 64 each; per layer q 64x64, k and v 32x64, o 64x64,
   * gate+up 256x64, down 64x128, two norms of 64; the final norm 64.
   */
  private static final long PARAMS = 2 * 32000 * 64 + 2 * (4096 + 2048 + 2048 + 4096 + 16384 + 8192 + 128) + 64;

  private static CpuBackend cpu;

  @BeforeAll
  static void open() {
    cpu = new CpuBackend();
  }

  @AfterAll
  static void close() {
    cpu.close();
  }

  private static EngineConfig config() {
    return EngineConfig.cpuDefaults(Fixtures.modelDir("llama2-tiny")).withMaxNumBatchedTokens(512).withMaxNumSeqs(32);
  }

  private static SimulatedDeviceBackend device(long otherBytes) {
    return new SimulatedDeviceBackend(cpu, GIB, otherBytes, 4 * MIB);
  }

  @Test
  void poolFillsWhatTheUtilizationLeavesAfterTheProfiledPeak() throws Exception {
    SimulatedDeviceBackend d = device(64 * MIB);
    try (Engine e = Engine.start(config().withGpuMemoryUtilization(0.5), d)) {
      assertEquals(1, d.prepares(), "one profiling step");
      assertEquals(512, d.maxStepTokens(), "the profile step runs max_num_batched_tokens");
      assertEquals(32, d.maxStepLogitRows(), "with logits for max_num_seqs rows");
      long expected = (GIB / 2 - d.maxNonKvBytes()) / BLOCK_BYTES;
      assertEquals(expected, e.stats().kvBlocksTotal());
      KvCacheSizing s = e.kvCacheSizing().orElseThrow();
      assertEquals(expected, s.numBlocks());
      assertEquals(64 * MIB, s.profile().baselineBytes());
      assertEquals(d.maxNonKvBytes(), s.profile().peakBytes(), "the peak includes the matmul workspace freed after it");
      assertEquals(PARAMS * 2, s.profile().weightBytes(), "16-bit fixture weights, as stored");
      long footprint = d.deviceMemory().orElseThrow().usedBytes() + 4 * MIB;
      assertTrue(footprint <= GIB / 2, "everything, KV pool and a workspace included, within 0.5 of the device: " + footprint);
      assertTrue(footprint > GIB / 2 - BLOCK_BYTES, "and less than one block short of it: " + footprint);
      EngineTest.Result r = EngineTest.drain(e.submit("r", Prompt.text("Hello"), EngineTest.greedy(8), 0));
      assertEquals(8, r.tokens().get(0).length);
    }
  }

  @Test
  void modelLargerThanTheBudgetFailsAtStartWithTheNumbers() {
    SimulatedDeviceBackend d = device(600 * MIB);
    IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
        () -> Engine.start(config().withGpuMemoryUtilization(0.5), d));
    String m = ex.getMessage();
    assertTrue(m.startsWith("the model does not fit in gpu_memory_utilization 0.5 of the device: needs 0.6"), m);
    assertTrue(m.contains("CUDA context and other processes 0.59"), m); // 600 MiB
    assertTrue(m.contains("available 0.50 GiB (gpu_memory_utilization 0.5 of 1.00 GiB)"), m);
    assertTrue(m.contains("raise gpu_memory_utilization to at least 0.6"), m);
  }

  @Test
  void poolShorterThanMaxModelLenFailsAtStartNamingTheLengthThatFits() throws Exception {
    SimulatedDeviceBackend probe = device(64 * MIB);
    try (Engine e = Engine.start(config(), probe)) {
      assertEquals(2048, e.maxModelLen(), "the fixture's max_position_embeddings fits at 0.9");
    }
    // A budget of the same peak plus 100.5 blocks: 100 blocks, 1600 tokens, short of 2048.
    double util = (probe.maxNonKvBytes() + 100.5 * BLOCK_BYTES) / GIB;
    String m = assertThrows(IllegalArgumentException.class,
        () -> Engine.start(config().withGpuMemoryUtilization(util), device(64 * MIB))).getMessage();
    assertTrue(m.startsWith("the KV cache cannot hold one sequence of max_model_len 2048 (it holds 1600 tokens)"), m);
    assertTrue(m.contains("lower max_model_len to at most 1600"), m);
    try (Engine e = Engine.start(config().withGpuMemoryUtilization(util).withMaxModelLen(1600), device(64 * MIB))) {
      assertEquals(100, e.stats().kvBlocksTotal());
    }
  }

  @Test
  void explicitBlocksOrBytesWinAndSkipTheProfile() throws Exception {
    SimulatedDeviceBackend d = device(64 * MIB);
    try (Engine e = Engine.start(config().withNumKvBlocks(100).withKvCacheBytes(MIB), d)) {
      assertEquals(100, e.stats().kvBlocksTotal());
      assertTrue(e.kvCacheSizing().isEmpty());
    }
    try (Engine e = Engine.start(config().withKvCacheBytes(MIB), d)) {
      assertEquals(MIB / BLOCK_BYTES, e.stats().kvBlocksTotal());
      assertTrue(e.kvCacheSizing().isEmpty());
    }
    assertEquals(0, d.prepares(), "no profiling step");
  }

  @Test
  void backendWithoutDeviceMemoryKeepsTheTwoGibDefault() throws Exception {
    assertFalse(cpu.deviceMemory().isPresent());
    try (Engine e = Engine.start(config().withGpuMemoryUtilization(0.05), cpu)) {
      assertEquals(2 * GIB / BLOCK_BYTES, e.stats().kvBlocksTotal());
      assertTrue(e.kvCacheSizing().isEmpty());
    }
  }
}
