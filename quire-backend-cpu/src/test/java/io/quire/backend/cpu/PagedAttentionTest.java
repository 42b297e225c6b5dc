package io.quire.backend.cpu;

import io.quire.spi.BatchMetadata;
import io.quire.spi.DType;
import io.quire.spi.Fp8;
import io.quire.spi.KvCache;
import io.quire.spi.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PagedAttentionTest {
  private static final CpuBackend BACKEND = new CpuBackend(2);

  @AfterAll
  static void close() {
    BACKEND.close();
  }

  /**
   * A mixed step: a prefill chunk of 13 tokens after a cached prefix of 21, a fresh prompt of 9, and
   * decode tokens at context lengths 1, 17, 40 and 300, over blocks scattered through the pool.
   */
  @ParameterizedTest(name = "heads {0}, kv heads {1}, headDim {2}, blockSize {3}")
  @CsvSource({"8, 2, 40, 16", "4, 4, 64, 4", "6, 1, 128, 16", "2, 1, 7, 3"})
  void attendsCausallyOverScatteredBlocksOfAMixedBatch(int nh, int nkv, int hd, int bs) {
    check(nh, nkv, hd, bs, new int[] {34, 9, 1, 17, 40, 300}, new int[] {13, 9, 1, 1, 1, 1}, false);
  }

  /**
   * kv_cache_dtype fp8: writeKv rounds K and V to e4m3, and attention matches the fp64 reference over the
   * rounded values (a long prefill chunk spans several query tiles; one long decode splits its kv heads).
   */
  @ParameterizedTest(name = "fp8 cache: heads {0}, kv heads {1}, headDim {2}, blockSize {3}")
  @CsvSource({"8, 2, 40, 16", "6, 1, 128, 16", "2, 1, 7, 3"})
  void anFp8CacheAttendsOverTheRoundedKeysAndValues(int nh, int nkv, int hd, int bs) {
    check(nh, nkv, hd, bs, new int[] {70, 9, 1, 17, 300}, new int[] {50, 9, 1, 1, 1}, true);
    check(nh, nkv, hd, bs, new int[] {777}, new int[] {1}, true);
  }

  /** One request gives too few tasks for the threads, so its kv heads are split among tasks. */
  @ParameterizedTest(name = "heads {0}, kv heads {1}, headDim {2}, blockSize {3}")
  @CsvSource({"8, 4, 64, 16", "12, 3, 40, 8"})
  void aSingleLongDecodeSplitsItsKvHeadsAmongThreads(int nh, int nkv, int hd, int bs) {
    check(nh, nkv, hd, bs, new int[] {777}, new int[] {1}, false);
  }

  private static void check(int nh, int nkv, int hd, int bs, int[] seqLens, int[] numQuery, boolean fp8) {
    SplittableRandom r = TestData.random("pagedAttention " + nh + "/" + nkv + "/" + hd + "/" + bs);
    int s = seqLens.length;
    int numBlocks = 0;
    for (int len : seqLens) {
      numBlocks += (len + bs - 1) / bs;
    }
    numBlocks += 5; // free blocks in between
    List<Integer> free = new ArrayList<>();
    for (int b = 0; b < numBlocks; b++) {
      free.add(b);
    }
    Collections.shuffle(free, new java.util.Random(r.nextLong()));
    int[][] tables = new int[s][];
    int next = 0;
    for (int i = 0; i < s; i++) {
      tables[i] = new int[(seqLens[i] + bs - 1) / bs + 1]; // one spare entry past the end
      for (int j = 0; j < tables[i].length; j++) {
        tables[i][j] = free.get(next++ % numBlocks);
      }
    }
    // The whole context's K/V, written through writeKv as earlier steps would have.
    int kvw = nkv * hd;
    float[][] keys = new float[s][];
    float[][] values = new float[s][];
    int total = 0;
    for (int len : seqLens) {
      total += len;
    }
    float[] kAll = new float[total * kvw];
    float[] vAll = new float[total * kvw];
    int[] slots = new int[total];
    int at = 0;
    for (int i = 0; i < s; i++) {
      keys[i] = TestData.floats(r, seqLens[i] * kvw, 1);
      values[i] = TestData.floats(r, seqLens[i] * kvw, 1);
      System.arraycopy(keys[i], 0, kAll, at * kvw, keys[i].length);
      System.arraycopy(values[i], 0, vAll, at * kvw, values[i].length);
      for (int p = 0; p < seqLens[i]; p++) {
        slots[at + p] = tables[i][p / bs] * bs + p % bs;
      }
      at += seqLens[i];
    }
    KvCache cache = fp8 ? BACKEND.allocateKvCache(2, numBlocks, bs, nkv, hd, DType.FP8_E4M3)
        : BACKEND.allocateKvCache(2, numBlocks, bs, nkv, hd);
    var fill =
        BACKEND.prepare(new BatchMetadata(new int[total], new int[total], new int[] {0, total}, new int[] {total}, slots, new int[][] {new int[(total + bs - 1) / bs]}, new int[0], bs));
    try (Tensor kt = TestData.activation(BACKEND, total, kvw, kAll); Tensor vt = TestData.activation(BACKEND, total, kvw, vAll)) {
      BACKEND.writeKv(kt, vt, cache, 1, fill);
    }
    if (fp8) {  // the reference attends over what an e4m3 cache holds
      for (int i = 0; i < s; i++) {
        for (int e = 0; e < keys[i].length; e++) {
          keys[i][e] = Fp8.round(keys[i][e]);
          values[i][e] = Fp8.round(values[i][e]);
        }
      }
    }

    int[] qsl = new int[s + 1];
    for (int i = 0; i < s; i++) {
      qsl[i + 1] = qsl[i] + numQuery[i];
    }
    int t = qsl[s];
    int[] positions = new int[t];
    for (int i = 0; i < s; i++) {
      for (int j = 0; j < numQuery[i]; j++) {
        positions[qsl[i] + j] = seqLens[i] - numQuery[i] + j;
      }
    }
    var step = BACKEND.prepare(new BatchMetadata(new int[t], positions, qsl, seqLens, new int[t], tables, new int[0], bs));
    float[] q = TestData.floats(r, t * nh * hd, 1);
    float scale = (float) (1 / Math.sqrt(hd));
    try (Tensor qt = TestData.activation(BACKEND, t, nh * hd, q); Tensor out = BACKEND.allocate(DType.F32, t + 2, nh * hd)) {
      BACKEND.pagedAttention(qt, cache, 1, step, scale, out);
      float[] got = TestData.read(BACKEND, out);
      int group = nh / nkv;
      for (int i = 0; i < s; i++) {
        for (int j = 0; j < numQuery[i]; j++) {
          int row = qsl[i] + j;
          int ctx = positions[row] + 1;
          for (int h = 0; h < nh; h++) {
            int g = h / group;
            double[] sc = new double[ctx];
            double max = Double.NEGATIVE_INFINITY;
            for (int p = 0; p < ctx; p++) {
              double d = 0;
              for (int e = 0; e < hd; e++) {
                d += (double) q[(row * nh + h) * hd + e] * keys[i][(p * nkv + g) * hd + e];
              }
              sc[p] = d * scale;
              max = Math.max(max, sc[p]);
            }
            double sum = 0;
            for (int p = 0; p < ctx; p++) {
              sc[p] = Math.exp(sc[p] - max);
              sum += sc[p];
            }
            for (int e = 0; e < hd; e++) {
              double o = 0;
              double mag = 0;
              for (int p = 0; p < ctx; p++) {
                double term = sc[p] / sum * values[i][(p * nkv + g) * hd + e];
                o += term;
                mag += Math.abs(term);
              }
              TestData.assertClose(o, mag, got[row * nh * hd + h * hd + e], 1e-5, "request " + i + " query " + j + " head " + h + " dim " + e);
            }
          }
        }
      }
    }
    cache.close();
  }
}
