package io.quire.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * cuBLASLt (libcublasLt.so.13) for the row-major {@code out[t, n] = x[t, k] @ w[n, k]^T (+ out)} of
 * {@link Cublas#matmul}, with the algorithm chosen by the caller among those cuBLASLt's heuristic offers:
 * a {@link Plan} holds one shape's descriptors and candidate algorithms. bf16 inputs, fp32 accumulation
 * and scale, bf16 or fp32 output; one workspace of the caller's (so that graphs capture no allocation).
 */
final class CublasLt implements AutoCloseable {
  // cublasLtMatmulDescAttributes_t and cublasLtMatmulPreferenceAttributes_t (cublasLt.h).
  private static final int DESC_TRANSA = 3, DESC_TRANSB = 4, PREF_MAX_WORKSPACE_BYTES = 1;
  /** sizeof(cublasLtMatmulHeuristicResult_t): the 64-byte algo, size_t workspace, status, waves, int[4]. */
  private static final int RESULT_BYTES = 96, ALGO_BYTES = 64;

  private static volatile NativeLibrary lib;

  private final MethodHandle destroy, descCreate, descDestroy, descSet, layoutCreate, layoutDestroy, prefCreate,
      prefDestroy, prefSet, heuristic, matmul;
  private final Arena arena = Arena.ofShared();
  private final MemorySegment handle, stream, alpha, beta0, beta1, pref;
  private final long workspace, workspaceBytes;

  /** One candidate: the opaque algorithm, the workspace it needs, and cuBLASLt's waves estimate. */
  record Algo(int index, MemorySegment data, long workspaceBytes, float waves) {}

  /** One shape's matmul descriptor and matrix layouts, and the algorithms the heuristic returned for it. */
  final class Plan implements AutoCloseable {
    final int n, t, k, outType;
    final List<Algo> algos;
    private final MemorySegment desc, a, b, c;

    private Plan(int n, int t, int k, int outType, int maxAlgos) {
      this.n = n;
      this.t = t;
      this.k = k;
      this.outType = outType;
      try (Arena tmp = Arena.ofConfined()) {
        MemorySegment p = tmp.allocate(ADDRESS);
        check(NativeCalls.callInt(() -> (int) descCreate.invokeExact(p, Cublas.COMPUTE_32F, Cublas.CUDA_R_32F)),
            "cublasLtMatmulDescCreate");
        desc = p.get(ADDRESS, 0);
        MemorySegment op = tmp.allocateFrom(JAVA_INT, Cublas.OP_T);
        check(NativeCalls.callInt(() -> (int) descSet.invokeExact(desc, DESC_TRANSA, op, 4L)), "cublasLtMatmulDescSetAttribute");
        MemorySegment opN = tmp.allocateFrom(JAVA_INT, Cublas.OP_N);
        check(NativeCalls.callInt(() -> (int) descSet.invokeExact(desc, DESC_TRANSB, opN, 4L)), "cublasLtMatmulDescSetAttribute");
        // Column-major: w is k x n (ld k, transposed), x is k x t (ld k), out is n x t (ld n).
        a = layout(tmp, Cublas.CUDA_R_16BF, k, n, k);
        b = layout(tmp, Cublas.CUDA_R_16BF, k, t, k);
        c = layout(tmp, outType, n, t, n);
        MemorySegment results = tmp.allocate((long) RESULT_BYTES * maxAlgos, 8);
        MemorySegment count = tmp.allocate(JAVA_INT);
        check(NativeCalls.callInt(() -> (int) heuristic.invokeExact(handle, desc, a, b, c, c, pref, maxAlgos, results, count)),
            "cublasLtMatmulAlgoGetHeuristic(m=" + n + ", n=" + t + ", k=" + k + ")");
        List<Algo> list = new ArrayList<>();
        for (int i = 0; i < count.get(JAVA_INT, 0); i++) {
          MemorySegment r = results.asSlice((long) i * RESULT_BYTES, RESULT_BYTES);
          if (r.get(JAVA_INT, ALGO_BYTES + 8) != 0) continue;  // this candidate's state is not SUCCESS
          MemorySegment algo = arena.allocate(ALGO_BYTES, 8);
          algo.copyFrom(r.asSlice(0, ALGO_BYTES));
          list.add(new Algo(i, algo, r.get(JAVA_LONG, ALGO_BYTES), r.get(JAVA_FLOAT, ALGO_BYTES + 12)));
        }
        algos = List.copyOf(list);
      }
    }

    private MemorySegment layout(Arena tmp, int type, long rows, long cols, long ld) {
      MemorySegment p = tmp.allocate(ADDRESS);
      check(NativeCalls.callInt(() -> (int) layoutCreate.invokeExact(p, type, rows, cols, ld)), "cublasLtMatrixLayoutCreate");
      return p.get(ADDRESS, 0);
    }

    /** Runs algorithm {@code algo} of this plan on the workspace's stream. */
    void run(Algo algo, long x, long w, long out, boolean accumulate) {
      MemorySegment beta = accumulate ? beta1 : beta0;
      MemorySegment o = MemorySegment.ofAddress(out);
      int rc = NativeCalls.callInt(() -> (int) matmul.invokeExact(handle, desc, alpha, MemorySegment.ofAddress(w), a,
          MemorySegment.ofAddress(x), b, beta, o, c, o, c, algo.data(), MemorySegment.ofAddress(workspace), workspaceBytes,
          stream));
      if (rc != 0) {
        throw new CudaException("cublasLtMatmul(m=" + n + ", n=" + t + ", k=" + k + ", algo " + algo.index() + ") failed: "
            + Cublas.statusName(rc) + " (" + rc + ")");
      }
    }

    @Override
    public void close() {
      NativeCalls.callInt(() -> (int) layoutDestroy.invokeExact(a));
      NativeCalls.callInt(() -> (int) layoutDestroy.invokeExact(b));
      NativeCalls.callInt(() -> (int) layoutDestroy.invokeExact(c));
      NativeCalls.callInt(() -> (int) descDestroy.invokeExact(desc));
    }
  }

  CublasLt(MemorySegment stream, long workspace, long workspaceBytes) {
    NativeLibrary l = library();
    MethodHandle create = l.fn("cublasLtCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    destroy = l.fn("cublasLtDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    descCreate = l.fn("cublasLtMatmulDescCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    descDestroy = l.fn("cublasLtMatmulDescDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    descSet = l.fn("cublasLtMatmulDescSetAttribute", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG));
    layoutCreate = l.fn("cublasLtMatrixLayoutCreate",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG));
    layoutDestroy = l.fn("cublasLtMatrixLayoutDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    prefCreate = l.fn("cublasLtMatmulPreferenceCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    prefDestroy = l.fn("cublasLtMatmulPreferenceDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    prefSet = l.fn("cublasLtMatmulPreferenceSetAttribute",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG));
    heuristic = l.fn("cublasLtMatmulAlgoGetHeuristic", FunctionDescriptor.of(JAVA_INT,
        ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
    matmul = l.fn("cublasLtMatmul", FunctionDescriptor.of(JAVA_INT,
        ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
        ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    this.stream = stream;
    this.workspace = workspace;
    this.workspaceBytes = workspaceBytes;
    MemorySegment p = arena.allocate(ADDRESS);
    check(NativeCalls.callInt(() -> (int) create.invokeExact(p)), "cublasLtCreate");
    handle = p.get(ADDRESS, 0);
    check(NativeCalls.callInt(() -> (int) prefCreate.invokeExact(p)), "cublasLtMatmulPreferenceCreate");
    pref = p.get(ADDRESS, 0);
    MemorySegment ws = arena.allocateFrom(JAVA_LONG, workspaceBytes);
    check(NativeCalls.callInt(() -> (int) prefSet.invokeExact(pref, PREF_MAX_WORKSPACE_BYTES, ws, 8L)),
        "cublasLtMatmulPreferenceSetAttribute");
    alpha = arena.allocateFrom(JAVA_FLOAT, 1f);
    beta0 = arena.allocateFrom(JAVA_FLOAT, 0f);
    beta1 = arena.allocateFrom(JAVA_FLOAT, 1f);
  }

  static NativeLibrary library() {
    NativeLibrary l = lib;
    if (l == null) {
      synchronized (CublasLt.class) {
        if (lib == null) lib = NativeLibrary.open("libcublasLt.so.13", "libcublasLt.so");
        l = lib;
      }
    }
    return l;
  }

  /** The descriptors of out[t, n] = x[t, k] w[n, k]^T and up to maxAlgos algorithms, best guess first. */
  Plan plan(int n, int t, int k, int outType, int maxAlgos) {
    return new Plan(n, t, k, outType, maxAlgos);
  }

  private static void check(int rc, String function) {
    if (rc != 0) throw new CudaException(function + " failed: " + Cublas.statusName(rc) + " (" + rc + ")");
  }

  @Override
  public void close() {
    NativeCalls.callInt(() -> (int) prefDestroy.invokeExact(pref));
    NativeCalls.callInt(() -> (int) destroy.invokeExact(handle));
    arena.close();
  }
}
