package io.quire.tokenizer;

import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Compiles the Oniguruma (Ruby syntax) patterns of tokenizer.json into java.util.regex patterns.
 *
 * <p>Both engines are backtracking with ordered alternation, so matches agree once the classes
 * do: with UNICODE_CHARACTER_CLASS Java's {@code \s \w \d} are Unicode, as Oniguruma's are for
 * UTF-8 text ({@code \s} then includes NBSP and U+3000). The rest is spelling: {@code \p{^X}},
 * script names without Java's "Is" prefix, and {@code \h} (a hex digit in Oniguruma).
 */
final class OnigRegex {
  private OnigRegex() {}

  static Pattern compile(String onig) {
    String java = translate(onig);
    try {
      return Pattern.compile(java, Pattern.UNICODE_CHARACTER_CLASS);
    } catch (PatternSyntaxException e) {
      throw new IllegalArgumentException("unsupported tokenizer regex " + onig + ": " + e.getMessage(), e);
    }
  }

  static String translate(String p) {
    StringBuilder sb = new StringBuilder(p.length() + 16);
    int depth = 0; // inside a character class when > 0
    for (int i = 0; i < p.length(); i++) {
      char c = p.charAt(i);
      if (c == '\\' && i + 1 < p.length()) {
        char e = p.charAt(i + 1);
        if ((e == 'p' || e == 'P') && i + 2 < p.length() && p.charAt(i + 2) == '{') {
          int close = p.indexOf('}', i + 3);
          if (close > 0) {
            String name = p.substring(i + 3, close);
            boolean negate = e == 'P';
            if (name.startsWith("^")) {
              negate = !negate;
              name = name.substring(1);
            }
            sb.append('\\').append(negate ? 'P' : 'p').append('{').append(javaPropertyName(name)).append('}');
            i = close;
            continue;
          }
        }
        if (e == 'h' || e == 'H') {
          String hex = "0-9a-fA-F";
          if (depth > 0) {
            if (e == 'H') throw new IllegalArgumentException("\\H inside a character class is unsupported: " + p);
            sb.append(hex);
          } else {
            sb.append(e == 'h' ? "[" + hex + "]" : "[^" + hex + "]");
          }
          i++;
          continue;
        }
        sb.append(c).append(e);
        i++;
        continue;
      }
      if (c == '[') depth++;
      if (c == ']' && depth > 0) depth--;
      sb.append(c);
    }
    return sb.toString();
  }

  private static String javaPropertyName(String name) {
    if (accepts(name)) return name;
    if (accepts("Is" + name)) return "Is" + name;
    return name; // let Pattern.compile report it
  }

  private static boolean accepts(String name) {
    try {
      Pattern.compile("\\p{" + name + "}");
      return true;
    } catch (PatternSyntaxException e) {
      return false;
    }
  }
}
