package io.quire.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.zip.GZIPInputStream;

/** A tokenizer.json pipeline: added tokens, normalizer, pre-tokenizer, BPE, post-processor, decoder. */
final class HfTokenizer implements Tokenizer {
  private final Pipeline pipeline;
  private final AddedVocabulary added;
  private final TokenizerConfig config;
  private final int vocabSize;
  private final List<Integer> specialIds;

  private HfTokenizer(Pipeline pipeline, AddedVocabulary added, TokenizerConfig config) {
    this.pipeline = pipeline;
    this.added = added;
    this.config = config;
    int max = pipeline.model().maxId();
    List<Integer> specials = new ArrayList<>();
    for (AddedVocabulary.AddedToken t : added.tokens()) {
      max = Math.max(max, t.id());
      if (t.special()) specials.add(t.id());
    }
    specials.sort(null);
    this.vocabSize = max + 1;
    this.specialIds = List.copyOf(specials);
  }

  static Tokenizer load(Path dir) throws IOException {
    return load(dir, Mode.AUTO_TOKENIZER);
  }

  static Tokenizer load(Path dir, Mode mode) throws IOException {
    ObjectMapper json = new ObjectMapper();
    TokenizerJson file = readTokenizerJson(dir, json);
    JsonNode root = file.root();
    TokenizerConfig config = TokenizerConfig.load(dir, json);
    String modelType = root.path("model").path("type").asText("BPE");
    if (!modelType.equals("BPE")) {
      throw new IllegalArgumentException("unsupported tokenizer model type \"" + modelType + "\" in " + dir + " (only BPE)");
    }
    BpeModel model = BpeModel.fromJson(root.path("model"), file.vocab(), file.merges());
    List<AddedVocabulary.AddedToken> tokens = new ArrayList<>();
    for (JsonNode t : root.path("added_tokens")) {
      AddedVocabulary.AddedToken token =
          new AddedVocabulary.AddedToken(
              t.path("id").asInt(),
              t.path("content").asText(),
              t.path("special").asBoolean(false),
              t.path("single_word").asBoolean(false),
              t.path("lstrip").asBoolean(false),
              t.path("rstrip").asBoolean(false),
              t.path("normalized").asBoolean(true));
      tokens.add(token);
    }
    Pipeline pipeline =
        new Pipeline(
            Normalizer.fromJson(root.get("normalizer")),
            PreTokenizer.fromJson(root.get("pre_tokenizer")),
            model,
            PostProcessor.fromJson(root.get("post_processor")),
            Decoder.fromJson(root.get("decoder")));
    if (mode == Mode.AUTO_TOKENIZER) pipeline = TransformersCompat.adapt(pipeline, root, config);
    return new HfTokenizer(pipeline, new AddedVocabulary(tokens, pipeline.normalizer()), config);
  }

  private static TokenizerJson readTokenizerJson(Path dir, ObjectMapper json) throws IOException {
    Path plain = dir.resolve("tokenizer.json");
    if (Files.exists(plain)) {
      try (InputStream in = new BufferedInputStream(Files.newInputStream(plain), 1 << 16)) {
        return TokenizerJson.read(in, json);
      }
    }
    Path gz = dir.resolve("tokenizer.json.gz");
    if (Files.exists(gz)) {
      try (InputStream in = new GZIPInputStream(Files.newInputStream(gz), 1 << 16)) {
        return TokenizerJson.read(in, json);
      }
    }
    throw new NoSuchFileException(plain.toString(), null, "no tokenizer.json or tokenizer.json.gz in " + dir);
  }

  @Override
  public int[] encode(String text, boolean addSpecialTokens) {
    IntBuffer out = new IntBuffer(text.length() / 3 + 4);
    for (AddedVocabulary.Segment seg : added.split(text, pipeline.normalizer())) {
      if (seg.id() >= 0) {
        out.add(seg.id());
        continue;
      }
      List<PreTokenizer.Piece> pieces = List.of(new PreTokenizer.Piece(seg.text(), seg.first()));
      if (pipeline.preTokenizer() != null) pieces = pipeline.preTokenizer().apply(pieces);
      for (PreTokenizer.Piece p : pieces) pipeline.model().tokenize(p.text(), out);
    }
    int[] ids = out.toArray();
    if (addSpecialTokens && pipeline.postProcessor() != null) ids = pipeline.postProcessor().process(ids);
    return ids;
  }

  @Override
  public String decode(int[] ids, boolean skipSpecialTokens) {
    return decode(ids, 0, ids.length, skipSpecialTokens);
  }

  String decode(int[] ids, int from, int to, boolean skipSpecialTokens) {
    List<String> tokens = new ArrayList<>(to - from);
    for (int i = from; i < to; i++) {
      AddedVocabulary.AddedToken a = added.byId(ids[i]);
      if (a != null) {
        if (!(skipSpecialTokens && a.special())) tokens.add(a.content());
        continue;
      }
      String t = pipeline.model().idToToken(ids[i]);
      if (t != null) tokens.add(t);
    }
    return pipeline.decoder() == null ? String.join(" ", tokens) : pipeline.decoder().decode(tokens);
  }

  @Override
  public IncrementalDetokenizer newDetokenizer(int[] promptIds, boolean skipSpecialTokens) {
    return new StreamingDetokenizer(this, promptIds, skipSpecialTokens);
  }

  @Override
  public int vocabSize() {
    return vocabSize;
  }

  @Override
  public String idToToken(int id) {
    AddedVocabulary.AddedToken a = added.byId(id);
    return a != null ? a.content() : pipeline.model().idToToken(id);
  }

  @Override
  public OptionalInt tokenToId(String token) {
    if (token == null) return OptionalInt.empty();
    AddedVocabulary.AddedToken a = added.byContent(token);
    if (a != null) return OptionalInt.of(a.id());
    Integer id = pipeline.model().tokenToId(token);
    return id == null ? OptionalInt.empty() : OptionalInt.of(id);
  }

  @Override
  public boolean isSpecial(int id) {
    return added.isSpecial(id);
  }

  @Override
  public OptionalInt bosTokenId() {
    return tokenToId(config.bosToken());
  }

  @Override
  public OptionalInt eosTokenId() {
    return tokenToId(config.eosToken());
  }

  @Override
  public String chatTemplate() {
    return config.chatTemplate();
  }

  @Override
  public String bosToken() {
    return config.bosToken();
  }

  @Override
  public String eosToken() {
    return config.eosToken();
  }

  @Override
  public List<Integer> specialTokenIds() {
    return specialIds;
  }
}
