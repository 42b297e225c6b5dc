package io.quire.backend.cuda;

/** Host-side bf16 and f16 conversions (round to nearest even, NaN kept), for loading and copying back. */
final class Bf16 {
  private Bf16() {}

  static short fromFloat(float f) {
    int u = Float.floatToRawIntBits(f);
    if ((u & 0x7fffffff) > 0x7f800000) return (short) ((u >>> 16) | 0x40);
    u += 0x7fff + ((u >>> 16) & 1);
    return (short) (u >>> 16);
  }

  static float toFloat(short b) {
    return Float.intBitsToFloat((b & 0xffff) << 16);
  }
}
