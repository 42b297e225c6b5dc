package io.quire.engine;

import io.quire.engine.sampling.DeviceSampling;
import io.quire.models.LlamaModel;
import io.quire.spi.Backend;
import io.quire.spi.BatchMetadata;
import io.quire.spi.DType;
import io.quire.spi.DeviceBatch;
import io.quire.spi.DeviceMemory;
import io.quire.spi.KvCache;
import io.quire.spi.SampledRows;
import io.quire.spi.Tensor;
import java.util.Arrays;

/**
 * vLLM's profile run: one forward pass over the largest step the scheduler can build (max_num_batched_tokens
 * prefill tokens over up to max_num_seqs sequences, logits for each), so that activations, workspaces and
 * batch buffers reach their peak before the KV pool takes the rest of the budget.
 */
final class MemoryProfiler {
  private MemoryProfiler() {}

  /**
   * Runs the step on {@code model} and measures the peak; {@code beforeWeights} is the device as it was
   * before the model was loaded. The scratch KV the step writes is left out of the peak and freed.
   */
  static MemoryProfile profile(Backend backend, LlamaModel model, DeviceMemory beforeWeights, int blockSize, int maxModelLen) {
    return profile(backend, model, beforeWeights, blockSize, maxModelLen, false, null);
  }

  /**
   * {@link #profile}, also sampling every row on the device when the engine will ({@code deviceSampling}),
   * over a scratch KV cache of {@code kvDtype} (null: the backend's own), so the step runs the engine's kernels.
   */
  static MemoryProfile profile(Backend backend, LlamaModel model, DeviceMemory beforeWeights, int blockSize, int maxModelLen,
      boolean deviceSampling, DType kvDtype) {
    BatchMetadata batch = dummyBatch(model.maxTokens(), model.maxLogitRows(), blockSize, maxModelLen);
    long transientBytes;
    try (KvCache scratch = model.allocateKvCache(blocksOf(batch.maxSeqLen(), blockSize), blockSize, kvDtype)) {
      backend.resetPeakMemory();
      try (DeviceBatch db = backend.prepare(batch)) {
        Tensor logits = model.forward(db, scratch);
        backend.argmax(logits, new int[logits.rows()]); // waits for the step, as a greedy step does
        if (deviceSampling) { // the device sampler's buffers are part of the step too
          backend.sample(logits, DeviceSampling.profileBatch(logits.rows()), new SampledRows(logits.rows()));
        }
      }
      // Freed during the step (a buffer regrown, a workspace released) yet part of its peak.
      DeviceMemory during = device(backend);
      transientBytes = during.peakAllocatedBytes() - during.allocatedBytes();
    }
    DeviceMemory after = device(backend);
    return new MemoryProfile(after.totalBytes(), beforeWeights.usedBytes(), model.weightBytes(),
        after.usedBytes() + transientBytes);
  }

  /**
   * The profile step: {@code min(maxTokens, maxSeqs × maxModelLen)} tokens of fresh prompts over
   * {@code min(maxSeqs, tokens)} sequences of near-equal length (none longer than maxModelLen), each
   * sampling its last token. All sequences share one block table and write the same slots: their
   * inputs (token 0) and positions agree, so the K/V they write agree too, and the scratch pool needs
   * only the blocks of the longest sequence.
   */
  static BatchMetadata dummyBatch(int maxTokens, int maxSeqs, int blockSize, int maxModelLen) {
    int tokens = (int) Math.min(maxTokens, (long) maxSeqs * maxModelLen);
    int seqs = Math.min(maxSeqs, tokens);
    int[] positions = new int[tokens];
    int[] queryStartLoc = new int[seqs + 1];
    int[] seqLens = new int[seqs];
    int[] logitsIndices = new int[seqs];
    for (int i = 0, t = 0; i < seqs; i++) {
      int len = tokens / seqs + (i < tokens % seqs ? 1 : 0);
      for (int p = 0; p < len; p++) positions[t + p] = p;
      seqLens[i] = len;
      t += len;
      queryStartLoc[i + 1] = t;
      logitsIndices[i] = t - 1;
    }
    int[] table = new int[blocksOf(seqLens.length == 0 ? 0 : seqLens[0], blockSize)];
    Arrays.setAll(table, b -> b);
    int[][] blockTables = new int[seqs][];
    Arrays.fill(blockTables, table);
    return new BatchMetadata(new int[tokens], positions, queryStartLoc, seqLens, positions.clone(), blockTables,
        logitsIndices, blockSize);
  }

  private static int blocksOf(int tokens, int blockSize) {
    return Math.max(1, (tokens + blockSize - 1) / blockSize);
  }

  private static DeviceMemory device(Backend backend) {
    return backend.deviceMemory().orElseThrow(() -> new IllegalStateException(backend.name() + " has no device memory"));
  }
}
