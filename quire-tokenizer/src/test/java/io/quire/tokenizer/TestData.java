package io.quire.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** The repository's testdata/ folder, found by walking up from the working directory. */
final class TestData {
  private TestData() {}

  private static final Map<String, Tokenizer> TOKENIZERS = new ConcurrentHashMap<>();

  static Path root() {
    for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      Path candidate = dir.resolve("testdata");
      if (Files.isDirectory(candidate.resolve("golden"))) return candidate;
    }
    throw new IllegalStateException("no testdata/golden above " + Path.of("").toAbsolutePath());
  }

  static Path tokenizerDir(String name) {
    return root().resolve("tokenizers").resolve(name);
  }

  /** A tokenizer loaded once per test run and mode. */
  static Tokenizer tokenizer(String name, Tokenizer.Mode mode) {
    return TOKENIZERS.computeIfAbsent(
        name + "/" + mode,
        k -> {
          try {
            return Tokenizer.load(tokenizerDir(name), mode);
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        });
  }

  static JsonNode golden(String name) {
    try {
      return new ObjectMapper().readTree(root().resolve("golden").resolve("tokenizer-" + name + ".json").toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static int[] ints(JsonNode array) {
    int[] out = new int[array.size()];
    for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
    return out;
  }
}
