package io.quire.tokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;

/**
 * A Hugging Face tokenizer ({@code tokenizer.json} plus {@code tokenizer_config.json}), behaving as
 * transformers' {@code AutoTokenizer} does for the same files.
 */
public interface Tokenizer {

  /**
   * Loads {@code tokenizer.json} (or {@code tokenizer.json.gz}) and, when present,
   * {@code tokenizer_config.json} from a model folder.
   */
  static Tokenizer load(Path modelDir) throws IOException {
    return HfTokenizer.load(modelDir, Mode.AUTO_TOKENIZER);
  }

  /** Loads as {@link #load(Path)}, reproducing the reference {@code mode} names. */
  static Tokenizer load(Path modelDir, Mode mode) throws IOException {
    return HfTokenizer.load(modelDir, mode);
  }

  /** Which Hugging Face behaviour a loaded tokenizer reproduces. */
  enum Mode {
    /**
     * transformers' {@code AutoTokenizer.from_pretrained} (v5), as vLLM uses it: the pipeline of
     * tokenizer.json adjusted by tokenizer_config.json (its tokenizer class, add_bos_token, ...).
     */
    AUTO_TOKENIZER,
    /** tokenizers' {@code Tokenizer.from_file}: tokenizer.json exactly as written. */
    TOKENIZER_FILE
  }

  /** Token ids of {@code text}; with {@code addSpecialTokens} the post-processor adds BOS etc. */
  int[] encode(String text, boolean addSpecialTokens);

  /** Text of {@code ids}, as transformers' {@code decode} gives it. */
  String decode(int[] ids, boolean skipSpecialTokens);

  /**
   * A streaming decoder for one sequence: feed generated ids one at a time and get only complete
   * new text; the concatenation of its outputs is the text that {@code generated} adds to the
   * decoded sequence, i.e. {@code decode(generated)} when there is no prompt, and with a prompt
   * the part of {@code decode(prompt + generated)} after {@code decode(prompt)} (so a
   * sentencepiece "▁Paris" keeps its space, which a lone decode strips).
   *
   * @param promptIds the prompt, used as left context so that the first generated token decodes
   *     as it would inside the sequence (a leading space, for example)
   */
  IncrementalDetokenizer newDetokenizer(int[] promptIds, boolean skipSpecialTokens);

  /** Number of ids the tokenizer can produce (model vocab plus added tokens). */
  int vocabSize();

  /** The token string of {@code id} (as in the vocab, e.g. "Ġthe"), or null if out of range. */
  String idToToken(int id);

  OptionalInt tokenToId(String token);

  /** Whether {@code id} is a special added token (removed by skipSpecialTokens). */
  boolean isSpecial(int id);

  /** BOS token id from tokenizer_config.json, if any. */
  OptionalInt bosTokenId();

  /** EOS token id from tokenizer_config.json, if any. */
  OptionalInt eosTokenId();

  /** The Jinja chat template of tokenizer_config.json, or null. */
  String chatTemplate();

  /** bos_token / eos_token strings of tokenizer_config.json (for chat templates), or null. */
  String bosToken();

  String eosToken();

  /** Ids of all special added tokens. */
  List<Integer> specialTokenIds();
}
