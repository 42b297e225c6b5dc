package io.quire.engine;

/** A prompt as text (tokenized by the engine, with special tokens) or as token ids. */
public record Prompt(String text, int[] tokenIds) {
  public static Prompt text(String text) {
    return new Prompt(text, null);
  }

  public static Prompt tokens(int[] ids) {
    return new Prompt(null, ids.clone());
  }
}
