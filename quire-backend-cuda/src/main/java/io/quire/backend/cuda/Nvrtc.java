package io.quire.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.Map;

/** NVRTC (libnvrtc.so.13): CUDA C++ source to a CUBIN for one architecture. */
final class Nvrtc {
  private static volatile Nvrtc instance;

  private final MethodHandle create, compile, logSize, log, cubinSize, cubin, destroy, errorString, version;

  private Nvrtc(NativeLibrary lib) {
    create = lib.fn("nvrtcCreateProgram",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
    compile = lib.fn("nvrtcCompileProgram", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
    logSize = lib.fn("nvrtcGetProgramLogSize", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    log = lib.fn("nvrtcGetProgramLog", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    cubinSize = lib.fn("nvrtcGetCUBINSize", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    cubin = lib.fn("nvrtcGetCUBIN", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    destroy = lib.fn("nvrtcDestroyProgram", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    errorString = lib.fn("nvrtcGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    version = lib.fn("nvrtcVersion", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
  }

  static Nvrtc get() {
    Nvrtc n = instance;
    if (n == null) {
      synchronized (Nvrtc.class) {
        n = instance;
        if (n == null) {
          n = new Nvrtc(NativeLibrary.open("libnvrtc.so.13", "libnvrtc.so"));
          instance = n;
        }
      }
    }
    return n;
  }

  /** "major.minor" of this NVRTC; part of the kernel cache key. */
  String version() {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment ma = a.allocate(JAVA_INT), mi = a.allocate(JAVA_INT);
      check(NativeCalls.callInt(() -> (int) version.invokeExact(ma, mi)), "nvrtcVersion");
      return ma.get(JAVA_INT, 0) + "." + mi.get(JAVA_INT, 0);
    }
  }

  /**
   * Compiles {@code source} with the given in-memory headers (include name to text) into a CUBIN.
   * A compile error throws CudaException with NVRTC's log.
   */
  byte[] compileToCubin(String name, String source, Map<String, String> headers, List<String> options) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment progPtr = a.allocate(ADDRESS);
      MemorySegment hdrs = a.allocate(ADDRESS, Math.max(1, headers.size()));
      MemorySegment incs = a.allocate(ADDRESS, Math.max(1, headers.size()));
      int i = 0;
      for (Map.Entry<String, String> e : headers.entrySet()) {
        incs.setAtIndex(ADDRESS, i, a.allocateFrom(e.getKey()));
        hdrs.setAtIndex(ADDRESS, i, a.allocateFrom(e.getValue()));
        i++;
      }
      MemorySegment src = a.allocateFrom(source), nm = a.allocateFrom(name);
      int nh = headers.size();
      check(NativeCalls.callInt(() -> (int) create.invokeExact(progPtr, src, nm, nh, hdrs, incs)), "nvrtcCreateProgram");
      MemorySegment prog = progPtr.get(ADDRESS, 0);
      try {
        MemorySegment opts = a.allocate(ADDRESS, Math.max(1, options.size()));
        for (int k = 0; k < options.size(); k++) opts.setAtIndex(ADDRESS, k, a.allocateFrom(options.get(k)));
        int no = options.size();
        int rc = NativeCalls.callInt(() -> (int) compile.invokeExact(prog, no, opts));
        if (rc != 0) {
          throw new CudaException("nvrtcCompileProgram(" + name + ", " + options + ") failed: " + error(rc)
              + "\n" + programLog(a, prog));
        }
        MemorySegment size = a.allocate(JAVA_LONG);
        check(NativeCalls.callInt(() -> (int) cubinSize.invokeExact(prog, size)), "nvrtcGetCUBINSize");
        long n = size.get(JAVA_LONG, 0);
        if (n == 0) throw new CudaException("NVRTC produced no CUBIN for " + name + " with " + options);
        MemorySegment out = a.allocate(n);
        check(NativeCalls.callInt(() -> (int) cubin.invokeExact(prog, out)), "nvrtcGetCUBIN");
        return out.toArray(JAVA_BYTE);
      } finally {
        NativeCalls.callInt(() -> (int) destroy.invokeExact(progPtr));
      }
    }
  }

  private String programLog(Arena a, MemorySegment prog) {
    MemorySegment size = a.allocate(JAVA_LONG);
    if (NativeCalls.callInt(() -> (int) logSize.invokeExact(prog, size)) != 0) return "(no log)";
    MemorySegment text = a.allocate(Math.max(1, size.get(JAVA_LONG, 0)));
    if (NativeCalls.callInt(() -> (int) log.invokeExact(prog, text)) != 0) return "(no log)";
    return text.getString(0);
  }

  private void check(int rc, String function) {
    if (rc != 0) throw new CudaException(function + " failed: " + error(rc) + " (" + rc + ")");
  }

  private String error(int rc) {
    MemorySegment s = (MemorySegment) NativeCalls.callObject(() -> (MemorySegment) errorString.invokeExact(rc));
    return s.reinterpret(256).getString(0);
  }
}
