package io.quire.engine;

import java.util.List;

/**
 * Per-request sampling parameters, with vLLM's names, defaults and meaning.
 *
 * <p>TODO(sampling): validation of every field in the compact constructor, with messages naming the
 * field and the limit (vLLM's wording), and a builder.
 */
public record SamplingParams(
    int n,
    float temperature,
    float topP,
    int topK,
    float minP,
    float presencePenalty,
    float frequencyPenalty,
    float repetitionPenalty,
    Long seed,
    List<String> stop,
    List<Integer> stopTokenIds,
    boolean ignoreEos,
    Integer maxTokens,
    int minTokens,
    Integer logprobs,
    boolean skipSpecialTokens,
    boolean includeStopStrInOutput) {

  /** vLLM's defaults: one sample at temperature 1.0 with no truncation; max_tokens 16 unless set. */
  public static SamplingParams defaults() {
    return new SamplingParams(
        1, 1.0f, 1.0f, 0, 0.0f, 0.0f, 0.0f, 1.0f, null, List.of(), List.of(), false, 16, 0, null,
        true, false);
  }
}
