package io.quire.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The batch-invariant matmul's launch shapes: host logic only, checked against gemm_bi.cu itself. */
class GemmBiShapeTest {

  @Test
  void everyListedKernelIsInstantiatedInTheSourceAndNoOther() {
    Matcher m = Pattern.compile("(?m)^GEMM_BI\\((\\d+), (\\d+), (\\d+), (\\d+), (\\d+), (\\d+)\\)").matcher(Kernels.resource("gemm_bi.cu"));
    List<String> inSource = new ArrayList<>();
    while (m.find()) {
      inSource.add("gemm_bi_" + m.group(1) + "_" + m.group(2) + "_" + m.group(3) + "_" + m.group(4) + "_" + m.group(5) + "_" + m.group(6));
    }
    assertEquals(GemmBiShape.KERNELS, inSource);
  }

  @Test
  void shapeFollowsTheName() {
    GemmBiShape s = GemmBiShape.of("gemm_bi_2_4_4_4_32_3");
    assertEquals(128, s.tileM());
    assertEquals(128, s.tileN());
    assertEquals(256, s.threads());
    assertEquals(3 * 256 * 40 * 2, s.smemBytes());
    GemmBiShape d = GemmBiShape.of("gemm_bi_1_2_1_1_128_4");
    assertEquals(16, d.tileM());
    assertEquals(16, d.tileN());
    assertEquals(64, d.threads());
    for (String k : GemmBiShape.KERNELS) assertTrue(GemmBiShape.of(k).smemBytes() <= 227 * 1024, k + " fits an SM");
    assertThrows(IllegalArgumentException.class, () -> GemmBiShape.of("gemm_bi_9_9_9_9_9_9"));
  }

  @Test
  void decodeRowsTakeTheSmallShapeAndLargeTilesOnlyWhereTheyFillTheGpu() {
    GemmBiShape s = GemmBiShape.of(GemmBiShape.SMALL), m = GemmBiShape.of(GemmBiShape.MEDIUM), l = GemmBiShape.of(GemmBiShape.LARGE);
    assertEquals(s, GemmBiShape.choose(1, 4096, 132, s, m, l));
    assertEquals(s, GemmBiShape.choose(16, 4096, 132, s, m, l));
    assertEquals(m, GemmBiShape.choose(17, 4096, 132, s, m, l));
    assertEquals(m, GemmBiShape.choose(256, 4096, 132, s, m, l));   // 2 x 32 large tiles < 132
    assertEquals(l, GemmBiShape.choose(256, 28672, 132, s, m, l));  // 2 x 224
    assertEquals(l, GemmBiShape.choose(2048, 4096, 132, s, m, l));  // 16 x 32
  }
}
