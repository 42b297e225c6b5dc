package io.quire.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Byte-pair encoding as tokenizers' {@code models::bpe} does it: a word starts as its characters
 * (or byte-fallback tokens, or unk), then the lowest-ranked adjacent pair is merged until none is
 * left, using a heap over pair ranks so a word of n symbols costs O(n log n).
 */
final class BpeModel {
  private static final int CACHE_CAPACITY = 10_000;
  private static final int MAX_CACHED_WORD = 256;

  private final Map<String, Integer> vocab;
  private final Options options;
  private final String[] idToToken;
  private final MergeMap merges;
  private final Integer unkId;
  private final boolean fuseUnk;
  private final boolean byteFallback;
  private final boolean ignoreMerges;
  private final String continuingSubwordPrefix;
  private final String endOfWordSuffix;
  private final int[] byteTokens = new int[256];
  private final Map<String, int[]> cache = new ConcurrentHashMap<>();

  record Options(
      String unkToken,
      boolean fuseUnk,
      boolean byteFallback,
      boolean ignoreMerges,
      String continuingSubwordPrefix,
      String endOfWordSuffix) {}

  BpeModel(Map<String, Integer> vocab, Iterable<String[]> mergeList, Options options) {
    this(vocab, buildMerges(vocab, mergeList, options.continuingSubwordPrefix()), options);
  }

  private BpeModel(Map<String, Integer> vocab, MergeMap merges, Options options) {
    this.vocab = vocab;
    this.merges = merges;
    this.options = options;
    int max = -1;
    for (int id : vocab.values()) max = Math.max(max, id);
    idToToken = new String[max + 1];
    for (Map.Entry<String, Integer> e : vocab.entrySet()) idToToken[e.getValue()] = e.getKey();
    fuseUnk = options.fuseUnk();
    byteFallback = options.byteFallback();
    ignoreMerges = options.ignoreMerges();
    continuingSubwordPrefix = emptyToNull(options.continuingSubwordPrefix());
    endOfWordSuffix = emptyToNull(options.endOfWordSuffix());
    if (options.unkToken() != null) {
      unkId = vocab.get(options.unkToken());
      if (unkId == null) throw new IllegalArgumentException("unk_token \"" + options.unkToken() + "\" is not in the vocab");
    } else {
      unkId = null;
    }
    for (int b = 0; b < 256; b++) {
      Integer id = vocab.get(String.format("<0x%02X>", b));
      byteTokens[b] = id == null ? -1 : id;
    }
  }

  private static MergeMap buildMerges(Map<String, Integer> vocab, Iterable<String[]> mergeList, String prefix) {
    int prefixLen = prefix == null ? 0 : prefix.length();
    MergeMap merges = new MergeMap(vocab.size() * 2 + 16);
    int rank = 0;
    for (String[] pair : mergeList) {
      Integer a = vocab.get(pair[0]);
      Integer b = vocab.get(pair[1]);
      if (a == null || b == null) {
        throw new IllegalArgumentException("merge \"" + pair[0] + " " + pair[1] + "\" uses a token not in the vocab");
      }
      String merged = pair[0] + pair[1].substring(Math.min(prefixLen, pair[1].length()));
      Integer id = vocab.get(merged);
      if (id == null) throw new IllegalArgumentException("merge result \"" + merged + "\" is not in the vocab");
      merges.putIfAbsent(a, b, rank++, id);
    }
    return merges;
  }

  /** The model from tokenizer.json's "model" object (without vocab and merges) and those two. */
  static BpeModel fromJson(JsonNode model, Map<String, Integer> vocab, List<String[]> merges) {
    Options options =
        new Options(
            textOrNull(model.get("unk_token")),
            model.path("fuse_unk").asBoolean(false),
            model.path("byte_fallback").asBoolean(false),
            model.path("ignore_merges").asBoolean(false),
            textOrNull(model.get("continuing_subword_prefix")),
            textOrNull(model.get("end_of_word_suffix")));
    return new BpeModel(vocab, merges, options);
  }

  /**
   * The same vocab and merges with other unk/fallback options (transformers rebuilds some models
   * this way); the subword prefix must stay, since the merge table was built with it.
   */
  BpeModel withOptions(Options newOptions) {
    if (!java.util.Objects.equals(
        emptyToNull(newOptions.continuingSubwordPrefix()), emptyToNull(options.continuingSubwordPrefix()))) {
      throw new IllegalArgumentException("continuing_subword_prefix cannot change");
    }
    return new BpeModel(vocab, merges, newOptions);
  }

  Options options() {
    return options;
  }

  Map<String, Integer> vocab() {
    return vocab;
  }

  int maxId() {
    return idToToken.length - 1;
  }

  String idToToken(int id) {
    return id >= 0 && id < idToToken.length ? idToToken[id] : null;
  }

  Integer tokenToId(String token) {
    return vocab.get(token);
  }

  /** Appends the ids of one pre-tokenized word. */
  void tokenize(String word, IntBuffer out) {
    if (word.isEmpty()) return;
    if (ignoreMerges) {
      Integer id = vocab.get(word);
      if (id != null) {
        out.add(id);
        return;
      }
    }
    int[] cached = cache.get(word);
    if (cached == null) {
      cached = mergeWord(word);
      if (word.length() <= MAX_CACHED_WORD) {
        if (cache.size() >= CACHE_CAPACITY) cache.clear();
        cache.put(word, cached);
      }
    }
    out.addAll(cached);
  }

  private int[] mergeWord(String w) {
    IntBuffer ids = new IntBuffer(w.length());
    int unk = -1; // pending unk id (fused while fuseUnk)
    for (int i = 0; i < w.length(); ) {
      int cp = w.codePointAt(i);
      int next = i + Character.charCount(cp);
      String s = w.substring(i, next);
      if (i > 0 && continuingSubwordPrefix != null) s = continuingSubwordPrefix + s;
      if (next == w.length() && endOfWordSuffix != null) s = s + endOfWordSuffix;
      i = next;
      Integer id = vocab.get(s);
      if (id != null) {
        if (unk >= 0) {
          ids.add(unk);
          unk = -1;
        }
        ids.add(id);
        continue;
      }
      if (byteFallback) {
        byte[] bytes = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        boolean all = true;
        for (byte b : bytes) all &= byteTokens[b & 0xFF] >= 0;
        if (all) {
          // tokenizers leaves a pending unk in place here; it is flushed later, out of order
          for (byte b : bytes) ids.add(byteTokens[b & 0xFF]);
          continue;
        }
      }
      if (unkId != null) {
        if (unk >= 0 && !fuseUnk) ids.add(unk);
        unk = unkId;
      }
    }
    if (unk >= 0) ids.add(unk);
    return mergeAll(ids.toArray());
  }

  private int[] mergeAll(int[] c) {
    int n = c.length;
    if (n < 2) return c;
    int[] prev = new int[n];
    int[] next = new int[n];
    boolean[] removed = new boolean[n];
    for (int i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    MergeHeap heap = new MergeHeap(n);
    for (int i = 0; i + 1 < n; i++) {
      long m = merges.get(c[i], c[i + 1]);
      if (m != MergeMap.ABSENT) heap.push(MergeMap.rank(m), i, MergeMap.newId(m));
    }
    while (heap.size() > 0) {
      int pos = heap.topPos();
      int newId = heap.topNewId();
      heap.pop();
      if (removed[pos] || next[pos] < 0) continue;
      int right = next[pos];
      long m = merges.get(c[pos], c[right]);
      if (m == MergeMap.ABSENT || MergeMap.newId(m) != newId) continue; // stale entry
      c[pos] = newId;
      removed[right] = true;
      next[pos] = next[right];
      if (next[right] >= 0) prev[next[right]] = pos;
      if (prev[pos] >= 0) {
        long pm = merges.get(c[prev[pos]], c[pos]);
        if (pm != MergeMap.ABSENT) heap.push(MergeMap.rank(pm), prev[pos], MergeMap.newId(pm));
      }
      if (next[pos] >= 0) {
        long nm = merges.get(c[pos], c[next[pos]]);
        if (nm != MergeMap.ABSENT) heap.push(MergeMap.rank(nm), pos, MergeMap.newId(nm));
      }
    }
    IntBuffer out = new IntBuffer(n);
    for (int i = 0; i >= 0; i = next[i]) out.add(c[i]);
    return out.toArray();
  }

  private static String emptyToNull(String s) {
    return s == null || s.isEmpty() ? null : s;
  }

  private static String textOrNull(JsonNode n) {
    return n == null || n.isNull() ? null : n.asText();
  }

  /** Open-addressing map from an id pair to (rank, merged id), first merge of a pair wins. */
  static final class MergeMap {
    static final long ABSENT = -1L;
    private final long[] keys;
    private final long[] values;
    private final int mask;

    MergeMap(int expected) {
      int cap = Integer.highestOneBit(Math.max(16, expected * 2) - 1) << 1;
      keys = new long[cap];
      values = new long[cap];
      Arrays.fill(keys, -1L);
      mask = cap - 1;
    }

    void putIfAbsent(int a, int b, int rank, int newId) {
      long key = ((long) a << 32) | (b & 0xFFFFFFFFL);
      int i = slot(key);
      while (keys[i] != -1L) {
        if (keys[i] == key) return;
        i = (i + 1) & mask;
      }
      keys[i] = key;
      values[i] = ((long) rank << 32) | (newId & 0xFFFFFFFFL);
    }

    long get(int a, int b) {
      long key = ((long) a << 32) | (b & 0xFFFFFFFFL);
      int i = slot(key);
      while (true) {
        long k = keys[i];
        if (k == key) return values[i];
        if (k == -1L) return ABSENT;
        i = (i + 1) & mask;
      }
    }

    static int rank(long v) {
      return (int) (v >>> 32);
    }

    static int newId(long v) {
      return (int) v;
    }

    private int slot(long key) {
      long h = key * 0x9E3779B97F4A7C15L;
      return (int) (h >>> 40) & mask;
    }
  }

  /** Min-heap of pending merges ordered by (rank, position), as tokenizers' BinaryHeap of Merge. */
  static final class MergeHeap {
    private long[] keys; // rank << 32 | pos
    private int[] newIds;
    private int size;

    MergeHeap(int capacity) {
      keys = new long[Math.max(4, capacity)];
      newIds = new int[keys.length];
    }

    int size() {
      return size;
    }

    int topPos() {
      return (int) keys[0];
    }

    int topNewId() {
      return newIds[0];
    }

    void push(int rank, int pos, int newId) {
      if (size == keys.length) {
        keys = Arrays.copyOf(keys, size * 2);
        newIds = Arrays.copyOf(newIds, size * 2);
      }
      long key = ((long) rank << 32) | pos;
      int i = size++;
      while (i > 0) {
        int parent = (i - 1) >>> 1;
        if (keys[parent] <= key) break;
        keys[i] = keys[parent];
        newIds[i] = newIds[parent];
        i = parent;
      }
      keys[i] = key;
      newIds[i] = newId;
    }

    void pop() {
      size--;
      if (size == 0) return;
      long key = keys[size];
      int id = newIds[size];
      int i = 0;
      while (true) {
        int child = 2 * i + 1;
        if (child >= size) break;
        if (child + 1 < size && keys[child + 1] < keys[child]) child++;
        if (keys[child] >= key) break;
        keys[i] = keys[child];
        newIds[i] = newIds[child];
        i = child;
      }
      keys[i] = key;
      newIds[i] = id;
    }
  }
}
