package io.quire.backend.cuda;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import io.quire.spi.Backend;
import io.quire.spi.BatchMetadata;
import io.quire.spi.DType;
import io.quire.spi.DeviceBatch;
import io.quire.spi.DeviceMemory;
import io.quire.spi.KvCache;
import io.quire.spi.PendingIds;
import io.quire.spi.Rope;
import io.quire.spi.SampledRows;
import io.quire.spi.SamplingBatch;
import io.quire.spi.Tensor;
import io.quire.spi.WeightData;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.logging.Logger;

/**
 * The CUDA backend: the driver API, NVRTC-compiled kernels and cuBLAS through FFM. Activations, weights
 * and the KV cache are bf16 (F16/F32 weights are converted on load); matmuls accumulate in fp32 and may
 * write fp32 (the logits). All work goes, in order, to one stream; only {@link #copyToHost} waits.
 *
 * <p>Threads: the device's primary context is made current on whichever platform thread calls the
 * backend, once per thread (the engine's "quire-engine" thread runs every step; the model may be loaded
 * on another thread). On a virtual thread it is made current before every op, since its carrier can
 * change between ops. Calls must not overlap: the engine drives the backend from one thread at a time.
 */
public final class CudaBackend implements Backend {
  private static final Logger LOG = Logger.getLogger(CudaBackend.class.getName());
  private static final int MAX_HEAD_DIM = 256;
  private static final int MAX_GRID_Y = 65535;

  private final CudaDriver cu;
  private final int device;
  private final String deviceName;
  private final int ccMajor, ccMinor;
  private final MemorySegment ctx;
  private final MemorySegment stream;
  private final Kernels kernels;
  private final Cublas cublas;
  private final ThreadLocal<Boolean> bound = ThreadLocal.withInitial(() -> false);
  // Every live device allocation (pointer -> bytes) and their sum, with its high-water mark since
  // resetPeakMemory(); guarded by the map's lock.
  private final Map<Long, Long> allocations = new HashMap<>();
  private long allocatedBytes;
  private long peakAllocatedBytes;
  private final DeviceBuffer batchBuffer = new DeviceBuffer();
  private long generation;
  private boolean closed;
  private final int smCount;
  // Speed paths, each on by default and switchable (env QUIRE_CUDA_SPLIT_ATTENTION / _GEMV / _FUSE = 0,
  // or configure()) so the simple paths stay available for comparison.
  private boolean splitAttention = envFlag("QUIRE_CUDA_SPLIT_ATTENTION");
  private boolean gemv = envFlag("QUIRE_CUDA_GEMV");
  private boolean fuse = envFlag("QUIRE_CUDA_FUSE");
  // Tensor-core paged attention (attention_tc.cu) for head_dim 16/32/64/128 and <= 64 q heads per kv
  // head; env QUIRE_CUDA_TC_ATTENTION=0 (or configure(false, ...)) falls back to attn_split.
  private boolean tcAttention = envFlag("QUIRE_CUDA_TC_ATTENTION");
  // Batch-invariant mode (env QUIRE_BATCH_INVARIANT=1, or batchInvariant(true); off by default, as vLLM's
  // VLLM_BATCH_INVARIANT): a row's logits do not depend on the rows batched with it, whether its tokens
  // come alone, in chunks, after a prefix-cache hit or recomputed after preemption. Every matmul goes to
  // gemm_bi.cu (one fixed summation order over K for every M; no cuBLAS, no one-token GEMV), and every
  // query row, prefill ones included, to attn_rows_tc (the decode kernel's order over its keys, no
  // context split; see AttentionPlan.of). Costs speed: see docs/benchmarks.md.
  private boolean batchInvariant = envOn("QUIRE_BATCH_INVARIANT");
  private boolean batchInvariantFallbackLogged;
  // Decode tokens of groups up to 8 q heads per kv head (head_dim 64, 128) on attention_decode.cu's
  // transposed kernel: 1 (default) when the batch fills the GPU, 2 always (checks), 0 never (env
  // QUIRE_CUDA_ATTN_DEC=0 keeps them on attn_decode_tc).
  private int attnDec = "0".equals(System.getenv("QUIRE_CUDA_ATTN_DEC")) ? 0 : 1;
  private final GemmBiShape biSmall = GemmBiShape.of(envString("QUIRE_GEMM_BI_SMALL", GemmBiShape.SMALL));
  private final GemmBiShape biMedium = GemmBiShape.of(envString("QUIRE_GEMM_BI_MEDIUM", GemmBiShape.MEDIUM));
  private final GemmBiShape biLarge = GemmBiShape.of(envString("QUIRE_GEMM_BI_LARGE", GemmBiShape.LARGE));
  private GemmBiShape biForced;
  // (i, i) pairs filling the buffer: attn_rows_tc's items for a decode-only batch in
  // batch-invariant mode (token i is request i's only query token), filled once, so graphs can replay them.
  private final DeviceBuffer identityItems = new DeviceBuffer();
  // The work lists of the tensor-core attention for one (batch, q heads per kv head), uploaded once per
  // step at the first layer's attention: decode token indices, then (request, first token) prefill tiles.
  private final DeviceBuffer attnItems = new DeviceBuffer();
  private long itemsGeneration = -1;
  private int itemsGroup;
  private int itemsDecode, itemsPrefill;
  // CUDA graphs of decode steps (env QUIRE_CUDA_GRAPHS=0 or graphs(false) turns them off): see runForward.
  private boolean graphs = envFlag("QUIRE_CUDA_GRAPHS");
  private final Map<GraphKey, Graph> graphCache = new HashMap<>();
  private final Map<GraphKey, Integer> graphSeen = new HashMap<>();
  private long bufferEpoch;
  private long graphReplays, graphCaptures;
  /** Largest decode batch recorded as a graph (vLLM's default capture sizes end at 512). */
  static final int GRAPH_MAX_TOKENS = 512;
  /** Most context splits of one decode token. */
  static final int MAX_DECODE_SPLITS = 64;
  private static final int GRAPH_CACHE_MAX = 1024;
  private long cublasWorkspace;
  private static final long CUBLAS_WORKSPACE_BYTES = 32L << 20;  // cuBLAS's recommendation for Hopper
  private CublasLt lt;
  // Longest context chunk one attn_split block walks (env QUIRE_CUDA_SPLIT_MAX_POSITIONS, e.g. 256; 0 = the
  // fill heuristic alone, which never splits once tokens x kv heads fill the GPU). Off by default: on an
  // H200, 256 decode rows at context ~610 ran attn_split at 1130 us/call split to <= 256 positions vs 1069
  // unsplit (64 rows: 291 vs 274), same call; the walk length is not what holds the kernel at 0.6 TB/s.
  private int splitMaxPositions = envInt("QUIRE_CUDA_SPLIT_MAX_POSITIONS", DEFAULT_SPLIT_MAX_POSITIONS);
  static final int DEFAULT_SPLIT_MAX_POSITIONS = 0;
  // Cap on the split partials (fp32 acc per (token, head, split)), so long prefill chunks stay bounded.
  private static final long SPLIT_WORK_CAP = 256L << 20;
  // Deferred launches (fusion): one-token matmuls sharing x (q, k, v) go out as one gemv3 launch, and
  // rope waits for the writeKv of the same k. Every other entry point flushes them first.
  private final CudaTensor[] pendW = new CudaTensor[3], pendOut = new CudaTensor[3], pendBias = new CudaTensor[3];
  private CudaTensor pendX;
  private int pendCount;
  private PendingRope pendRope;
  // Batched matmuls (more than one row) of weights loaded by loadStacked that share their input, deferred
  // like the GEMVs: a layer's q, k and v then run as one GEMM of the stacked weight into qkvWork, which
  // rope_write_kv8_qkv reads (rotated q and k, and v, back into their buffers and K/V into the cache).
  // cuBLAS runs a 4096-wide GEMM at M = 512 well below a 12288-wide one (H200, Llama-2-7B: 72-73 us for the
  // one GEMM against 3 x 27.4 us, the decode step's GEMMs 9.17-9.22 against 9.48-9.55 ms). Off with
  // QUIRE_CUDA_FUSE=0 (all fusions) or QUIRE_CUDA_FUSE_QKV=0 (this one).
  private final boolean fuseQkv = envFlag("QUIRE_CUDA_FUSE_QKV");
  private final Set<Long> stackHeads = new HashSet<>();
  private CudaTensor mmX;
  private final CudaTensor[] mmW = new CudaTensor[3], mmOut = new CudaTensor[3];
  private int mmCount;
  private final DeviceBuffer qkvWork = new DeviceBuffer();
  private final DeviceBuffer attnWork = new DeviceBuffer();
  private MemorySegment pinned;
  private long pinnedBytes;
  private Profiler profiler;
  private final DeviceBuffer argmaxIds = new DeviceBuffer();
  // argmaxAsync: two pinned slots and their events; the feed map of prepare with feeds
  private MemorySegment asyncPinned;
  private long asyncSlotBytes;
  private final MemorySegment[] asyncEvents = new MemorySegment[2];
  private long asyncCount;
  private final DeviceBuffer feedMap = new DeviceBuffer();
  private CudaSampler sampler;

  private record PendingRope(CudaTensor q, CudaTensor k, CudaRope rope, CudaDeviceBatch batch) {}

  private static boolean envFlag(String name) {
    String v = System.getenv(name);
    return v == null || !(v.equals("0") || v.equalsIgnoreCase("false") || v.equalsIgnoreCase("off"));
  }

  private static String envString(String name, String dflt) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? dflt : v.trim();
  }

  /** An opt-in switch: on for 1, true or on. */
  private static boolean envOn(String name) {
    String v = System.getenv(name);
    return v != null && (v.equals("1") || v.equalsIgnoreCase("true") || v.equalsIgnoreCase("on"));
  }

  private static int envInt(String name, int dflt) {
    String v = System.getenv(name);
    if (v == null || v.isBlank()) return dflt;
    try {
      return Math.max(0, Integer.parseInt(v.trim()));
    } catch (NumberFormatException e) {
      return dflt;
    }
  }

  /**
   * Longest context chunk of one attn_split block (0 = split only to fill the GPU, the old heuristic).
   * Returns the previous setting.
   */
  public int splitMaxPositions(int positions) {
    int prev = splitMaxPositions;
    this.splitMaxPositions = Math.max(0, positions);
    return prev;
  }

  public CudaBackend() {
    this(0);
  }

  /** Opens device {@code ordinal}: primary context, one stream, the kernels, a cuBLAS handle. */
  public CudaBackend(int ordinal) {
    this.cu = CudaDriver.get();
    int count = cu.deviceCount();
    if (ordinal < 0 || ordinal >= count) {
      throw new CudaException("CUDA device " + ordinal + " does not exist (" + count + " devices)");
    }
    this.device = cu.device(ordinal);
    this.deviceName = cu.deviceName(device);
    this.ccMajor = cu.attribute(CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device);
    this.ccMinor = cu.attribute(CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device);
    this.ctx = cu.primaryCtxRetain(device);
    bind();
    this.stream = cu.streamCreate();
    this.kernels = new Kernels(cu, stream, ccMajor, ccMinor);
    this.cublas = new Cublas(stream);
    this.smCount = cu.attribute(CudaDriver.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device);
    // Up front, so that a KV pool sized after a (prefill-shaped) profiling pass already counts them: the
    // cuBLAS workspace, and the floors of the decode attention's split partials and work lists.
    ensureCublasWorkspace();
    attnWork.reserve(8L << 20, 8L << 20);
    attnItems.reserve(64L << 10, 64L << 10);
    if (batchInvariant) {
      LOG.info("batch-invariant mode (QUIRE_BATCH_INVARIANT): every matmul on gemm_bi, every attention row on "
          + "attn_rows_tc; a request's logits do not depend on its batch, at ~2.4x lower throughput");
    }
  }

  /** Switches the speed paths (for comparisons): split-K attention, one-token gemv, launch fusion. */
  public void configure(boolean splitAttention, boolean gemv, boolean fuse) {
    bind();
    flush();
    this.splitAttention = splitAttention;
    this.tcAttention = splitAttention;
    this.gemv = gemv;
    this.fuse = fuse;
    dropGraphs();
  }

  /** Switches batch-invariant mode (see the field); returns the previous setting. */
  public boolean batchInvariant(boolean on) {
    bind();
    flush();
    boolean was = batchInvariant;
    batchInvariant = on;
    itemsGeneration = -1;
    dropGraphs();
    return was;
  }

  public boolean batchInvariant() {
    return batchInvariant;
  }

  /** Every batch-invariant matmul in {@code kernel}'s shape (null: chosen per call), for checks. */
  void forceGemmBiShape(String kernel) {
    biForced = kernel == null ? null : GemmBiShape.of(kernel);
  }

  /** enforce_eager: no CUDA graphs, and decode batches run unpadded. */
  @Override
  public void enforceEager() {
    graphs(false);
  }

  /** Switches CUDA graphs of decode steps (see {@link #runForward}); returns the previous setting. */
  public boolean graphs(boolean on) {
    bind();
    flush();
    boolean prev = graphs;
    graphs = on;
    dropGraphs();
    return prev;
  }

  /** Decode steps replayed from a CUDA graph, and graphs recorded, since the backend started. */
  public long[] graphStats() {
    return new long[] {graphReplays, graphCaptures};
  }

  private record GraphKey(Object owner, int tokens, int requests, int logitRows, int maxBlocks, long epoch) {}

  private record Graph(MemorySegment exec, Tensor out) {}

  /**
   * vLLM's CUDA graph capture sizes while graphs are on: 1, 2, 4, 8, then multiples of 8 up to
   * {@link #GRAPH_MAX_TOKENS}, so that a few graphs serve every decode batch size.
   */
  @Override
  public int paddedDecodeSize(int decodeTokens) {
    if (!graphs || profiler != null || decodeTokens <= 0 || decodeTokens > GRAPH_MAX_TOKENS) return decodeTokens;
    return captureSize(decodeTokens);
  }

  /** The smallest capture size (1, 2, 4, 8, 16, 24, 32, ...) holding n > 0 tokens. */
  static int captureSize(int n) {
    return n <= 8 ? Math.max(1, Integer.highestOneBit(n - 1) << 1) : (n + 7) & ~7;
  }

  /**
   * CUDA graphs for decode steps (every request one query token, at most {@link #GRAPH_MAX_TOKENS}). The
   * engine pads decode batches to {@link #paddedDecodeSize} with dummy requests, so a few sizes come here
   * whatever the number of running requests. The first step of a shape (owner, tokens, logit rows,
   * block-table stride) runs eagerly, so every buffer the forward needs reaches its size outside a
   * capture; the second is captured into a graph, and it and every later step of that shape replay the
   * graph in one launch. A replay reads the same device arrays (batch buffer, KV cache, activations) the
   * capture saw, refilled by prepare(); the kernels take nothing from the host that changes between steps
   * of one shape (the attention derives its split chunks on the device). Moving any of those buffers
   * drops every graph. A capture the driver refuses turns graphs off for this backend (logged) and the
   * step runs eagerly.
   */
  @Override
  public Tensor runForward(Object owner, DeviceBatch batch, java.util.function.Supplier<Tensor> forward) {
    CudaDeviceBatch b = batch(batch);
    BatchMetadata m = b.meta;
    int t = m.numTokens();
    if (!graphs || profiler != null || t == 0 || t > GRAPH_MAX_TOKENS || !m.decodeOnly()) return forward.get();
    bind();
    flush();
    GraphKey key = new GraphKey(owner, t, m.numRequests(), m.logitsIndices().length, b.maxBlocks, bufferEpoch);
    Graph g = graphCache.get(key);
    if (g == null) {
      if (graphSeen.merge(key, 1, Integer::sum) < 2) return forward.get();
      long epoch = bufferEpoch;
      g = capture(forward);
      if (g == null) return forward.get();
      if (bufferEpoch != epoch) {  // a buffer moved while recording (should not happen after the eager run)
        cu.graphExecDestroy(g.exec());
        return forward.get();
      }
      if (graphCache.size() >= GRAPH_CACHE_MAX) dropGraphs();
      graphCache.put(key, g);
      graphSeen.remove(key);
      graphCaptures++;
    } else {
      graphReplays++;
    }
    cu.graphLaunch(g.exec(), stream);
    return g.out();
  }

  /** Records forward into a graph (nothing runs); null, with graphs turned off, if the driver refuses. */
  private Graph capture(java.util.function.Supplier<Tensor> forward) {
    ensureCublasWorkspace();
    cu.streamBeginCapture(stream);
    Tensor out;
    MemorySegment graph;
    try {
      out = forward.get();
      flush();
    } catch (RuntimeException e) {
      abandonCapture();
      if (e instanceof CudaException) {
        disableGraphs(e);
        return null;
      }
      throw e;
    }
    try {
      graph = cu.streamEndCapture(stream);
    } catch (CudaException e) {
      resetPending();
      disableGraphs(e);
      return null;
    }
    try {
      return new Graph(cu.graphInstantiate(graph), out);
    } catch (CudaException e) {
      disableGraphs(e);
      return null;
    } finally {
      cu.graphDestroy(graph);
    }
  }

  private void abandonCapture() {
    resetPending();
    try {
      MemorySegment g = cu.streamEndCapture(stream);
      if (g.address() != 0) cu.graphDestroy(g);
    } catch (CudaException ignored) {
      // the capture was already invalidated; the stream has left capture mode
    }
  }

  private void disableGraphs(Exception e) {
    graphs = false;
    dropGraphs();
    LOG.warning("CUDA graphs off for this backend, the capture failed: " + e.getMessage());
  }

  /** Forgets deferred launches (recorded into an abandoned capture). */
  private void resetPending() {
    pendRope = null;
    for (int i = 0; i < mmCount; i++) mmW[i] = mmOut[i] = null;
    mmCount = 0;
    mmX = null;
    for (int i = 0; i < pendCount; i++) pendW[i] = pendOut[i] = pendBias[i] = null;
    pendCount = 0;
    pendX = null;
  }

  /** A device buffer that kernels take as an argument moved: no recorded graph may replay. */
  private void buffersMoved() {
    bufferEpoch++;
    dropGraphs();
  }

  private void dropGraphs() {
    if (graphCache.isEmpty() && graphSeen.isEmpty()) return;
    if (!graphCache.isEmpty()) {
      cu.streamSynchronize(stream);
      for (Graph g : graphCache.values()) cu.graphExecDestroy(g.exec());
    }
    graphCache.clear();
    graphSeen.clear();
  }

  private void ensureCublasWorkspace() {
    if (cublasWorkspace != 0) return;
    long bytes = CUBLAS_WORKSPACE_BYTES;
    cublasWorkspace = alloc(bytes);
    cublas.workspace(cublasWorkspace, bytes);
  }

  /**
   * Switches programmatic dependent launch (on by default on sm_90+ unless QUIRE_CUDA_PDL=0): each
   * kernel launches while the previous one drains and waits for it in-kernel.
   */
  public void configurePdl(boolean on) {
    bind();
    flush();
    kernels.setPdl(on);
  }

  /** Whether kernels go out with programmatic dependent launch. */
  public boolean pdl() {
    return kernels.pdl();
  }

  /** Starts (or restarts) device-side timing of every launch; see {@link #profileReport}. */
  public void startProfile() {
    bind();
    flush();
    if (profiler == null) profiler = new Profiler(cu, stream);
    else profiler.reset();
  }

  /** The launches timed since {@link #startProfile}, per step over {@code steps} steps. */
  public String profileReport(int steps) {
    bind();
    flush();
    cu.streamSynchronize(stream);
    if (profiler == null) return "(not profiling)\n";
    profiler.collect();
    return profiler.report(steps);
  }

  public void stopProfile() {
    bind();
    flush();
    if (profiler != null) {
      cu.streamSynchronize(stream);
      profiler.close();
      profiler = null;
    }
  }

  private void launch(String kernel, int gx, int gy, int block, Object... args) {
    launch3(kernel, kernel, gx, gy, 1, block, args);
  }

  private void launch3(String label, String kernel, int gx, int gy, int gz, int block, Object... args) {
    if (profiler != null) profiler.before(label);
    kernels.launch3(kernel, gx, gy, gz, block, args);
    if (profiler != null) profiler.after();
  }

  /** Launches whatever was deferred for fusion. */
  private void flush() {
    flushMatmuls();
    flushGemv(null);
    flushRope();
  }

  /** Launches the deferred batched matmuls, one cuBLAS GEMM each. */
  private void flushMatmuls() {
    int n = mmCount;
    mmCount = 0;
    for (int i = 0; i < n; i++) {
      gemm(mmX, mmW[i].ptr(), mmW[i].rows(), mmW[i].cols(), mmOut[i].ptr(), DType.BF16, mmX.rows(), false, "");
      mmW[i] = mmOut[i] = null;
    }
    mmX = null;
  }

  /** out[t, n] = x[t, k] w[n, k]^T (+= out when accumulate) by cuBLAS. */
  private void gemm(CudaTensor xs, long w, int n, int k, long out, DType odt, int t, boolean accumulate, String tag) {
    if (profiler != null) profiler.before("cublas " + n + "x" + k + (odt == DType.F32 ? " f32" : "") + tag);
    cublas.matmul(xs.ptr(), w, out, odt == DType.F32 ? Cublas.CUDA_R_32F : Cublas.CUDA_R_16BF, t, n, k, accumulate);
    if (profiler != null) profiler.after();
  }

  /**
   * Launches the deferred gemv; with {@code glu} (one pending bf16 weight of 2n rows, no bias), also
   * writes silu(gate) * up into it (n columns), so no silu_mul launch follows.
   */
  private void flushGemv(CudaTensor glu) {
    if (pendCount > 0) {
      int n0 = pendW[0].rows(), n1 = pendCount > 1 ? pendW[1].rows() : 0, n2 = pendCount > 2 ? pendW[2].rows() : 0;
      int total = n0 + n1 + n2, k = pendX.cols();
      boolean f32 = pendOut[0].dtype() == DType.F32;
      Object[] a = new Object[18];
      a[0] = pendX.ptr();
      a[1] = k;
      for (int i = 0; i < 3; i++) {
        a[2 + i] = i < pendCount ? pendW[i].ptr() : 0L;
        a[5 + i] = i < pendCount ? pendOut[i].ptr() : 0L;
        a[8 + i] = i < pendCount && pendBias[i] != null ? pendBias[i].ptr() : 0L;
      }
      a[11] = n0;
      a[12] = n1;
      a[13] = n2;
      a[14] = f32 ? 1 : 0;
      // Warps per row group: K is split over up to 8 warps for short matrices (under 8 row pairs per
      // multiprocessor) and for long rows (K >= 8192), while each warp keeps a full unrolled step (32
      // lanes x 4 pieces). Long rows split 2 ways below K = 12288, else 8. Measured on an H200 in whole
      // batch-1 decode steps (CudaDecodeBench, graphs and programmatic dependent launch on), which rank
      // these choices differently from each GEMV timed alone (gemv_sweep.py): Llama-2-7B down (K 11008)
      // split 2 ways 4.152 -> 4.053 ms/token against 8, Llama-3-8B down (K 14336) 4.34 -> 4.45 split 2
      // ways; splitting the 4096-wide q/k/v and gate+up 2 or 4 ways made both shapes 1-8% slower.
      int ks = 1;
      boolean split = k >= 8192 || (long) ceilDiv(total, 2) < 8L * smCount;
      int maxKs = k >= 8192 && k < 12288 ? 2 : 8;
      while (split && ks < maxKs && k / 8 / (2 * ks) >= 128) ks *= 2;
      a[15] = ks;
      a[16] = glu == null ? 0L : glu.ptr();
      a[17] = glu == null ? 0 : glu.cols();
      Object[] args = a;
      for (int i = 0; i < 3; i++) {
        pendW[i] = pendOut[i] = pendBias[i] = null;
      }
      pendX = null;
      pendCount = 0;
      launch3("gemv " + total + "x" + k + (f32 ? " f32" : "") + (glu != null ? " +silu" : ""), "gemv3",
          ceilDiv(total, 2 * (8 / ks)), 1, 1, 256, args);
    }
  }

  private void flushRope() {
    if (pendRope != null) {
      PendingRope p = pendRope;
      pendRope = null;
      CudaRope r = p.rope();
      int hd = r.headDim;
      launch("rope", p.batch().meta.numTokens(), ropeBlocks(p.q().cols() / hd, p.k().cols() / hd, hd), 128, p.q().ptr(), p.k().ptr(), p.batch().positions, r.cos, r.sin,
          r.invFreq, r.maxPositions, p.q().cols() / hd, p.k().cols() / hd, hd);
    }
  }

  @Override
  public String name() {
    return "cuda";
  }

  @Override
  public DType activationDType() {
    return DType.BF16;
  }

  public String deviceName() {
    return deviceName;
  }

  /** cuBLASLt on this backend's stream and cuBLAS workspace (for benchmarks: the matmuls use cuBLAS). */
  CublasLt lt() {
    bind();
    if (lt == null) lt = new CublasLt(stream, cublasWorkspace, CUBLAS_WORKSPACE_BYTES);
    return lt;
  }

  CudaDriver driver() {
    return cu;
  }

  MemorySegment stream() {
    return stream;
  }

  /** Runs cuBLAS's cublasGemmEx for out[t, n] = x[t, k] w[n, k]^T, as {@link #matmul} does past one row. */
  void cublasMatmul(long x, long w, long out, int outType, int t, int n, int k) {
    bind();
    cublas.matmul(x, w, out, outType, t, n, k, false);
  }

  /** "sm_90" for an H100/H200. */
  public String arch() {
    return "sm_" + ccMajor + ccMinor;
  }

  /** The device's total and free memory (cuMemGetInfo) and this backend's own allocations. */
  @Override
  public Optional<DeviceMemory> deviceMemory() {
    bind();
    long[] mem = cu.memGetInfo();
    synchronized (allocations) {
      return Optional.of(new DeviceMemory(mem[1], mem[0], allocatedBytes, peakAllocatedBytes));
    }
  }

  @Override
  public void resetPeakMemory() {
    synchronized (allocations) {
      peakAllocatedBytes = allocatedBytes;
    }
  }

  /** Waits for all queued work (for timing). */
  public void synchronize() {
    bind();
    flush();
    cu.streamSynchronize(stream);
  }

  private void bind() {
    if (closed) throw new IllegalStateException("the cuda backend is closed");
    Thread t = Thread.currentThread();
    if (t.isVirtual()) {
      cu.ctxSetCurrent(ctx);
    } else if (!bound.get()) {
      cu.ctxSetCurrent(ctx);
      bound.set(true);
    }
  }

  // ---- memory ----

  private long alloc(long bytes) {
    long size = Math.max(bytes, 256);
    long p = cu.memAlloc(size);
    synchronized (allocations) {
      allocations.put(p, size);
      allocatedBytes += size;
      peakAllocatedBytes = Math.max(peakAllocatedBytes, allocatedBytes);
    }
    return p;
  }

  /** Which decode kernel takes groups of <= 8 heads: 0 attn_decode_tc, 1 transposed when the batch fills the GPU, 2 transposed always. Returns the previous mode. */
  int attnDecMode(int mode) {
    int was = attnDec;
    attnDec = mode;
    return was;
  }

  /** The K (or V) bytes of one layer of a cache of this backend, copied to the host (for checks). */
  byte[] kvBytes(KvCache cache, int layer, boolean values) {
    CudaKvCache c = kv(cache);
    long n = (long) c.numBlocks() * c.blockSize() * c.numKvHeads() * c.headDim() * c.dtype().bytes();
    if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("kvBytes: " + n + " bytes is too many for one array");
    bind();
    flush();
    try (Arena a = Arena.ofConfined()) {
      MemorySegment host = a.allocate(Math.max(1, n), 16);
      cu.memcpyDtoHAsync(host, values ? c.values(layer) : c.keys(layer), n, stream);
      cu.streamSynchronize(stream);
      return host.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }
  }

  void free(long ptr) {
    if (!closed) {
      bind();
      flush();
    }
    stackHeads.remove(ptr);
    Long size;
    synchronized (allocations) {
      size = allocations.remove(ptr);
      if (size != null) allocatedBytes -= size;
    }
    if (size != null && !closed) {
      bind();
      cu.memFree(ptr);
    }
  }

  private long upload(MemorySegment host) {
    long p = alloc(host.byteSize());
    cu.memcpyHtoDAsync(p, host, host.byteSize(), stream);
    return p;
  }

  private long upload(float[] a) {
    try (Arena arena = Arena.ofConfined()) {
      return upload(arena.allocateFrom(JAVA_FLOAT, a));
    }
  }

  @Override
  public Tensor loadWeight(WeightData w) {
    bind();
    flush();
    long p = alloc((long) w.rows() * w.cols() * 2);
    try {
      upload(w, p);
    } catch (RuntimeException e) {
      free(p);
      throw e;
    }
    return new CudaTensor(this, DType.BF16, w.rows(), w.cols(), p, false);
  }

  /**
   * One allocation for all parts, stacked by rows; the first tensor owns it, the others are views. The
   * first part's address is remembered: batched matmuls of these weights sharing an input are deferred
   * and, for q, k and v followed by rope and writeKv, run as one GEMM.
   */
  @Override
  public Tensor[] loadStacked(WeightData... parts) {
    if (parts.length < 2) return Backend.super.loadStacked(parts);
    for (WeightData w : parts) {
      if (w.cols() != parts[0].cols()) return Backend.super.loadStacked(parts);
    }
    bind();
    flush();
    long total = 0;
    for (WeightData w : parts) total += (long) w.rows() * w.cols() * 2;
    long p = alloc(total);
    Tensor[] out = new Tensor[parts.length];
    long off = 0;
    try {
      for (int i = 0; i < parts.length; i++) {
        WeightData w = parts[i];
        upload(w, p + off);
        out[i] = new CudaTensor(this, DType.BF16, w.rows(), w.cols(), p + off, i > 0);
        off += (long) w.rows() * w.cols() * 2;
      }
    } catch (RuntimeException e) {
      free(p);
      throw e;
    }
    stackHeads.add(p);
    return out;
  }

  /** Copies w into the device at p as bf16 (F16 and F32 converted). */
  private void upload(WeightData w, long p) {
    long n = (long) w.rows() * w.cols();
    MemorySegment src = w.data();
    switch (w.dtype()) {
      case BF16 -> {
        if (src.isNative()) {
          cu.memcpyHtoDAsync(p, src, n * 2, stream);
        } else {
          try (Arena a = Arena.ofConfined()) {
            MemorySegment tmp = a.allocate(n * 2, 16);
            MemorySegment.copy(src, 0, tmp, 0, n * 2);
            cu.memcpyHtoDAsync(p, tmp, n * 2, stream);
          }
        }
      }
      case F16, F32 -> {
        // Converted in chunks so a large fp32 matrix needs no second full-size host copy.
        long chunk = 1L << 22;
        try (Arena a = Arena.ofConfined()) {
          MemorySegment tmp = a.allocate(chunk * 2, 16);
          for (long i = 0; i < n; i += chunk) {
            long m = Math.min(chunk, n - i);
            for (long j = 0; j < m; j++) {
              float f = w.dtype() == DType.F32
                  ? src.getAtIndex(JAVA_FLOAT_UNALIGNED, i + j)
                  : Float.float16ToFloat(src.getAtIndex(JAVA_SHORT_UNALIGNED, i + j));
              tmp.setAtIndex(JAVA_SHORT, j, Bf16.fromFloat(f));
            }
            cu.memcpyHtoDAsync(p + 2 * i, tmp, m * 2, stream);
          }
        }
      }
      case I32 -> throw new IllegalArgumentException("weight " + w.name() + ": I32 weights are not supported");
    }
  }

  @Override
  public Tensor allocate(DType dtype, int rows, int cols) {
    if (rows < 0 || cols < 0) {
      throw new IllegalArgumentException("allocate: shape must be >= 0, got " + rows + "x" + cols);
    }
    bind();
    flush();
    long bytes = (long) rows * cols * dtype.bytes();
    long p = alloc(bytes);
    cu.memsetD8Async(p, (byte) 0, Math.max(bytes, 1), stream);
    return new CudaTensor(this, dtype, rows, cols, p, false);
  }

  @Override
  public KvCache allocateKvCache(int numLayers, int numBlocks, int blockSize, int numKvHeads, int headDim) {
    return allocateKvCache(numLayers, numBlocks, blockSize, numKvHeads, headDim, DType.BF16);
  }

  /** fp8 e4m3 (kv_cache_dtype fp8) needs the e4m3 conversions of compute capability 8.9 (Ada, Hopper) or newer. */
  @Override
  public boolean supportsKvCacheDType(DType dtype) {
    return dtype == DType.BF16 || (dtype == DType.FP8_E4M3 && (ccMajor > 8 || (ccMajor == 8 && ccMinor >= 9)));
  }

  /**
   * The KV pool, bf16 or fp8 e4m3. An fp8 pool is read only by the tensor-core attention (attention_tc.cu's
   * *_fp8 kernels), so it needs head_dim 16, 32, 64 or 128 and that path on.
   */
  @Override
  public KvCache allocateKvCache(int numLayers, int numBlocks, int blockSize, int numKvHeads, int headDim, DType dtype) {
    if (!supportsKvCacheDType(dtype)) {
      throw new IllegalArgumentException("kv cache dtype " + dtype + " is not supported on " + arch()
          + " (bf16; fp8 e4m3 on compute capability 8.9 or newer)");
    }
    if (dtype == DType.FP8_E4M3 && !(tcAttention && (headDim == 16 || headDim == 32 || headDim == 64 || headDim == 128))) {
      throw new IllegalArgumentException("kv_cache_dtype fp8 needs head_dim 16, 32, 64 or 128 and the tensor-core"
          + " attention (QUIRE_CUDA_TC_ATTENTION not 0); head_dim is " + headDim);
    }
    if (numLayers <= 0 || numBlocks <= 0 || blockSize <= 0 || numKvHeads <= 0 || headDim <= 0) {
      throw new IllegalArgumentException("kv cache: layers " + numLayers + ", blocks " + numBlocks + ", block size "
          + blockSize + ", kv heads " + numKvHeads + ", head dim " + headDim + " must all be > 0");
    }
    if (headDim > MAX_HEAD_DIM) {
      throw new IllegalArgumentException("kv cache: head dim " + headDim + " above the supported " + MAX_HEAD_DIM);
    }
    bind();
    flush();
    long bytes = 2L * numLayers * CudaKvCache.planeBytes(numBlocks, blockSize, numKvHeads, headDim, dtype);
    long[] mem = cu.memGetInfo();
    if (bytes > mem[0]) {
      throw new IllegalArgumentException("kv cache of " + numBlocks + " blocks needs " + bytes + " bytes, the device has "
          + mem[0] + " free");
    }
    long p = alloc(bytes);
    cu.memsetD8Async(p, (byte) 0, bytes, stream);
    return new CudaKvCache(this, numLayers, numBlocks, blockSize, numKvHeads, headDim, dtype, p);
  }

  @Override
  public Rope createRope(float[] invFreq, int headDim, int maxPositions) {
    if (headDim <= 0 || headDim % 2 != 0) throw new IllegalArgumentException("rope headDim must be even and > 0, got " + headDim);
    if (invFreq.length != headDim / 2) {
      throw new IllegalArgumentException(
          "rope invFreq has " + invFreq.length + " entries, headDim " + headDim + " needs " + headDim / 2);
    }
    if (maxPositions < 0) throw new IllegalArgumentException("rope maxPositions must be >= 0, got " + maxPositions);
    bind();
    flush();
    float[][] t = CudaRope.tables(invFreq, maxPositions);
    return new CudaRope(this, headDim, maxPositions, upload(t[0]), upload(t[1]), upload(invFreq));
  }

  // ---- the batch ----

  @Override
  public DeviceBatch prepare(BatchMetadata b) {
    if (!closed) {
      bind();
      flush();
    }
    int t = b.numTokens(), s = b.numRequests(), bs = b.blockSize();
    int[] qsl = b.queryStartLoc();
    if (b.positions().length != t || b.slotMapping().length != t) {
      throw new IllegalArgumentException("batch: " + t + " input ids, " + b.positions().length + " positions, "
          + b.slotMapping().length + " slots; all must be equal");
    }
    if (qsl.length != s + 1 || b.blockTables().length != s || qsl[0] != 0 || qsl[s] != t) {
      throw new IllegalArgumentException("batch: queryStartLoc must have " + (s + 1) + " entries from 0 to " + t
          + " and blockTables " + s + " rows");
    }
    if (bs <= 0) throw new IllegalArgumentException("batch blockSize must be > 0, got " + bs);
    int maxBlocks = 1;
    int[] tokenRequest = new int[t];
    for (int i = 0; i < s; i++) {
      int nq = qsl[i + 1] - qsl[i];
      int len = b.seqLens()[i];
      if (nq < 0 || len < nq) {
        throw new IllegalArgumentException("batch request " + i + ": " + nq + " query tokens, context " + len);
      }
      int need = (len + bs - 1) / bs;
      if (b.blockTables()[i].length < need) {
        throw new IllegalArgumentException("batch request " + i + ": context " + len + " needs " + need
            + " blocks, block table has " + b.blockTables()[i].length);
      }
      maxBlocks = Math.max(maxBlocks, need);
      for (int k = qsl[i]; k < qsl[i + 1]; k++) tokenRequest[k] = i;
    }
    for (int idx : b.logitsIndices()) {
      if (idx < 0 || idx >= t) throw new IllegalArgumentException("logits index " + idx + " outside [0, " + t + ")");
    }
    // Block-table rows padded to a power of two (at least 16): the row stride, which kernels take as an
    // argument, then changes rarely as contexts grow, so a CUDA graph recorded for a shape keeps serving.
    maxBlocks = Math.max(16, Integer.highestOneBit(maxBlocks - 1) << 1);
    int[] lens = {t, t, s + 1, s, t, s * maxBlocks, b.logitsIndices().length, t};
    int[] offsets = new int[lens.length];
    long total = 0;
    for (int i = 0; i < lens.length; i++) {
      offsets[i] = (int) total;
      total += (lens[i] + 3) & ~3; // 16-byte aligned sections
    }
    bind();
    if (batchBuffer.reserve(total * 4, Math.max(total * 4, Math.max(1 << 16, batchBuffer.bytes * 2)))) buffersMoved();
    try (Arena a = Arena.ofConfined()) {
      MemorySegment host = a.allocate(total * 4, 16);
      put(host, offsets[0], b.inputIds());
      put(host, offsets[1], b.positions());
      put(host, offsets[2], qsl);
      put(host, offsets[3], b.seqLens());
      put(host, offsets[4], b.slotMapping());
      for (int i = 0; i < s; i++) {
        int[] row = b.blockTables()[i];
        int need = (b.seqLens()[i] + bs - 1) / bs;
        MemorySegment.copy(row, 0, host, JAVA_INT, 4L * (offsets[5] + (long) i * maxBlocks), need);
      }
      put(host, offsets[6], b.logitsIndices());
      put(host, offsets[7], tokenRequest);
      if (profiler != null) profiler.before("batch upload");
      cu.memcpyHtoDAsync(batchBuffer.ptr, host, total * 4, stream);
      if (profiler != null) profiler.after();
    }
    return new CudaDeviceBatch(this, b, ++generation, batchBuffer.ptr, offsets, maxBlocks);
  }

  private static void put(MemorySegment host, int offset, int[] a) {
    MemorySegment.copy(a, 0, host, JAVA_INT, 4L * offset, a.length);
  }

  private CudaDeviceBatch batch(DeviceBatch d) {
    if (!(d instanceof CudaDeviceBatch b) || b.owner != this) {
      throw new IllegalArgumentException("batch was not prepared by this cuda backend");
    }
    if (b.generation != generation) {
      throw new IllegalStateException("batch is stale: a later prepare() reused its device buffer");
    }
    return b;
  }

  /** Checks slot mapping and block tables against the cache once per (batch, cache). */
  private void checkBounds(CudaDeviceBatch b, CudaKvCache c) {
    if (b.checkedAgainst == c) return;
    BatchMetadata m = b.meta;
    if (m.blockSize() != c.blockSize()) {
      throw new IllegalArgumentException("batch blockSize " + m.blockSize() + " differs from kv cache blockSize " + c.blockSize());
    }
    long slots = (long) c.numBlocks() * c.blockSize();
    int[] sm = m.slotMapping();
    for (int t = 0; t < sm.length; t++) {
      if (sm[t] >= slots) {
        throw new IllegalArgumentException("slot " + sm[t] + " at batch row " + t + " outside kv cache of " + slots + " slots");
      }
    }
    for (int i = 0; i < m.numRequests(); i++) {
      int need = (m.seqLens()[i] + m.blockSize() - 1) / m.blockSize();
      for (int k = 0; k < need; k++) {
        int blk = m.blockTables()[i][k];
        if (blk < 0 || blk >= c.numBlocks()) {
          throw new IllegalArgumentException(
              "request " + i + ": block " + blk + " outside kv cache of " + c.numBlocks() + " blocks");
        }
      }
    }
    b.checkedAgainst = c;
  }

  // ---- ops ----

  @Override
  public void embedding(Tensor table, DeviceBatch batch, Tensor out) {
    CudaTensor tb = bf16(table, "embedding table");
    CudaTensor o = bf16(out, "embedding out");
    CudaDeviceBatch b = batch(batch);
    int[] ids = b.meta.inputIds();
    requireCols(o, tb.cols(), "embedding out");
    requireRows(o, ids.length, "embedding out");
    for (int t = 0; t < ids.length; t++) {
      if (ids[t] < 0 || ids[t] >= tb.rows()) {
        throw new IllegalArgumentException(
            "token id " + ids[t] + " at batch row " + t + " outside vocabulary [0, " + tb.rows() + ")");
      }
    }
    bind();
    flush();
    launch("embedding", ids.length, 1, 256, tb.ptr(), b.inputIds, o.ptr(), tb.cols());
  }

  @Override
  public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
    CudaTensor xs = bf16(x, "rmsNorm x");
    CudaTensor o = bf16(out, "rmsNorm out");
    CudaTensor w = vector(weight, xs.cols(), "rmsNorm weight");
    requireCols(o, xs.cols(), "rmsNorm out");
    requireRows(o, xs.rows(), "rmsNorm out");
    bind();
    flush();
    if (vectorRow(xs.cols(), xs.ptr(), w.ptr(), o.ptr())) {
      launch("rms_norm_v", xs.rows(), 1, 256, xs.ptr(), w.ptr(), o.ptr(), xs.cols(), eps);
      return;
    }
    launch("rms_norm", xs.rows(), 1, 256, xs.ptr(), w.ptr(), o.ptr(), xs.cols(), eps);
  }

  @Override
  public void addRmsNorm(Tensor x, Tensor residual, Tensor weight, float eps, Tensor out) {
    CudaTensor xs = bf16(x, "addRmsNorm x");
    CudaTensor r = bf16(residual, "addRmsNorm residual");
    CudaTensor o = bf16(out, "addRmsNorm out");
    int n = xs.cols();
    CudaTensor w = vector(weight, n, "addRmsNorm weight");
    requireCols(r, n, "addRmsNorm residual");
    requireCols(o, n, "addRmsNorm out");
    requireRows(r, xs.rows(), "addRmsNorm residual");
    requireRows(o, xs.rows(), "addRmsNorm out");
    bind();
    flush();
    if (vectorRow(n, xs.ptr(), r.ptr(), w.ptr() | o.ptr())) {
      launch("add_rms_norm_v", xs.rows(), 1, 256, xs.ptr(), r.ptr(), w.ptr(), o.ptr(), n, eps);
      return;
    }
    launch("add_rms_norm", xs.rows(), 1, 256, xs.ptr(), r.ptr(), w.ptr(), o.ptr(), n, eps);
  }

  @Override
  public void headRmsNorm(Tensor x, int headDim, Tensor weight, float eps) {
    CudaTensor xs = bf16(x, "headRmsNorm x");
    if (headDim <= 0 || xs.cols() % headDim != 0) {
      throw new IllegalArgumentException("headRmsNorm: headDim " + headDim + " does not divide row width " + xs.cols());
    }
    CudaTensor w = vector(weight, headDim, "headRmsNorm weight");
    int heads = xs.cols() / headDim;
    requireGridY(heads, "headRmsNorm heads");
    bind();
    flush();
    launch("head_rms_norm", xs.rows(), heads, 32, xs.ptr(), w.ptr(), xs.cols(), headDim, eps);
  }

  @Override
  public void matmul(Tensor x, Tensor w, Tensor bias, Tensor out) {
    CudaTensor xs = bf16(x, "matmul x");
    CudaTensor ws = bf16(w, "matmul w");
    CudaTensor o = cuda(out, "matmul out");
    if (o.dtype() != DType.BF16 && o.dtype() != DType.F32) {
      throw new IllegalArgumentException("matmul out must be BF16 or F32, got " + o.dtype());
    }
    if (xs.cols() != ws.cols()) {
      throw new IllegalArgumentException(
          "matmul: x has " + xs.cols() + " columns but w " + ws.rows() + "x" + ws.cols() + " needs " + ws.cols());
    }
    requireCols(o, ws.rows(), "matmul out");
    requireRows(o, xs.rows(), "matmul out");
    CudaTensor b = null;
    if (bias != null) {
      b = bf16(bias, "matmul bias");
      if ((long) b.rows() * b.cols() != ws.rows()) {
        throw new IllegalArgumentException(
            "matmul: bias has " + (long) b.rows() * b.cols() + " elements, w has " + ws.rows() + " rows");
      }
    }
    int t = xs.rows();
    bind();
    if (t == 0) {
      flush();
      return;
    }
    if (batchInvariant) {
      if (ws.cols() % 8 == 0 && (xs.ptr() & 15) == 0 && (ws.ptr() & 15) == 0) {
        flush();
        gemmBatchInvariant(xs, ws, b, o, t);
        return;
      }
      if (!batchInvariantFallbackLogged) {
        batchInvariantFallbackLogged = true;
        LOG.warning("batch-invariant matmul needs K % 8 == 0 and 16-byte aligned operands (K = " + ws.cols()
            + "); this matmul uses cuBLAS, whose rounding may depend on the batch");
      }
    }
    if (gemv && t == 1 && ws.cols() % 8 == 0 && (xs.ptr() & 15) == 0 && (ws.ptr() & 15) == 0 && o.ptr() != xs.ptr()) {
      boolean joins = fuse && pendCount > 0 && pendCount < 3 && pendX.ptr() == xs.ptr() && pendX.cols() == xs.cols()
          && pendOut[0].dtype() == o.dtype() && !pendingWrites(o.ptr());
      if (!joins) flush();
      pendX = xs;
      pendW[pendCount] = ws;
      pendOut[pendCount] = o;
      pendBias[pendCount] = b;
      pendCount++;
      if (!fuse) flush();
      return;
    }
    if (fuse && fuseQkv && b == null && o.dtype() == DType.BF16 && o.ptr() != xs.ptr()) {
      CudaTensor last = mmCount > 0 ? mmW[mmCount - 1] : null;
      boolean joins = last != null && mmCount < 3 && mmX.ptr() == xs.ptr() && mmX.rows() == t && mmX.cols() == xs.cols()
          && ws.ptr() == last.ptr() + last.bytes() && ws.cols() == last.cols() && !pendingMatmulWrites(o.ptr());
      if (joins || stackHeads.contains(ws.ptr())) {
        if (!joins) flush();
        mmX = xs;
        mmW[mmCount] = ws;
        mmOut[mmCount] = o;
        mmCount++;
        return;
      }
    }
    flush();
    boolean accumulate = false;
    if (b != null) {
      launch(o.dtype() == DType.F32 ? "broadcast_bias_f32" : "broadcast_bias_bf16", t, 1, 256, b.ptr(), o.ptr(),
          ws.rows());
      accumulate = true;
    }
    gemm(xs, ws.ptr(), ws.rows(), ws.cols(), o.ptr(), o.dtype(), t, accumulate, "");
  }

  private boolean pendingMatmulWrites(long out) {
    for (int i = 0; i < mmCount; i++) if (mmOut[i].ptr() == out) return true;
    return false;
  }

  /**
   * out = x w^T (+ bias) by gemm_bi.cu, in the shape {@link GemmBiShape#choose} picks (env
   * QUIRE_GEMM_BI_SMALL / _MEDIUM / _LARGE name other kernels, for comparisons). No shape changes any
   * element's summation order.
   */
  private void gemmBatchInvariant(CudaTensor xs, CudaTensor ws, CudaTensor b, CudaTensor o, int t) {
    int n = ws.rows(), k = ws.cols();
    GemmBiShape s = biForced != null ? biForced : GemmBiShape.choose(t, n, smCount, biSmall, biMedium, biLarge);
    requireGridY(ceilDiv(t, s.tileM()), "matmul rows");
    launch3("gemm_bi " + n + "x" + k + (o.dtype() == DType.F32 ? " f32" : ""), s.kernel(), ceilDiv(n, s.tileN()),
        ceilDiv(t, s.tileM()), 1, s.threads(), xs.ptr(), ws.ptr(), b == null ? 0L : b.ptr(), o.ptr(), t, n, k,
        o.dtype() == DType.F32 ? 1 : 0);
  }

  @Override
  public void rope(Tensor q, Tensor k, Rope rope, DeviceBatch batch) {
    CudaTensor qs = bf16(q, "rope q");
    CudaTensor ks = bf16(k, "rope k");
    if (!(rope instanceof CudaRope r) || r.owner != this) {
      throw new IllegalArgumentException("rope was not created by this cuda backend");
    }
    CudaDeviceBatch b = batch(batch);
    int hd = r.headDim;
    if (qs.cols() % hd != 0 || ks.cols() % hd != 0) {
      throw new IllegalArgumentException(
          "rope: q width " + qs.cols() + " and k width " + ks.cols() + " must be multiples of headDim " + hd);
    }
    int t = b.meta.numTokens();
    requireRows(qs, t, "rope q");
    requireRows(ks, t, "rope k");
    bind();
    if (mmCount == 3 && mmOut[0].ptr() == qs.ptr() && mmOut[1].ptr() == ks.ptr() && mmX.rows() == t) {
      flushGemv(null);  // q, k (and v) stay deferred for writeKv
      flushRope();
    } else {
      flush();
    }
    pendRope = new PendingRope(qs, ks, r, b);
    if (!fuse) flush();
  }

  @Override
  public void siluMul(Tensor gateUp, Tensor out) {
    CudaTensor g = bf16(gateUp, "siluMul gateUp");
    CudaTensor o = bf16(out, "siluMul out");
    if (g.cols() != 2 * o.cols()) {
      throw new IllegalArgumentException(
          "siluMul: gateUp has " + g.cols() + " columns, out " + o.cols() + " needs " + 2 * o.cols());
    }
    requireRows(o, g.rows(), "siluMul out");
    requireGridY(g.rows(), "siluMul rows");
    int n = o.cols();
    bind();
    if (fuse && pendCount == 1 && pendOut[0].ptr() == g.ptr() && pendOut[0].cols() == g.cols() && g.rows() == 1 && pendBias[0] == null
        && pendW[0].rows() == 2 * n && pendOut[0].dtype() == DType.BF16 && o.ptr() != pendX.ptr()
        && o.ptr() != g.ptr()) {
      flushGemv(o);  // the gate+up gemv writes silu(gate) * up as well
      flushRope();
      return;
    }
    flush();
    if (n % 8 == 0 && (g.ptr() & 15) == 0 && (o.ptr() & 15) == 0) {
      long total = (long) g.rows() * (n / 8);
      launch3("silu_mul", "silu_mul8", (int) ceilDiv(total, 256), 1, 1, 256, g.ptr(), o.ptr(), n / 8, total);
      return;
    }
    launch("silu_mul", (n + 255) / 256, g.rows(), 256, g.ptr(), o.ptr(), n);
  }

  @Override
  public void writeKv(Tensor k, Tensor v, KvCache cache, int layer, DeviceBatch batch) {
    CudaTensor ks = bf16(k, "writeKv k");
    CudaTensor vs = bf16(v, "writeKv v");
    CudaKvCache c = kv(cache);
    CudaDeviceBatch b = batch(batch);
    int width = c.numKvHeads() * c.headDim();
    requireCols(ks, width, "writeKv k");
    requireCols(vs, width, "writeKv v");
    int t = b.meta.numTokens();
    requireRows(ks, t, "writeKv k");
    requireRows(vs, t, "writeKv v");
    checkBounds(b, c);
    long kp = c.keys(layer), vp = c.values(layer);
    bind();
    PendingRope p = pendRope;
    if (mmCount == 3 && p != null && p.batch() == b && mmOut[0].ptr() == p.q().ptr() && mmOut[1].ptr() == ks.ptr()
        && mmOut[2].ptr() == vs.ptr() && p.k().ptr() == ks.ptr() && p.rope().headDim == c.headDim()
        && c.headDim() % 16 == 0 && mmX.rows() == t
        && ((kp | vp | p.rope().cos | p.rope().sin | p.q().ptr() | ks.ptr() | vs.ptr()) & 15) == 0) {
      // q, k and v as one GEMM of the stacked weight, read back by the fused rope + KV write.
      CudaRope r = p.rope();
      int nq = mmW[0].rows(), nk = mmW[1].rows(), nv = mmW[2].rows(), n = nq + nk + nv, kIn = mmX.cols();
      long w0 = mmW[0].ptr(), q = mmOut[0].ptr();
      CudaTensor x = mmX;
      for (int i = 0; i < 3; i++) mmW[i] = mmOut[i] = null;
      mmCount = 0;
      mmX = null;
      pendRope = null;
      long need = (long) t * n * 2;  // after the deferred state is taken: growing frees, and free flushes
      if (qkvWork.reserve(need, need)) buffersMoved();
      gemm(x, w0, n, kIn, qkvWork.ptr, DType.BF16, t, false, " qkv");
      int qh = nq / r.headDim, kh = nk / r.headDim;
      int units = (qh + kh) * (r.headDim / 16) + kh * r.headDim / 8;
      launch3(c.fp8() ? "rope_write_kv_fp8" : "rope_write_kv", c.fp8() ? "rope_write_kv8_qkv_fp8" : "rope_write_kv8_qkv", t,
          (int) Math.min(256, ceilDiv(units, 128)), 1, 128, qkvWork.ptr, n, q, ks.ptr(), vs.ptr(), b.positions, r.cos,
          r.sin, r.invFreq, r.maxPositions, qh, kh, r.headDim, kp, vp, b.slotMapping);
      return;
    }
    flushMatmuls();
    if (p != null && p.batch() == b && p.k().ptr() == ks.ptr() && p.k().cols() == width && p.rope().headDim == c.headDim()
        && vs.ptr() != p.q().ptr() && vs.ptr() != ks.ptr()) {
      pendRope = null;
      CudaRope r = p.rope();
      int qh = p.q().cols() / r.headDim, kh = ks.cols() / r.headDim;
      String name = c.fp8() ? "rope_write_kv_fp8" : "rope_write_kv";
      if (r.headDim % 16 == 0 && ((p.q().ptr() | ks.ptr() | vs.ptr() | kp | vp | r.cos | r.sin) & 15) == 0) {
        int units = (qh + kh) * (r.headDim / 16) + kh * r.headDim / 8;  // 8-pair rotations, then 8-value copies of v
        launch3(name, c.fp8() ? "rope_write_kv8_fp8" : "rope_write_kv8", t, (int) Math.min(256, ceilDiv(units, 128)), 1,
            128, p.q().ptr(), ks.ptr(), vs.ptr(), b.positions, r.cos, r.sin, r.invFreq, r.maxPositions, qh, kh,
            r.headDim, kp, vp, b.slotMapping);
        return;
      }
      launch(name, t, ropeBlocks(qh, kh, r.headDim), 128, p.q().ptr(), ks.ptr(), vs.ptr(), b.positions, r.cos, r.sin,
          r.invFreq, r.maxPositions, qh, kh, r.headDim, kp, vp, b.slotMapping);
      return;
    }
    flush();
    launch(c.fp8() ? "write_kv_fp8" : "write_kv", t, 1, 128, ks.ptr(), vs.ptr(), kp, vp, b.slotMapping, width);
  }

  @Override
  public void pagedAttention(Tensor q, KvCache cache, int layer, DeviceBatch batch, float scale, Tensor out) {
    CudaTensor qs = bf16(q, "pagedAttention q");
    CudaTensor o = bf16(out, "pagedAttention out");
    CudaKvCache c = kv(cache);
    CudaDeviceBatch b = batch(batch);
    int hd = c.headDim(), nkv = c.numKvHeads();
    if (qs.cols() % hd != 0 || (qs.cols() / hd) % nkv != 0) {
      throw new IllegalArgumentException(
          "q has " + qs.cols() + " columns: not a multiple of headDim " + hd + " times kv heads " + nkv);
    }
    int t = b.meta.numTokens();
    if (qs.rows() < t || o.rows() < t || o.cols() != qs.cols()) {
      throw new IllegalArgumentException("pagedAttention: q " + qs.rows() + "x" + qs.cols() + ", out " + o.rows()
          + "x" + o.cols() + ", batch of " + t + " tokens");
    }
    checkBounds(b, c);
    int heads = qs.cols() / hd;
    requireGridY(heads, "pagedAttention heads");
    long kp = c.keys(layer), vp = c.values(layer);
    bind();
    flush();
    int group = heads / nkv;
    if (tcAttention && t > 0 && (hd == 16 || hd == 32 || hd == 64 || hd == 128) && group <= 64) {
      tcAttention(qs, kp, vp, o, b, heads, nkv, hd, c.blockSize(), scale, c.fp8() ? "_fp8" : "");
      return;
    }
    if (c.fp8()) {
      throw new IllegalStateException("kv_cache_dtype fp8: only the tensor-core attention reads an fp8 cache"
          + " (head_dim 16..128, at most 64 q heads per kv head); this batch would need another path");
    }
    // Batch-invariant mode without the tensor-core path: paged_attention (one block per row, no split).
    if (splitAttention && !batchInvariant && hd % 8 == 0 && t > 0) {
      splitAttention(qs, kp, vp, o, b, heads, nkv, hd, c.blockSize(), scale);
      return;
    }
    launch("paged_attention", t, heads, 128, qs.ptr(), kp, vp, o.ptr(), b.tokenRequest, b.queryStart,
        b.seqLens, b.blockTables, b.maxBlocks, c.blockSize(), heads, nkv, hd, scale);
  }

  /**
   * Tensor-core attention (attention_tc.cu): one launch over the decode tokens (one token's q heads of a
   * kv head per block; the context split into chunks while tokens x kv heads do not fill the GPU, merged
   * by attn_reduce) and one over the prefill tiles (64 / G tokens of one request's chunk per block).
   */
  private void tcAttention(CudaTensor qs, long kp, long vp, CudaTensor o, CudaDeviceBatch b, int heads, int nkv, int hd,
      int blockSize, float scale, String suffix) {
    int group = heads / nkv;
    BatchMetadata m = b.meta;
    int t = m.numTokens();
    boolean decodeOnly = m.decodeOnly();  // token i is request i's only query token
    if (batchInvariant) {  // every row through attn_rows_tc, in tiles of AttentionPlan.invariantTileTokens
      long items;
      int n;
      if (decodeOnly) {
        items = identityItems(t);
        n = t;
      } else {
        uploadAttnItems(b, group);
        items = attnItems.ptr + 4L * itemsDecode;
        n = itemsPrefill;
      }
      int hgroups = ceilDiv(group, 16);
      launch3("attn_rows_tc", "attn_rows_tc" + hd + suffix, n, nkv * hgroups, 1, 128, qs.ptr(), kp, vp, o.ptr(), items,
          b.queryStart, b.seqLens, b.blockTables, b.maxBlocks, blockSize, heads, nkv, hgroups, scale);
      return;
    }
    long tokens = 0;
    int nDecode = t;
    if (!decodeOnly) {
      uploadAttnItems(b, group);
      tokens = attnItems.ptr;
      nDecode = itemsDecode;
      if (itemsPrefill > 0) {
        launch3("attn_prefill_tc", "attn_prefill_tc" + hd + suffix, itemsPrefill, nkv, 1, 128, qs.ptr(), kp, vp, o.ptr(),
            attnItems.ptr + 4L * itemsDecode, b.queryStart, b.seqLens, b.blockTables, b.maxBlocks, blockSize, heads, nkv,
            scale);
      }
    }
    if (nDecode == 0) return;
    int hgroups = ceilDiv(group, 16);
    // The transposed kernel once the tokens x kv heads alone fill the GPU's multiprocessors; below that (batch
    // 1: a few blocks of short context splits) attn_decode_tc's two-stage blocks were faster (H200: 7B batch-1
    // decode 3.85 ms/token against 4.01).
    boolean transposed = group <= 8 && (hd == 64 || hd == 128)
        && (attnDec == 2 || (attnDec == 1 && (long) nDecode * nkv >= smCount));
    int splits = AttentionPlan.decodeSplits(nDecode, nkv, hgroups, smCount, MAX_DECODE_SPLITS);
    long partO = 0, partMl = 0;
    if (splits > 1) {
      long rowsParts = (long) nDecode * heads * splits;  // partials of the decode items only
      partO = splitPartials(rowsParts, hd);
      partMl = partO + ((rowsParts * hd * 4 + 255) & ~255L);
    }
    if (transposed) {  // attention_decode.cu: keys in the mma rows, the group's heads in its columns
      launch3("attn_dec", "attn_dec" + hd + suffix, nDecode, nkv, splits, 128, qs.ptr(), kp, vp, o.ptr(), partO, partMl,
          tokens, b.tokenRequest, b.queryStart, b.seqLens, b.blockTables, b.maxBlocks, blockSize, heads, nkv, 0, splits,
          scale);
    } else {
      // Three K/V stages in flight when the batch fills the GPU; two (static shared memory, which left
      // batch-1 decode faster) for small, split launches. See attention_tc.cu.
      String kernel = (splits > 1 ? "attn_decode2_tc" : "attn_decode_tc") + hd + suffix;
      launch3("attn_decode_tc", kernel, nDecode, nkv * hgroups, splits, 128, qs.ptr(), kp, vp, o.ptr(),
          partO, partMl, tokens, b.tokenRequest, b.queryStart, b.seqLens, b.blockTables, b.maxBlocks, blockSize,
          heads, nkv, hgroups, 0, splits, scale);
    }
    if (splits > 1) {
      launch("attn_reduce", nDecode, heads, 128, partO, partMl, o.ptr(), tokens, b.tokenRequest, b.queryStart,
          b.seqLens, heads, hd, 0, splits);
    }
  }

  /**
   * The split attention's partials buffer, grown to hold {@code rows} (token, head, split) rows of
   * head_dim fp32 accumulators, then a (max, sum) pair each (256-byte aligned); returns its address.
   */
  private long splitPartials(long rows, int headDim) {
    long need = rows * headDim * 4 + rows * 2 * 4 + 256;
    if (attnWork.reserve(need, Math.max(need, 8L << 20))) buffersMoved();
    return attnWork.ptr;
  }

  /** The device list of (i, i) pairs for i < n (grown to a power of two, filled once per size). */
  private long identityItems(int n) {
    int cap = Math.max(1024, Integer.highestOneBit(Math.max(1, n - 1)) << 1);
    long bytes = 8L * cap;
    if (identityItems.reserve(8L * n, bytes)) {
      try (Arena a = Arena.ofConfined()) {
        MemorySegment host = a.allocate(bytes, 16);
        for (int i = 0; i < cap; i++) {
          host.setAtIndex(JAVA_INT, 2L * i, i);
          host.setAtIndex(JAVA_INT, 2L * i + 1, i);
        }
        cu.memcpyHtoDAsync(identityItems.ptr, host, bytes, stream);
        cu.streamSynchronize(stream);  // the host copy's arena closes here
      }
      buffersMoved();
    }
    return identityItems.ptr;
  }

  /** Builds and uploads the tensor-core attention's work lists once per (batch, group). */
  private void uploadAttnItems(CudaDeviceBatch b, int group) {
    if (itemsGeneration == b.generation && itemsGroup == group) return;
    AttentionPlan plan = AttentionPlan.of(b.meta.queryStartLoc(), group, batchInvariant);
    int nDecode = plan.decodeTokens().length, nPrefill = plan.prefillTiles();
    long bytes = 4L * (nDecode + 2L * nPrefill) + 16;
    if (attnItems.reserve(bytes, Math.max(bytes, 64L << 10))) buffersMoved();
    try (Arena a = Arena.ofConfined()) {
      MemorySegment host = a.allocate(bytes, 16);
      MemorySegment.copy(plan.decodeTokens(), 0, host, JAVA_INT, 0, nDecode);
      MemorySegment.copy(plan.prefillItems(), 0, host, JAVA_INT, 4L * nDecode, 2 * nPrefill);
      cu.memcpyHtoDAsync(attnItems.ptr, host, bytes, stream);
    }
    itemsGeneration = b.generation;
    itemsGroup = group;
    itemsDecode = nDecode;
    itemsPrefill = nPrefill;
  }


  /**
   * attn_split over (token, kv head, head group, context chunk), then attn_reduce when a context is
   * split: chunks are chosen so that about two blocks per multiprocessor run, never shorter than a tile,
   * and (splitMaxPositions > 0) never longer than splitMaxPositions keys rounded up to a tile.
   */
  private void splitAttention(CudaTensor qs, long kp, long vp, CudaTensor o, CudaDeviceBatch b, int heads, int nkv, int hd,
      int blockSize, float scale) {
    BatchMetadata m = b.meta;
    int t = m.numTokens();
    int group = heads / nkv, hgroups = (group + 7) / 8;
    int lanes = Integer.highestOneBit(Math.max(1, hd / 8));
    if (lanes < hd / 8) lanes <<= 1;
    int tile = (128 / lanes) * 4;
    int maxCtx = 1;
    int[] qsl = m.queryStartLoc();
    for (int i = 0; i < m.numRequests(); i++) {
      if (qsl[i + 1] > qsl[i]) maxCtx = Math.max(maxCtx, m.seqLens()[i]);
    }
    long units = (long) t * nkv * hgroups;
    int target = 2 * smCount;
    int chunk, splits;
    if (units >= target || maxCtx <= tile) {
      chunk = ceilDiv(maxCtx, tile) * tile;
      splits = 1;
    } else {
      int want = (int) ceilDiv(target, units);
      chunk = (int) ceilDiv(ceilDiv(maxCtx, want), tile) * tile;
      splits = (int) ceilDiv(maxCtx, chunk);
    }
    // With splitMaxPositions > 0 no block walks more than that many keys serially, even when tokens x
    // kv heads already fill the GPU. Balanced chunks (a multiple of the tile), partials bounded in size.
    if (splitMaxPositions > 0 && chunk > splitMaxPositions && maxCtx > tile) {
      long perSplit = (long) t * heads * hd * 4;
      int maxSplits = (int) Math.min(1024, Math.max(1, SPLIT_WORK_CAP / perSplit));
      int want = Math.min(maxSplits, ceilDiv(maxCtx, Math.max(tile, splitMaxPositions)));
      if (want > splits) {
        chunk = (int) ceilDiv(ceilDiv(maxCtx, want), tile) * tile;
        splits = (int) ceilDiv(maxCtx, chunk);
      }
    }
    long partO = 0, partMl = 0;
    if (splits > 1) {
      long rowsParts = (long) t * heads * splits;
      partO = splitPartials(rowsParts, hd);
      partMl = partO + ((rowsParts * hd * 4 + 255) & ~255L);
    }
    launch3("attn_split", "attn_split", t, nkv * hgroups, splits, 128, qs.ptr(), kp, vp, o.ptr(), partO, partMl,
        b.tokenRequest, b.queryStart, b.seqLens, b.blockTables, b.maxBlocks, blockSize, heads, nkv, hd, hgroups, lanes,
        chunk, splits, scale);
    if (splits > 1) {
      launch("attn_reduce", t, heads, 128, partO, partMl, o.ptr(), null, b.tokenRequest, b.queryStart, b.seqLens, heads,
          hd, chunk, splits);
    }
  }

  /** Rows the 16-byte norm kernels take: n % 8 == 0, at most 8 pieces per thread of 256, aligned. */
  private static boolean vectorRow(int n, long p0, long p1, long p2) {
    return n % 8 == 0 && n / 8 <= 8 * 256 && ((p0 | p1 | p2) & 15) == 0;
  }

  /** Blocks per token for rope: one thread per rotated pair. */
  private static int ropeBlocks(int qHeads, int kHeads, int headDim) {
    return Math.max(1, Math.min(256, ceilDiv((qHeads + kHeads) * (headDim / 2), 128)));
  }

  private boolean pendingWrites(long out) {
    for (int i = 0; i < pendCount; i++) if (pendOut[i].ptr() == out) return true;
    return false;
  }

  private static long ceilDiv(long a, long b) {
    return (a + b - 1) / b;
  }

  private static int ceilDiv(int a, int b) {
    return (a + b - 1) / b;
  }

  @Override
  public void gatherLogitRows(Tensor x, DeviceBatch batch, Tensor out) {
    CudaTensor xs = bf16(x, "gatherLogitRows x");
    CudaTensor o = bf16(out, "gatherLogitRows out");
    CudaDeviceBatch b = batch(batch);
    int[] idx = b.meta.logitsIndices();
    requireCols(o, xs.cols(), "gatherLogitRows out");
    requireRows(o, idx.length, "gatherLogitRows out");
    for (int i : idx) {
      if (i >= xs.rows()) throw new IllegalArgumentException("logits index " + i + " outside [0, " + xs.rows() + ")");
    }
    bind();
    flush();
    launch("gather_rows", idx.length, 1, 256, xs.ptr(), b.logitsIndices, o.ptr(), xs.cols());
  }

  @Override
  public void copyToHost(Tensor t, float[] dst) {
    CudaTensor c = cuda(t, "copyToHost tensor");
    long n = (long) c.rows() * c.cols();
    if (dst.length < n) {
      throw new IllegalArgumentException("copyToHost: destination holds " + dst.length + " floats, tensor " + n);
    }
    if (c.dtype() == DType.I32) throw new IllegalArgumentException("copyToHost: I32 tensors cannot be copied to a float array");
    bind();
    flush();
    if (n == 0) return;
    if (c.bytes() > pinnedBytes) {
      cu.streamSynchronize(stream);
      if (pinned != null) cu.memFreeHost(pinned);
      pinned = null;
      pinnedBytes = 0;
      long size = Math.max(c.bytes(), 1L << 20);
      pinned = cu.memAllocHost(size);
      pinnedBytes = size;
    }
    {
      MemorySegment host = pinned;
      if (profiler != null) profiler.before("copyToHost");
      cu.memcpyDtoHAsync(host, c.ptr(), c.bytes(), stream);
      if (profiler != null) profiler.after();
      cu.streamSynchronize(stream);
      if (profiler != null) profiler.collect();
      switch (c.dtype()) {
        case F32 -> MemorySegment.copy(host, JAVA_FLOAT, 0, dst, 0, (int) n);
        case BF16 -> {
          for (int i = 0; i < n; i++) dst[i] = Bf16.toFloat(host.getAtIndex(JAVA_SHORT, i));
        }
        case F16 -> {
          for (int i = 0; i < n; i++) dst[i] = Float.float16ToFloat(host.getAtIndex(JAVA_SHORT, i));
        }
        case I32 -> throw new AssertionError();
      }
    }
  }

  /** Row-wise argmax on the device (argmax.cu); only the ids come back. Synchronizes. */
  @Override
  public void argmax(Tensor logits, int[] dst) {
    CudaTensor c = cuda(logits, "argmax logits");
    int rows = c.rows();
    if (dst.length < rows) {
      throw new IllegalArgumentException("argmax: destination holds " + dst.length + " ids, tensor has " + rows + " rows");
    }
    if (!enqueueArgmax(c)) return;
    long bytes = 4L * rows;
    if (pinnedBytes < bytes) {
      cu.streamSynchronize(stream);
      if (pinned != null) cu.memFreeHost(pinned);
      long size = Math.max(bytes, 1L << 20);
      pinned = cu.memAllocHost(size);
      pinnedBytes = size;
    }
    if (profiler != null) profiler.before("argmax ids to host");
    cu.memcpyDtoHAsync(pinned, argmaxIds.ptr, bytes, stream);
    if (profiler != null) profiler.after();
    cu.streamSynchronize(stream);
    if (profiler != null) profiler.collect();
    MemorySegment.copy(pinned, JAVA_INT, 0, dst, 0, rows);
  }

  /** Launches argmax_rows into {@link #argmaxIds} (grown while the stream is idle); false for no rows. */
  private boolean enqueueArgmax(CudaTensor c) {
    if (c.dtype() != DType.F32) throw new IllegalArgumentException("argmax: logits must be F32, got " + c.dtype());
    int rows = c.rows();
    bind();
    flush();
    if (rows == 0) return false;
    long bytes = 4L * rows;
    argmaxIds.reserve(bytes, Math.max(bytes, 4096));
    launch3("argmax", "argmax_rows", rows, 1, 1, 1024, c.ptr(), argmaxIds.ptr, c.cols());
    return true;
  }

  /** Sampled ids go to the host after an event, so the next step can be launched before they land. */
  @Override
  public boolean defersSampledIds() {
    return true;
  }

  /**
   * Argmax whose ids stay in {@link #argmaxIds} for the next step's {@link #prepare(BatchMetadata,
   * PendingIds, int[], int[])} and are copied to one of two pinned slots behind an event; {@link
   * PendingIds#await} waits for that event only, not for work enqueued later. While profiling, the
   * plain synchronizing argmax.
   */
  @Override
  public PendingIds argmaxAsync(Tensor logits) {
    CudaTensor c = cuda(logits, "argmax logits");
    int rows = c.rows();
    if (profiler != null || rows == 0) {
      int[] ids = new int[rows];
      argmax(logits, ids);
      return PendingIds.of(ids);
    }
    enqueueArgmax(c);
    long bytes = 4L * rows;
    if (asyncSlotBytes < bytes) {
      cu.streamSynchronize(stream);
      if (asyncPinned != null) cu.memFreeHost(asyncPinned);
      asyncSlotBytes = Math.max(bytes, 16L << 10);
      asyncPinned = cu.memAllocHost(2 * asyncSlotBytes);
    }
    int slot = (int) (asyncCount++ & 1);
    if (asyncEvents[slot] == null) asyncEvents[slot] = cu.eventCreate();
    MemorySegment host = asyncPinned.asSlice(slot * asyncSlotBytes, bytes);
    cu.memcpyDtoHAsync(host, argmaxIds.ptr, bytes, stream);
    cu.eventRecord(asyncEvents[slot], stream);
    return new DeviceIds(rows, argmaxIds.ptr, 1, host, asyncEvents[slot], asyncCount, null);
  }

  /**
   * The device sampler without waiting: the ids stay in the sampler's results (row r's at int r *
   * OUT_INTS) for the next step's feed; results reach the sampler's pinned buffer behind an event,
   * which the next sample rewrites (the engine takes each step in before sampling the next). While
   * profiling, the synchronizing sample.
   */
  @Override
  public PendingIds sampleAsync(Tensor logits, SamplingBatch batch) {
    CudaTensor c = cuda(logits, "sample logits");
    if (c.dtype() != DType.F32) throw new IllegalArgumentException("sample: logits must be F32, got " + c.dtype());
    int rows = batch.numRows();
    if (rows > c.rows()) throw new IllegalArgumentException("sample: batch has " + rows + " rows, logits " + c.rows());
    if (profiler != null || rows == 0) return Backend.super.sampleAsync(logits, batch);
    bind();
    flush();
    if (sampler == null) sampler = new CudaSampler(cu, stream, kernels, this::alloc, this::free);
    long res = sampler.enqueue(c.ptr(), c.cols(), batch, false, 0L, null);
    int slot = (int) (asyncCount++ & 1);
    if (asyncEvents[slot] == null) asyncEvents[slot] = cu.eventCreate();
    cu.eventRecord(asyncEvents[slot], stream);
    return new DeviceIds(rows, res, CudaSampler.OUT_INTS, sampler.hostResults(), asyncEvents[slot], asyncCount,
        CudaSampler.topCounts(batch, c.cols()));
  }

  /**
   * Ids of one {@link #argmaxAsync}: on the device at {@code ptr} until the next argmax, on the host in
   * a pinned slot once {@code event} completes. The slot is reused two calls later, so ids are taken
   * in before the second next argmaxAsync (the engine awaits each step's ids before sampling the next).
   */
  private final class DeviceIds implements PendingIds {
    final int rows;
    final long ptr;
    final int stride;  // ints between rows' ids, on the device and in host
    final MemorySegment host;
    final MemorySegment event;
    final long seq;
    final int[] tops;  // a sample's top logprobs per row; null for an argmax

    DeviceIds(int rows, long ptr, int stride, MemorySegment host, MemorySegment event, long seq, int[] tops) {
      this.rows = rows;
      this.ptr = ptr;
      this.stride = stride;
      this.host = host;
      this.event = event;
      this.seq = seq;
      this.tops = tops;
    }

    @Override
    public int rows() {
      return rows;
    }

    private void land() {
      // An argmax's pinned slot is rewritten two async calls later; a sample's buffer by the next one.
      if (asyncCount - seq >= (tops == null ? 2 : 1)) {
        throw new IllegalStateException("sampled ids awaited after their pinned buffer was reused");
      }
      bind();
      cu.eventSynchronize(event);
    }

    @Override
    public void await(int[] dst) {
      land();
      for (int r = 0; r < rows; r++) dst[r] = host.getAtIndex(JAVA_INT, (long) r * stride);
    }

    @Override
    public void await(SampledRows out) {
      if (tops == null) {
        PendingIds.super.await(out);
        return;
      }
      land();
      CudaSampler.unpack(tops, host, 0, out);
    }
  }

  /**
   * Prepares the batch, then copies the fed ids from the previous step's argmax output into its input
   * ids on the device (feed_ids), without waiting for that step.
   */
  @Override
  public DeviceBatch prepare(BatchMetadata batch, PendingIds from, int[] feedTokens, int[] feedRows) {
    if (!(from instanceof DeviceIds src) || feedTokens.length == 0) return Backend.super.prepare(batch, from, feedTokens, feedRows);
    if (feedTokens.length != feedRows.length) {
      throw new IllegalArgumentException("feedTokens has " + feedTokens.length + " entries, feedRows " + feedRows.length);
    }
    if (asyncCount != src.seq) throw new IllegalStateException("fed ids must come from the latest argmaxAsync or sampleAsync");
    int n = feedTokens.length, t = batch.numTokens();
    for (int i = 0; i < n; i++) {
      if (feedTokens[i] < 0 || feedTokens[i] >= t || feedRows[i] < 0 || feedRows[i] >= src.rows) {
        throw new IllegalArgumentException("feed " + i + ": token " + feedTokens[i] + " of " + t + ", row " + feedRows[i]
            + " of " + src.rows);
      }
    }
    CudaDeviceBatch db = (CudaDeviceBatch) prepare(batch);
    long bytes = 8L * n;
    feedMap.reserve(bytes, Math.max(bytes, 4096));
    try (Arena a = Arena.ofConfined()) {
      MemorySegment host = a.allocate(bytes, 16);
      for (int i = 0; i < n; i++) {
        host.setAtIndex(JAVA_INT, 2L * i, feedTokens[i]);
        host.setAtIndex(JAVA_INT, 2L * i + 1, feedRows[i]);
      }
      cu.memcpyHtoDAsync(feedMap.ptr, host, bytes, stream);
    }
    launch("feed_ids", (n + 255) / 256, 1, 256, db.inputIds, src.ptr, src.stride, feedMap.ptr, n);
    return db;
  }

  @Override
  public boolean supportsSampling() {
    return true;
  }

  /** Samples on the device (sample.cu, {@link CudaSampler}); only ids and logprobs come back. Synchronizes. */
  @Override
  public void sample(Tensor logits, SamplingBatch batch, SampledRows out) {
    sample(logits, batch, out, false, 0L);
  }

  /** {@link #sample}, for checks: the radix path even where top_k sorts, and a kept-token mask (device bytes, or 0). */
  void sample(Tensor logits, SamplingBatch batch, SampledRows out, boolean noSort, long keptMask) {
    CudaTensor c = cuda(logits, "sample logits");
    if (c.dtype() != DType.F32) throw new IllegalArgumentException("sample: logits must be F32, got " + c.dtype());
    if (batch.numRows() > c.rows()) {
      throw new IllegalArgumentException("sample: batch has " + batch.numRows() + " rows, logits " + c.rows());
    }
    bind();
    flush();
    if (sampler == null) sampler = new CudaSampler(cu, stream, kernels, this::alloc, this::free);
    sampler.sample(c.ptr(), c.cols(), batch, out, noSort, keptMask, profiler);
  }

  @Override
  public void close() {
    if (closed) return;
    bind();
    flush();
    cu.streamSynchronize(stream);
    dropGraphs();
    if (sampler != null) sampler.close();
    if (profiler != null) {
      profiler.close();
      profiler = null;
    }
    if (asyncPinned != null) {
      cu.memFreeHost(asyncPinned);
      asyncPinned = null;
    }
    for (int i = 0; i < asyncEvents.length; i++) {
      if (asyncEvents[i] != null) cu.eventDestroy(asyncEvents[i]);
      asyncEvents[i] = null;
    }
    if (pinned != null) {
      cu.memFreeHost(pinned);
      pinned = null;
    }
    synchronized (allocations) {
      for (long p : allocations.keySet()) cu.memFree(p);
      allocations.clear();
      allocatedBytes = 0;
    }
    if (lt != null) lt.close();
    cublas.close();
    kernels.close();
    cu.streamDestroy(stream);
    closed = true;
    cu.primaryCtxRelease(device);
  }

  /**
   * A device allocation that grows to the largest size asked of it and never shrinks. Growing waits for
   * the stream (kernels may still use the old allocation), frees it and allocates anew.
   */
  private final class DeviceBuffer {
    long ptr;
    long bytes;

    /** Holds at least {@code need} bytes afterwards ({@code grownTo} when it grows); true if it moved. */
    boolean reserve(long need, long grownTo) {
      if (need <= bytes) return false;
      if (ptr != 0) {
        cu.streamSynchronize(stream);
        free(ptr);
        ptr = 0;
        bytes = 0;
      }
      ptr = alloc(grownTo);
      bytes = grownTo;
      return true;
    }
  }

  // ---- checks ----

  private CudaTensor cuda(Tensor t, String what) {
    if (t instanceof CudaTensor c && c.owner() == this) return c;
    throw new IllegalArgumentException(what + " is not a tensor of this cuda backend: " + t);
  }

  private CudaTensor bf16(Tensor t, String what) {
    CudaTensor c = cuda(t, what);
    if (c.dtype() != DType.BF16) throw new IllegalArgumentException(what + " must be BF16, got " + c.dtype());
    return c;
  }

  private CudaTensor vector(Tensor t, int n, String what) {
    CudaTensor c = bf16(t, what);
    if ((long) c.rows() * c.cols() != n) {
      throw new IllegalArgumentException(what + " must hold " + n + " values, got " + c.rows() + "x" + c.cols());
    }
    return c;
  }

  private CudaKvCache kv(KvCache cache) {
    if (cache instanceof CudaKvCache c && c.owner() == this) return c;
    throw new IllegalArgumentException("kv cache was not allocated by this cuda backend");
  }

  private static void requireCols(CudaTensor t, int cols, String what) {
    if (t.cols() != cols) throw new IllegalArgumentException(what + " has " + t.cols() + " columns, expected " + cols);
  }

  private static void requireRows(CudaTensor t, int rows, String what) {
    if (t.rows() < rows) throw new IllegalArgumentException(what + " has " + t.rows() + " rows, needs at least " + rows);
  }

  private static void requireGridY(int n, String what) {
    if (n > MAX_GRID_Y) throw new IllegalArgumentException(what + " " + n + " above the grid limit " + MAX_GRID_Y);
  }
}
