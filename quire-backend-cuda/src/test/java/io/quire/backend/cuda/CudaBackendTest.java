package io.quire.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.quire.spi.BackendProvider;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * Without a GPU (CI) the provider says why and the GPU tests skip with that reason; with one, every op
 * matches the CPU backend. The fixtures against HF run in {@link CudaSelfCheck} on the GPU machine.
 */
class CudaBackendTest {
  private static final CudaBackendProvider PROVIDER = new CudaBackendProvider();

  @Test
  void providerIsFoundByServiceLoaderUnderTheNameCuda() {
    List<String> names = ServiceLoader.load(BackendProvider.class).stream().map(p -> p.get().name()).toList();
    assertTrue(names.contains("cuda"), "providers found: " + names);
  }

  @Test
  void unavailableProviderGivesAOneLineReasonAndRefusesToCreate() {
    assumeTrue(!PROVIDER.available(), "a GPU is present");
    String reason = PROVIDER.unavailableReason();
    assertFalse(reason.isBlank());
    assertFalse(reason.contains("\n"), reason);
    CudaException e = assertThrows(CudaException.class, PROVIDER::create);
    assertTrue(e.getMessage().contains(reason), e.getMessage());
  }

  @Test
  void everyOpMatchesTheCpuBackendWithinBf16Tolerance() {
    assumeTrue(PROVIDER.available(), () -> "no GPU here: " + PROVIDER.unavailableReason());
    try (CudaBackend gpu = new CudaBackend()) {
      List<OpChecks.Result> results = OpChecks.run(gpu);
      List<OpChecks.Result> failed = results.stream().filter(r -> !r.pass()).toList();
      assertEquals(List.of(), failed);
    }
  }

  @Test
  void decodeBatchesPadToTheSmallestOfVllmsCaptureSizes() {
    List<Integer> sizes = new ArrayList<>(List.of(1, 2, 4, 8));
    for (int s = 16; s <= CudaBackend.GRAPH_MAX_TOKENS; s += 8) sizes.add(s);
    for (int n = 1; n <= CudaBackend.GRAPH_MAX_TOKENS; n++) {
      int want = n;
      while (!sizes.contains(want)) want++;
      assertEquals(want, CudaBackend.captureSize(n), "decode batch of " + n);
    }
    assertEquals(List.of(1, 2, 4, 4, 8, 16, 16, 24, 512), IntStream.of(1, 2, 3, 4, 5, 9, 16, 17, 505)
        .mapToObj(CudaBackend::captureSize).toList());
  }

  @Test
  void bf16RoundingIsToNearestEven() {
    assertEquals((short) 0x3f80, Bf16.fromFloat(1f));
    assertEquals((short) 0x3f80, Bf16.fromFloat(Float.intBitsToFloat(0x3f808000))); // tie -> even
    assertEquals((short) 0x3f82, Bf16.fromFloat(Float.intBitsToFloat(0x3f818000))); // tie -> even (up)
    assertEquals((short) 0x3f81, Bf16.fromFloat(Float.intBitsToFloat(0x3f808001)));
    assertTrue(Float.isNaN(Bf16.toFloat(Bf16.fromFloat(Float.NaN))));
  }
}
