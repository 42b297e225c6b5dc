package io.quire.engine.sampling;

import java.util.List;

/** vLLM's stop-string search over a sequence's growing text ({@code check_stop_strings}). */
final class StopStrings {
  private StopStrings() {}

  /** A stop string found; the text is cut to {@code truncateTo} characters. */
  record Match(String stop, int truncateTo) {}

  /**
   * Finds a stop string that ends inside the last {@code newChars} characters of {@code text} (it
   * may start before them). When several do, the one that completes first wins, ties going to
   * list order, so the outcome is what appending one character at a time would give.
   */
  static Match find(CharSequence text, int newChars, List<String> stops, boolean includeInOutput) {
    if (newChars <= 0) return null;
    String s = text.toString();
    String best = null;
    int bestStart = -1;
    int bestEnd = Integer.MAX_VALUE;
    for (String stop : stops) {
      int from = Math.max(0, s.length() - newChars - stop.length() + 1);
      int start = s.indexOf(stop, from);
      if (start >= 0 && start + stop.length() < bestEnd) {
        best = stop;
        bestStart = start;
        bestEnd = start + stop.length();
      }
    }
    if (best == null) return null;
    return new Match(best, includeInOutput ? bestEnd : bestStart);
  }

  /**
   * Length of the longest suffix of {@code text} that is a proper prefix of some stop string: the
   * characters a stream must hold back because the next token could complete a stop string there.
   */
  static int heldBack(CharSequence text, List<String> stops) {
    int held = 0;
    int len = text.length();
    for (String stop : stops) {
      for (int k = Math.min(stop.length() - 1, len); k > held; k--) {
        if (endsWithPrefix(text, len, stop, k)) {
          held = k;
          break;
        }
      }
    }
    return held;
  }

  private static boolean endsWithPrefix(CharSequence text, int len, String stop, int k) {
    for (int i = 0; i < k; i++) {
      if (text.charAt(len - k + i) != stop.charAt(i)) return false;
    }
    return true;
  }
}
