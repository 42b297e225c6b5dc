package io.quire.backend.cuda;

import io.quire.spi.DeviceMemory;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Runs on the GPU machine (no Maven there): every op against the CPU backend, then the tiny fixtures
 * against HF transformers through the model and the whole engine. Prints PASS/FAIL lines; exits 1 on
 * any FAIL. Usage: {@code java -cp ... io.quire.backend.cuda.CudaSelfCheck [work-dir]}.
 */
public final class CudaSelfCheck {
  /** HF top1-top2 gaps below this are near-ties where bf16 may legitimately pick the other token. */
  static final double NEAR_TIE = 0.05;

  public static void main(String[] args) throws Exception {
    CudaBackendProvider p = new CudaBackendProvider();
    if (!p.available()) {
      System.out.println("SKIP cuda unavailable: " + p.unavailableReason());
      System.exit(2);
    }
    Path work = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("quire-selfcheck");
    boolean allOk = true;
    long t0 = System.nanoTime();
    try (CudaBackend gpu = new CudaBackend()) {
      DeviceMemory mem = gpu.deviceMemory().orElseThrow();
      System.out.printf("device %s (%s), %.1f GiB total, %.1f GiB free; backend up in %.2f s%n", gpu.deviceName(), gpu.arch(),
          mem.totalBytes() / 1073741824.0, mem.freeBytes() / 1073741824.0, (System.nanoTime() - t0) / 1e9);
      for (OpChecks.Result r : OpChecks.run(gpu)) {
        System.out.println(r);
        allOk &= r.pass();
      }
      for (String m : FixtureChecks.MODELS) {
        try {
          FixtureChecks.Summary s = FixtureChecks.modelTeacherForced(gpu, work, m, NEAR_TIE);
          System.out.println((s.ok() ? "PASS " : "FAIL ") + s.line());
          allOk &= s.ok();
        } catch (RuntimeException e) {
          System.out.println("FAIL " + m + " model: " + e);
          e.printStackTrace(System.out);
          allOk = false;
        }
      }
      for (String m : FixtureChecks.MODELS) {
        try {
          FixtureChecks.Summary s = FixtureChecks.engineGreedy(gpu, work, m);
          // Divergence after a near-tie is reported, not failed: the teacher-forced line above is the test.
          System.out.println((s.ok() ? "PASS " : "INFO ") + s.line());
        } catch (RuntimeException e) {
          System.out.println("FAIL " + m + " engine: " + e);
          e.printStackTrace(System.out);
          allOk = false;
        }
      }
    }
    System.out.printf("%s in %.1f s%n", allOk ? "ALL PASS" : "SOME FAILED", (System.nanoTime() - t0) / 1e9);
    System.exit(allOk ? 0 : 1);
  }
}
