package io.quire.engine.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quire.engine.SamplingParams;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class SamplingParamsTest {

  static Stream<Arguments> invalid() {
    return Stream.of(
        bad("n", b -> b.n(0), "n must be at least 1, got 0"),
        bad("n", b -> b.n(SamplingParams.MAX_N + 1), "n must be at most 16384, got 16385"),
        bad("n", b -> b.n(2).temperature(0f), "n must be 1 when using greedy sampling, got 2"),
        bad("presence_penalty", b -> b.presencePenalty(2.5f), "presence_penalty must be in [-2, 2], got 2.5"),
        bad("presence_penalty", b -> b.presencePenalty(Float.NaN), "presence_penalty must be in [-2, 2], got NaN"),
        bad("frequency_penalty", b -> b.frequencyPenalty(-2.1f), "frequency_penalty must be in [-2, 2], got -2.1"),
        bad("repetition_penalty", b -> b.repetitionPenalty(0f), "repetition_penalty must be greater than zero, got 0.0"),
        bad("repetition_penalty", b -> b.repetitionPenalty(Float.POSITIVE_INFINITY), "repetition_penalty must be a finite number, got Infinity"),
        bad("temperature", b -> b.temperature(-1f), "temperature must be non-negative, got -1.0"),
        bad("temperature", b -> b.temperature(2.5f), "temperature must be in [0, 2], got 2.5"),
        bad("temperature", b -> b.temperature(Float.NaN), "temperature must be a finite number, got NaN"),
        bad("top_p", b -> b.topP(0f), "top_p must be in (0, 1], got 0.0"),
        bad("top_p", b -> b.topP(1.5f), "top_p must be in (0, 1], got 1.5"),
        bad("top_k", b -> b.topK(-2), "top_k must be 0 (disable), or at least 1, got -2"),
        bad("min_p", b -> b.minP(-0.1f), "min_p must be in [0, 1], got -0.1"),
        bad("min_p", b -> b.minP(1.1f), "min_p must be in [0, 1], got 1.1"),
        bad("max_tokens", b -> b.maxTokens(0), "max_tokens must be at least 1, got 0"),
        bad("min_tokens", b -> b.minTokens(-1), "min_tokens must be greater than or equal to 0, got -1"),
        bad("min_tokens", b -> b.maxTokens(4).minTokens(5), "min_tokens must be less than or equal to max_tokens=4, got 5"),
        bad("logprobs", b -> b.logprobs(-2), "logprobs must be non-negative or -1, got -2"),
        bad("stop", b -> b.stop("a", ""), "stop cannot contain an empty string"),
        bad("stop", b -> b.stop(Arrays.asList("a", null)), "stop cannot contain an empty string"),
        bad("stop_token_ids", b -> b.stopTokenIds(List.of(3, -1)), "stop_token_ids must contain only non-negative integers, got [3, -1]"));
  }

  private static Arguments bad(String field, UnaryOperator<SamplingParams.Builder> edit, String message) {
    return Arguments.of(field, edit, message);
  }

  @ParameterizedTest(name = "{0}: {2}")
  @MethodSource("invalid")
  void invalidValueIsRejectedWithAMessageNamingTheFieldAndLimit(
      String field, UnaryOperator<SamplingParams.Builder> edit, String message) {
    var e = assertThrows(IllegalArgumentException.class, () -> edit.apply(SamplingParams.builder()).build());
    assertEquals(message, e.getMessage());
    assertTrue(e.getMessage().startsWith(field + " "), e.getMessage());
  }

  @Test
  void defaultsAreVllms() {
    SamplingParams p = SamplingParams.defaults();
    assertEquals(1, p.n());
    assertEquals(1f, p.temperature());
    assertEquals(1f, p.topP());
    assertEquals(0, p.topK());
    assertEquals(0f, p.minP());
    assertEquals(0f, p.presencePenalty());
    assertEquals(0f, p.frequencyPenalty());
    assertEquals(1f, p.repetitionPenalty());
    assertNull(p.seed());
    assertEquals(List.of(), p.stop());
    assertEquals(List.of(), p.stopTokenIds());
    assertEquals(false, p.ignoreEos());
    assertEquals(16, p.maxTokens());
    assertEquals(0, p.minTokens());
    assertNull(p.logprobs());
    assertEquals(true, p.skipSpecialTokens());
    assertEquals(false, p.includeStopStrInOutput());
  }

  @Test
  void boundaryValuesAreAccepted() {
    SamplingParams.builder().temperature(2f).topP(1f).topK(1).minP(1f).presencePenalty(-2f)
        .frequencyPenalty(2f).repetitionPenalty(0.01f).maxTokens(1).minTokens(1).logprobs(0).build();
    SamplingParams.builder().logprobs(-1).maxTokens(null).minTokens(100).build();
  }

  @Test
  void normalisesAsVllmDoes() {
    SamplingParams p = SamplingParams.builder().seed(-1L).topK(-1).stop((List<String>) null)
        .stopTokenIds(List.of(5, 3, 5)).build();
    assertNull(p.seed(), "seed -1 means unseeded");
    assertEquals(0, p.topK(), "top_k -1 means disabled");
    assertEquals(List.of(), p.stop());
    assertEquals(List.of(5, 3), p.stopTokenIds(), "duplicates dropped, order kept");
    assertEquals(0.01f, SamplingParams.builder().temperature(0.001f).build().temperature(), "tiny temperature raised");
  }

  @Test
  void greedyResetsTruncationParameters() {
    SamplingParams p = SamplingParams.builder().temperature(0f).topP(0.5f).topK(3).minP(0.2f).build();
    assertTrue(p.isGreedy());
    assertEquals(1f, p.topP());
    assertEquals(0, p.topK());
    assertEquals(0f, p.minP());
  }

  @Test
  void toBuilderRoundTrips() {
    SamplingParams p = SamplingParams.builder().n(3).temperature(0.7f).topP(0.9f).topK(40).minP(0.05f)
        .presencePenalty(0.1f).frequencyPenalty(0.2f).repetitionPenalty(1.1f).seed(42L).stop("x")
        .stopTokenIds(List.of(7)).ignoreEos(true).maxTokens(100).minTokens(2).logprobs(5)
        .skipSpecialTokens(false).includeStopStrInOutput(true).build();
    assertEquals(p, p.toBuilder().build());
  }
}
