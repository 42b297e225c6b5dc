package io.quire.backend.cuda;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.quire.spi.SampledRows;
import io.quire.spi.SamplingBatch;
import io.quire.spi.SamplingMath;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.function.LongConsumer;
import java.util.function.LongUnaryOperator;

/**
 * Sampling on the device for {@link CudaBackend#sample} (sample.cu): the batch is packed into one
 * pinned host buffer (64 bytes of parameters per row, then 8 bytes per entry), copied to the device
 * in one transfer, sampled by one launch (a block per row), and the ids and logprobs come back in one
 * transfer. The caller has bound the context and flushed deferred launches.
 */
final class CudaSampler implements AutoCloseable {
  static final int THREADS = 512;
  static final int ROW_BYTES = 64;
  static final int OUT_INTS = 2 + 2 * SamplingBatch.MAX_TOP_LOGPROBS;
  static final int ROW_GREEDY = 1;
  static final int ROW_NO_SORT = 2;
  // Byte offsets of sample.cu's RowParams fields.
  static final int MINP_OFFSET = 0, UBITS = 8, INV_T = 16, TOP_P = 20, REP = 24;
  static final int FREQ = 28, PRES = 32, TOP_K = 36, FLAGS = 40, TOP_LOGPROBS = 44;
  static final int ENTRY_START = 48, ENTRY_END = 52, PFRAC = 56;
  /** The same offsets by the struct's field names (a test reads the struct and compares). */
  static final Map<String, Integer> ROW_FIELDS = Map.ofEntries(
      Map.entry("minp_offset", MINP_OFFSET), Map.entry("ubits", UBITS), Map.entry("inv_t", INV_T), Map.entry("top_p", TOP_P),
      Map.entry("rep", REP), Map.entry("freq", FREQ), Map.entry("pres", PRES), Map.entry("top_k", TOP_K),
      Map.entry("flags", FLAGS), Map.entry("top_logprobs", TOP_LOGPROBS), Map.entry("entry_start", ENTRY_START), Map.entry("entry_end", ENTRY_END),
      Map.entry("pfrac", PFRAC));

  private final CudaDriver cu;
  private final MemorySegment stream;
  private final Kernels kernels;
  private final LongUnaryOperator alloc;
  private final LongConsumer free;
  private long device;
  private long deviceBytes;
  private MemorySegment host;
  private long hostBytes;

  /** {@code alloc} and {@code free} are the backend's, so its memory accounting sees the sampler's buffer. */
  CudaSampler(CudaDriver cu, MemorySegment stream, Kernels kernels, LongUnaryOperator alloc, LongConsumer free) {
    this.cu = cu;
    this.stream = stream;
    this.kernels = kernels;
    this.alloc = alloc;
    this.free = free;
  }

  /**
   * Samples {@code batch.numRows()} rows of the F32 logits at {@code logits} (row stride vocab).
   *
   * @param noSort checks only: the radix path even for top_k small enough to sort
   * @param keptMask checks only: 0, or a device buffer of rows x vocab bytes that gets 1 for each
   *     token the row could have drawn
   */
  void sample(long logits, int vocab, SamplingBatch batch, SampledRows out, boolean noSort, long keptMask, Profiler profiler) {
    int rows = batch.numRows();
    if (rows == 0) return;
    if (out.capacity() < rows) throw new IllegalArgumentException("sample: results hold " + out.capacity() + " rows, batch has " + rows);
    enqueue(logits, vocab, batch, noSort, keptMask, profiler);
    cu.streamSynchronize(stream);
    if (profiler != null) profiler.collect();
    unpack(topCounts(batch, vocab), host, 0, out);
  }

  /** Top logprobs each row of {@code batch} asked for (0 for none), at most vocab. */
  static int[] topCounts(SamplingBatch batch, int vocab) {
    int[] n = new int[batch.numRows()];
    for (int r = 0; r < n.length; r++) n[r] = Math.max(0, Math.min(batch.row(r).topLogprobs(), vocab));
    return n;
  }

  /**
   * Enqueues the upload, the sampling launch and the results' copy into the pinned buffer (at {@link
   * #hostResults}); returns the device address of the results (row r's id at int r * OUT_INTS). The
   * pinned buffer is rewritten by the next call: the caller waits for this one's copy first.
   */
  long enqueue(long logits, int vocab, SamplingBatch batch, boolean noSort, long keptMask, Profiler profiler) {
    int rows = batch.numRows();
    int entries = batch.numEntries();
    long entriesAt = align((long) rows * ROW_BYTES);
    long savedAt = align(entriesAt + 8L * entries);
    long outAt = align(savedAt + 4L * entries);
    long inBytes = entriesAt + 8L * entries;
    long outBytes = 4L * rows * OUT_INTS;
    long need = outAt + outBytes;
    if (need > deviceBytes) {
      cu.streamSynchronize(stream);
      if (device != 0) free.accept(device);
      deviceBytes = Math.max(need, 1L << 20);
      device = alloc.applyAsLong(deviceBytes);
    }
    long hostNeed = Math.max(inBytes, outBytes);
    if (hostNeed > hostBytes) {
      cu.streamSynchronize(stream);
      if (host != null) cu.memFreeHost(host);
      hostBytes = Math.max(hostNeed, 1L << 20);
      host = cu.memAllocHost(hostBytes);
    }
    pack(batch, vocab, noSort, host, entriesAt);
    cu.memcpyHtoDAsync(device, host, inBytes, stream);
    if (profiler != null) profiler.before("sample " + rows + "x" + vocab);
    kernels.launch("sample_rows", rows, 1, THREADS, logits, vocab, SamplingMath.massShift(vocab), device,
        device + entriesAt, device + savedAt, device + outAt, keptMask);
    if (profiler != null) profiler.after();
    cu.memcpyDtoHAsync(host, device + outAt, outBytes, stream);
    return device + outAt;
  }

  /** The pinned buffer the results of {@link #enqueue} land in (from offset 0). */
  MemorySegment hostResults() {
    return host;
  }

  /** Ids and logprobs of rows asking {@code tops[r]} top logprobs from results at {@code res} + {@code at}. */
  static void unpack(int[] tops, MemorySegment res, long at, SampledRows out) {
    int rows = tops.length;
    int width = SamplingBatch.MAX_TOP_LOGPROBS;
    for (int r = 0; r < rows; r++) {
      long o = at + 4L * r * OUT_INTS;
      out.tokenIds[r] = res.get(JAVA_INT, o);
      out.logprobs[r] = res.get(JAVA_FLOAT, o + 4);
      int n = tops[r];
      for (int j = 0; j < n; j++) {
        out.topIds[r * width + j] = res.get(JAVA_INT, o + 8 + 4L * j);
        out.topLogprobs[r * width + j] = res.get(JAVA_FLOAT, o + 8 + 4L * (width + j));
      }
    }
  }

  /** Row parameters in sample.cu's RowParams layout, then (token, outputCount << 2 | flags) entries. */
  static void pack(SamplingBatch batch, int vocab, boolean noSort, MemorySegment dst, long entriesAt) {
    for (int r = 0; r < batch.numRows(); r++) {
      SamplingBatch.Row row = batch.row(r);
      long o = (long) r * ROW_BYTES;
      int topK = row.topK() < vocab ? row.topK() : 0;
      dst.set(JAVA_DOUBLE, o + MINP_OFFSET, row.minPOffset());
      dst.set(JAVA_LONG, o + UBITS, row.uniformBits());
      dst.set(JAVA_FLOAT, o + INV_T, row.invTemperature());
      dst.set(JAVA_FLOAT, o + TOP_P, row.topP());
      dst.set(JAVA_FLOAT, o + REP, row.repetitionPenalty());
      dst.set(JAVA_FLOAT, o + FREQ, row.frequencyPenalty());
      dst.set(JAVA_FLOAT, o + PRES, row.presencePenalty());
      dst.set(JAVA_INT, o + TOP_K, topK);
      dst.set(JAVA_INT, o + FLAGS, (row.greedy() ? ROW_GREEDY : 0) | (noSort ? ROW_NO_SORT : 0));
      dst.set(JAVA_INT, o + TOP_LOGPROBS, row.topLogprobs());
      dst.set(JAVA_INT, o + ENTRY_START, batch.entryStart(r));
      dst.set(JAVA_INT, o + ENTRY_END, batch.entryStart(r + 1));
      dst.set(JAVA_LONG, o + PFRAC, row.topP() < 1f ? SamplingMath.fraction64(row.topP()) : 0L);
    }
    for (int e = 0; e < batch.numEntries(); e++) {
      int token = batch.entryToken(e);
      if (token >= vocab) throw new IllegalArgumentException("sampling entry token " + token + " outside the vocab of " + vocab);
      dst.set(JAVA_INT, entriesAt + 8L * e, token);
      dst.set(JAVA_INT, entriesAt + 8L * e + 4, batch.entryOutputCount(e) << 2 | batch.entryFlags(e));
    }
  }

  private static long align(long n) {
    return (n + 255) & ~255L;
  }

  /** Frees the pinned host buffer; the device buffer goes with the backend's allocations. */
  @Override
  public void close() {
    if (host != null) cu.memFreeHost(host);
    host = null;
  }
}
