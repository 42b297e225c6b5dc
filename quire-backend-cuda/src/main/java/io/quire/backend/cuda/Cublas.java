package io.quire.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * cuBLAS (libcublas.so.13): one handle bound to the backend's stream, and {@code cublasGemmEx} with
 * bf16 inputs, fp32 accumulation ({@code CUBLAS_COMPUTE_32F}) and a bf16 or fp32 output.
 */
final class Cublas implements AutoCloseable {
  static final int OP_N = 0, OP_T = 1;
  static final int CUDA_R_32F = 0, CUDA_R_16BF = 14;
  static final int COMPUTE_32F = 68;
  static final int GEMM_DEFAULT = -1;

  private static volatile NativeLibrary lib;

  private final MethodHandle destroy, gemmEx;
  private final MemorySegment handle;
  private final Arena arena = Arena.ofShared();
  private final MemorySegment alpha, beta0, beta1;
  private final MethodHandle setWorkspace;

  Cublas(MemorySegment stream) {
    NativeLibrary l = library();
    MethodHandle create = l.fn("cublasCreate_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    MethodHandle setStream = l.fn("cublasSetStream_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    destroy = l.fn("cublasDestroy_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    setWorkspace = l.fn("cublasSetWorkspace_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    gemmEx = l.fn("cublasGemmEx", FunctionDescriptor.of(JAVA_INT,
        ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
        ADDRESS, ADDRESS, JAVA_INT, JAVA_INT,
        ADDRESS, JAVA_INT, JAVA_INT,
        ADDRESS, ADDRESS, JAVA_INT, JAVA_INT,
        JAVA_INT, JAVA_INT));
    MemorySegment p = arena.allocate(ADDRESS);
    check(NativeCalls.callInt(() -> (int) create.invokeExact(p)), "cublasCreate");
    handle = p.get(ADDRESS, 0);
    check(NativeCalls.callInt(() -> (int) setStream.invokeExact(handle, stream)), "cublasSetStream");
    alpha = arena.allocateFrom(JAVA_FLOAT, 1f);
    beta0 = arena.allocateFrom(JAVA_FLOAT, 0f);
    beta1 = arena.allocateFrom(JAVA_FLOAT, 1f);
  }

  /**
   * Gives cuBLAS a workspace of our own (device pointer, bytes), so that no call allocates one: a
   * GEMM captured into a CUDA graph then replays against memory that stays put.
   */
  void workspace(long ptr, long bytes) {
    check(NativeCalls.callInt(() -> (int) setWorkspace.invokeExact(handle, ptr, bytes)), "cublasSetWorkspace");
  }

  static NativeLibrary library() {
    NativeLibrary l = lib;
    if (l == null) {
      synchronized (Cublas.class) {
        if (lib == null) lib = NativeLibrary.open("libcublas.so.13", "libcublas.so");
        l = lib;
      }
    }
    return l;
  }

  /**
   * Row-major {@code out[T, N] = x[T, K] @ w[N, K]^T (+ out if accumulate)}. In cuBLAS's column-major
   * terms that is out^T (N x T) = w^T' (N x K) * x^T (K x T), so w goes first, transposed.
   */
  void matmul(long x, long w, long out, int outType, int t, int n, int k, boolean accumulate) {
    MemorySegment beta = accumulate ? beta1 : beta0;
    int rc = NativeCalls.callInt(() -> (int) gemmEx.invokeExact(handle, OP_T, OP_N, n, t, k,
        alpha, MemorySegment.ofAddress(w), CUDA_R_16BF, k,
        MemorySegment.ofAddress(x), CUDA_R_16BF, k,
        beta, MemorySegment.ofAddress(out), outType, n,
        COMPUTE_32F, GEMM_DEFAULT));
    if (rc != 0) {
      throw new CudaException("cublasGemmEx(m=" + n + ", n=" + t + ", k=" + k + ") failed: " + name(rc) + " (" + rc + ")");
    }
  }

  private void check(int rc, String function) {
    if (rc != 0) throw new CudaException(function + " failed: " + name(rc) + " (" + rc + ")");
  }

  private String name(int rc) {
    return statusName(rc);
  }

  /** cuBLAS's name of a status code (cuBLASLt's codes are the same). */
  static String statusName(int rc) {
    try {
      MethodHandle h = library().fn("cublasGetStatusName", FunctionDescriptor.of(ADDRESS, JAVA_INT));
      MemorySegment s = (MemorySegment) h.invokeExact(rc);
      return s.reinterpret(128).getString(0);
    } catch (Throwable t) {
      return "cuBLAS status " + rc;
    }
  }

  @Override
  public void close() {
    NativeCalls.callInt(() -> (int) destroy.invokeExact(handle));
    arena.close();
  }
}
