package io.quire.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.regex.Pattern;

/** The {@code {"String": ...}} / {@code {"Regex": ...}} patterns of tokenizer.json. */
final class Patterns {
  private Patterns() {}

  static Pattern of(JsonNode pattern) {
    if (pattern == null) throw new IllegalArgumentException("missing pattern");
    if (pattern.has("Regex")) return OnigRegex.compile(pattern.get("Regex").asText());
    if (pattern.has("String")) return Pattern.compile(Pattern.quote(pattern.get("String").asText()));
    throw new IllegalArgumentException("unsupported pattern " + pattern);
  }
}
