package io.quire.engine.sampling;

import io.quire.engine.SamplingParams;

/**
 * vLLM's penalties ({@code apply_penalties}): repetition over prompt and output tokens (HF's
 * CTRL-style: a positive logit is divided by the penalty, a negative one multiplied), then
 * frequency (times the count) and presence (once) over output tokens only.
 */
final class Penalties {
  private Penalties() {}

  static void apply(
      float[] logits,
      int offset,
      int vocabSize,
      SamplingParams params,
      TokenCounts promptCounts,
      TokenCounts outputCounts) {
    float repetition = params.repetitionPenalty();
    if (repetition != 1f) {
      for (int s = 0; s < promptCounts.capacity(); s++) {
        int id = promptCounts.keyAt(s);
        if (id >= 0 && id < vocabSize) repeat(logits, offset + id, repetition);
      }
      for (int s = 0; s < outputCounts.capacity(); s++) {
        int id = outputCounts.keyAt(s);
        if (id >= 0 && id < vocabSize && !promptCounts.contains(id)) {
          repeat(logits, offset + id, repetition);
        }
      }
    }
    float frequency = params.frequencyPenalty();
    float presence = params.presencePenalty();
    if (frequency != 0f || presence != 0f) {
      for (int s = 0; s < outputCounts.capacity(); s++) {
        int id = outputCounts.keyAt(s);
        if (id < 0 || id >= vocabSize) continue;
        int i = offset + id;
        logits[i] -= frequency * outputCounts.countAt(s);
        logits[i] -= presence;
      }
    }
  }

  private static void repeat(float[] logits, int i, float penalty) {
    logits[i] = logits[i] > 0f ? logits[i] / penalty : logits[i] * penalty;
  }
}
