package io.quire.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quire.spi.SamplingMath;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * What can be checked of the device sampler without a GPU: sample.cu's parameter struct and
 * constants against the Java side, and the GPU check itself, run end to end on a host emulation of
 * the kernel (the real run is {@link CudaSamplingCheck} on the GPU machine).
 */
class CudaSamplingCheckTest {
  private static final String KERNEL = Kernels.resource("sample.cu");

  @Test
  void rowParamsStructHasTheOffsetsThePackerWrites() {
    Matcher body = Pattern.compile("struct RowParams \\{(.*?)\\};", Pattern.DOTALL).matcher(KERNEL);
    assertTrue(body.find(), "RowParams in sample.cu");
    Map<String, Integer> offsets = new LinkedHashMap<>();
    int at = 0;
    Matcher field = Pattern.compile("^\\s*(double|u64|float|int)\\s+([a-z_, ]+);", Pattern.MULTILINE).matcher(body.group(1));
    while (field.find()) {
      int size = field.group(1).equals("double") || field.group(1).equals("u64") ? 8 : 4;
      for (String name : field.group(2).split(",")) {
        at = (at + size - 1) / size * size; // natural alignment
        offsets.put(name.trim(), at);
        at += size;
      }
    }
    assertEquals(CudaSampler.ROW_FIELDS, offsets);
    assertEquals(CudaSampler.ROW_BYTES, (at + 7) / 8 * 8);
  }

  @Test
  void kernelWeightConstantsAreSamplingMaths() {
    Map<String, Float> want = new LinkedHashMap<>();
    want.put("LOG2E", SamplingMath.LOG2E);
    want.put("ROUND", SamplingMath.ROUND);
    want.put("LN2_HI", SamplingMath.LN2_HI);
    want.put("LN2_LO", SamplingMath.LN2_LO);
    for (int i = 0; i < 6; i++) {
      want.put("P" + i, List.of(SamplingMath.P0, SamplingMath.P1, SamplingMath.P2, SamplingMath.P3, SamplingMath.P4, SamplingMath.P5).get(i));
    }
    for (Map.Entry<String, Float> e : want.entrySet()) {
      Matcher m = Pattern.compile("\\b" + e.getKey() + " = __int_as_float\\(0x([0-9a-f]{8})\\)").matcher(KERNEL);
      assertTrue(m.find(), e.getKey() + " in sample.cu");
      assertEquals(Float.floatToRawIntBits(e.getValue()), Integer.parseUnsignedInt(m.group(1), 16), e.getKey());
    }
    Matcher min = Pattern.compile("a >= __int_as_float\\(0x([0-9a-f]{8})\\)").matcher(KERNEL);
    assertTrue(min.find());
    assertEquals(Float.floatToRawIntBits(SamplingMath.MIN_ARGUMENT), Integer.parseUnsignedInt(min.group(1), 16));
  }

  @Test
  void chiSquareTailMatchesTabulatedQuantiles() {
    // P(chi2_df > x) from standard tables.
    assertEquals(0.05, CudaSamplingCheck.upperGamma(0.5, 3.841 / 2), 1e-4);
    assertEquals(0.001, CudaSamplingCheck.upperGamma(5, 29.588 / 2), 1e-5);
    assertEquals(0.05, CudaSamplingCheck.upperGamma(50, 124.342 / 2), 1e-4);
    assertEquals(1e-6, CudaSamplingCheck.upperGamma(1.5, 30.66 / 2), 1e-7);
  }

  @Test
  void theGpuCheckPassesOnTheHostEmulationOfTheKernel() {
    try (SamplingDevice dev = new SampleKernelEmulator()) {
      List<CudaSamplingCheck.Result> results = new CudaSamplingCheck(dev, CudaSamplingCheck.Config.QUICK, 7).run();
      assertTrue(results.size() >= 15, "checks run: " + results.size());
      assertEquals(List.of(), results.stream().filter(r -> !r.pass()).toList());
    }
  }
}
