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
      case I32 -> throw new IllegalArgumentException("I32 is not a float dtype");
    };
  }

  /** Lane-wise f16 bits (zero-extended in each int lane) to f32, exact for all values. */
  static FloatVector f16ToFloat(IntVector h) {
    IntVector em = h.and(0x7FFF);
    IntVector sign = h.and(0x8000).lanewise(VectorOperators.LSHL, 16);
    IntVector shifted = em.lanewise(VectorOperators.LSHL, 13);
    IntVector normal = shifted.add(112 << 23);
    // Subnormal halves are m * 2^-24; computing that from an int avoids denormal float inputs.
    IntVector subnormal =
        ((FloatVector) em.convert(VectorOperators.I2F, 0)).mul(0x1p-24f).reinterpretAsInts();
    IntVector infNan = shifted.or(0x7F800000);
    IntVector bits =
        normal
            .blend(subnormal, em.compare(VectorOperators.LT, 0x400))
            .blend(infNan, em.compare(VectorOperators.GE, 0x7C00));
    return bits.or(sign).reinterpretAsFloats();
  }

  /** FS.length() elements of a 16-bit segment starting at byte offset {@code off}, as f32. */
  static FloatVector loadHalf(MemorySegment seg, DType dtype, long off) {
    IntVector i =
        (IntVector)
            ShortVector.fromMemorySegment(HALF_SS, seg, off, LE).convertShape(VectorOperators.S2I, IS, 0);
    if (dtype == DType.BF16) {
      return i.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }
    return f16ToFloat(i.and(0xFFFF));
  }

  /** dst[dstPos + i] = src[srcIndex + i] as f32, for i in [0, n). */
  static void toFloats(MemorySegment src, DType dtype, long srcIndex, float[] dst, int dstPos, int n) {
    int f = FS.length();
    int i = 0;
    switch (dtype) {
      case F32 -> {
        MemorySegment.copy(src, JAVA_FLOAT_UNALIGNED, srcIndex * 4, dst, dstPos, n);
        return;
      }
      case BF16, F16 -> {
        for (; i + f <= n; i += f) {
          loadHalf(src, dtype, (srcIndex + i) * 2).intoArray(dst, dstPos + i);
        }
      }
      case I32 -> throw new IllegalArgumentException("I32 is not a float dtype");
    }
    for (; i < n; i++) {
      dst[dstPos + i] = get(src, dtype, srcIndex + i);
    }
  }

  /** dst[dstIndex + i] (an f32 segment) = src[srcIndex + i] as f32, for i in [0, n). */
  static void toFloats(MemorySegment src, DType dtype, long srcIndex, MemorySegment dst, long dstIndex, int n) {
    if (dtype == DType.F32) {
      MemorySegment.copy(src, srcIndex * 4, dst, dstIndex * 4, (long) n * 4);
      return;
    }
    int f = FS.length();
    int i = 0;
    for (; i + f <= n; i += f) {
      loadHalf(src, dtype, (srcIndex + i) * 2).intoMemorySegment(dst, (dstIndex + i) * 4, LE);
    }
    for (; i < n; i++) {
      dst.setAtIndex(JAVA_FLOAT_UNALIGNED, dstIndex + i, get(src, dtype, srcIndex + i));
    }
  }
}
