package io.quire.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * What transformers 5's AutoTokenizer changes in a tokenizer.json pipeline, so that Quire encodes
 * as vLLM does. Sources: transformers' tokenization_utils_tokenizers.py (TokenizersBackend) and
 * models/llama/tokenization_llama.py.
 */
final class TransformersCompat {
  private TransformersCompat() {}

  static Pipeline adapt(Pipeline file, JsonNode tokenizerJson, TokenizerConfig config) {
    Pipeline p = file;
    if (isLlamaClass(config.tokenizerClass()) && isSentencePieceStyle(tokenizerJson)) {
      p = rebuildLlama(p, config);
    }
    // add_bos_token / add_eos_token of tokenizer_config.json are dropped when tokenizer.json exists
    // (PreTrainedTokenizerBase._from_pretrained), so the file's post-processor stays.
    // clean_up_tokenization_spaces: transformers 5 ignores it for BPE models, the only kind Quire loads.
    return p;
  }

  private static boolean isLlamaClass(String cls) {
    return "LlamaTokenizer".equals(cls) || "LlamaTokenizerFast".equals(cls);
  }

  /**
   * LlamaTokenizer's constructor replaces the pipeline with a sentencepiece-style one. Applied to a
   * byte-level file (DeepSeek V3 ships one under this class) that would corrupt every space, so
   * Quire only does it for files that are sentencepiece-style already.
   */
  private static boolean isSentencePieceStyle(JsonNode json) {
    return json.path("model").path("byte_fallback").asBoolean(false)
        || "Metaspace".equals(json.path("pre_tokenizer").path("type").asText())
        || json.path("decoder").toString().contains("\u2581");
  }

  /**
   * v5 LlamaTokenizer: no normalizer; a Metaspace pre-tokenizer with split off, prepending "▁"
   * "always" when legacy (else only to the first segment), so no extra "▁" after special tokens
   * and a leading space stays one "▁"; BPE with byte fallback, fused unk and no unk token.
   */
  private static Pipeline rebuildLlama(Pipeline p, TokenizerConfig config) {
    boolean addPrefixSpace = config.addPrefixSpace() == null || config.addPrefixSpace();
    boolean legacy = Boolean.TRUE.equals(config.legacy());
    PreTokenizer.PrependScheme scheme =
        !addPrefixSpace
            ? PreTokenizer.PrependScheme.NEVER
            : legacy ? PreTokenizer.PrependScheme.ALWAYS : PreTokenizer.PrependScheme.FIRST;
    List<Decoder> decoders = new ArrayList<>();
    decoders.add(new Decoder.Replace(Pattern.compile(Pattern.quote("\u2581")), " "));
    decoders.add(new Decoder.ByteFallback());
    decoders.add(new Decoder.Fuse());
    if (addPrefixSpace) decoders.add(new Decoder.Strip(' ', 1, 0));
    BpeModel.Options o = p.model().options();
    BpeModel model =
        p.model().withOptions(new BpeModel.Options(null, true, true, false, o.continuingSubwordPrefix(), o.endOfWordSuffix()));
    return new Pipeline(
        null,
        new PreTokenizer.Metaspace('\u2581', scheme, false),
        model,
        p.postProcessor(),
        new Decoder.Sequence(List.copyOf(decoders)));
  }
}
