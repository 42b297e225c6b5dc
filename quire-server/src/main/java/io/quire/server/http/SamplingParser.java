package io.quire.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.quire.engine.SamplingParams;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Reads sampling parameters by vLLM's names from JSON values into a {@link SamplingParams.Builder}.
 * Numbers may also come as numeric strings (Triton's vLLM backend converts {@code "0.1"} too). A
 * wrong type is a 400 naming the field; range checks are SamplingParams' own.
 */
final class SamplingParser {
  private SamplingParser() {}

  /** Every key this parser understands. */
  static final Set<String> KEYS = Set.of(
      "n", "temperature", "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty",
      "repetition_penalty", "seed", "stop", "stop_token_ids", "ignore_eos", "max_tokens",
      "max_new_tokens", "max_completion_tokens", "min_tokens", "logprobs", "skip_special_tokens",
      "include_stop_str_in_output");

  /** Applies {@code key} if it is a sampling parameter; returns false for other keys. */
  static boolean apply(SamplingParams.Builder b, String key, JsonNode v) {
    if (v == null || v.isNull()) return KEYS.contains(key);
    switch (key) {
      case "n" -> b.n(integer(key, v));
      case "temperature" -> b.temperature(number(key, v));
      case "top_p" -> b.topP(number(key, v));
      case "top_k" -> b.topK(integer(key, v));
      case "min_p" -> b.minP(number(key, v));
      case "presence_penalty" -> b.presencePenalty(number(key, v));
      case "frequency_penalty" -> b.frequencyPenalty(number(key, v));
      case "repetition_penalty" -> b.repetitionPenalty(number(key, v));
      case "seed" -> b.seed(longValue(key, v));
      case "stop" -> b.stop(strings(key, v));
      case "stop_token_ids" -> b.stopTokenIds(ints(key, v));
      case "ignore_eos" -> b.ignoreEos(bool(key, v));
      case "max_tokens", "max_new_tokens", "max_completion_tokens" -> b.maxTokens(integer(key, v));
      case "min_tokens" -> b.minTokens(integer(key, v));
      case "logprobs" -> b.logprobs(integer(key, v));
      case "skip_special_tokens" -> b.skipSpecialTokens(bool(key, v));
      case "include_stop_str_in_output" -> b.includeStopStrInOutput(bool(key, v));
      default -> {
        return false;
      }
    }
    return true;
  }

  static float number(String key, JsonNode v) {
    if (v.isNumber()) return (float) v.doubleValue();
    if (v.isTextual()) {
      try {
        return Float.parseFloat(v.textValue().trim());
      } catch (NumberFormatException e) {
        // fall through to the error below
      }
    }
    throw ApiException.badParam(key, key + " must be a number, got " + v);
  }

  static long longValue(String key, JsonNode v) {
    if (v.isIntegralNumber() && v.canConvertToLong()) return v.longValue();
    if (v.isFloatingPointNumber() && v.doubleValue() == Math.rint(v.doubleValue()) && Math.abs(v.doubleValue()) < 9e18) {
      return (long) v.doubleValue();
    }
    if (v.isTextual()) {
      try {
        return Long.parseLong(v.textValue().trim());
      } catch (NumberFormatException e) {
        // fall through
      }
    }
    throw ApiException.badParam(key, key + " must be an integer, got " + v);
  }

  static int integer(String key, JsonNode v) {
    long l = longValue(key, v);
    if (l != (int) l) throw ApiException.badParam(key, key + " is out of range, got " + v);
    return (int) l;
  }

  static boolean bool(String key, JsonNode v) {
    if (v.isBoolean()) return v.booleanValue();
    if (v.isTextual()) {
      switch (v.textValue().trim().toLowerCase(Locale.ROOT)) {
        case "true" -> {
          return true;
        }
        case "false" -> {
          return false;
        }
        default -> {}
      }
    }
    throw ApiException.badParam(key, key + " must be a boolean, got " + v);
  }

  static List<String> strings(String key, JsonNode v) {
    if (v.isTextual()) return List.of(v.textValue());
    if (v.isArray()) {
      List<String> out = new ArrayList<>();
      for (JsonNode e : v) {
        if (!e.isTextual()) throw ApiException.badParam(key, key + " must be a string or a list of strings, got " + v);
        out.add(e.textValue());
      }
      return out;
    }
    throw ApiException.badParam(key, key + " must be a string or a list of strings, got " + v);
  }

  static List<Integer> ints(String key, JsonNode v) {
    if (!v.isArray()) throw ApiException.badParam(key, key + " must be a list of integers, got " + v);
    List<Integer> out = new ArrayList<>();
    for (JsonNode e : v) {
      if (!e.isIntegralNumber() || !e.canConvertToInt()) {
        throw ApiException.badParam(key, key + " must be a list of integers, got " + v);
      }
      out.add(e.intValue());
    }
    return out;
  }

  /** Builds, turning SamplingParams' validation error into a 400 naming its field. */
  static SamplingParams build(SamplingParams.Builder b) {
    try {
      return b.build();
    } catch (IllegalArgumentException e) {
      String msg = e.getMessage();
      String field = msg == null ? null : msg.split(" ", 2)[0];
      throw new ApiException(400, msg, field);
    }
  }
}
