package io.quire.tokenizer;

/** Turns a stream of generated token ids into text, never emitting half a UTF-8 character. */
public interface IncrementalDetokenizer {
  /** Adds one generated id; returns the text it completes (possibly empty). */
  String add(int tokenId);

  /** All text emitted so far. */
  String text();
}
