package io.quire.spi;

/** Element types that weights, activations and the KV cache can have. */
public enum DType {
  F32(4),
  BF16(2),
  F16(2),
  I32(4),
  /** OCP FP8 E4M3 (bias 7, largest finite 448, no infinities): KV caches only (vLLM's kv_cache_dtype fp8). */
  FP8_E4M3(1);

  private final int bytes;

  DType(int bytes) {
    this.bytes = bytes;
  }

  public int bytes() {
    return bytes;
  }

  /** Parses a safetensors dtype name ("BF16", "F16", "F32", "I32"). */
  public static DType fromSafetensors(String name) {
    return switch (name) {
      case "BF16" -> BF16;
      case "F16" -> F16;
      case "F32" -> F32;
      case "I32" -> I32;
      default -> throw new IllegalArgumentException("unsupported dtype " + name + " (supported: BF16, F16, F32)");
    };
  }
}
