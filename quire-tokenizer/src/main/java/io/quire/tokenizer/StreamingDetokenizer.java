package io.quire.tokenizer;

/**
 * vLLM's incremental detokenization: decode a short window of ids twice (up to the last emitted
 * id, and up to the new one) and emit the difference, holding back while the text ends in U+FFFD
 * (an incomplete UTF-8 character). Decoding a window rather than single ids keeps the decoder's
 * context, e.g. the space of a sentencepiece "▁word" that a lone decode would strip.
 */
final class StreamingDetokenizer implements IncrementalDetokenizer {
  /** vLLM's INITIAL_INCREMENTAL_DETOKENIZATION_OFFSET: prompt ids kept as left context. */
  private static final int PROMPT_CONTEXT = 5;

  private final HfTokenizer tokenizer;
  private final boolean skipSpecialTokens;
  private int[] ids;
  private int size;
  private int prefixOffset;
  private int readOffset;
  private final StringBuilder text = new StringBuilder();

  StreamingDetokenizer(HfTokenizer tokenizer, int[] promptIds, boolean skipSpecialTokens) {
    this.tokenizer = tokenizer;
    this.skipSpecialTokens = skipSpecialTokens;
    int keep = Math.min(promptIds.length, PROMPT_CONTEXT);
    ids = new int[Math.max(16, keep * 2)];
    System.arraycopy(promptIds, promptIds.length - keep, ids, 0, keep);
    size = keep;
    prefixOffset = 0;
    readOffset = keep;
  }

  @Override
  public String add(int tokenId) {
    if (size == ids.length) compactOrGrow();
    ids[size++] = tokenId;
    String prefix = tokenizer.decode(ids, prefixOffset, readOffset, skipSpecialTokens);
    String full = tokenizer.decode(ids, prefixOffset, size, skipSpecialTokens);
    if (full.length() <= prefix.length() || full.endsWith("\uFFFD")) return "";
    int common = commonPrefix(prefix, full);
    String delta = full.substring(common);
    prefixOffset = readOffset;
    readOffset = size;
    text.append(delta);
    return delta;
  }

  @Override
  public String text() {
    return text.toString();
  }

  /** Where prefix and full text part, never inside a surrogate pair. */
  private static int commonPrefix(String prefix, String full) {
    if (full.startsWith(prefix)) return prefix.length();
    int i = 0;
    while (i < prefix.length() && prefix.charAt(i) == full.charAt(i)) i++;
    if (i > 0 && Character.isHighSurrogate(full.charAt(i - 1))) i--;
    return i;
  }

  private void compactOrGrow() {
    if (prefixOffset > 0) {
      System.arraycopy(ids, prefixOffset, ids, 0, size - prefixOffset);
      size -= prefixOffset;
      readOffset -= prefixOffset;
      prefixOffset = 0;
    }
    if (size == ids.length) ids = java.util.Arrays.copyOf(ids, ids.length * 2);
  }
}
