package io.quire.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A tokenizer.json normalizer: rewrites each text segment before pre-tokenization. */
sealed interface Normalizer {

  String normalize(String text);

  record Unicode(java.text.Normalizer.Form form) implements Normalizer {
    public String normalize(String text) {
      return java.text.Normalizer.normalize(text, form);
    }
  }

  /** Per-character full lowercase mapping, as Rust's {@code char::to_lowercase} (no final-sigma rule). */
  record Lowercase() implements Normalizer {
    public String normalize(String text) {
      StringBuilder sb = new StringBuilder(text.length());
      text.codePoints().forEach(cp -> sb.append(Character.toString(cp).toLowerCase(Locale.ROOT)));
      return sb.toString();
    }
  }

  record Strip(boolean left, boolean right) implements Normalizer {
    public String normalize(String text) {
      int start = 0;
      int end = text.length();
      while (left && start < end && Chars.isWhitespace(text.codePointAt(start))) {
        start += Character.charCount(text.codePointAt(start));
      }
      while (right && end > start && Chars.isWhitespace(text.codePointBefore(end))) {
        end -= Character.charCount(text.codePointBefore(end));
      }
      return text.substring(start, end);
    }
  }

  record Prepend(String prefix) implements Normalizer {
    public String normalize(String text) {
      return text.isEmpty() ? text : prefix + text;
    }
  }

  /** Replaces every match of a literal or regex pattern. */
  record Replace(Pattern pattern, String content) implements Normalizer {
    public String normalize(String text) {
      return pattern.matcher(text).replaceAll(Matcher.quoteReplacement(content));
    }
  }

  record Sequence(List<Normalizer> normalizers) implements Normalizer {
    public String normalize(String text) {
      for (Normalizer n : normalizers) {
        text = n.normalize(text);
      }
      return text;
    }
  }

  static Normalizer fromJson(JsonNode node) {
    if (node == null || node.isNull()) return null;
    String type = node.path("type").asText();
    return switch (type) {
      case "NFC" -> new Unicode(java.text.Normalizer.Form.NFC);
      case "NFD" -> new Unicode(java.text.Normalizer.Form.NFD);
      case "NFKC" -> new Unicode(java.text.Normalizer.Form.NFKC);
      case "NFKD" -> new Unicode(java.text.Normalizer.Form.NFKD);
      case "Lowercase" -> new Lowercase();
      case "Strip" -> new Strip(node.path("strip_left").asBoolean(true), node.path("strip_right").asBoolean(true));
      case "Prepend" -> new Prepend(node.path("prepend").asText());
      case "Replace" -> new Replace(Patterns.of(node.get("pattern")), node.path("content").asText());
      case "Sequence" -> {
        List<Normalizer> list = new ArrayList<>();
        for (JsonNode n : node.path("normalizers")) {
          Normalizer child = fromJson(n);
          if (child != null) list.add(child);
        }
        yield new Sequence(List.copyOf(list));
      }
      default -> throw new IllegalArgumentException("unsupported normalizer type \"" + type + "\"");
    };
  }
}
