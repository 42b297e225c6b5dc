package io.quire.tokenizer;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Every corpus string of tools/oracle/corpus.json encodes and decodes exactly as Hugging Face did
 * (testdata/golden, made by tools/oracle/make_fixtures.py): AUTO_TOKENIZER mode against
 * transformers' AutoTokenizer, TOKENIZER_FILE mode against tokenizers' Tokenizer.from_file.
 */
class GoldenTokenizerTest {
  private static final List<String> NAMES = List.of("llama2", "llama3", "qwen3");

  @TestFactory
  Stream<DynamicContainer> autoTokenizerMatchesTransformers() {
    return NAMES.stream().map(name -> DynamicContainer.dynamicContainer(name, cases(name, Tokenizer.Mode.AUTO_TOKENIZER, "auto")));
  }

  @TestFactory
  Stream<DynamicContainer> tokenizerFileMatchesTokenizersLibrary() {
    return NAMES.stream().map(name -> DynamicContainer.dynamicContainer(name, cases(name, Tokenizer.Mode.TOKENIZER_FILE, "raw")));
  }

  private static Stream<DynamicTest> cases(String name, Tokenizer.Mode mode, String prefix) {
    JsonNode golden = TestData.golden(name);
    List<DynamicTest> tests = new ArrayList<>();
    int i = 0;
    for (JsonNode c : golden.path("cases")) {
      String text = c.path("text").asText();
      String label = "#" + i++ + " " + abbreviate(text);
      tests.add(
          DynamicTest.dynamicTest(
              label,
              () -> {
                Tokenizer tok = TestData.tokenizer(name, mode);
                int[] special = TestData.ints(c.path(prefix + "_ids_special"));
                assertAll(
                    () -> assertArrayEquals(TestData.ints(c.path(prefix + "_ids")), tok.encode(text, false), "ids"),
                    () -> assertArrayEquals(special, tok.encode(text, true), "ids with special tokens"),
                    () -> assertEquals(c.path(prefix + "_decode").asText(), tok.decode(special, false), "decode"),
                    () -> assertEquals(c.path(prefix + "_decode_skip").asText(), tok.decode(special, true), "decode skipping specials"),
                    () -> {
                      if (c.has(prefix + "_tokens")) {
                        List<String> expected = new ArrayList<>();
                        c.path(prefix + "_tokens").forEach(t -> expected.add(t.asText()));
                        List<String> actual = new ArrayList<>();
                        for (int id : TestData.ints(c.path(prefix + "_ids"))) actual.add(tok.idToToken(id));
                        assertEquals(expected, actual, "token strings");
                      }
                    });
              }));
    }
    return tests.stream();
  }

  private static String abbreviate(String s) {
    String escaped = s.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r");
    return escaped.length() > 40 ? escaped.substring(0, 40) + "…" : escaped;
  }
}
