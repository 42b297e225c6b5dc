package io.quire.engine.sampling;

import java.util.SplittableRandom;
import java.util.function.Consumer;

/** Seeded random runs; a failure names the seed that reproduces it. */
final class RandomRuns {
  private RandomRuns() {}

  /** Fixed for reproducible CI; -Dquire.test.seed=N explores others. */
  static final long BASE = Long.getLong("quire.test.seed", 0x5A3B_2026L);

  static void forEachSeed(int runs, Consumer<SplittableRandom> body) {
    for (int i = 0; i < runs; i++) {
      long seed = BASE + i;
      try {
        body.accept(new SplittableRandom(seed));
      } catch (Throwable t) {
        throw new AssertionError(
            "failed with seed " + seed + " (-Dquire.test.seed=" + seed + "): " + t, t);
      }
    }
  }

  /** Logits like a model's: a few strong candidates over a broad low floor. */
  static float[] logits(SplittableRandom rnd, int vocab) {
    float[] l = new float[vocab];
    for (int i = 0; i < vocab; i++) l[i] = (float) (rnd.nextGaussian() * 2.0);
    for (int i = 0; i < Math.min(8, vocab); i++) l[rnd.nextInt(vocab)] += 6f + 4f * (float) rnd.nextDouble();
    return l;
  }
}
