package io.quire.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

import io.quire.spi.BatchMetadata;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Causal attention over the paged KV cache, two-pass softmax in fp32 (scores, max, exp, weighted sum
 * of V), as HF eager attention computes it. One task is (request, kv head, tile of query tokens);
 * the heads of a GQA group run in the same task so their shared K/V rows stay in cache.
 */
final class PagedAttention {
  private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
  private static final int F = FS.length();
  private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
  private static final int QUERY_TILE = 16;
  private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[3][0]);

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
    int numTasks = 0;
    long work = 0;
    for (int i = 0; i < b.numRequests(); i++) {
      int nq = qsl[i + 1] - qsl[i];
      numTasks += nkv * ((nq + QUERY_TILE - 1) / QUERY_TILE);
      work += (long) nq * b.seqLens()[i];
    }
    int[] req = new int[numTasks];
    int[] kvHead = new int[numTasks];
    int[] j0 = new int[numTasks];
    int n = 0;
    for (int i = 0; i < b.numRequests(); i++) {
      int nq = qsl[i + 1] - qsl[i];
      for (int j = 0; j < nq; j += QUERY_TILE) {
        for (int g = 0; g < nkv; g++) {
          req[n] = i;
          kvHead[n] = g;
          j0[n++] = j;
        }
      }
    }
    MemorySegment keys = cache.keys(layer);
    MemorySegment values = cache.values(layer);
    int maxCtx = b.maxSeqLen();
    java.util.function.IntConsumer task =
        k -> tile(q, keys, values, nkv, hd, b, req[k], kvHead[k], j0[k], scale, out, maxCtx);
    if (work * q.cols() < (1 << 15)) {
      for (int k = 0; k < numTasks; k++) {
        task.accept(k);
      }
    } else {
      pool.run(numTasks, task);
    }
  }

  private static void tile(
      CpuTensor q, MemorySegment keys, MemorySegment values, int nkv, int hd, BatchMetadata b,
      int req, int g, int j0, float scale, CpuTensor out, int maxCtx) {
    float[][] scratch = SCRATCH.get();
    if (scratch[0].length < maxCtx) {
      scratch[0] = new float[maxCtx];
    }
    if (scratch[1].length < hd) {
      scratch[1] = new float[hd];
      scratch[2] = new float[hd];
    }
    float[] scores = scratch[0];
    float[] qh = scratch[1];
    float[] acc = scratch[2];
    int group = q.cols() / hd / nkv;
    int[] qsl = b.queryStartLoc();
    int nq = qsl[req + 1] - qsl[req];
    int seqLen = b.seqLens()[req];
    int[] blocks = b.blockTables()[req];
    int bs = b.blockSize();
    MemorySegment qd = q.data();
    MemorySegment od = out.data();
    for (int j = j0; j < Math.min(nq, j0 + QUERY_TILE); j++) {
      long row = qsl[req] + j;
      int ctx = seqLen - nq + j + 1;
      for (int hh = 0; hh < group; hh++) {
        int h = g * group + hh;
        long qOff = row * q.cols() + (long) h * hd;
        MemorySegment.copy(qd, JAVA_FLOAT_UNALIGNED, qOff * 4, qh, 0, hd);

        float max = Float.NEGATIVE_INFINITY;
        for (int pos = 0; pos < ctx; ) {
          long slot = (long) blocks[pos / bs] * bs;
          int end = Math.min(ctx, (pos / bs + 1) * bs);
          for (long kOff = (slot * nkv + g) * hd; pos < end; pos++, kOff += (long) nkv * hd) {
            float s = dot(qh, keys, kOff, hd) * scale;
            scores[pos] = s;
            max = Math.max(max, s);
          }
        }
        float inv = 1f / expAndSum(scores, ctx, max);

        java.util.Arrays.fill(acc, 0, hd, 0f);
        for (int pos = 0; pos < ctx; ) {
          long slot = (long) blocks[pos / bs] * bs;
          int end = Math.min(ctx, (pos / bs + 1) * bs);
          for (long vOff = (slot * nkv + g) * hd; pos < end; pos++, vOff += (long) nkv * hd) {
            axpy(scores[pos] * inv, values, vOff, acc, hd);
          }
        }
        MemorySegment.copy(acc, 0, od, JAVA_FLOAT_UNALIGNED, (row * out.cols() + (long) h * hd) * 4, hd);
      }
    }
  }

  private static float dot(float[] a, MemorySegment b, long bOff, int n) {
    FloatVector acc = FloatVector.zero(FS);
    int i = 0;
    for (; i + F <= n; i += F) {
      acc = FloatVector.fromArray(FS, a, i).fma(FloatVector.fromMemorySegment(FS, b, (bOff + i) * 4, LE), acc);
    }
    float[] lanes = new float[F];
    acc.intoArray(lanes, 0);
    float s = Lanes.sum(lanes);
    for (; i < n; i++) {
      s += a[i] * b.getAtIndex(JAVA_FLOAT_UNALIGNED, bOff + i);
    }
    return s;
  }

  /** scores[i] = exp(scores[i] - max) for i < n; returns their sum. */
  private static float expAndSum(float[] scores, int n, float max) {
    FloatVector sum = FloatVector.zero(FS);
    int i = 0;
    for (; i + F <= n; i += F) {
      FloatVector e = FloatVector.fromArray(FS, scores, i).sub(max).lanewise(VectorOperators.EXP);
      e.intoArray(scores, i);
      sum = sum.add(e);
    }
    float[] lanes = new float[F];
    sum.intoArray(lanes, 0);
    float s = Lanes.sum(lanes);
    for (; i < n; i++) {
      float e = (float) Math.exp(scores[i] - max);
      scores[i] = e;
      s += e;
    }
    return s;
  }

  /** acc += p * v[vOff .. vOff+n). */
  private static void axpy(float p, MemorySegment v, long vOff, float[] acc, int n) {
    FloatVector pv = FloatVector.broadcast(FS, p);
    int i = 0;
    for (; i + F <= n; i += F) {
      FloatVector.fromMemorySegment(FS, v, (vOff + i) * 4, LE)
          .fma(pv, FloatVector.fromArray(FS, acc, i))
          .intoArray(acc, i);
    }
    for (; i < n; i++) {
      acc[i] += p * v.getAtIndex(JAVA_FLOAT_UNALIGNED, vOff + i);
    }
  }
}
