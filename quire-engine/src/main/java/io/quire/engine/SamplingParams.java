package io.quire.engine;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * Per-request sampling parameters, with vLLM's names, defaults, limits and normalisation
 * ({@code vllm/sampling_params.py}: {@code __post_init__} and {@code _verify_args}).
 *
 * <p>The compact constructor validates every field and throws {@link IllegalArgumentException}
 * with a message naming the field, the limit and the value. It also normalises as vLLM does:
 * {@code seed} -1 means no seed; {@code top_k} -1 means disabled (stored as 0); a temperature in
 * (0, 0.01) is raised to 0.01; a temperature below {@link #SAMPLING_EPS} means greedy, which
 * resets top_p/top_k/min_p and requires {@code n == 1}; null {@code stop}/{@code stop_token_ids}
 * become empty lists and duplicate stop token ids are dropped.
 *
 * @param maxTokens null means "until max_model_len"
 * @param logprobs null: none; 0: only the sampled token's; k: also the top k; -1: whole vocab
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

  /** Temperatures below this mean greedy sampling (vLLM's {@code _SAMPLING_EPS}). */
  public static final float SAMPLING_EPS = 1e-5f;

  /** Positive temperatures below this are raised to it (vLLM's {@code _MAX_TEMP}): avoids inf/nan. */
  public static final float MIN_POSITIVE_TEMPERATURE = 1e-2f;

  /** Largest n (vLLM's default {@code VLLM_MAX_N_SEQUENCES}). */
  public static final int MAX_N = 16384;

  public SamplingParams {
    if (n < 1) throw bad("n must be at least 1, got " + n);
    if (n > MAX_N) throw bad("n must be at most " + MAX_N + ", got " + n);
    if (!(presencePenalty >= -2f && presencePenalty <= 2f)) {
      throw bad("presence_penalty must be in [-2, 2], got " + presencePenalty);
    }
    if (!(frequencyPenalty >= -2f && frequencyPenalty <= 2f)) {
      throw bad("frequency_penalty must be in [-2, 2], got " + frequencyPenalty);
    }
    if (!Float.isFinite(repetitionPenalty)) {
      throw bad("repetition_penalty must be a finite number, got " + repetitionPenalty);
    }
    if (repetitionPenalty <= 0f) {
      throw bad("repetition_penalty must be greater than zero, got " + repetitionPenalty);
    }
    if (!Float.isFinite(temperature)) {
      throw bad("temperature must be a finite number, got " + temperature);
    }
    if (temperature < 0f) throw bad("temperature must be non-negative, got " + temperature);
    if (temperature > 2f) throw bad("temperature must be in [0, 2], got " + temperature);
    if (!(topP > 0f && topP <= 1f)) throw bad("top_p must be in (0, 1], got " + topP);
    if (topK < -1) throw bad("top_k must be 0 (disable), or at least 1, got " + topK);
    if (!(minP >= 0f && minP <= 1f)) throw bad("min_p must be in [0, 1], got " + minP);
    if (maxTokens != null && maxTokens < 1) {
      throw bad("max_tokens must be at least 1, got " + maxTokens);
    }
    if (minTokens < 0) {
      throw bad("min_tokens must be greater than or equal to 0, got " + minTokens);
    }
    if (maxTokens != null && minTokens > maxTokens) {
      throw bad(
          "min_tokens must be less than or equal to max_tokens=" + maxTokens + ", got " + minTokens);
    }
    if (logprobs != null && logprobs < -1) {
      throw bad("logprobs must be non-negative or -1, got " + logprobs);
    }
    stop = stop == null ? List.of() : stop;
    for (String s : stop) {
      if (s == null || s.isEmpty()) throw bad("stop cannot contain an empty string");
    }
    stop = List.copyOf(stop);
    stopTokenIds = stopTokenIds == null ? List.of() : stopTokenIds;
    for (Integer id : stopTokenIds) {
      if (id == null || id < 0) {
        throw bad("stop_token_ids must contain only non-negative integers, got " + stopTokenIds);
      }
    }
    stopTokenIds = List.copyOf(new LinkedHashSet<>(stopTokenIds));

    if (seed != null && seed == -1L) seed = null;
    if (topK == -1) topK = 0;
    if (temperature > 0f && temperature < MIN_POSITIVE_TEMPERATURE) {
      temperature = MIN_POSITIVE_TEMPERATURE;
    }
    if (temperature < SAMPLING_EPS) {
      topP = 1f;
      topK = 0;
      minP = 0f;
      if (n > 1) throw bad("n must be 1 when using greedy sampling, got " + n);
    }
  }

  /** vLLM's defaults: one sample at temperature 1.0 with no truncation; max_tokens 16 unless set. */
  public static SamplingParams defaults() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    return new Builder()
        .n(n)
        .temperature(temperature)
        .topP(topP)
        .topK(topK)
        .minP(minP)
        .presencePenalty(presencePenalty)
        .frequencyPenalty(frequencyPenalty)
        .repetitionPenalty(repetitionPenalty)
        .seed(seed)
        .stop(stop)
        .stopTokenIds(stopTokenIds)
        .ignoreEos(ignoreEos)
        .maxTokens(maxTokens)
        .minTokens(minTokens)
        .logprobs(logprobs)
        .skipSpecialTokens(skipSpecialTokens)
        .includeStopStrInOutput(includeStopStrInOutput);
  }

  /** Temperature below {@link #SAMPLING_EPS}: the sampler takes the argmax. */
  public boolean isGreedy() {
    return temperature < SAMPLING_EPS;
  }

  private static IllegalArgumentException bad(String message) {
    return new IllegalArgumentException(message);
  }

  /** Fluent builder starting from vLLM's defaults. */
  public static final class Builder {
    private int n = 1;
    private float temperature = 1f;
    private float topP = 1f;
    private int topK = 0;
    private float minP = 0f;
    private float presencePenalty = 0f;
    private float frequencyPenalty = 0f;
    private float repetitionPenalty = 1f;
    private Long seed;
    private List<String> stop = List.of();
    private List<Integer> stopTokenIds = List.of();
    private boolean ignoreEos;
    private Integer maxTokens = 16;
    private int minTokens;
    private Integer logprobs;
    private boolean skipSpecialTokens = true;
    private boolean includeStopStrInOutput;

    private Builder() {}

    public Builder n(int n) {
      this.n = n;
      return this;
    }

    public Builder temperature(float temperature) {
      this.temperature = temperature;
      return this;
    }

    public Builder topP(float topP) {
      this.topP = topP;
      return this;
    }

    public Builder topK(int topK) {
      this.topK = topK;
      return this;
    }

    public Builder minP(float minP) {
      this.minP = minP;
      return this;
    }

    public Builder presencePenalty(float presencePenalty) {
      this.presencePenalty = presencePenalty;
      return this;
    }

    public Builder frequencyPenalty(float frequencyPenalty) {
      this.frequencyPenalty = frequencyPenalty;
      return this;
    }

    public Builder repetitionPenalty(float repetitionPenalty) {
      this.repetitionPenalty = repetitionPenalty;
      return this;
    }

    public Builder seed(Long seed) {
      this.seed = seed;
      return this;
    }

    public Builder stop(List<String> stop) {
      this.stop = stop == null ? null : new ArrayList<>(stop);
      return this;
    }

    public Builder stop(String... stop) {
      return stop(List.of(stop));
    }

    public Builder stopTokenIds(List<Integer> stopTokenIds) {
      this.stopTokenIds = stopTokenIds == null ? null : new ArrayList<>(stopTokenIds);
      return this;
    }

    public Builder ignoreEos(boolean ignoreEos) {
      this.ignoreEos = ignoreEos;
      return this;
    }

    /** Null: generate until max_model_len. */
    public Builder maxTokens(Integer maxTokens) {
      this.maxTokens = maxTokens;
      return this;
    }

    public Builder minTokens(int minTokens) {
      this.minTokens = minTokens;
      return this;
    }

    public Builder logprobs(Integer logprobs) {
      this.logprobs = logprobs;
      return this;
    }

    public Builder skipSpecialTokens(boolean skipSpecialTokens) {
      this.skipSpecialTokens = skipSpecialTokens;
      return this;
    }

    public Builder includeStopStrInOutput(boolean includeStopStrInOutput) {
      this.includeStopStrInOutput = includeStopStrInOutput;
      return this;
    }

    public SamplingParams build() {
      return new SamplingParams(
          n, temperature, topP, topK, minP, presencePenalty, frequencyPenalty, repetitionPenalty,
          seed, stop, stopTokenIds, ignoreEos, maxTokens, minTokens, logprobs, skipSpecialTokens,
          includeStopStrInOutput);
    }
  }
}
