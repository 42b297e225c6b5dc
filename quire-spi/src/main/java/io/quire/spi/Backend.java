package io.quire.spi;

import java.util.Optional;

/**
 * The device a model runs on: memory for weights, activations and the KV pool, and the ops of one
 * forward pass over a flat ragged batch. Nothing above this interface knows which backend runs.
 *
 * <p>Shapes: x is {@code [T, in]}; weights are {@code [out, in]}; q is {@code [T, numHeads*headDim]};
 * k and v are {@code [T, numKvHeads*headDim]}. All ops may run asynchronously on the device; only
 * {@link #copyToHost} synchronizes.
 */
public interface Backend extends AutoCloseable {
  String name();

  /** The dtype this backend computes activations in (F32 on the CPU, BF16 on CUDA). */
  DType activationDType();

  /**
   * Makes a stored weight usable by ops. A backend may keep it in its stored 16-bit form or convert
   * (CUDA converts F16/F32 to BF16); the CPU backend may use the mapped bytes without copying.
   */
  Tensor loadWeight(WeightData w);

  /**
   * Loads weights of one dtype and width as {@link #loadWeight} does, in order, stacked by rows in one
   * allocation where the backend can (the tensors are views of it): matmuls of one input with them, like a
   * layer's q, k and v projections, may then run as one. The default loads each on its own.
   */
  default Tensor[] loadStacked(WeightData... parts) {
    Tensor[] out = new Tensor[parts.length];
    for (int i = 0; i < parts.length; i++) out[i] = loadWeight(parts[i]);
    return out;
  }

  /** A zero-filled activation buffer. */
  Tensor allocate(DType dtype, int rows, int cols);

  KvCache allocateKvCache(int numLayers, int numBlocks, int blockSize, int numKvHeads, int headDim);

  /**
   * Whether {@link #allocateKvCache(int, int, int, int, int, DType)} can keep K and V as {@code dtype}
   * instead of the backend's own type ({@link DType#FP8_E4M3}: vLLM's kv_cache_dtype fp8). None by default.
   */
  default boolean supportsKvCacheDType(DType dtype) {
    return false;
  }

  /**
   * A KV cache that stores K and V as {@code dtype}, one {@link #supportsKvCacheDType} accepts; writeKv
   * rounds into it and pagedAttention reads it back.
   */
  default KvCache allocateKvCache(int numLayers, int numBlocks, int blockSize, int numKvHeads, int headDim, DType dtype) {
    throw new UnsupportedOperationException(name() + " backend: no " + dtype + " KV cache");
  }

  Rope createRope(float[] invFreq, int headDim, int maxPositions);

  DeviceBatch prepare(BatchMetadata batch);

  /** out[t] = table[inputIds[t]]. */
  void embedding(Tensor table, DeviceBatch batch, Tensor out);

  /** out[t] = x[t] / rms(x[t]) * weight, rms over the row, accumulated in fp32. */
  void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out);

  /** residual += x; out = rmsNorm(residual). The fused pre-norm of a decoder layer. */
  void addRmsNorm(Tensor x, Tensor residual, Tensor weight, float eps, Tensor out);

  /** In place: each {@code headDim} slice of each row normalised with weight {@code [headDim]} (Qwen3 q/k norm). */
  void headRmsNorm(Tensor x, int headDim, Tensor weight, float eps);

  /** out = x @ w^T (+ bias, which may be null). x [T, in], w [out, in], out [T, out]. */
  void matmul(Tensor x, Tensor w, Tensor bias, Tensor out);

  /** In place rotary embedding of q and k at the batch's positions. */
  void rope(Tensor q, Tensor k, Rope rope, DeviceBatch batch);

  /** gateUp [T, 2I] holds gate then up; out [T, I] = silu(gate) * up. */
  void siluMul(Tensor gateUp, Tensor out);

  /** Writes each token's k and v into the cache slots of the batch's slot mapping; a negative slot writes nothing. */
  void writeKv(Tensor k, Tensor v, KvCache cache, int layer, DeviceBatch batch);

  /**
   * Causal attention of each request's query tokens over its whole context, read from the paged
   * cache through the block tables (K/V of this step must already be written). Grouped-query: head
   * h reads kv head {@code h / (numHeads / numKvHeads)}. out [T, numHeads*headDim].
   */
  void pagedAttention(Tensor q, KvCache cache, int layer, DeviceBatch batch, float scale, Tensor out);

  /** out[i] = x[logitsIndices[i]]. */
  void gatherLogitRows(Tensor x, DeviceBatch batch, Tensor out);

  /** Copies a tensor's rows to a host float array (row-major), synchronizing with the device. */
  void copyToHost(Tensor t, float[] dst);

  /**
   * Row-wise argmax of an F32 {@code [rows, vocab]} tensor (the logits) into {@code dst[0..rows)}:
   * the lowest index on ties (the sampler's greedy rule); NaN never wins, and a row of only NaN gives
   * 0. Synchronizes like {@link #copyToHost}, but only the ids leave the device. The default copies
   * the rows to the host; backends override it to reduce on the device.
   */
  default void argmax(Tensor logits, int[] dst) {
    int rows = logits.rows(), vocab = logits.cols();
    if (dst.length < rows) {
      throw new IllegalArgumentException("argmax: destination holds " + dst.length + " ids, tensor has " + rows + " rows");
    }
    float[] host = new float[Math.multiplyExact(rows, vocab)];
    copyToHost(logits, host);
    for (int r = 0; r < rows; r++) {
      int off = r * vocab, best = 0;
      float m = Float.NEGATIVE_INFINITY;
      boolean any = false;
      for (int i = 0; i < vocab; i++) {
        float v = host[off + i];
        if (v > m || (!any && v == m)) {
          m = v;
          best = i;
          any = true;
        }
      }
      dst[r] = best;
    }
  }

  /**
   * Whether {@link #argmaxAsync} returns before the ids are computed, so the engine gains by launching
   * the next step before it waits for them (async scheduling). False by default: on a backend that
   * computes in the calling thread, the engine samples step by step.
   */
  default boolean defersSampledIds() {
    return false;
  }

  /**
   * {@link #argmax} without waiting: the ids stay on the device, where {@link #prepare(BatchMetadata,
   * PendingIds, int[], int[])} can feed them to the next step, and reach the host through {@link
   * PendingIds#await}. Work enqueued after this call does not delay that await. The default runs
   * {@link #argmax} and holds the ids on the host.
   */
  default PendingIds argmaxAsync(Tensor logits) {
    int[] ids = new int[logits.rows()];
    argmax(logits, ids);
    return PendingIds.of(ids);
  }

  /**
   * Prepares a batch whose input id at token {@code feedTokens[i]} is id {@code feedRows[i]} of
   * {@code from} (a previous step's {@link #argmaxAsync}); the batch's own ids at those tokens are
   * placeholders. A backend that keeps {@code from} on the device copies the ids there, without
   * waiting for them; the default waits for them and fills them in on the host.
   */
  default DeviceBatch prepare(BatchMetadata batch, PendingIds from, int[] feedTokens, int[] feedRows) {
    if (feedTokens.length != feedRows.length) {
      throw new IllegalArgumentException("feedTokens has " + feedTokens.length + " entries, feedRows " + feedRows.length);
    }
    if (feedTokens.length == 0) return prepare(batch);
    int[] src = new int[from.rows()];
    from.await(src);
    int[] ids = batch.inputIds().clone();
    for (int i = 0; i < feedTokens.length; i++) ids[feedTokens[i]] = src[feedRows[i]];
    return prepare(new BatchMetadata(ids, batch.positions(), batch.queryStartLoc(), batch.seqLens(), batch.slotMapping(),
        batch.blockTables(), batch.logitsIndices(), batch.blockSize()));
  }

  /** Whether {@link #sample} runs on this backend (otherwise the engine samples on the host). */
  default boolean supportsSampling() {
    return false;
  }

  /**
   * Samples one token per row of the F32 {@code [rows, vocab]} logits with the parameters of
   * {@code batch} (its class comment gives the rules), writing ids and asked-for logprobs into
   * {@code out}. The logits are scratch: penalties and masks are written into them. Synchronizes
   * like {@link #copyToHost}, but only the results leave the device.
   */
  default void sample(Tensor logits, SamplingBatch batch, SampledRows out) {
    throw new UnsupportedOperationException("backend " + name() + " does not sample on the device");
  }

  /**
   * {@link #sample} without waiting, as {@link #argmaxAsync}: the ids stay on the device for the next
   * step's {@link #prepare(BatchMetadata, PendingIds, int[], int[])}; ids and logprobs reach the host
   * through {@link PendingIds#await(SampledRows)}. {@code batch} may be reused once this returns. The
   * default samples now.
   */
  default PendingIds sampleAsync(Tensor logits, SamplingBatch batch) {
    SampledRows rows = new SampledRows(Math.max(1, batch.numRows()));
    sample(logits, batch, rows);
    return PendingIds.of(rows, batch.numRows());
  }

  /**
   * The batch size to run a decode step of {@code decodeTokens} requests (one query token each) at.
   * A backend that records work per batch shape ({@link #runForward}) rounds it up to one of a few
   * sizes; the engine then adds dummy requests that write no K/V (slot -1) and whose logits rows,
   * after the real ones, are never read. The default pads nothing.
   */
  default int paddedDecodeSize(int decodeTokens) {
    return decodeTokens;
  }

  /**
   * Runs one step's forward pass: {@code forward} enqueues it and returns its logits tensor. A backend
   * may record that work once for a batch shape and replay the recording for later batches of the same
   * shape instead of calling {@code forward} (CUDA graphs); then the tensor recorded with it is returned.
   * {@code owner} (the KV cache the forward writes) is part of the shape: work recorded for one owner is
   * never replayed for another. {@code forward} must depend on the batch only through its device arrays
   * and its shape. The default calls {@code forward}.
   */
  default Tensor runForward(Object owner, DeviceBatch batch, java.util.function.Supplier<Tensor> forward) {
    return forward.get();
  }

  /**
   * vLLM's enforce_eager: run every step eagerly, without CUDA graphs (or this backend's equivalent).
   * Called before the first step. The default has nothing to turn off.
   */
  default void enforceEager() {}

  /**
   * The device's memory now, for sizing the KV pool from gpu_memory_utilization; empty for a backend
   * without device memory of its own (the CPU backend, which works in the heap and mapped files).
   */
  default Optional<DeviceMemory> deviceMemory() {
    return Optional.empty();
  }

  /** Starts a new high-water mark of {@link DeviceMemory#peakAllocatedBytes()} at what is held now. */
  default void resetPeakMemory() {}

  @Override
  default void close() {}
}
