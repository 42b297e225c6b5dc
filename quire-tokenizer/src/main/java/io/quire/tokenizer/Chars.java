package io.quire.tokenizer;

/** Character predicates with Rust's {@code char} semantics, which the HF pipeline pieces use. */
final class Chars {
  private Chars() {}

  /** Rust {@code char::is_whitespace}: the Unicode White_Space property (Java's isWhitespace differs). */
  static boolean isWhitespace(int cp) {
    return (cp >= 0x09 && cp <= 0x0D)
        || cp == 0x20
        || cp == 0x85
        || cp == 0xA0
        || cp == 0x1680
        || (cp >= 0x2000 && cp <= 0x200A)
        || cp == 0x2028
        || cp == 0x2029
        || cp == 0x202F
        || cp == 0x205F
        || cp == 0x3000;
  }

  /** Rust {@code char::is_numeric}: general categories Nd, Nl, No. */
  static boolean isNumeric(int cp) {
    int t = Character.getType(cp);
    return t == Character.DECIMAL_DIGIT_NUMBER
        || t == Character.LETTER_NUMBER
        || t == Character.OTHER_NUMBER;
  }

  /** Rust {@code char::is_alphanumeric}. */
  static boolean isAlphanumeric(int cp) {
    return Character.isAlphabetic(cp) || isNumeric(cp);
  }

  /** tokenizers' {@code is_punc}: ASCII punctuation or a Unicode P* category. */
  static boolean isPunctuation(int cp) {
    if (cp < 0x80) {
      return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
    }
    return switch (Character.getType(cp)) {
      case Character.CONNECTOR_PUNCTUATION,
          Character.DASH_PUNCTUATION,
          Character.START_PUNCTUATION,
          Character.END_PUNCTUATION,
          Character.INITIAL_QUOTE_PUNCTUATION,
          Character.FINAL_QUOTE_PUNCTUATION,
          Character.OTHER_PUNCTUATION ->
          true;
      default -> false;
    };
  }

  /** A regex {@code \w} character (Unicode word: alphanumeric, marks, connector punctuation). */
  static boolean isWordChar(int cp) {
    if (isAlphanumeric(cp)) return true;
    int t = Character.getType(cp);
    return t == Character.NON_SPACING_MARK
        || t == Character.ENCLOSING_MARK
        || t == Character.COMBINING_SPACING_MARK
        || t == Character.CONNECTOR_PUNCTUATION
        || cp == 0x200C
        || cp == 0x200D;
  }
}
