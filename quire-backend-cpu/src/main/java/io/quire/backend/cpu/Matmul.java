package io.quire.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

import io.quire.spi.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * out[T, N] = x[T, K] @ w[N, K]^T (+ bias), fp32 accumulation, w in bf16, f16 or f32.
 *
 * <p>The rows of w are cut into blocks (multiples of 4 rows) that threads claim one at a time, so a
 * descheduled thread holds up at most one block and the op ends when the last block does. Per
 * block, every group of 4 x rows runs against pairs of w rows (8 accumulators), so each weight byte
 * comes from memory once per call whatever T is: decode (small T) streams the weights at memory
 * bandwidth and prefill (large T) reuses each block from cache.
 *
 * <p>BF16 trick: a vector of 2F shorts reinterpreted as F ints holds element 2k in the low and 2k+1
 * in the high half of lane k; {@code << 16} and {@code & 0xFFFF0000} give both as floats in two ops.
 * So x is first copied into "even/odd" order per chunk of 2F elements, once per call.
 *
 * <p>Batch invariance: every kernel accumulates each (x row, w row) pair with the same sequence of
 * FMAs and the same lane reduction, so a row's result is bitwise the same whatever T, its position
 * in the batch, or the split among threads.
 */
final class Matmul {
  private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
  private static final VectorSpecies<Short> SS = ShortVector.SPECIES_PREFERRED;
  private static final int F = FS.length();
  private static final int BF_CHUNK = 2 * F;
  private static final long BF_CHUNK_BYTES = BF_CHUNK * 2L;
  private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
  /** Weight bytes per cache block of rows; two blocks fit a 1-2 MiB L2 with room for x. */
  private static final long BLOCK_BYTES = 256 * 1024;
  /** Weight bytes per task when T is small: fine grain for the end of each op. */
  private static final long TASK_BYTES = 128 * 1024;
  private static final ThreadLocal<MemorySegment[]> F16_SCRATCH =
      ThreadLocal.withInitial(() -> new MemorySegment[1]);

  private Matmul() {}

  static void matmul(WorkerPool pool, CpuTensor x, CpuTensor w, CpuTensor bias, CpuTensor out, int t) {
    int k = w.cols();
    int n = w.rows();
    DType wt = w.dtype();
    boolean bf16 = wt == DType.BF16;
    int chunk = bf16 ? BF_CHUNK : F;
    int chunks = k / chunk;
    int xStride = chunks * chunk;
    float[] xs = new float[Math.max(1, t * xStride)];
    for (int r = 0; r < t; r++) {
      if (bf16) {
        copyEvenOdd(x.data(), (long) r * k, xs, r * xStride, chunks);
      } else {
        MemorySegment.copy(x.data(), JAVA_FLOAT_UNALIGNED, (long) r * k * 4, xs, r * xStride, xStride);
      }
    }
    float[] b = bias == null ? null : bias.vectorAsFloats();
    Job job = new Job(x.data(), k, w.data(), wt, xs, xStride, chunks, t, out.data(), n, b);

    // Each task is one block of rows, claimed dynamically, so a thread slowed by other work holds up
    // at most one block. Small T: blocks of ~TASK_BYTES (fine grain, nothing to reuse); larger T:
    // blocks of BLOCK_BYTES, kept in L2 while every group of x rows goes over them. Multiples of 4
    // rows keep the 4-row kernels busy; a row's result does not depend on its block.
    long blockBytes = t < 4 ? TASK_BYTES : BLOCK_BYTES;
    int blockRows = (int) Math.max(4, Math.min(n, blockBytes / Math.max(1, (long) k * wt.bytes())));
    blockRows = (blockRows + 3) & ~3;
    long work = (long) t * n * k;
    int numBlocks = (n + blockRows - 1) / blockRows;
    if (work < (1 << 16)) {
      job.rows(0, n, blockRows);
      return;
    }
    if (numBlocks < 2 * pool.parallelism() && n >= 8 * pool.parallelism()) {
      // Too few blocks to share: smaller ones, at least 2 per thread.
      blockRows = Math.max(4, ((n + 2 * pool.parallelism() - 1) / (2 * pool.parallelism()) + 3) & ~3);
      numBlocks = (n + blockRows - 1) / blockRows;
    }
    final int fBlockRows = blockRows;
    pool.run(numBlocks, i -> job.rows(i * fBlockRows, Math.min(n, (i + 1) * fBlockRows), fBlockRows));
  }

  /** Copies chunks of 2F elements of an f32 row into even-then-odd order. */
  private static void copyEvenOdd(MemorySegment x, long rowIndex, float[] dst, int dstPos, int chunks) {
    for (int c = 0; c < chunks; c++) {
      long src = rowIndex + (long) c * BF_CHUNK;
      int d = dstPos + c * BF_CHUNK;
      for (int j = 0; j < F; j++) {
        dst[d + j] = x.getAtIndex(JAVA_FLOAT_UNALIGNED, src + 2 * j);
        dst[d + F + j] = x.getAtIndex(JAVA_FLOAT_UNALIGNED, src + 2 * j + 1);
      }
    }
  }

  private record Job(
      MemorySegment x,
      int k,
      MemorySegment w,
      DType wt,
      float[] xs,
      int xStride,
      int chunks,
      int t,
      MemorySegment out,
      int n,
      float[] bias) {

    void rows(int r0, int r1, int blockRows) {
      for (int rb = r0; rb < r1; rb += blockRows) {
        int re = Math.min(r1, rb + blockRows);
        switch (wt) {
          case BF16 -> bf16Block(rb, re);
          case F32 -> f32Block(w, (long) rb * k * 4, rb, re);
          case F16 -> {
            MemorySegment scratch = f16Scratch((long) (re - rb) * k * 4);
            HalfFloats.toFloats(w, DType.F16, (long) rb * k, scratch, 0, (re - rb) * k);
            f32Block(scratch, 0, rb, re);
          }
          default -> throw new IllegalArgumentException("matmul weight dtype " + wt);
        }
        tail(rb, re);
        if (bias != null) {
          for (int i = 0; i < t; i++) {
            for (int r = rb; r < re; r++) {
              long o = (long) i * n + r;
              out.setAtIndex(JAVA_FLOAT_UNALIGNED, o, out.getAtIndex(JAVA_FLOAT_UNALIGNED, o) + bias[r]);
            }
          }
        }
      }
    }

    private void bf16Block(int rb, int re) {
      long wRow = (long) k * 2;
      long outRow = (long) n * 4;
      int pairsEnd = rb + ((re - rb) & ~1);
      int i = 0;
      for (; i + 4 <= t; i += 4) {
        for (int r = rb; r < pairsEnd; r += 2) {
          bf16x4x2(w, r * wRow, wRow, xs, i * xStride, xStride, chunks, out, i * outRow + r * 4L, outRow);
        }
        if (pairsEnd < re) {
          for (int j = i; j < i + 4; j++) {
            bf16x1x1(w, pairsEnd * wRow, xs, j * xStride, chunks, out, j * outRow + pairsEnd * 4L);
          }
        }
      }
      int quadsEnd = rb + ((re - rb) & ~3);
      for (; i < t; i++) {
        for (int r = rb; r < quadsEnd; r += 4) {
          bf16x1x4(w, r * wRow, wRow, xs, i * xStride, chunks, out, i * outRow + r * 4L);
        }
        for (int r = quadsEnd; r < re; r++) {
          bf16x1x1(w, r * wRow, xs, i * xStride, chunks, out, i * outRow + r * 4L);
        }
      }
    }

    /** w is {@code ws} with row rb at byte offset {@code base}, f32. */
    private void f32Block(MemorySegment ws, long base, int rb, int re) {
      long wRow = (long) k * 4;
      long outRow = (long) n * 4;
      int pairsEnd = rb + ((re - rb) & ~1);
      int i = 0;
      for (; i + 4 <= t; i += 4) {
        for (int r = rb; r < pairsEnd; r += 2) {
          f32x4x2(ws, base + (r - rb) * wRow, wRow, xs, i * xStride, xStride, chunks, out, i * outRow + r * 4L, outRow);
        }
        if (pairsEnd < re) {
          for (int j = i; j < i + 4; j++) {
            f32x1x1(ws, base + (pairsEnd - rb) * wRow, xs, j * xStride, chunks, out, j * outRow + pairsEnd * 4L);
          }
        }
      }
      int quadsEnd = rb + ((re - rb) & ~3);
      for (; i < t; i++) {
        for (int r = rb; r < quadsEnd; r += 4) {
          f32x1x4(ws, base + (r - rb) * wRow, wRow, xs, i * xStride, chunks, out, i * outRow + r * 4L);
        }
        for (int r = quadsEnd; r < re; r++) {
          f32x1x1(ws, base + (r - rb) * wRow, xs, i * xStride, chunks, out, i * outRow + r * 4L);
        }
      }
    }

    /** Adds the products of the last k % chunk elements, which the kernels leave out. */
    private void tail(int rb, int re) {
      int from = xStride;
      if (from == k) {
        return;
      }
      for (int i = 0; i < t; i++) {
        for (int r = rb; r < re; r++) {
          float s = 0;
          for (int c = from; c < k; c++) {
            s += x.getAtIndex(JAVA_FLOAT_UNALIGNED, (long) i * k + c) * HalfFloats.get(w, wt, (long) r * k + c);
          }
          long o = (long) i * n + r;
          out.setAtIndex(JAVA_FLOAT_UNALIGNED, o, out.getAtIndex(JAVA_FLOAT_UNALIGNED, o) + s);
        }
      }
    }
  }

  private static MemorySegment f16Scratch(long bytes) {
    MemorySegment[] holder = F16_SCRATCH.get();
    if (holder[0] == null || holder[0].byteSize() < bytes) {
      holder[0] = Arena.ofAuto().allocate(bytes, 64);
    }
    return holder[0];
  }

  // ---- kernels: x rows in xs at x0 + j*xStride, w rows at byte offsets w0 and w0 + wRow, ----
  // ---- out[j][r] at byte offset o0 + j*outRow + r*4. Only whole chunks; tail() adds the rest. ----

  // bf16 kernels keep separate accumulators for even and odd elements (two independent FMA chains
  // per output) and add them before the lane sum; all three do it in the same order.

  private static void bf16x4x2(
      MemorySegment w, long w0, long wRow, float[] xs, int x0, int xStride, int chunks,
      MemorySegment out, long o0, long outRow) {
    float[] lanes = new float[F];
    FloatVector z = FloatVector.zero(FS);
    FloatVector e00 = z, o00 = z, e01 = z, o01 = z, e10 = z, o10 = z, e11 = z, o11 = z;
    FloatVector e20 = z, o20 = z, e21 = z, o21 = z, e30 = z, o30 = z, e31 = z, o31 = z;
    long w1 = w0 + wRow;
    for (int c = 0; c < chunks; c++) {
      long wo = c * BF_CHUNK_BYTES;
      IntVector p = ShortVector.fromMemorySegment(SS, w, w0 + wo, LE).reinterpretAsInts();
      IntVector q = ShortVector.fromMemorySegment(SS, w, w1 + wo, LE).reinterpretAsInts();
      FloatVector pe = p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
      FloatVector po = p.and(0xFFFF0000).reinterpretAsFloats();
      FloatVector qe = q.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
      FloatVector qo = q.and(0xFFFF0000).reinterpretAsFloats();
      int xi = x0 + c * BF_CHUNK;
      FloatVector xe = FloatVector.fromArray(FS, xs, xi);
      FloatVector xo = FloatVector.fromArray(FS, xs, xi + F);
      e00 = pe.fma(xe, e00);
      o00 = po.fma(xo, o00);
      e01 = qe.fma(xe, e01);
      o01 = qo.fma(xo, o01);
      xi += xStride;
      xe = FloatVector.fromArray(FS, xs, xi);
      xo = FloatVector.fromArray(FS, xs, xi + F);
      e10 = pe.fma(xe, e10);
      o10 = po.fma(xo, o10);
      e11 = qe.fma(xe, e11);
      o11 = qo.fma(xo, o11);
      xi += xStride;
      xe = FloatVector.fromArray(FS, xs, xi);
      xo = FloatVector.fromArray(FS, xs, xi + F);
      e20 = pe.fma(xe, e20);
      o20 = po.fma(xo, o20);
      e21 = qe.fma(xe, e21);
      o21 = qo.fma(xo, o21);
      xi += xStride;
      xe = FloatVector.fromArray(FS, xs, xi);
      xo = FloatVector.fromArray(FS, xs, xi + F);
      e30 = pe.fma(xe, e30);
      o30 = po.fma(xo, o30);
      e31 = qe.fma(xe, e31);
      o31 = qo.fma(xo, o31);
    }
    e00.add(o00).intoArray(lanes, 0);
    store(out, o0, lanes);
    e01.add(o01).intoArray(lanes, 0);
    store(out, o0 + 4, lanes);
    e10.add(o10).intoArray(lanes, 0);
    store(out, o0 + outRow, lanes);
    e11.add(o11).intoArray(lanes, 0);
    store(out, o0 + outRow + 4, lanes);
    e20.add(o20).intoArray(lanes, 0);
    store(out, o0 + 2 * outRow, lanes);
    e21.add(o21).intoArray(lanes, 0);
    store(out, o0 + 2 * outRow + 4, lanes);
    e30.add(o30).intoArray(lanes, 0);
    store(out, o0 + 3 * outRow, lanes);
    e31.add(o31).intoArray(lanes, 0);
    store(out, o0 + 3 * outRow + 4, lanes);
  }

  private static void bf16x1x4(
      MemorySegment w, long w0, long wRow, float[] xs, int x0, int chunks, MemorySegment out, long o0) {
    float[] lanes = new float[F];
    FloatVector z = FloatVector.zero(FS);
    FloatVector e0 = z, o0_ = z, e1 = z, o1 = z, e2 = z, o2 = z, e3 = z, o3 = z;
    for (int c = 0; c < chunks; c++) {
      long wo = w0 + c * BF_CHUNK_BYTES;
      int xi = x0 + c * BF_CHUNK;
      FloatVector xe = FloatVector.fromArray(FS, xs, xi);
      FloatVector xo = FloatVector.fromArray(FS, xs, xi + F);
      IntVector p = ShortVector.fromMemorySegment(SS, w, wo, LE).reinterpretAsInts();
      e0 = p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, e0);
      o0_ = p.and(0xFFFF0000).reinterpretAsFloats().fma(xo, o0_);
      p = ShortVector.fromMemorySegment(SS, w, wo + wRow, LE).reinterpretAsInts();
      e1 = p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, e1);
      o1 = p.and(0xFFFF0000).reinterpretAsFloats().fma(xo, o1);
      p = ShortVector.fromMemorySegment(SS, w, wo + 2 * wRow, LE).reinterpretAsInts();
      e2 = p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, e2);
      o2 = p.and(0xFFFF0000).reinterpretAsFloats().fma(xo, o2);
      p = ShortVector.fromMemorySegment(SS, w, wo + 3 * wRow, LE).reinterpretAsInts();
      e3 = p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, e3);
      o3 = p.and(0xFFFF0000).reinterpretAsFloats().fma(xo, o3);
    }
    e0.add(o0_).intoArray(lanes, 0);
    store(out, o0, lanes);
    e1.add(o1).intoArray(lanes, 0);
    store(out, o0 + 4, lanes);
    e2.add(o2).intoArray(lanes, 0);
    store(out, o0 + 8, lanes);
    e3.add(o3).intoArray(lanes, 0);
    store(out, o0 + 12, lanes);
  }

  private static void bf16x1x1(
      MemorySegment w, long w0, float[] xs, int x0, int chunks, MemorySegment out, long o0) {
    float[] lanes = new float[F];
    FloatVector e = FloatVector.zero(FS);
    FloatVector o = e;
    for (int c = 0; c < chunks; c++) {
      IntVector p = ShortVector.fromMemorySegment(SS, w, w0 + c * BF_CHUNK_BYTES, LE).reinterpretAsInts();
      int xi = x0 + c * BF_CHUNK;
      e = p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(FloatVector.fromArray(FS, xs, xi), e);
      o = p.and(0xFFFF0000).reinterpretAsFloats().fma(FloatVector.fromArray(FS, xs, xi + F), o);
    }
    e.add(o).intoArray(lanes, 0);
    store(out, o0, lanes);
  }

  private static void f32x4x2(
      MemorySegment w, long w0, long wRow, float[] xs, int x0, int xStride, int chunks,
      MemorySegment out, long o0, long outRow) {
    float[] lanes = new float[F];
    FloatVector a00 = FloatVector.zero(FS), a01 = FloatVector.zero(FS);
    FloatVector a10 = FloatVector.zero(FS), a11 = FloatVector.zero(FS);
    FloatVector a20 = FloatVector.zero(FS), a21 = FloatVector.zero(FS);
    FloatVector a30 = FloatVector.zero(FS), a31 = FloatVector.zero(FS);
    long w1 = w0 + wRow;
    for (int c = 0; c < chunks; c++) {
      long wo = (long) c * F * 4;
      FloatVector p = FloatVector.fromMemorySegment(FS, w, w0 + wo, LE);
      FloatVector q = FloatVector.fromMemorySegment(FS, w, w1 + wo, LE);
      int xi = x0 + c * F;
      FloatVector x = FloatVector.fromArray(FS, xs, xi);
      a00 = p.fma(x, a00);
      a01 = q.fma(x, a01);
      x = FloatVector.fromArray(FS, xs, xi + xStride);
      a10 = p.fma(x, a10);
      a11 = q.fma(x, a11);
      x = FloatVector.fromArray(FS, xs, xi + 2 * xStride);
      a20 = p.fma(x, a20);
      a21 = q.fma(x, a21);
      x = FloatVector.fromArray(FS, xs, xi + 3 * xStride);
      a30 = p.fma(x, a30);
      a31 = q.fma(x, a31);
    }
    a00.intoArray(lanes, 0);
    store(out, o0, lanes);
    a01.intoArray(lanes, 0);
    store(out, o0 + 4, lanes);
    a10.intoArray(lanes, 0);
    store(out, o0 + outRow, lanes);
    a11.intoArray(lanes, 0);
    store(out, o0 + outRow + 4, lanes);
    a20.intoArray(lanes, 0);
    store(out, o0 + 2 * outRow, lanes);
    a21.intoArray(lanes, 0);
    store(out, o0 + 2 * outRow + 4, lanes);
    a30.intoArray(lanes, 0);
    store(out, o0 + 3 * outRow, lanes);
    a31.intoArray(lanes, 0);
    store(out, o0 + 3 * outRow + 4, lanes);
  }

  private static void f32x1x4(
      MemorySegment w, long w0, long wRow, float[] xs, int x0, int chunks, MemorySegment out, long o0) {
    float[] lanes = new float[F];
    FloatVector a0 = FloatVector.zero(FS), a1 = FloatVector.zero(FS);
    FloatVector a2 = FloatVector.zero(FS), a3 = FloatVector.zero(FS);
    for (int c = 0; c < chunks; c++) {
      long wo = w0 + (long) c * F * 4;
      FloatVector x = FloatVector.fromArray(FS, xs, x0 + c * F);
      a0 = FloatVector.fromMemorySegment(FS, w, wo, LE).fma(x, a0);
      a1 = FloatVector.fromMemorySegment(FS, w, wo + wRow, LE).fma(x, a1);
      a2 = FloatVector.fromMemorySegment(FS, w, wo + 2 * wRow, LE).fma(x, a2);
      a3 = FloatVector.fromMemorySegment(FS, w, wo + 3 * wRow, LE).fma(x, a3);
    }
    a0.intoArray(lanes, 0);
    store(out, o0, lanes);
    a1.intoArray(lanes, 0);
    store(out, o0 + 4, lanes);
    a2.intoArray(lanes, 0);
    store(out, o0 + 8, lanes);
    a3.intoArray(lanes, 0);
    store(out, o0 + 8 + 4, lanes);
  }

  private static void f32x1x1(
      MemorySegment w, long w0, float[] xs, int x0, int chunks, MemorySegment out, long o0) {
    float[] lanes = new float[F];
    FloatVector a = FloatVector.zero(FS);
    for (int c = 0; c < chunks; c++) {
      a = FloatVector.fromMemorySegment(FS, w, w0 + (long) c * F * 4, LE)
          .fma(FloatVector.fromArray(FS, xs, x0 + c * F), a);
    }
    a.intoArray(lanes, 0);
    store(out, o0, lanes);
  }

  private static void store(MemorySegment out, long o, float[] lanes) {
    out.set(JAVA_FLOAT_UNALIGNED, o, Lanes.sum(lanes));
  }
}
