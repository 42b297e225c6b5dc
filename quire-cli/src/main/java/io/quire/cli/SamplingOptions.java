package io.quire.cli;

import io.quire.engine.SamplingParams;
import java.util.List;
import picocli.CommandLine.Option;

/** vLLM's SamplingParams fields as kebab-case flags; unset flags keep vLLM's defaults. */
final class SamplingOptions {
  @Option(names = "--n", description = "Sequences to generate for the prompt.") Integer n;
  @Option(names = "--temperature") Float temperature;
  @Option(names = "--top-p") Float topP;
  @Option(names = "--top-k") Integer topK;
  @Option(names = "--min-p") Float minP;
  @Option(names = "--presence-penalty") Float presencePenalty;
  @Option(names = "--frequency-penalty") Float frequencyPenalty;
  @Option(names = "--repetition-penalty") Float repetitionPenalty;
  @Option(names = "--seed") Long seed;
  @Option(names = "--stop", description = "Stop string (repeatable).") List<String> stop;
  @Option(names = "--stop-token-ids", split = ",", description = "Comma-separated token ids.") List<Integer> stopTokenIds;
  @Option(names = "--ignore-eos") boolean ignoreEos;
  @Option(names = "--max-tokens", description = "Tokens to generate (vLLM's default: 16).") Integer maxTokens;
  @Option(names = "--min-tokens") Integer minTokens;
  @Option(names = "--logprobs", description = "Top logprobs to return per token.") Integer logprobs;
  @Option(names = "--skip-special-tokens", negatable = true, defaultValue = "true", fallbackValue = "true") boolean skipSpecialTokens;
  @Option(names = "--include-stop-str-in-output") boolean includeStopStrInOutput;

  SamplingParams params() {
    SamplingParams.Builder b = SamplingParams.defaults().toBuilder();
    if (n != null) b.n(n);
    if (temperature != null) b.temperature(temperature);
    if (topP != null) b.topP(topP);
    if (topK != null) b.topK(topK);
    if (minP != null) b.minP(minP);
    if (presencePenalty != null) b.presencePenalty(presencePenalty);
    if (frequencyPenalty != null) b.frequencyPenalty(frequencyPenalty);
    if (repetitionPenalty != null) b.repetitionPenalty(repetitionPenalty);
    if (seed != null) b.seed(seed);
    if (stop != null) b.stop(stop);
    if (stopTokenIds != null) b.stopTokenIds(stopTokenIds);
    b.ignoreEos(ignoreEos);
    if (maxTokens != null) b.maxTokens(maxTokens);
    if (minTokens != null) b.minTokens(minTokens);
    if (logprobs != null) b.logprobs(logprobs);
    b.skipSpecialTokens(skipSpecialTokens);
    b.includeStopStrInOutput(includeStopStrInOutput);
    return b.build();
  }
}
