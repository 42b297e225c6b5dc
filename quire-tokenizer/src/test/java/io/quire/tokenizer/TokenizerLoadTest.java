package io.quire.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.OptionalInt;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading a model folder, and the vocabulary and tokenizer_config.json facts a server needs. */
class TokenizerLoadTest {

  @Test
  void loadsAPlainTokenizerJsonAsWellAsAGzippedOne(@TempDir Path dir) throws IOException {
    try (InputStream in = new GZIPInputStream(Files.newInputStream(TestData.tokenizerDir("qwen3").resolve("tokenizer.json.gz")))) {
      Files.copy(in, dir.resolve("tokenizer.json"));
    }
    Tokenizer plain = Tokenizer.load(dir);
    Tokenizer gz = TestData.tokenizer("qwen3", Tokenizer.Mode.AUTO_TOKENIZER);
    String text = "Hello, 世界! <|im_start|>user";
    assertArrayEquals(gz.encode(text, true), plain.encode(text, true));
    assertNull(plain.chatTemplate(), "no tokenizer_config.json, no template");
  }

  @Test
  void aFolderWithoutTokenizerJsonIsAnError(@TempDir Path dir) {
    assertThrows(NoSuchFileException.class, () -> Tokenizer.load(dir));
  }

  @Test
  void llama3SpecialTokensAndVocab() {
    Tokenizer tok = TestData.tokenizer("llama3", Tokenizer.Mode.AUTO_TOKENIZER);
    assertEquals(128256, tok.vocabSize());
    assertEquals(OptionalInt.of(128000), tok.bosTokenId());
    assertEquals(OptionalInt.of(128001), tok.eosTokenId());
    assertEquals("<|begin_of_text|>", tok.bosToken());
    assertEquals(256, tok.specialTokenIds().size());
    assertTrue(tok.isSpecial(128000));
    assertFalse(tok.isSpecial(791));
    assertEquals("The", tok.idToToken(791));
    assertEquals("Ġthe", tok.idToToken(279));
    assertEquals(OptionalInt.of(279), tok.tokenToId("Ġthe"));
    assertEquals(OptionalInt.empty(), tok.tokenToId("no such token"));
    assertNull(tok.idToToken(999_999));
    assertTrue(tok.chatTemplate().contains("<|start_header_id|>"));
  }

  @Test
  void qwen3HasNoBosAndEndsTurnsWithImEnd() {
    Tokenizer tok = TestData.tokenizer("qwen3", Tokenizer.Mode.AUTO_TOKENIZER);
    assertEquals(151669, tok.vocabSize());
    assertEquals(OptionalInt.empty(), tok.bosTokenId());
    assertNull(tok.bosToken());
    assertEquals("<|im_end|>", tok.eosToken());
    assertEquals(OptionalInt.of(151645), tok.eosTokenId());
    // non-special added tokens (<think>, <tool_call>, ...) are added but survive skipSpecialTokens
    int think = tok.tokenToId("<think>").orElseThrow();
    assertFalse(tok.isSpecial(think));
    assertEquals("<think>", tok.decode(new int[] {think}, true));
  }

  @Test
  void llama2AddsBosAndKnowsItsByteTokens() {
    Tokenizer tok = TestData.tokenizer("llama2", Tokenizer.Mode.AUTO_TOKENIZER);
    assertEquals(32000, tok.vocabSize());
    assertEquals(OptionalInt.of(1), tok.bosTokenId());
    assertEquals(OptionalInt.of(2), tok.eosTokenId());
    assertEquals(1, tok.encode("hi", true)[0]);
    assertEquals("<0x0A>", tok.idToToken(tok.encode("\n", false)[1]));
  }
}
