package io.quire.engine.core;

import io.quire.engine.SamplingParams;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/** Seeded random runs for model-based tests, and request factories. */
final class Seeds {
  private Seeds() {}

  /** Base seed: fixed for reproducible CI, overridable with -Dquire.test.seed=N to explore. */
  static final long BASE = Long.getLong("quire.test.seed", 0x5EED_2026L);

  /** Runs {@code body} for {@code runs} seeds; a failure names the seed that reproduces it. */
  static void forEachSeed(int runs, Consumer<SplittableRandom> body) {
    for (int i = 0; i < runs; i++) {
      long seed = BASE + i;
      try {
        body.accept(new SplittableRandom(seed));
      } catch (Throwable t) {
        throw new AssertionError("failed with seed " + seed + " (-Dquire.test.seed=" + seed + "): " + t, t);
      }
    }
  }

  static SamplingParams maxTokens(Integer maxTokens) {
    return new SamplingParams(1, 1.0f, 1.0f, 0, 0.0f, 0.0f, 0.0f, 1.0f, null, List.of(), List.of(),
        false, maxTokens, 0, null, true, false);
  }

  static Request request(String id, int[] prompt, int maxTokens) {
    return new Request(id, prompt, maxTokens(maxTokens), 0, 0);
  }

  static Request request(String id, int[] prompt, int maxTokens, int priority, long arrival) {
    return new Request(id, prompt, maxTokens(maxTokens), priority, arrival);
  }

  /** Tokens 1000 + start, 1000 + start + 1, ... (distinct content per start). */
  static int[] tokens(int start, int length) {
    int[] t = new int[length];
    for (int i = 0; i < length; i++) t[i] = 1000 + start + i;
    return t;
  }
}
