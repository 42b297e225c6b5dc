package io.quire.backend.cuda;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A short CudaSelfCheck for compute-sanitizer: every op against the CPU backend, then one tiny fixture
 * (llama3-tiny) teacher-forced and through the whole engine. Usage: {@code CudaShortCheck [work-dir]}.
 */
public final class CudaShortCheck {
  public static void main(String[] args) throws Exception {
    Path work = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("quire-shortcheck");
    boolean ok = true;
    long t0 = System.nanoTime();
    try (CudaBackend gpu = new CudaBackend()) {
      System.out.println("device " + gpu.deviceName());
      int pass = 0, n = 0;
      for (OpChecks.Result r : OpChecks.run(gpu)) {
        n++;
        if (r.pass()) pass++;
        else System.out.println(r);
        ok &= r.pass();
      }
      System.out.println("op checks: " + pass + "/" + n + " pass");
      FixtureChecks.Summary s = FixtureChecks.modelTeacherForced(gpu, work, "llama3-tiny", CudaSelfCheck.NEAR_TIE);
      System.out.println((s.ok() ? "PASS " : "FAIL ") + s.line());
      ok &= s.ok();
      System.out.println("INFO " + FixtureChecks.engineGreedy(gpu, work, "llama3-tiny").line());
    }
    System.out.printf("%s in %.1f s%n", ok ? "ALL PASS" : "SOME FAILED", (System.nanoTime() - t0) / 1e9);
    System.exit(ok ? 0 : 1);
  }
}
