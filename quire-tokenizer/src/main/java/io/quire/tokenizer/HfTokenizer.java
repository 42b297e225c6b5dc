package io.quire.tokenizer;

import java.io.IOException;
import java.nio.file.Path;

/** Placeholder until the tokenizer lands. */
final class HfTokenizer {
  static Tokenizer load(Path dir) throws IOException {
    throw new UnsupportedOperationException("tokenizer not implemented yet");
  }
}
