package io.quire.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import io.quire.spi.DType;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Exact conversion of stored 16-bit floats (bf16, IEEE f16) to f32, scalar and in SIMD. */
final class HalfFloats {
  static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
  static final VectorSpecies<Integer> IS = IntVector.SPECIES_PREFERRED;
  /** Shorts in half a preferred vector: one short per float lane. */
  static final VectorSpecies<Short> HALF_SS =
      ShortVector.SPECIES_PREFERRED.withShape(
          jdk.incubator.vector.VectorShape.forBitSize(FS.vectorBitSize() / 2));
  static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

  private HalfFloats() {}

  static float bf16(short bits) {
    return Float.intBitsToFloat(bits << 16);
  }

  static float f16(short bits) {
    return Float.float16ToFloat(bits);
  }

  /** The element at {@code index} of a bf16/f16/f32 segment, as f32. */
  static float get(MemorySegment seg, DType dtype, long index) {
    return switch (dtype) {
      case F32 -> seg.getAtIndex(JAVA_FLOAT_UNALIGNED, index);
      case BF16 -> bf16(seg.getAtIndex(JAVA_SHORT_UNALIGNED, index));
      case F16 -> f16(seg.getAtIndex(JAVA_SHORT_UNALIGNED, index));
      case I32, FP8_E4M3 -> throw new IllegalArgumentException(dtype + " is not a weight or activation dtype");
    };
  }

  // The conversions below sit inside their loops on purpose: a vector returned from a method that
  // C2 does not inline is boxed, which costs more than the conversion.

  /** dst[dstPos + i] = src[srcIndex + i] as f32, for i in [0, n); scalar, for small vectors. */
  static void toFloats(MemorySegment src, DType dtype, long srcIndex, float[] dst, int dstPos, int n) {
    if (dtype == DType.F32) {
      MemorySegment.copy(src, JAVA_FLOAT_UNALIGNED, srcIndex * 4, dst, dstPos, n);
      return;
    }
    for (int i = 0; i < n; i++) {
      dst[dstPos + i] = get(src, dtype, srcIndex + i);
    }
  }

  /** dst[dstIndex + i] (an f32 segment) = src[srcIndex + i] as f32, for i in [0, n). */
  static void toFloats(MemorySegment src, DType dtype, long srcIndex, MemorySegment dst, long dstIndex, int n) {
    int f = FS.length();
    int i = 0;
    switch (dtype) {
      case F32 -> {
        MemorySegment.copy(src, srcIndex * 4, dst, dstIndex * 4, (long) n * 4);
        return;
      }
      case BF16 -> {
        for (; i + f <= n; i += f) {
          ((IntVector) ShortVector.fromMemorySegment(HALF_SS, src, (srcIndex + i) * 2, LE)
                  .convertShape(VectorOperators.S2I, IS, 0))
              .lanewise(VectorOperators.LSHL, 16)
              .reinterpretAsFloats()
              .intoMemorySegment(dst, (dstIndex + i) * 4, LE);
        }
      }
      case F16 -> {
        for (; i + f <= n; i += f) {
          IntVector h =
              ((IntVector) ShortVector.fromMemorySegment(HALF_SS, src, (srcIndex + i) * 2, LE)
                      .convertShape(VectorOperators.S2I, IS, 0))
                  .and(0xFFFF);
          // Normal: rebias the exponent. Subnormal (m * 2^-24): from the integer, avoiding denormal
          // float inputs. Inf/NaN: all-ones exponent. Then the sign.
          IntVector em = h.and(0x7FFF);
          IntVector shifted = em.lanewise(VectorOperators.LSHL, 13);
          IntVector subnormal =
              ((FloatVector) em.convert(VectorOperators.I2F, 0)).mul(0x1p-24f).reinterpretAsInts();
          shifted
              .add(112 << 23)
              .blend(subnormal, em.compare(VectorOperators.LT, 0x400))
              .blend(shifted.or(0x7F800000), em.compare(VectorOperators.GE, 0x7C00))
              .or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16))
              .reinterpretAsFloats()
              .intoMemorySegment(dst, (dstIndex + i) * 4, LE);
        }
      }
      case I32, FP8_E4M3 -> throw new IllegalArgumentException(dtype + " is not a weight or activation dtype");
    }
    for (; i < n; i++) {
      dst.setAtIndex(JAVA_FLOAT_UNALIGNED, dstIndex + i, get(src, dtype, srcIndex + i));
    }
  }
}
