package io.quire.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.quire.spi.BackendProvider;
import io.quire.spi.BatchMetadata;
import io.quire.spi.DType;
import io.quire.spi.DeviceBatch;
import io.quire.spi.KvCache;
import io.quire.spi.Rope;
import io.quire.spi.Tensor;
import java.util.ServiceLoader;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

class OpsTest {
  private static final CpuBackend BACKEND = new CpuBackend(2);

  @AfterAll
  static void close() {
    BACKEND.close();
  }

  @Test
  void serviceLoaderFindsTheCpuBackend() {
    BackendProvider p =
        ServiceLoader.load(BackendProvider.class).stream()
            .map(ServiceLoader.Provider::get)
            .filter(x -> x.name().equals("cpu"))
            .findFirst()
            .orElseThrow();
    assertEquals(true, p.available());
    try (var b = p.create()) {
      assertEquals(DType.F32, b.activationDType());
    }
  }

  private static DeviceBatch tokens(int[] ids, int[] positions) {
    int t = ids.length;
    return BACKEND.prepare(
        new BatchMetadata(ids, positions, new int[] {0, t}, new int[] {t}, new int[t], new int[][] {new int[(t + 15) / 16]}, new int[0], 16));
  }

  @ParameterizedTest
  @EnumSource(value = DType.class, names = {"BF16", "F16", "F32"})
  void embeddingReadsTableRowsOfAnyStoredDtype(DType dt) {
    SplittableRandom r = TestData.random("embedding " + dt);
    int vocab = 50;
    int dim = 37;
    float[] table = TestData.floats(r, vocab * dim, 1);
    Tensor tt = TestData.weight(BACKEND, dt, vocab, dim, table);
    int[] ids = {3, 49, 0, 3, 17};
    try (Tensor out = BACKEND.allocate(DType.F32, 8, dim)) {
      BACKEND.embedding(tt, tokens(ids, new int[ids.length]), out);
      float[] got = TestData.read(BACKEND, out);
      for (int t = 0; t < ids.length; t++) {
        for (int d = 0; d < dim; d++) {
          assertEquals(table[ids[t] * dim + d], got[t * dim + d], "row " + t + " col " + d);
        }
      }
    }
  }

  @Test
  void embeddingRejectsIdsOutsideTheVocabulary() {
    Tensor tt = TestData.weight(BACKEND, DType.F32, 4, 3, new float[12]);
    try (Tensor out = BACKEND.allocate(DType.F32, 1, 3)) {
      assertThrows(IllegalArgumentException.class, () -> BACKEND.embedding(tt, tokens(new int[] {4}, new int[1]), out));
    }
  }

  static double[] rmsRef(float[] x, int off, int n, float[] w, float eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) {
      ss += (double) x[off + i] * x[off + i];
    }
    double inv = 1 / Math.sqrt(ss / n + eps);
    double[] o = new double[n];
    for (int i = 0; i < n; i++) {
      o[i] = x[off + i] * inv * w[i];
    }
    return o;
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 3, 70, 2000})
  void rmsNormMatchesReference(int t) {
    for (DType wt : new DType[] {DType.F32, DType.BF16}) {
      SplittableRandom r = TestData.random("rmsNorm T=" + t + " " + wt);
      int n = 67;
      float[] x = TestData.floats(r, t * n, 3);
      float[] w = TestData.floats(r, n, 2);
      Tensor wtn = TestData.weight(BACKEND, wt, 1, n, w);
      try (Tensor xt = TestData.activation(BACKEND, t, n, x); Tensor out = BACKEND.allocate(DType.F32, t, n)) {
        BACKEND.rmsNorm(xt, wtn, 1e-6f, out);
        float[] got = TestData.read(BACKEND, out);
        for (int i = 0; i < t; i++) {
          double[] want = rmsRef(x, i * n, n, w, 1e-6f);
          for (int j = 0; j < n; j++) {
            TestData.assertClose(want[j], 0, got[i * n + j], 1e-5, "row " + i + " col " + j);
          }
        }
        assertArrayEquals(x, TestData.read(BACKEND, xt), "x is left unchanged");
      }
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 5, 600})
  void addRmsNormAddsIntoTheResidualAndNormalisesIt(int t) {
    SplittableRandom r = TestData.random("addRmsNorm T=" + t);
    int n = 48 + 5;
    float[] x = TestData.floats(r, t * n, 3);
    float[] res = TestData.floats(r, t * n, 3);
    float[] w = TestData.floats(r, n, 2);
    Tensor wtn = TestData.weight(BACKEND, DType.BF16, 1, n, w);
    try (Tensor xt = TestData.activation(BACKEND, t, n, x);
        Tensor rt = TestData.activation(BACKEND, t, n, res);
        Tensor out = BACKEND.allocate(DType.F32, t, n)) {
      BACKEND.addRmsNorm(xt, rt, wtn, 1e-5f, out);
      float[] sum = new float[t * n];
      for (int i = 0; i < sum.length; i++) {
        sum[i] = x[i] + res[i];
      }
      assertArrayEquals(sum, TestData.read(BACKEND, rt), "residual holds x + residual");
      float[] got = TestData.read(BACKEND, out);
      for (int i = 0; i < t; i++) {
        double[] want = rmsRef(sum, i * n, n, w, 1e-5f);
        for (int j = 0; j < n; j++) {
          TestData.assertClose(want[j], 0, got[i * n + j], 1e-5, "row " + i + " col " + j);
        }
      }
    }
  }

  @Test
  void headRmsNormNormalisesEachHeadInPlace() {
    SplittableRandom r = TestData.random("headRmsNorm");
    int t = 9;
    int hd = 24;
    int heads = 5;
    float[] x = TestData.floats(r, t * hd * heads, 3);
    float[] w = TestData.floats(r, hd, 2);
    Tensor wtn = TestData.weight(BACKEND, DType.BF16, 1, hd, w);
    try (Tensor xt = TestData.activation(BACKEND, t, hd * heads, x)) {
      BACKEND.headRmsNorm(xt, hd, wtn, 1e-6f);
      float[] got = TestData.read(BACKEND, xt);
      for (int i = 0; i < t * heads; i++) {
        double[] want = rmsRef(x, i * hd, hd, w, 1e-6f);
        for (int j = 0; j < hd; j++) {
          TestData.assertClose(want[j], 0, got[i * hd + j], 1e-5, "head " + i + " col " + j);
        }
      }
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 7, 300})
  void siluMulMultipliesSiluOfGateByUp(int t) {
    SplittableRandom r = TestData.random("siluMul T=" + t);
    int n = 83;
    float[] gu = TestData.floats(r, t * 2 * n, 12);
    try (Tensor g = TestData.activation(BACKEND, t, 2 * n, gu); Tensor out = BACKEND.allocate(DType.F32, t, n)) {
      BACKEND.siluMul(g, out);
      float[] got = TestData.read(BACKEND, out);
      for (int i = 0; i < t; i++) {
        for (int j = 0; j < n; j++) {
          double gate = gu[i * 2 * n + j];
          double up = gu[i * 2 * n + n + j];
          double want = gate / (1 + Math.exp(-gate)) * up;
          TestData.assertClose(want, 0, got[i * n + j], 1e-5, "row " + i + " col " + j);
        }
      }
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {8, 64, 128, 40})
  void ropeRotatesHalvesInsideAndBeyondThePrecomputedTable(int hd) {
    SplittableRandom r = TestData.random("rope hd=" + hd);
    int half = hd / 2;
    float[] invFreq = new float[half];
    for (int i = 0; i < half; i++) {
      invFreq[i] = (float) (1 / Math.pow(10000, 2.0 * i / hd));
    }
    int nh = 4;
    int nkv = 2;
    int[] positions = {0, 1, 5, 99, 100, 101, 4000, 65_000, 7};
    int t = positions.length;
    float[] q = TestData.floats(r, t * nh * hd, 2);
    float[] k = TestData.floats(r, t * nkv * hd, 2);
    Rope rope = BACKEND.createRope(invFreq, hd, 100);
    try (Tensor qt = TestData.activation(BACKEND, t, nh * hd, q); Tensor kt = TestData.activation(BACKEND, t, nkv * hd, k)) {
      BACKEND.rope(qt, kt, rope, tokens(new int[t], positions));
      check(q, TestData.read(BACKEND, qt), positions, nh, hd, invFreq);
      check(k, TestData.read(BACKEND, kt), positions, nkv, hd, invFreq);
    }
  }

  private static void check(float[] x, float[] got, int[] positions, int heads, int hd, float[] invFreq) {
    int half = hd / 2;
    for (int t = 0; t < positions.length; t++) {
      for (int h = 0; h < heads; h++) {
        int base = (t * heads + h) * hd;
        for (int i = 0; i < half; i++) {
          float angle = (float) positions[t] * invFreq[i];
          double c = Math.cos(angle);
          double s = Math.sin(angle);
          double x1 = x[base + i];
          double x2 = x[base + half + i];
          double mag = Math.abs(x1) + Math.abs(x2);
          TestData.assertClose(x1 * c - x2 * s, mag, got[base + i], 1e-6, "pos " + positions[t] + " head " + h + " i " + i);
          TestData.assertClose(x2 * c + x1 * s, mag, got[base + half + i], 1e-6, "pos " + positions[t] + " head " + h + " i+half " + i);
        }
      }
    }
  }

  @Test
  void writeKvStoresRowsAtTheirSlotsAndSkipsNegativeSlots() {
    SplittableRandom r = TestData.random("writeKv");
    int nkv = 2;
    int hd = 8;
    int bs = 4;
    KvCache cache = BACKEND.allocateKvCache(2, 6, bs, nkv, hd);
    int[] slots = {5, -1, 23, 0};
    int t = slots.length;
    float[] k = TestData.floats(r, t * nkv * hd, 1);
    float[] v = TestData.floats(r, t * nkv * hd, 1);
    var batch =
        BACKEND.prepare(new BatchMetadata(new int[t], new int[t], new int[] {0, t}, new int[] {t}, slots, new int[][] {{0}}, new int[0], bs));
    try (Tensor kt = TestData.activation(BACKEND, t, nkv * hd, k); Tensor vt = TestData.activation(BACKEND, t, nkv * hd, v)) {
      BACKEND.writeKv(kt, vt, cache, 1, batch);
      CpuKvCache c = (CpuKvCache) cache;
      int w = nkv * hd;
      for (int i = 0; i < t; i++) {
        if (slots[i] < 0) {
          continue;
        }
        for (int j = 0; j < w; j++) {
          assertEquals(k[i * w + j], c.keys(1).getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, (long) slots[i] * w + j));
          assertEquals(v[i * w + j], c.values(1).getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, (long) slots[i] * w + j));
          assertEquals(0f, c.keys(0).getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, (long) slots[i] * w + j), "layer 0 untouched");
        }
      }
    }
    cache.close();
  }

  @Test
  void gatherLogitRowsPicksTheRequestedRows() {
    SplittableRandom r = TestData.random("gatherLogitRows");
    int t = 6;
    int n = 19;
    float[] x = TestData.floats(r, t * n, 1);
    int[] idx = {5, 0, 2};
    var batch =
        BACKEND.prepare(new BatchMetadata(new int[t], new int[t], new int[] {0, t}, new int[] {t}, new int[t], new int[][] {{0}}, idx, 16));
    try (Tensor xt = TestData.activation(BACKEND, t, n, x); Tensor out = BACKEND.allocate(DType.F32, 4, n)) {
      BACKEND.gatherLogitRows(xt, batch, out.firstRows(3));
      float[] got = TestData.read(BACKEND, out.firstRows(3));
      for (int i = 0; i < idx.length; i++) {
        assertArrayEquals(java.util.Arrays.copyOfRange(x, idx[i] * n, idx[i] * n + n), java.util.Arrays.copyOfRange(got, i * n, i * n + n));
      }
    }
  }

  @Test
  void allocateGivesZeros() {
    try (Tensor t = BACKEND.allocate(DType.F32, 3, 5)) {
      assertArrayEquals(new float[15], TestData.read(BACKEND, t));
    }
  }
}
