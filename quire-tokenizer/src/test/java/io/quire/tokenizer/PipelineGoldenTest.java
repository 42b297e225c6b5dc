package io.quire.tokenizer;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Pipeline pieces the real tokenizers do not use (Split behaviours, NFKC/NFD, Lowercase, Strip,
 * Whitespace, Digits, Punctuation, Metaspace schemes, added-token flags, subword prefixes, ...)
 * and random strings through the real tokenizers, against tokenizers 0.23 itself: tiny tokenizers
 * and goldens made by src/test/oracle/make_pipeline_goldens.py; and AutoTokenizer (transformers
 * 5.17) on random strings with variants of the real tokenizer_config.json files.
 */
class PipelineGoldenTest {
  private static final Path DIR = resourceDir("pipelines");
  private static final JsonNode GOLDENS = readGoldens();

  @TestFactory
  Stream<DynamicContainer> tinyPipelinesMatchTokenizersLibrary() {
    List<DynamicContainer> out = new ArrayList<>();
    for (Map.Entry<String, JsonNode> e : GOLDENS.path("pipelines").properties()) {
      String name = e.getKey();
      out.add(DynamicContainer.dynamicContainer(name, cases(e.getValue(), () -> load(DIR.resolve(name), Tokenizer.Mode.TOKENIZER_FILE))));
    }
    return out.stream();
  }

  @TestFactory
  Stream<DynamicContainer> randomStringsMatchTokenizersLibrary() {
    List<DynamicContainer> out = new ArrayList<>();
    for (Map.Entry<String, JsonNode> e : GOLDENS.path("fuzz").properties()) {
      String name = e.getKey();
      out.add(
          DynamicContainer.dynamicContainer(
              name, cases(e.getValue(), () -> TestData.tokenizer(name, Tokenizer.Mode.TOKENIZER_FILE))));
    }
    return out.stream();
  }

  @TestFactory
  Stream<DynamicContainer> autoTokenizerMatchesTransformersOnConfigVariants() throws IOException {
    List<DynamicContainer> out = new ArrayList<>();
    for (JsonNode variant : GOLDENS.path("auto")) {
      String name = variant.path("tokenizer").asText();
      JsonNode overrides = variant.path("config_overrides");
      Path dir = Files.createTempDirectory("tok-" + name);
      Files.copy(TestData.tokenizerDir(name).resolve("tokenizer.json.gz"), dir.resolve("tokenizer.json.gz"));
      ObjectMapper json = new ObjectMapper();
      ObjectNode config = (ObjectNode) json.readTree(TestData.tokenizerDir(name).resolve("tokenizer_config.json").toFile());
      config.setAll((ObjectNode) overrides);
      json.writeValue(dir.resolve("tokenizer_config.json").toFile(), config);
      java.util.function.Supplier<Tokenizer> tok =
          overrides.isEmpty() ? () -> TestData.tokenizer(name, Tokenizer.Mode.AUTO_TOKENIZER) : () -> load(dir, Tokenizer.Mode.AUTO_TOKENIZER);
      out.add(DynamicContainer.dynamicContainer(name + " " + overrides, cases(variant.path("cases"), tok)));
    }
    return out.stream();
  }

  private static Stream<DynamicTest> cases(JsonNode cases, java.util.function.Supplier<Tokenizer> tokenizer) {
    List<DynamicTest> tests = new ArrayList<>();
    int i = 0;
    for (JsonNode c : cases) {
      String text = c.path("text").asText();
      tests.add(
          DynamicTest.dynamicTest(
              "#" + i++,
              () -> {
                Tokenizer tok = tokenizer.get();
                int[] special = TestData.ints(c.path("ids_special"));
                List<String> tokens = new ArrayList<>();
                if (!c.has("tokens")) c.path("ids").forEach(id -> tokens.add(tok.idToToken(id.asInt())));
                c.path("tokens").forEach(t -> tokens.add(t.asText()));
                List<String> actualTokens = new ArrayList<>();
                for (int id : TestData.ints(c.path("ids"))) actualTokens.add(tok.idToToken(id));
                // Encoding.tokens shows an lstrip/rstrip added token with the whitespace it took.
                for (int k = 0; k < Math.min(tokens.size(), actualTokens.size()); k++) {
                  if (tokens.get(k).strip().equals(actualTokens.get(k))) tokens.set(k, actualTokens.get(k));
                }
                assertAll(
                    text,
                    () -> assertArrayEquals(TestData.ints(c.path("ids")), tok.encode(text, false), "ids"),
                    () -> assertArrayEquals(special, tok.encode(text, true), "ids with special tokens"),
                    () -> assertEquals(tokens, actualTokens, "token strings"),
                    () -> assertEquals(c.path("decode").asText(), tok.decode(special, false), "decode"),
                    () -> assertEquals(c.path("decode_skip").asText(), tok.decode(special, true), "decode skipping specials"));
              }));
    }
    return tests.stream();
  }

  private static final Map<Path, Tokenizer> LOADED = new java.util.concurrent.ConcurrentHashMap<>();

  private static Tokenizer load(Path dir, Tokenizer.Mode mode) {
    return LOADED.computeIfAbsent(
        dir,
        d -> {
          try {
            return Tokenizer.load(d, mode);
          } catch (IOException ex) {
            throw new UncheckedIOException(ex);
          }
        });
  }

  private static Path resourceDir(String name) {
    try {
      return Path.of(PipelineGoldenTest.class.getResource("/" + name).toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  private static JsonNode readGoldens() {
    try {
      return new ObjectMapper().readTree(DIR.resolve("goldens.json").toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
