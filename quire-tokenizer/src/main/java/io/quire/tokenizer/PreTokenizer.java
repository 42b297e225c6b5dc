package io.quire.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A tokenizer.json pre-tokenizer: cuts a normalized segment into the words the model sees. */
sealed interface PreTokenizer {

  /**
   * A piece of text being pre-tokenized.
   *
   * @param first whether it starts at offset 0 of the input (Metaspace's "first" scheme asks)
   */
  record Piece(String text, boolean first) {}

  /** Appends the non-empty pieces that {@code piece} becomes. */
  void split(Piece piece, List<Piece> out);

  default List<Piece> apply(List<Piece> pieces) {
    List<Piece> out = new ArrayList<>(pieces.size() * 2);
    for (Piece p : pieces) {
      split(p, out);
    }
    return out;
  }

  enum Behavior {
    REMOVED,
    ISOLATED,
    MERGED_WITH_PREVIOUS,
    MERGED_WITH_NEXT,
    CONTIGUOUS;

    static Behavior fromJson(String s) {
      return switch (s) {
        case "Removed" -> REMOVED;
        case "Isolated" -> ISOLATED;
        case "MergedWithPrevious" -> MERGED_WITH_PREVIOUS;
        case "MergedWithNext" -> MERGED_WITH_NEXT;
        case "Contiguous" -> CONTIGUOUS;
        default -> throw new IllegalArgumentException("unsupported split behavior \"" + s + "\"");
      };
    }
  }

  record Split(Pattern pattern, Behavior behavior, boolean invert) implements PreTokenizer {
    public void split(Piece piece, List<Piece> out) {
      Splitter.split(piece, Splitter.regexMatches(piece.text(), pattern, invert), behavior, out);
    }
  }

  /** Splits on every character the predicate accepts, one match per character. */
  record CharSplit(IntPredicate predicate, Behavior behavior) implements PreTokenizer {
    public void split(Piece piece, List<Piece> out) {
      Splitter.split(piece, Splitter.charMatches(piece.text(), predicate), behavior, out);
    }
  }

  /** Byte-level: optional GPT-2 regex split, then every UTF-8 byte becomes one printable char. */
  record ByteLevelSplit(boolean addPrefixSpace, boolean useRegex) implements PreTokenizer {
    public void split(Piece piece, List<Piece> out) {
      String text = piece.text();
      if (addPrefixSpace && !text.startsWith(" ")) text = " " + text;
      List<Piece> parts = new ArrayList<>();
      Piece p = new Piece(text, piece.first());
      if (useRegex) {
        Splitter.split(p, Splitter.regexMatches(text, ByteLevel.GPT2_PATTERN, false), Behavior.ISOLATED, parts);
      } else if (!text.isEmpty()) {
        parts.add(p);
      }
      for (Piece part : parts) {
        out.add(new Piece(ByteLevel.encode(part.text()), part.first()));
      }
    }
  }

  enum PrependScheme {
    ALWAYS,
    FIRST,
    NEVER
  }

  record Metaspace(char replacement, PrependScheme prependScheme, boolean splitOnReplacement)
      implements PreTokenizer {
    public void split(Piece piece, List<Piece> out) {
      String text = piece.text().replace(' ', replacement);
      boolean prepend =
          switch (prependScheme) {
            case ALWAYS -> true;
            case FIRST -> piece.first();
            case NEVER -> false;
          };
      if (prepend && (text.isEmpty() || text.charAt(0) != replacement)) text = replacement + text;
      Piece p = new Piece(text, piece.first());
      if (splitOnReplacement) {
        Splitter.split(p, Splitter.charMatches(text, c -> c == replacement), Behavior.MERGED_WITH_NEXT, out);
      } else if (!text.isEmpty()) {
        out.add(p);
      }
    }
  }

  record Sequence(List<PreTokenizer> steps) implements PreTokenizer {
    public void split(Piece piece, List<Piece> out) {
      out.addAll(apply(List.of(piece)));
    }

    @Override
    public List<Piece> apply(List<Piece> pieces) {
      for (PreTokenizer step : steps) {
        pieces = step.apply(pieces);
      }
      return pieces;
    }
  }

  static PreTokenizer fromJson(JsonNode node) {
    if (node == null || node.isNull()) return null;
    String type = node.path("type").asText();
    return switch (type) {
      case "Split" ->
          new Split(
              Patterns.of(node.get("pattern")),
              Behavior.fromJson(node.path("behavior").asText()),
              node.path("invert").asBoolean(false));
      case "ByteLevel" ->
          new ByteLevelSplit(node.path("add_prefix_space").asBoolean(true), node.path("use_regex").asBoolean(true));
      case "Metaspace" -> {
        String rep = node.path("replacement").asText("\u2581");
        PrependScheme scheme;
        if (node.has("prepend_scheme")) {
          scheme = PrependScheme.valueOf(node.get("prepend_scheme").asText().toUpperCase(java.util.Locale.ROOT));
        } else {
          scheme = node.path("add_prefix_space").asBoolean(true) ? PrependScheme.ALWAYS : PrependScheme.NEVER;
        }
        yield new Metaspace(rep.charAt(0), scheme, node.path("split").asBoolean(true));
      }
      // \w+|[^\w\s]+ kept, the rest (whitespace) removed
      case "Whitespace" -> new Split(OnigRegex.compile("\\w+|[^\\w\\s]+"), Behavior.REMOVED, true);
      case "WhitespaceSplit" -> new CharSplit(Chars::isWhitespace, Behavior.REMOVED);
      case "Digits" ->
          new CharSplit(
              Chars::isNumeric,
              node.path("individual_digits").asBoolean(false) ? Behavior.ISOLATED : Behavior.CONTIGUOUS);
      case "Punctuation" ->
          new CharSplit(Chars::isPunctuation, Behavior.fromJson(node.path("behavior").asText("Isolated")));
      case "BertPreTokenizer" ->
          new Sequence(
              List.of(
                  new CharSplit(Chars::isWhitespace, Behavior.REMOVED),
                  new CharSplit(Chars::isPunctuation, Behavior.ISOLATED)));
      case "Sequence" -> {
        List<PreTokenizer> steps = new ArrayList<>();
        for (JsonNode n : node.path("pretokenizers")) {
          PreTokenizer child = fromJson(n);
          if (child != null) steps.add(child);
        }
        yield new Sequence(List.copyOf(steps));
      }
      default -> throw new IllegalArgumentException("unsupported pre_tokenizer type \"" + type + "\"");
    };
  }
}

/** tokenizers' {@code NormalizedString::split}: matches in, pieces out, per split behavior. */
final class Splitter {
  private Splitter() {}

  /** Alternating (start, end, isMatch) triples covering the text, as tokenizers' Pattern gives them. */
  static int[] regexMatches(String text, Pattern pattern, boolean invert) {
    IntList out = new IntList();
    if (text.isEmpty()) {
      out.add(0, 0, invert ? 1 : 0);
      return out.toArray();
    }
    Matcher m = pattern.matcher(text);
    int prev = 0;
    while (m.find()) {
      if (m.start() != prev) out.add(prev, m.start(), invert ? 1 : 0);
      out.add(m.start(), m.end(), invert ? 0 : 1);
      prev = m.end();
    }
    if (prev != text.length()) out.add(prev, text.length(), invert ? 1 : 0);
    return out.toArray();
  }

  static int[] charMatches(String text, IntPredicate predicate) {
    IntList out = new IntList();
    if (text.isEmpty()) {
      out.add(0, 0, 0);
      return out.toArray();
    }
    int last = 0;
    for (int i = 0; i < text.length(); ) {
      int cp = text.codePointAt(i);
      int n = Character.charCount(cp);
      if (predicate.test(cp)) {
        if (last < i) out.add(last, i, 0);
        out.add(i, i + n, 1);
        last = i + n;
      }
      i += n;
    }
    if (last < text.length()) out.add(last, text.length(), 0);
    return out.toArray();
  }

  static void split(PreTokenizer.Piece piece, int[] m, PreTokenizer.Behavior behavior, List<PreTokenizer.Piece> out) {
    // Each result: start, end, removed.
    IntList res = new IntList();
    int n = m.length / 3;
    switch (behavior) {
      case ISOLATED -> {
        for (int i = 0; i < n; i++) res.add(m[3 * i], m[3 * i + 1], 0);
      }
      case REMOVED -> {
        for (int i = 0; i < n; i++) res.add(m[3 * i], m[3 * i + 1], m[3 * i + 2]);
      }
      case CONTIGUOUS -> {
        boolean prevMatch = false;
        for (int i = 0; i < n; i++) {
          boolean isMatch = m[3 * i + 2] == 1;
          if (isMatch == prevMatch && res.size() > 0) res.set(res.size() - 2, m[3 * i + 1]);
          else res.add(m[3 * i], m[3 * i + 1], 0);
          prevMatch = isMatch;
        }
      }
      case MERGED_WITH_PREVIOUS -> {
        boolean prevMatch = false;
        for (int i = 0; i < n; i++) {
          boolean isMatch = m[3 * i + 2] == 1;
          if (isMatch && !prevMatch && res.size() > 0) res.set(res.size() - 2, m[3 * i + 1]);
          else res.add(m[3 * i], m[3 * i + 1], 0);
          prevMatch = isMatch;
        }
      }
      case MERGED_WITH_NEXT -> {
        IntList rev = new IntList();
        boolean prevMatch = false;
        for (int i = n - 1; i >= 0; i--) {
          boolean isMatch = m[3 * i + 2] == 1;
          if (isMatch && !prevMatch && rev.size() > 0) rev.set(rev.size() - 3, m[3 * i]);
          else rev.add(m[3 * i], m[3 * i + 1], 0);
          prevMatch = isMatch;
        }
        for (int i = rev.size() / 3 - 1; i >= 0; i--) res.add(rev.get(3 * i), rev.get(3 * i + 1), 0);
      }
    }
    String text = piece.text();
    for (int i = 0; i < res.size(); i += 3) {
      int start = res.get(i);
      int end = res.get(i + 1);
      if (res.get(i + 2) == 1 || start == end) continue;
      out.add(new PreTokenizer.Piece(text.substring(start, end), piece.first() && start == 0));
    }
  }

  static final class IntList {
    private int[] a = new int[24];
    private int size;

    void add(int x, int y, int z) {
      if (size + 3 > a.length) a = java.util.Arrays.copyOf(a, a.length * 2);
      a[size++] = x;
      a[size++] = y;
      a[size++] = z;
    }

    int get(int i) {
      return a[i];
    }

    void set(int i, int v) {
      a[i] = v;
    }

    int size() {
      return size;
    }

    int[] toArray() {
      return java.util.Arrays.copyOf(a, size);
    }
  }
}
