package io.quire.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;

/**
 * The kernels of {@code resources/io/quire/backend/cuda/kernels/*.cu}, compiled by NVRTC for the
 * device's architecture at startup and cached on disk by (source hash, arch), and their launches.
 * Cache folder: {@code QUIRE_CUDA_CACHE}, else {@code ~/.cache/quire/cuda-kernels}.
 */
final class Kernels {
  private static final Logger LOG = Logger.getLogger(Kernels.class.getName());
  private static final String DIR = "/io/quire/backend/cuda/kernels/";
  /** Each file and the kernels it defines. */
  private static final Map<String, List<String>> FILES = Map.ofEntries(
      Map.entry("embedding.cu", List.of("embedding")),
      Map.entry("rmsnorm.cu", List.of("rms_norm", "add_rms_norm", "rms_norm_v", "add_rms_norm_v")),
      Map.entry("head_rmsnorm.cu", List.of("head_rms_norm")),
      Map.entry("rope.cu", List.of("rope", "rope_write_kv", "rope_write_kv_fp8", "rope_write_kv8", "rope_write_kv8_fp8",
          "rope_write_kv8_qkv", "rope_write_kv8_qkv_fp8")),
      Map.entry("silu_mul.cu", List.of("silu_mul", "silu_mul8")),
      Map.entry("write_kv.cu", List.of("write_kv", "write_kv_fp8")),
      Map.entry("paged_attention.cu", List.of("paged_attention")),
      Map.entry("attention_split.cu", List.of("attn_split", "attn_reduce")),
      Map.entry("attention_tc.cu", attentionTc()),
      Map.entry("attention_decode.cu", List.of("attn_dec64", "attn_dec128", "attn_dec64_fp8", "attn_dec128_fp8")),
      Map.entry("gemv.cu", List.of("gemv3")),
      Map.entry("gemm_bi.cu", GemmBiShape.KERNELS),
      Map.entry("gather_rows.cu", List.of("gather_rows")),
      Map.entry("argmax.cu", List.of("argmax_rows", "feed_ids")),
      Map.entry("sample.cu", List.of("sample_rows")),
      Map.entry("bias.cu", List.of("broadcast_bias_bf16", "broadcast_bias_f32")));
  private static final List<String> HEADERS = List.of("common.cuh", "mma.cuh");
  /**
   * Kernels launched with dynamic shared memory, and how much: the decode attention's (and the
   * batch-invariant attn_rows_tc's) three K/V stages of 32 keys, 3 x 2 x 32 x (head_dim + 8) x 2 bytes
   * (attention_tc.cu; the fp8 variants' in decodeSmemFp8); the
   * batch-invariant matmul's stages of (tile rows + tile columns) x (K slice + 8) bf16 (gemm_bi.cu).
   */
  private static final Map<String, Integer> DYNAMIC_SMEM = dynamicSmem();

  /** attention_tc.cu's kernels: per head_dim, bf16 and fp8 (suffix _fp8) caches. */
  private static List<String> attentionTc() {
    List<String> k = new java.util.ArrayList<>();
    for (String suffix : new String[] {"", "_fp8"}) {
      for (int d : new int[] {16, 32, 64, 128}) {
        for (String n : new String[] {"attn_prefill_tc", "attn_decode_tc", "attn_decode2_tc", "attn_rows_tc"}) {
          k.add(n + d + suffix);
        }
      }
    }
    return List.copyOf(k);
  }

  private static Map<String, Integer> dynamicSmem() {
    Map<String, Integer> m = new HashMap<>();
    for (int d : new int[] {16, 32, 64, 128}) {
      m.put("attn_decode_tc" + d, decodeSmem(d));
      m.put("attn_rows_tc" + d, decodeSmem(d));
      m.put("attn_decode_tc" + d + "_fp8", decodeSmemFp8(d));
      m.put("attn_rows_tc" + d + "_fp8", decodeSmemFp8(d));
    }
    for (int d : new int[] {64, 128}) {
      m.put("attn_dec" + d, decSmem(d, false, 2));
      m.put("attn_dec" + d + "_fp8", decSmem(d, true, 2));
    }
    for (String k : GemmBiShape.KERNELS) m.put(k, GemmBiShape.of(k).smemBytes());
    return Map.copyOf(m);
  }

  private static int decodeSmem(int headDim) {
    return 3 * 2 * 32 * (headDim + 8) * 2;
  }

  /**
   * attention_decode.cu's K and V stages of 64 keys, rows padded: (head_dim + 8) x 2 bytes a row (bf16; 2
   * stages by default), head_dim + 16 (fp8; 3 stages).
   */
  static int decSmem(int headDim, boolean fp8, int stages) {
    return 2 * stages * 64 * (fp8 ? headDim + 16 : (headDim + 8) * 2);
  }

  /** The fp8 cache's: one f16 K/V tile, 2 x 32 x (head_dim + 8) x 2 bytes, and three e4m3 stages, 3 x 2 x 32 x (head_dim + 16). */
  static int decodeSmemFp8(int headDim) {
    return 2 * 32 * (headDim + 8) * 2 + 3 * 2 * 32 * (headDim + 16);
  }

  private final Map<String, Integer> smemBytes = new HashMap<>();
  private static final int MAX_ARGS = 32;

  private final CudaDriver cu;
  private final MemorySegment stream;
  private final Map<String, MemorySegment> functions = new HashMap<>();
  private final Arena arena = Arena.ofShared();
  // Reused for every launch: cuLaunchKernel copies the arguments before it returns.
  private final MemorySegment argValues = arena.allocate(8L * MAX_ARGS, 8);
  private final MemorySegment argPointers = arena.allocate(ADDRESS, MAX_ARGS);
  // Programmatic dependent launch (sm_90+, QUIRE_CUDA_PDL != 0): every kernel goes out through
  // cuLaunchKernelEx with programmatic stream serialization, so it launches while the previous kernel
  // drains and waits for it in-kernel (pdl_wait() in common.cuh); a GEMV streams its first weights
  // meanwhile. Non-kernel work on the stream (copies, cuBLAS) keeps the ordinary ordering.
  private final MemorySegment launchConfig = arena.allocate(CudaDriver.LAUNCH_CONFIG_BYTES, 8);
  private final MemorySegment launchAttr = arena.allocate(CudaDriver.LAUNCH_ATTRIBUTE_BYTES, 8);
  private boolean pdl;
  private final boolean pdlSupported;

  Kernels(CudaDriver cu, MemorySegment stream, int ccMajor, int ccMinor) {
    this.cu = cu;
    this.stream = stream;
    for (int i = 0; i < MAX_ARGS; i++) argPointers.setAtIndex(ADDRESS, i, argValues.asSlice(8L * i, 8));
    String arch = "sm_" + ccMajor + ccMinor;
    this.pdlSupported = ccMajor >= 9 && cu.hasLaunchKernelEx();
    String env = System.getenv("QUIRE_CUDA_PDL");
    this.pdl = pdlSupported && (env == null || !(env.equals("0") || env.equalsIgnoreCase("false") || env.equalsIgnoreCase("off")));
    launchConfig.set(ADDRESS, 32, stream);
    launchConfig.set(ADDRESS, 40, launchAttr);
    launchConfig.set(JAVA_INT, 48, 1);
    launchAttr.set(JAVA_INT, 0, CudaDriver.CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
    launchAttr.set(JAVA_INT, 8, 1);
    Map<String, String> headers = new HashMap<>();
    for (String h : HEADERS) headers.put(h, resource(h));
    Nvrtc nvrtc = Nvrtc.get();
    List<String> options = List.of("--gpu-architecture=" + arch, "--std=c++17");
    for (Map.Entry<String, List<String>> f : FILES.entrySet()) {
      String src = resource(f.getKey());
      byte[] cubin = cubin(nvrtc, f.getKey(), src, headers, options, arch);
      MemorySegment module = cu.moduleLoadData(cubin);
      for (String k : f.getValue()) {
        MemorySegment fn = cu.moduleGetFunction(module, k);
        functions.put(k, fn);
        Integer smem = DYNAMIC_SMEM.get(k);
        if (smem != null) {
          cu.funcSetAttribute(fn, CudaDriver.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem, k);
          smemBytes.put(k, smem);
        }
      }
    }
  }

  private static byte[] cubin(Nvrtc nvrtc, String name, String src, Map<String, String> headers, List<String> options, String arch) {
    String key = hash(nvrtc.version() + "\n" + options + "\n" + src + "\n" + headers);
    Path file = cacheDir().resolve(name.replace(".cu", "") + "-" + key.substring(0, 16) + "-" + arch + ".cubin");
    try {
      if (Files.isRegularFile(file)) return Files.readAllBytes(file);
    } catch (IOException e) {
      LOG.warning("cannot read cached kernel " + file + ": " + e.getMessage());
    }
    byte[] cubin = nvrtc.compileToCubin(name, src, headers, options);
    try {
      Files.createDirectories(file.getParent());
      Path tmp = Files.createTempFile(file.getParent(), name, ".tmp");
      Files.write(tmp, cubin);
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      LOG.warning("cannot cache kernel " + file + ": " + e.getMessage());
    }
    return cubin;
  }

  static Path cacheDir() {
    String env = System.getenv("QUIRE_CUDA_CACHE");
    if (env != null && !env.isBlank()) return Path.of(env);
    return Path.of(System.getProperty("user.home"), ".cache", "quire", "cuda-kernels");
  }

  static String resource(String name) {
    try (InputStream in = Kernels.class.getResourceAsStream(DIR + name)) {
      if (in == null) throw new IllegalStateException("kernel source " + DIR + name + " missing from the jar");
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String hash(String s) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Launches kernel {@code name}; args are Long (device pointers, 64-bit), Integer or Float, in the
   * kernel's parameter order.
   */
  void launch(String name, int gx, int gy, int block, Object... args) {
    launch3(name, gx, gy, 1, block, args);
  }

  /** {@link #launch} with a third grid dimension. */
  synchronized void launch3(String name, int gx, int gy, int gz, int block, Object... args) {
    MemorySegment f = functions.get(name);
    if (f == null) throw new IllegalArgumentException("no kernel " + name);
    if (args.length > MAX_ARGS) throw new IllegalArgumentException(name + ": too many arguments");
    if (gx == 0 || gy == 0 || gz == 0) return;
    int smem = smemBytes.getOrDefault(name, 0);
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case Long l -> argValues.set(JAVA_LONG, 8L * i, l);
        case Integer n -> argValues.set(JAVA_INT, 8L * i, n);
        case Float x -> argValues.set(JAVA_FLOAT, 8L * i, x);
        case null -> argValues.set(JAVA_LONG, 8L * i, 0L);
        default -> throw new IllegalArgumentException(name + ": argument " + i + " has type " + args[i].getClass());
      }
    }
    if (pdl) {
      launchConfig.set(JAVA_INT, 0, gx);
      launchConfig.set(JAVA_INT, 4, gy);
      launchConfig.set(JAVA_INT, 8, gz);
      launchConfig.set(JAVA_INT, 12, block);
      launchConfig.set(JAVA_INT, 16, 1);
      launchConfig.set(JAVA_INT, 20, 1);
      launchConfig.set(JAVA_INT, 24, smem);
      cu.launchKernelEx(launchConfig, f, argPointers, name);
    } else {
      cu.launchKernel(f, gx, gy, gz, block, 1, 1, smem, stream, argPointers, name);
    }
  }

  /** Switches programmatic dependent launch (where the device and driver support it). */
  synchronized void setPdl(boolean on) {
    pdl = on && pdlSupported;
  }

  boolean pdl() {
    return pdl;
  }

  void close() {
    arena.close();
  }
}
