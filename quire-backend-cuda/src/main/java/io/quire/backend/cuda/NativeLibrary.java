package io.quire.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A shared library opened through the loader path first (LD_LIBRARY_PATH, ld.so.cache), then under
 * CUDA_HOME (default /usr/local/cuda), and its functions as downcall handles.
 */
final class NativeLibrary {
  private static final Linker LINKER = Linker.nativeLinker();

  private final String name;
  private final SymbolLookup lookup;

  private NativeLibrary(String name, SymbolLookup lookup) {
    this.name = name;
    this.lookup = lookup;
  }

  /** Opens the first of {@code names} that loads; throws CudaException naming every place tried. */
  static NativeLibrary open(String... names) {
    List<String> tried = new ArrayList<>();
    for (String n : names) {
      try {
        return new NativeLibrary(n, SymbolLookup.libraryLookup(n, Arena.global()));
      } catch (IllegalArgumentException e) {
        tried.add(n);
      }
      for (Path dir : cudaLibDirs()) {
        Path p = dir.resolve(n);
        if (Files.exists(p)) {
          try {
            return new NativeLibrary(n, SymbolLookup.libraryLookup(p, Arena.global()));
          } catch (IllegalArgumentException e) {
            tried.add(p + " (" + e.getMessage() + ")");
          }
        } else {
          tried.add(p.toString());
        }
      }
    }
    throw new CudaException("cannot load " + String.join(" or ", names) + "; tried " + String.join(", ", tried));
  }

  static List<Path> cudaLibDirs() {
    String home = System.getenv("CUDA_HOME");
    Path h = Path.of(home == null || home.isBlank() ? "/usr/local/cuda" : home);
    return List.of(h.resolve("targets/x86_64-linux/lib"), h.resolve("lib64"), h.resolve("lib"));
  }

  MethodHandle fn(String symbol, FunctionDescriptor fd) {
    MemorySegment addr = lookup.find(symbol)
        .orElseThrow(() -> new CudaException(name + " has no function " + symbol + " (library too old?)"));
    return LINKER.downcallHandle(addr, fd);
  }

  String name() {
    return name;
  }
}
