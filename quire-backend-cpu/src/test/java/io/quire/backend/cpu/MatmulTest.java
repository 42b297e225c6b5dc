package io.quire.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.quire.spi.DType;
import io.quire.spi.Tensor;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class MatmulTest {
  private static final CpuBackend BACKEND = new CpuBackend(3);

  @AfterAll
  static void close() {
    BACKEND.close();
  }

  static Stream<Arguments> cases() {
    Stream.Builder<Arguments> b = Stream.builder();
    int[][] shapes = {{37, 19}, {64, 33}, {100, 6}, {256, 130}, {1000, 67}};
    int[] ts = {1, 2, 3, 4, 5, 7, 16, 17, 70};
    for (DType dt : new DType[] {DType.BF16, DType.F16, DType.F32}) {
      for (int[] s : shapes) {
        for (int t : ts) {
          b.add(Arguments.of(dt, t, s[0], s[1], null));
        }
      }
      b.add(Arguments.of(dt, 5, 100, 33, DType.F32));
      b.add(Arguments.of(dt, 70, 64, 19, DType.BF16));
      b.add(Arguments.of(dt, 1, 37, 6, DType.F16));
    }
    return b.build();
  }

  @ParameterizedTest(name = "{0} weights, T={1}, in={2}, out={3}, bias {4}")
  @MethodSource("cases")
  void matchesScalarReference(DType wt, int t, int in, int outDim, DType biasType) {
    SplittableRandom r = TestData.random("matmul " + wt + " T=" + t + " " + in + "x" + outDim);
    float[] x = TestData.floats(r, t * in, 2);
    float[] w = TestData.floats(r, outDim * in, 0.5);
    float[] bias = biasType == null ? null : TestData.floats(r, outDim, 1);
    Tensor wt_ = TestData.weight(BACKEND, wt, outDim, in, w);
    Tensor bt = biasType == null ? null : TestData.weight(BACKEND, biasType, 1, outDim, bias);
    try (Tensor xt = TestData.activation(BACKEND, t, in, x); Tensor out = BACKEND.allocate(DType.F32, t, outDim)) {
      BACKEND.matmul(xt, wt_, bt, out);
      float[] got = TestData.read(BACKEND, out);
      for (int i = 0; i < t; i++) {
        for (int o = 0; o < outDim; o++) {
          double s = 0;
          double mag = 0;
          for (int k = 0; k < in; k++) {
            double p = (double) x[i * in + k] * w[o * in + k];
            s += p;
            mag += Math.abs(p);
          }
          if (bias != null) {
            s += bias[o];
            mag += Math.abs(bias[o]);
          }
          TestData.assertClose(s, mag, got[i * outDim + o], 1e-5, "out[" + i + "][" + o + "]");
        }
      }
    }
  }

  @Test
  void aRowGivesBitwiseTheSameResultAloneAndInsideAnyBatch() {
    SplittableRandom r = TestData.random("matmul batch invariance");
    int in = 2048 + 21;
    int outDim = 301;
    for (DType dt : new DType[] {DType.BF16, DType.F16, DType.F32}) {
      float[] w = TestData.floats(r, outDim * in, 0.5);
      Tensor wt = TestData.weight(BACKEND, dt, outDim, in, w);
      float[] x = TestData.floats(r, 70 * in, 1);
      float[] all = run(wt, x, 70, in, outDim, BACKEND);
      CpuBackend single = new CpuBackend(1);
      for (int t : new int[] {1, 3, 4, 13, 70}) {
        float[] part = run(wt, java.util.Arrays.copyOf(x, t * in), t, in, outDim, single);
        for (int i = 0; i < t; i++) {
          assertArrayEquals(
              java.util.Arrays.copyOfRange(all, i * outDim, (i + 1) * outDim),
              java.util.Arrays.copyOfRange(part, i * outDim, (i + 1) * outDim),
              dt + " row " + i + " of T=" + t);
        }
      }
      single.close();
    }
  }

  private static float[] run(Tensor w, float[] x, int t, int in, int outDim, CpuBackend b) {
    try (Tensor xt = TestData.activation(b, t, in, x); Tensor out = b.allocate(DType.F32, t, outDim)) {
      b.matmul(xt, w, null, out);
      return TestData.read(b, out);
    }
  }

  @Test
  void f16WeightsKeepSubnormalsInfinitiesAndSigns() {
    // One row per special value, dotted with x = 1 at that position.
    short[] halves = {0x7C00, (short) 0xFC00, 0x0001, (short) 0x8001, 0x03FF, 0x0400, 0x7BFF, (short) 0xFBFF, 0x3C00, 0x0000, (short) 0x8000};
    int in = 40;
    float[] w = new float[halves.length * in];
    for (int i = 0; i < halves.length; i++) {
      w[i * in + i] = Float.float16ToFloat(halves[i]);
    }
    Tensor wt = TestData.weight(BACKEND, DType.F16, halves.length, in, w);
    float[] x = new float[in];
    java.util.Arrays.fill(x, 1f);
    float[] got = run(wt, x, 1, in, halves.length, BACKEND);
    for (int i = 0; i < halves.length; i++) {
      if (got[i] != Float.float16ToFloat(halves[i])) {
        throw new AssertionError("f16 " + Integer.toHexString(halves[i] & 0xFFFF) + " read as " + got[i]);
      }
    }
  }
}
