package io.quire.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Feeding a sequence's ids one at a time yields exactly the text those ids add to the decoded
 * sequence, never half a character: checked for every corpus string on every tokenizer, with and
 * without a prompt as left context, keeping and skipping special tokens.
 */
class IncrementalDetokenizerTest {
  private static final List<String> NAMES = List.of("llama2", "llama3", "qwen3");
  private static final String PROMPT = "Question: what did the fox say?\nAnswer:";

  @TestFactory
  Stream<DynamicTest> streamedTextEqualsDecodedTextForEveryCorpusString() {
    List<DynamicTest> tests = new ArrayList<>();
    for (String name : NAMES) {
      for (JsonNode c : TestData.golden(name).path("cases")) {
        int[] ids = TestData.ints(c.path("auto_ids_special"));
        tests.add(DynamicTest.dynamicTest(name + " " + abbreviate(c.path("text").asText()), () -> checkAllWays(name, ids)));
      }
    }
    return tests.stream();
  }

  @TestFactory
  Stream<DynamicTest> streamedTextEqualsDecodedTextForRandomStrings() throws java.io.IOException {
    JsonNode goldens =
        new com.fasterxml.jackson.databind.ObjectMapper().readTree(getClass().getResourceAsStream("/pipelines/goldens.json"));
    List<DynamicTest> tests = new ArrayList<>();
    for (String name : NAMES) {
      int i = 0;
      for (JsonNode c : goldens.path("fuzz").path(name)) {
        String text = c.path("text").asText();
        tests.add(
            DynamicTest.dynamicTest(
                name + " #" + i++,
                () -> checkAllWays(name, TestData.tokenizer(name, Tokenizer.Mode.AUTO_TOKENIZER).encode(text, true))));
      }
    }
    return tests.stream();
  }

  @Test
  void holdsBackAnEmojiUntilItsLastByteToken() {
    Tokenizer tok = TestData.tokenizer("llama3", Tokenizer.Mode.AUTO_TOKENIZER);
    int[] ids = tok.encode("😀", false);
    assertTrue(ids.length > 1, "llama3 spells 😀 with byte tokens: " + Arrays.toString(ids));
    IncrementalDetokenizer d = tok.newDetokenizer(new int[0], false);
    for (int i = 0; i < ids.length - 1; i++) assertEquals("", d.add(ids[i]));
    assertEquals("😀", d.add(ids[ids.length - 1]));
  }

  @Test
  void keepsTheSpaceOfASentencepieceWordAfterThePrompt() {
    Tokenizer tok = TestData.tokenizer("llama2", Tokenizer.Mode.AUTO_TOKENIZER);
    int[] prompt = tok.encode("The capital of France is", true);
    int paris = tok.encode("Paris", false)[0];
    assertEquals("Paris", tok.decode(new int[] {paris}, true));
    assertEquals(" Paris", tok.newDetokenizer(prompt, true).add(paris));
  }

  private static void checkAllWays(String name, int[] generated) {
    Tokenizer tok = TestData.tokenizer(name, Tokenizer.Mode.AUTO_TOKENIZER);
    int[] prompt = tok.encode(PROMPT, true);
    for (boolean skip : new boolean[] {false, true}) {
      assertStreams(tok, new int[0], generated, skip, tok.decode(generated, skip));
      int[] all = IntStream.concat(Arrays.stream(prompt), Arrays.stream(generated)).toArray();
      String promptText = tok.decode(prompt, skip);
      String allText = tok.decode(all, skip);
      assertTrue(allText.startsWith(promptText), "prompt text is a prefix of the whole text");
      assertStreams(tok, prompt, generated, skip, allText.substring(promptText.length()));
    }
  }

  private static void assertStreams(Tokenizer tok, int[] prompt, int[] generated, boolean skip, String expected) {
    IncrementalDetokenizer d = tok.newDetokenizer(prompt, skip);
    StringBuilder streamed = new StringBuilder();
    for (int id : generated) {
      String delta = d.add(id);
      assertFalse(hasLoneSurrogate(delta), "lone surrogate in " + delta);
      assertFalse(delta.indexOf('\uFFFD') >= 0 && expected.indexOf('\uFFFD') < 0, "U+FFFD emitted: " + delta);
      streamed.append(delta);
    }
    assertEquals(expected, streamed.toString(), "skipSpecialTokens=" + skip + ", prompt ids " + prompt.length);
    assertEquals(expected, d.text());
  }

  private static boolean hasLoneSurrogate(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c)) {
        if (i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))) return true;
        i++;
      } else if (Character.isLowSurrogate(c)) {
        return true;
      }
    }
    return false;
  }

  private static String abbreviate(String s) {
    String escaped = s.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r");
    return escaped.length() > 40 ? escaped.substring(0, 40) + "…" : escaped;
  }
}
