package io.quire.engine.sampling;

import java.util.Arrays;

/** Occurrences of each token id in a sequence: an open-addressing map, no boxing, no vocab-wide array. */
final class TokenCounts {
  private static final int EMPTY = -1;
  private int[] keys = emptyKeys(16);
  private int[] counts = new int[16];
  private int size;

  void increment(int tokenId) {
    int mask = keys.length - 1;
    int slot = mix(tokenId) & mask;
    while (keys[slot] != EMPTY) {
      if (keys[slot] == tokenId) {
        counts[slot]++;
        return;
      }
      slot = (slot + 1) & mask;
    }
    keys[slot] = tokenId;
    counts[slot] = 1;
    if (++size * 2 > keys.length) grow();
  }

  int get(int tokenId) {
    int mask = keys.length - 1;
    for (int slot = mix(tokenId) & mask; keys[slot] != EMPTY; slot = (slot + 1) & mask) {
      if (keys[slot] == tokenId) return counts[slot];
    }
    return 0;
  }

  boolean contains(int tokenId) {
    return get(tokenId) > 0;
  }

  int size() {
    return size;
  }

  void clear() {
    Arrays.fill(keys, EMPTY);
    size = 0;
  }

  /** Slots, for iteration: {@link #keyAt} is -1 for an empty slot. */
  int capacity() {
    return keys.length;
  }

  int keyAt(int slot) {
    return keys[slot];
  }

  int countAt(int slot) {
    return counts[slot];
  }

  private void grow() {
    int[] oldKeys = keys;
    int[] oldCounts = counts;
    keys = emptyKeys(oldKeys.length * 2);
    counts = new int[oldKeys.length * 2];
    int mask = keys.length - 1;
    for (int i = 0; i < oldKeys.length; i++) {
      if (oldKeys[i] == EMPTY) continue;
      int slot = mix(oldKeys[i]) & mask;
      while (keys[slot] != EMPTY) slot = (slot + 1) & mask;
      keys[slot] = oldKeys[i];
      counts[slot] = oldCounts[i];
    }
  }

  private static int[] emptyKeys(int n) {
    int[] k = new int[n];
    Arrays.fill(k, EMPTY);
    return k;
  }

  private static int mix(int x) {
    int h = x * 0x9E3779B9;
    return h ^ (h >>> 16);
  }
}
