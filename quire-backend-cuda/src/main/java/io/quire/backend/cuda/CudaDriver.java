package io.quire.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * The CUDA driver API functions Quire uses (libcuda.so.1), bound by hand through FFM. Every non-zero
 * CUresult becomes a {@link CudaException} with the function and the error name.
 */
final class CudaDriver {
  static final int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
  static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
  static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;

  private static volatile CudaDriver instance;

  private final MethodHandle cuInit, cuDriverGetVersion, cuGetErrorName, cuDeviceGetCount, cuDeviceGet,
      cuDeviceGetName, cuDeviceGetAttribute, cuDeviceTotalMem, cuDevicePrimaryCtxRetain,
      cuDevicePrimaryCtxRelease, cuCtxSetCurrent, cuMemGetInfo, cuMemAlloc, cuMemFree, cuMemsetD8Async,
      cuMemcpyHtoDAsync, cuMemcpyDtoHAsync, cuMemcpyDtoDAsync, cuStreamCreate, cuStreamSynchronize,
      cuStreamDestroy, cuModuleLoadData, cuModuleGetFunction, cuLaunchKernel, cuMemAllocHost, cuMemFreeHost,
      cuEventCreate, cuEventRecord, cuEventSynchronize, cuEventElapsedTime, cuEventDestroy;
  /** Stream capture and graphs: cuStreamBeginCapture_v2, cuStreamEndCapture, cuGraphInstantiateWithFlags, cuGraphLaunch, cuGraphExecDestroy, cuGraphDestroy. */
  private final MethodHandle cuStreamBeginCapture, cuStreamEndCapture, cuGraphInstantiate, cuGraphLaunch,
      cuGraphExecDestroy, cuGraphDestroy, cuFuncSetAttribute;
  static final int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
  static final int CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;
  /** cuLaunchKernelEx (CUDA 12+), or null where the driver lacks it. */
  private final MethodHandle cuLaunchKernelEx;
  /** CUlaunchConfig: grid x/y/z, block x/y/z, shared bytes (7 uints), stream at 32, attrs at 40, count at 48. */
  static final long LAUNCH_CONFIG_BYTES = 56;
  /** CUlaunchAttribute: id (uint) padded to 8, then a 64-byte value union. */
  static final long LAUNCH_ATTRIBUTE_BYTES = 72;
  static final int CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;

  private CudaDriver(NativeLibrary lib) {
    FunctionDescriptor i_i = FunctionDescriptor.of(JAVA_INT, JAVA_INT);
    FunctionDescriptor i_p = FunctionDescriptor.of(JAVA_INT, ADDRESS);
    cuInit = lib.fn("cuInit", i_i);
    cuDriverGetVersion = lib.fn("cuDriverGetVersion", i_p);
    cuGetErrorName = lib.fn("cuGetErrorName", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    cuDeviceGetCount = lib.fn("cuDeviceGetCount", i_p);
    cuDeviceGet = lib.fn("cuDeviceGet", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    cuDeviceGetName = lib.fn("cuDeviceGetName", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    cuDeviceGetAttribute = lib.fn("cuDeviceGetAttribute", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    cuDeviceTotalMem = lib.fn("cuDeviceTotalMem_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    cuDevicePrimaryCtxRetain = lib.fn("cuDevicePrimaryCtxRetain", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    cuDevicePrimaryCtxRelease = lib.fn("cuDevicePrimaryCtxRelease_v2", i_i);
    cuCtxSetCurrent = lib.fn("cuCtxSetCurrent", i_p);
    cuMemGetInfo = lib.fn("cuMemGetInfo_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    cuMemAlloc = lib.fn("cuMemAlloc_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    cuMemFree = lib.fn("cuMemFree_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
    cuMemsetD8Async = lib.fn("cuMemsetD8Async", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_BYTE, JAVA_LONG, ADDRESS));
    cuMemcpyHtoDAsync = lib.fn("cuMemcpyHtoDAsync_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS));
    cuMemcpyDtoHAsync = lib.fn("cuMemcpyDtoHAsync_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));
    cuMemcpyDtoDAsync = lib.fn("cuMemcpyDtoDAsync_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS));
    cuStreamCreate = lib.fn("cuStreamCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    cuStreamSynchronize = lib.fn("cuStreamSynchronize", i_p);
    cuStreamDestroy = lib.fn("cuStreamDestroy_v2", i_p);
    cuModuleLoadData = lib.fn("cuModuleLoadData", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    cuModuleGetFunction = lib.fn("cuModuleGetFunction", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    cuLaunchKernel = lib.fn("cuLaunchKernel", FunctionDescriptor.of(JAVA_INT, ADDRESS,
        JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    MethodHandle ex;
    try {
      ex = lib.fn("cuLaunchKernelEx", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    } catch (CudaException e) {
      ex = null;
    }
    cuLaunchKernelEx = ex;
    cuStreamBeginCapture = lib.fn("cuStreamBeginCapture_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    cuStreamEndCapture = lib.fn("cuStreamEndCapture", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    cuGraphInstantiate = lib.fn("cuGraphInstantiateWithFlags", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
    cuGraphLaunch = lib.fn("cuGraphLaunch", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    cuGraphExecDestroy = lib.fn("cuGraphExecDestroy", i_p);
    cuGraphDestroy = lib.fn("cuGraphDestroy", i_p);
    cuFuncSetAttribute = lib.fn("cuFuncSetAttribute", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    cuMemAllocHost = lib.fn("cuMemAllocHost_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    cuMemFreeHost = lib.fn("cuMemFreeHost", i_p);
    cuEventCreate = lib.fn("cuEventCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    cuEventRecord = lib.fn("cuEventRecord", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    cuEventSynchronize = lib.fn("cuEventSynchronize", i_p);
    cuEventElapsedTime = lib.fn("cuEventElapsedTime_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    cuEventDestroy = lib.fn("cuEventDestroy_v2", i_p);
  }

  /** The driver, loaded and initialised once; throws CudaException with a one-line reason. */
  static CudaDriver get() {
    CudaDriver d = instance;
    if (d == null) {
      synchronized (CudaDriver.class) {
        d = instance;
        if (d == null) {
          NativeLibrary lib;
          try {
            lib = NativeLibrary.open("libcuda.so.1", "libcuda.so");
          } catch (CudaException e) {
            throw new CudaException("no NVIDIA driver: " + e.getMessage());
          }
          CudaDriver fresh = new CudaDriver(lib);
          fresh.check(NativeCalls.callInt(() -> (int) fresh.cuInit.invokeExact(0)), "cuInit");
          instance = d = fresh;
        }
      }
    }
    return d;
  }

  /** Calls a driver function that returns a handle through its first out-parameter {@code p}. */
  private MemorySegment handle(java.util.function.ToIntFunction<MemorySegment> call, String function) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment p = a.allocate(ADDRESS);
      check(call.applyAsInt(p), function);
      return p.get(ADDRESS, 0);
    }
  }

  void check(int rc, String function) {
    if (rc != 0) {
      throw new CudaException(function + " failed: " + errorName(rc) + " (" + rc + ")");
    }
  }

  String errorName(int rc) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment p = a.allocate(ADDRESS);
      int r = NativeCalls.callInt(() -> (int) cuGetErrorName.invokeExact(rc, p));
      if (r != 0) return "CUDA error " + rc;
      return p.get(ADDRESS, 0).reinterpret(256).getString(0);
    }
  }

  int driverVersion() {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment p = a.allocate(JAVA_INT);
      check(NativeCalls.callInt(() -> (int) cuDriverGetVersion.invokeExact(p)), "cuDriverGetVersion");
      return p.get(JAVA_INT, 0);
    }
  }

  int deviceCount() {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment p = a.allocate(JAVA_INT);
      check(NativeCalls.callInt(() -> (int) cuDeviceGetCount.invokeExact(p)), "cuDeviceGetCount");
      return p.get(JAVA_INT, 0);
    }
  }

  int device(int ordinal) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment p = a.allocate(JAVA_INT);
      check(NativeCalls.callInt(() -> (int) cuDeviceGet.invokeExact(p, ordinal)), "cuDeviceGet");
      return p.get(JAVA_INT, 0);
    }
  }

  String deviceName(int dev) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment p = a.allocate(256);
      check(NativeCalls.callInt(() -> (int) cuDeviceGetName.invokeExact(p, 256, dev)), "cuDeviceGetName");
      return p.getString(0);
    }
  }

  int attribute(int attr, int dev) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment p = a.allocate(JAVA_INT);
      check(NativeCalls.callInt(() -> (int) cuDeviceGetAttribute.invokeExact(p, attr, dev)), "cuDeviceGetAttribute");
      return p.get(JAVA_INT, 0);
    }
  }

  long totalMem(int dev) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment p = a.allocate(JAVA_LONG);
      check(NativeCalls.callInt(() -> (int) cuDeviceTotalMem.invokeExact(p, dev)), "cuDeviceTotalMem");
      return p.get(JAVA_LONG, 0);
    }
  }

  MemorySegment primaryCtxRetain(int dev) {
    return handle(p -> NativeCalls.callInt(() -> (int) cuDevicePrimaryCtxRetain.invokeExact(p, dev)), "cuDevicePrimaryCtxRetain");
  }

  void primaryCtxRelease(int dev) {
    check(NativeCalls.callInt(() -> (int) cuDevicePrimaryCtxRelease.invokeExact(dev)), "cuDevicePrimaryCtxRelease");
  }

  void ctxSetCurrent(MemorySegment ctx) {
    check(NativeCalls.callInt(() -> (int) cuCtxSetCurrent.invokeExact(ctx)), "cuCtxSetCurrent");
  }

  /** {free, total} bytes of the current context's device. */
  long[] memGetInfo() {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment f = a.allocate(JAVA_LONG), t = a.allocate(JAVA_LONG);
      check(NativeCalls.callInt(() -> (int) cuMemGetInfo.invokeExact(f, t)), "cuMemGetInfo");
      return new long[] {f.get(JAVA_LONG, 0), t.get(JAVA_LONG, 0)};
    }
  }

  long memAlloc(long bytes) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment p = a.allocate(JAVA_LONG);
      int rc = NativeCalls.callInt(() -> (int) cuMemAlloc.invokeExact(p, bytes));
      if (rc != 0) {
        throw new CudaException("cuMemAlloc of " + bytes + " bytes failed: " + errorName(rc) + " (" + rc + ")");
      }
      return p.get(JAVA_LONG, 0);
    }
  }

  void memFree(long ptr) {
    check(NativeCalls.callInt(() -> (int) cuMemFree.invokeExact(ptr)), "cuMemFree");
  }

  void memsetD8Async(long ptr, byte value, long bytes, MemorySegment stream) {
    check(NativeCalls.callInt(() -> (int) cuMemsetD8Async.invokeExact(ptr, value, bytes, stream)), "cuMemsetD8Async");
  }

  /** From pageable memory the driver stages the bytes before returning, so src may be reused at once. */
  void memcpyHtoDAsync(long dst, MemorySegment src, long bytes, MemorySegment stream) {
    check(NativeCalls.callInt(() -> (int) cuMemcpyHtoDAsync.invokeExact(dst, src, bytes, stream)), "cuMemcpyHtoDAsync");
  }

  /** Into pageable memory this returns only once the copy has completed. */
  void memcpyDtoHAsync(MemorySegment dst, long src, long bytes, MemorySegment stream) {
    check(NativeCalls.callInt(() -> (int) cuMemcpyDtoHAsync.invokeExact(dst, src, bytes, stream)), "cuMemcpyDtoHAsync");
  }

  void memcpyDtoDAsync(long dst, long src, long bytes, MemorySegment stream) {
    check(NativeCalls.callInt(() -> (int) cuMemcpyDtoDAsync.invokeExact(dst, src, bytes, stream)), "cuMemcpyDtoDAsync");
  }

  MemorySegment streamCreate() {
    return handle(p -> NativeCalls.callInt(() -> (int) cuStreamCreate.invokeExact(p, 0)), "cuStreamCreate");
  }

  void streamSynchronize(MemorySegment stream) {
    check(NativeCalls.callInt(() -> (int) cuStreamSynchronize.invokeExact(stream)), "cuStreamSynchronize");
  }

  void streamDestroy(MemorySegment stream) {
    check(NativeCalls.callInt(() -> (int) cuStreamDestroy.invokeExact(stream)), "cuStreamDestroy");
  }

  MemorySegment moduleLoadData(byte[] image) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment img = a.allocate(image.length + 1L, 16);
      MemorySegment.copy(image, 0, img, JAVA_BYTE, 0, image.length);
      MemorySegment p = a.allocate(ADDRESS);
      check(NativeCalls.callInt(() -> (int) cuModuleLoadData.invokeExact(p, img)), "cuModuleLoadData");
      return p.get(ADDRESS, 0);
    }
  }

  MemorySegment moduleGetFunction(MemorySegment module, String name) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment p = a.allocate(ADDRESS);
      MemorySegment n = a.allocateFrom(name);
      int rc = NativeCalls.callInt(() -> (int) cuModuleGetFunction.invokeExact(p, module, n));
      if (rc != 0) throw new CudaException("cuModuleGetFunction(" + name + ") failed: " + errorName(rc));
      return p.get(ADDRESS, 0);
    }
  }

  void launchKernel(MemorySegment f, int gx, int gy, int gz, int bx, int by, int bz, int smem,
      MemorySegment stream, MemorySegment params, String name) {
    int rc = NativeCalls.callInt(() -> (int) cuLaunchKernel.invokeExact(
        f, gx, gy, gz, bx, by, bz, smem, stream, params, MemorySegment.NULL));
    if (rc != 0) {
      throw new CudaException("cuLaunchKernel(" + name + ", grid " + gx + "x" + gy + "x" + gz + ", block "
          + bx + "x" + by + "x" + bz + ") failed: " + errorName(rc) + " (" + rc + ")");
    }
  }

  /** cuFuncSetAttribute: e.g. lets a kernel take more than 48 KB of dynamic shared memory. */
  void funcSetAttribute(MemorySegment f, int attribute, int value, String name) {
    check(NativeCalls.callInt(() -> (int) cuFuncSetAttribute.invokeExact(f, attribute, value)), "cuFuncSetAttribute(" + name + ")");
  }

  /** Starts capturing the work enqueued on {@code stream} by this thread into a graph. */
  void streamBeginCapture(MemorySegment stream) {
    check(NativeCalls.callInt(() -> (int) cuStreamBeginCapture.invokeExact(stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)),
        "cuStreamBeginCapture");
  }

  /**
   * Ends the capture on {@code stream}; returns the graph, or throws (the stream leaves capture mode
   * either way, and a failed capture leaves no graph).
   */
  MemorySegment streamEndCapture(MemorySegment stream) {
    return handle(p -> NativeCalls.callInt(() -> (int) cuStreamEndCapture.invokeExact(stream, p)), "cuStreamEndCapture");
  }

  MemorySegment graphInstantiate(MemorySegment graph) {
    return handle(p -> NativeCalls.callInt(() -> (int) cuGraphInstantiate.invokeExact(p, graph, 0L)), "cuGraphInstantiateWithFlags");
  }

  void graphLaunch(MemorySegment exec, MemorySegment stream) {
    check(NativeCalls.callInt(() -> (int) cuGraphLaunch.invokeExact(exec, stream)), "cuGraphLaunch");
  }

  void graphExecDestroy(MemorySegment exec) {
    check(NativeCalls.callInt(() -> (int) cuGraphExecDestroy.invokeExact(exec)), "cuGraphExecDestroy");
  }

  void graphDestroy(MemorySegment graph) {
    check(NativeCalls.callInt(() -> (int) cuGraphDestroy.invokeExact(graph)), "cuGraphDestroy");
  }

  boolean hasLaunchKernelEx() {
    return cuLaunchKernelEx != null;
  }

  /**
   * cuLaunchKernelEx with a prepared CUlaunchConfig (see {@link #LAUNCH_CONFIG_BYTES}); the caller
   * fills grid, block, stream and attributes.
   */
  void launchKernelEx(MemorySegment config, MemorySegment f, MemorySegment params, String name) {
    int rc = NativeCalls.callInt(() -> (int) cuLaunchKernelEx.invokeExact(config, f, params, MemorySegment.NULL));
    if (rc != 0) {
      throw new CudaException("cuLaunchKernelEx(" + name + ", grid " + config.get(JAVA_INT, 0) + "x"
          + config.get(JAVA_INT, 4) + "x" + config.get(JAVA_INT, 8) + ", block " + config.get(JAVA_INT, 12)
          + ") failed: " + errorName(rc) + " (" + rc + ")");
    }
  }

  /** Page-locked host memory of {@code bytes} (so device-to-host copies run at full speed). */
  MemorySegment memAllocHost(long bytes) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment p = a.allocate(ADDRESS);
      int rc = NativeCalls.callInt(() -> (int) cuMemAllocHost.invokeExact(p, bytes));
      if (rc != 0) {
        throw new CudaException("cuMemAllocHost of " + bytes + " bytes failed: " + errorName(rc) + " (" + rc + ")");
      }
      return p.get(ADDRESS, 0).reinterpret(bytes);
    }
  }

  void memFreeHost(MemorySegment p) {
    check(NativeCalls.callInt(() -> (int) cuMemFreeHost.invokeExact(p)), "cuMemFreeHost");
  }

  MemorySegment eventCreate() {
    return handle(p -> NativeCalls.callInt(() -> (int) cuEventCreate.invokeExact(p, 0)), "cuEventCreate");
  }

  void eventRecord(MemorySegment event, MemorySegment stream) {
    check(NativeCalls.callInt(() -> (int) cuEventRecord.invokeExact(event, stream)), "cuEventRecord");
  }

  void eventSynchronize(MemorySegment event) {
    check(NativeCalls.callInt(() -> (int) cuEventSynchronize.invokeExact(event)), "cuEventSynchronize");
  }

  /** Milliseconds between two completed events. */
  float eventElapsed(MemorySegment start, MemorySegment end, MemorySegment scratch) {
    check(NativeCalls.callInt(() -> (int) cuEventElapsedTime.invokeExact(scratch, start, end)), "cuEventElapsedTime");
    return scratch.get(JAVA_FLOAT, 0);
  }

  void eventDestroy(MemorySegment event) {
    check(NativeCalls.callInt(() -> (int) cuEventDestroy.invokeExact(event)), "cuEventDestroy");
  }
}
