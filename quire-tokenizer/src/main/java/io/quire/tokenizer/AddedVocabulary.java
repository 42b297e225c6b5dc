package io.quire.tokenizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The added tokens of tokenizer.json, cut out of the text before the model sees it, as tokenizers'
 * {@code AddedVocabulary::extract_and_normalize}: tokens with {@code normalized=false} are found in
 * the raw text, the rest in each normalized segment; matching is leftmost-longest.
 */
final class AddedVocabulary {

  record AddedToken(
      int id, String content, boolean special, boolean singleWord, boolean lstrip, boolean rstrip, boolean normalized) {}

  /** A segment of input: an added token's id, or text for the pre-tokenizer (id -1). */
  record Segment(int id, String text, boolean first) {}

  private final Map<Integer, AddedToken> byId = new HashMap<>();
  private final Map<String, AddedToken> byContent = new HashMap<>();
  private final Trie rawTrie = new Trie();
  private final Trie normalizedTrie = new Trie();

  AddedVocabulary(List<AddedToken> tokens, Normalizer normalizer) {
    for (AddedToken t : tokens) {
      byId.put(t.id(), t);
      byContent.put(t.content(), t);
    }
    for (AddedToken t : byContent.values()) {
      if (t.content().isEmpty()) continue;
      if (t.normalized() && normalizer != null) {
        normalizedTrie.put(normalizer.normalize(t.content()), t);
      } else if (t.normalized()) {
        normalizedTrie.put(t.content(), t);
      } else {
        rawTrie.put(t.content(), t);
      }
    }
  }

  AddedToken byId(int id) {
    return byId.get(id);
  }

  AddedToken byContent(String content) {
    return byContent.get(content);
  }

  List<AddedToken> tokens() {
    return List.copyOf(byId.values());
  }

  boolean isSpecial(int id) {
    AddedToken t = byId.get(id);
    return t != null && t.special();
  }

  List<Segment> split(String text, Normalizer normalizer) {
    List<Segment> out = new ArrayList<>();
    for (Segment raw : find(text, rawTrie, true)) {
      if (raw.id() >= 0) {
        out.add(raw);
        continue;
      }
      String normalized = normalizer == null ? raw.text() : normalizer.normalize(raw.text());
      out.addAll(find(normalized, normalizedTrie, raw.first()));
    }
    return out;
  }

  /** tokenizers' {@code find_matches}, dropping empty text segments as its split does. */
  private static List<Segment> find(String s, Trie trie, boolean first) {
    List<Segment> out = new ArrayList<>();
    int startOffset = 0;
    int i = 0;
    while (i < s.length() && !trie.isEmpty()) {
      Trie.Match m = trie.longestAt(s, i);
      if (m == null) {
        i++;
        continue;
      }
      int start = i;
      int stop = i + m.length();
      i = stop;
      AddedToken t = m.token();
      if (t.singleWord()) {
        boolean startSpace = start == 0 || !Chars.isWordChar(s.codePointBefore(start));
        boolean stopSpace = stop == s.length() || !Chars.isWordChar(s.codePointAt(stop));
        if (!startSpace || !stopSpace) continue;
      }
      if (t.lstrip()) {
        int newStart = start;
        while (newStart > 0 && Chars.isWhitespace(s.codePointBefore(newStart))) {
          newStart -= Character.charCount(s.codePointBefore(newStart));
        }
        start = Math.max(newStart, startOffset);
      }
      if (t.rstrip()) {
        while (stop < s.length() && Chars.isWhitespace(s.codePointAt(stop))) {
          stop += Character.charCount(s.codePointAt(stop));
        }
        i = stop;
      }
      if (startOffset < start) out.add(new Segment(-1, s.substring(startOffset, start), first && startOffset == 0));
      out.add(new Segment(t.id(), s.substring(start, stop), first && start == 0));
      startOffset = stop;
    }
    if (startOffset < s.length()) out.add(new Segment(-1, s.substring(startOffset), first && startOffset == 0));
    return out;
  }

  /** A character trie for leftmost-longest matching of added tokens. */
  static final class Trie {
    record Match(AddedToken token, int length) {}

    private final Map<Character, Trie> children = new HashMap<>();
    private AddedToken token;

    void put(String key, AddedToken t) {
      Trie node = this;
      for (int i = 0; i < key.length(); i++) {
        node = node.children.computeIfAbsent(key.charAt(i), c -> new Trie());
      }
      if (node.token == null) node.token = t;
    }

    boolean isEmpty() {
      return children.isEmpty();
    }

    Match longestAt(String s, int from) {
      Trie node = this;
      Match best = null;
      for (int i = from; i < s.length(); i++) {
        node = node.children.get(s.charAt(i));
        if (node == null) break;
        if (node.token != null) best = new Match(node.token, i + 1 - from);
      }
      return best;
    }
  }
}
