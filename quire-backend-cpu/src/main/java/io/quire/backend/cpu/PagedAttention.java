package io.quire.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

import io.quire.spi.BatchMetadata;
import io.quire.spi.Fp8;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.function.IntConsumer;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Causal attention over the paged KV cache, two-pass softmax in fp32 (scores, max, exp, weighted sum
 * of V), as HF eager attention computes it.
 *
 * <p>One task is (request, tile of query tokens, range of kv heads). Within a task the context is
 * walked position by position and, at each position, over all kv heads of the range: in the layout
 * {@code [block, blockSize, kvHeads, headDim]} that reads memory contiguously. Walking one kv head
 * at a time instead reads headDim floats every {@code kvHeads * headDim} floats, one short piece per
 * 4 KiB page, which the hardware prefetcher does not follow (measured 20x slower on decode).
 *
 * <p>An fp8 cache (kv_cache_dtype fp8) is read through a per-thread f32 copy of the task's kv heads over
 * the positions its query tile sees, in position order, then the same arithmetic: the result equals the f32
 * path over K and V rounded to e4m3.
 */
final class PagedAttention {
  private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
  private static final int F = FS.length();
  private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
  private static final int QUERY_TILE = 16;
  private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[4][0]);
  private static final ThreadLocal<MemorySegment[]> WIDE = ThreadLocal.withInitial(() -> new MemorySegment[2]);

  private PagedAttention() {}

  static void run(
      WorkerPool pool, CpuTensor q, CpuKvCache cache, int layer, BatchMetadata b, float scale, CpuTensor out) {
    int hd = cache.headDim();
    int nkv = cache.numKvHeads();
    if (q.cols() % hd != 0 || (q.cols() / hd) % nkv != 0) {
      throw new IllegalArgumentException(
          "q has " + q.cols() + " columns: not a multiple of headDim " + hd + " times kv heads " + nkv);
    }
    if (b.blockSize() != cache.blockSize()) {
      throw new IllegalArgumentException(
          "batch blockSize " + b.blockSize() + " differs from kv cache blockSize " + cache.blockSize());
    }
    int t = b.numTokens();
    if (q.rows() < t || out.rows() < t || out.cols() != q.cols()) {
      throw new IllegalArgumentException(
          "pagedAttention: q " + q.rows() + "x" + q.cols() + ", out " + out.rows() + "x" + out.cols()
              + ", batch of " + t + " tokens");
    }
    int[] qsl = b.queryStartLoc();
    int tiles = 0;
    long work = 0;
    for (int i = 0; i < b.numRequests(); i++) {
      int nq = qsl[i + 1] - qsl[i];
      tiles += (nq + QUERY_TILE - 1) / QUERY_TILE;
      work += (long) nq * b.seqLens()[i];
    }
    boolean parallel = work * q.cols() >= (1 << 15);
    // Split the kv heads only as far as needed to give every thread a few tasks.
    int splits = parallel ? Math.min(nkv, Math.max(1, (2 * pool.parallelism() + tiles - 1) / Math.max(1, tiles))) : 1;
    int numTasks = tiles * splits;
    int[] req = new int[numTasks];
    int[] j0 = new int[numTasks];
    int[] g0 = new int[numTasks];
    int[] g1 = new int[numTasks];
    int n = 0;
    for (int i = 0; i < b.numRequests(); i++) {
      int nq = qsl[i + 1] - qsl[i];
      for (int j = 0; j < nq; j += QUERY_TILE) {
        for (int sp = 0; sp < splits; sp++) {
          req[n] = i;
          j0[n] = j;
          g0[n] = sp * nkv / splits;
          g1[n++] = (sp + 1) * nkv / splits;
        }
      }
    }
    MemorySegment keys = cache.keys(layer);
    MemorySegment values = cache.values(layer);
    int maxCtx = b.maxSeqLen();
    IntConsumer task = cache.fp8()
        ? k -> tileFp8(q, keys, values, nkv, hd, b, req[k], j0[k], g0[k], g1[k], scale, out, maxCtx)
        : k -> tile(q, keys, values, nkv, hd, b, req[k], j0[k], g0[k], g1[k], scale, out, maxCtx, b.blockTables()[req[k]]);
    if (parallel) {
      pool.run(numTasks, task);
    } else {
      for (int k = 0; k < numTasks; k++) {
        task.accept(k);
      }
    }
  }

  private static float[] scratch(float[][] s, int i, int n) {
    if (s[i].length < n) {
      s[i] = new float[n];
    }
    return s[i];
  }

  /** K and V of kv heads [g0, g1) at positions [0, ctx) of request req, widened from e4m3 into slots 0..ctx-1. */
  private static void tileFp8(
      CpuTensor q, MemorySegment keys, MemorySegment values, int nkv, int hd, BatchMetadata b,
      int req, int j0, int g0, int g1, float scale, CpuTensor out, int maxCtx) {
    int[] qsl = b.queryStartLoc();
    int nq = qsl[req + 1] - qsl[req];
    int ctx = b.seqLens()[req] - nq + Math.min(nq, j0 + QUERY_TILE);  // the tile's last query sees this many
    int bs = b.blockSize();
    int[] blocks = b.blockTables()[req];
    long width = (long) nkv * hd;
    MemorySegment[] w = WIDE.get();
    long bytes = Math.max(1, ctx * width * 4);
    if (w[0] == null || w[0].byteSize() < bytes) {
      w[0] = Arena.ofAuto().allocate(bytes, 64);
      w[1] = Arena.ofAuto().allocate(bytes, 64);
    }
    MemorySegment kf = w[0], vf = w[1];
    for (int pos = 0; pos < ctx; pos++) {
      long slot = (long) blocks[pos / bs] * bs + pos % bs;
      for (long i = (long) g0 * hd; i < (long) g1 * hd; i++) {
        kf.setAtIndex(JAVA_FLOAT_UNALIGNED, pos * width + i, Fp8.decode(keys.get(JAVA_BYTE, slot * width + i)));
        vf.setAtIndex(JAVA_FLOAT_UNALIGNED, pos * width + i, Fp8.decode(values.get(JAVA_BYTE, slot * width + i)));
      }
    }
    int[] identity = new int[(ctx + bs - 1) / bs];
    for (int i = 0; i < identity.length; i++) identity[i] = i;
    tile(q, kf, vf, nkv, hd, b, req, j0, g0, g1, scale, out, maxCtx, identity);
  }

  private static void tile(
      CpuTensor q, MemorySegment keys, MemorySegment values, int nkv, int hd, BatchMetadata b,
      int req, int j0, int g0, int g1, float scale, CpuTensor out, int maxCtx, int[] blocks) {
    int group = q.cols() / hd / nkv;
    int heads = (g1 - g0) * group;
    float[][] s = SCRATCH.get();
    float[] scores = scratch(s, 0, heads * maxCtx);
    float[] qh = scratch(s, 1, heads * hd);
    float[] acc = scratch(s, 2, heads * hd);
    float[] inv = scratch(s, 3, heads);
    float[] lanes = new float[F];
    int[] qsl = b.queryStartLoc();
    int nq = qsl[req + 1] - qsl[req];
    int seqLen = b.seqLens()[req];
    int bs = b.blockSize();
    long slotFloats = (long) nkv * hd;
    int vecEnd = hd - hd % F;
    MemorySegment qd = q.data();
    for (int j = j0; j < Math.min(nq, j0 + QUERY_TILE); j++) {
      long row = qsl[req] + j;
      int ctx = seqLen - nq + j + 1;
      long headBase = row * q.cols() + (long) g0 * group * hd;
      MemorySegment.copy(qd, JAVA_FLOAT_UNALIGNED, headBase * 4, qh, 0, heads * hd);

      // scores[h * ctx + p] = scale * q_h . K[p, kv head of h]; four positions of a block at a
      // time so that four independent FMA chains hide each other's latency.
      for (int pos = 0; pos < ctx; ) {
        long slot = (long) blocks[pos / bs] * bs + pos % bs;
        int run = Math.min(ctx - pos, bs - pos % bs); // positions left in this block
        if (run >= 4 && vecEnd == hd) {
          for (int g = g0; g < g1; g++) {
            long k0 = (slot * slotFloats + (long) g * hd) * 4;
            long stride = slotFloats * 4;
            for (int hh = 0; hh < group; hh++) {
              int h = (g - g0) * group + hh;
              int qo = h * hd;
              FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
              for (int i = 0; i < hd; i += F) {
                FloatVector qv = FloatVector.fromArray(FS, qh, qo + i);
                long k = k0 + i * 4L;
                a0 = qv.fma(FloatVector.fromMemorySegment(FS, keys, k, LE), a0);
                a1 = qv.fma(FloatVector.fromMemorySegment(FS, keys, k + stride, LE), a1);
                a2 = qv.fma(FloatVector.fromMemorySegment(FS, keys, k + 2 * stride, LE), a2);
                a3 = qv.fma(FloatVector.fromMemorySegment(FS, keys, k + 3 * stride, LE), a3);
              }
              int so = h * ctx + pos;
              a0.intoArray(lanes, 0);
              scores[so] = Lanes.sum(lanes) * scale;
              a1.intoArray(lanes, 0);
              scores[so + 1] = Lanes.sum(lanes) * scale;
              a2.intoArray(lanes, 0);
              scores[so + 2] = Lanes.sum(lanes) * scale;
              a3.intoArray(lanes, 0);
              scores[so + 3] = Lanes.sum(lanes) * scale;
            }
          }
          pos += 4;
          continue;
        }
        for (int g = g0; g < g1; g++) {
          long k = (slot * slotFloats + (long) g * hd) * 4;
          for (int hh = 0; hh < group; hh++) {
            int h = (g - g0) * group + hh;
            int qo = h * hd;
            FloatVector a = FloatVector.zero(FS);
            for (int i = 0; i < vecEnd; i += F) {
              a = FloatVector.fromArray(FS, qh, qo + i).fma(FloatVector.fromMemorySegment(FS, keys, k + i * 4L, LE), a);
            }
            a.intoArray(lanes, 0);
            float dot = Lanes.sum(lanes);
            for (int i = vecEnd; i < hd; i++) {
              dot += qh[qo + i] * keys.get(JAVA_FLOAT_UNALIGNED, k + i * 4L);
            }
            scores[h * ctx + pos] = dot * scale;
          }
        }
        pos++;
      }
      for (int h = 0; h < heads; h++) {
        inv[h] = 1f / expAndSum(scores, h * ctx, ctx, lanes);
      }

      // acc_h = sum_p (e[h, p] / sum_h) * V[p, kv head of h]
      java.util.Arrays.fill(acc, 0, heads * hd, 0f);
      for (int pos = 0; pos < ctx; pos++) {
        long slot = (long) blocks[pos / bs] * bs + pos % bs;
        for (int g = g0; g < g1; g++) {
          long v = (slot * slotFloats + (long) g * hd) * 4;
          for (int hh = 0; hh < group; hh++) {
            int h = (g - g0) * group + hh;
            int ao = h * hd;
            float p = scores[h * ctx + pos] * inv[h];
            FloatVector pv = FloatVector.broadcast(FS, p);
            for (int i = 0; i < vecEnd; i += F) {
              FloatVector.fromMemorySegment(FS, values, v + i * 4L, LE)
                  .fma(pv, FloatVector.fromArray(FS, acc, ao + i))
                  .intoArray(acc, ao + i);
            }
            for (int i = vecEnd; i < hd; i++) {
              acc[ao + i] += p * values.get(JAVA_FLOAT_UNALIGNED, v + i * 4L);
            }
          }
        }
      }
      MemorySegment.copy(acc, 0, out.data(), JAVA_FLOAT_UNALIGNED, (row * out.cols() + (long) g0 * group * hd) * 4, heads * hd);
    }
  }

  /** x[off + i] = exp(x[off + i] - max(x[off..off+n))) for i < n; returns their sum. */
  private static float expAndSum(float[] x, int off, int n, float[] lanes) {
    float max = Float.NEGATIVE_INFINITY;
    for (int i = 0; i < n; i++) {
      max = Math.max(max, x[off + i]);
    }
    FloatVector sum = FloatVector.zero(FS);
    int i = 0;
    for (; i + F <= n; i += F) {
      FloatVector e = ExpF.exp(FloatVector.fromArray(FS, x, off + i).sub(max));
      e.intoArray(x, off + i);
      sum = sum.add(e);
    }
    sum.intoArray(lanes, 0);
    float s = Lanes.sum(lanes);
    for (; i < n; i++) {
      float e = ExpF.exp(x[off + i] - max);
      x[off + i] = e;
      s += e;
    }
    return s;
  }
}
