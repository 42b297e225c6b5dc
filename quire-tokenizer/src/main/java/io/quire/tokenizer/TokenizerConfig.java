package io.quire.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The fields of tokenizer_config.json that change how transformers tokenizes and decodes. */
record TokenizerConfig(
    String tokenizerClass,
    String bosToken,
    String eosToken,
    Boolean addBosToken,
    Boolean addEosToken,
    Boolean addPrefixSpace,
    Boolean legacy,
    String chatTemplate) {

  static final TokenizerConfig EMPTY = new TokenizerConfig(null, null, null, null, null, null, null, null);

  static TokenizerConfig load(Path dir, ObjectMapper json) throws IOException {
    Path file = dir.resolve("tokenizer_config.json");
    TokenizerConfig config = Files.exists(file) ? fromJson(json.readTree(file.toFile())) : EMPTY;
    Path jinja = dir.resolve("chat_template.jinja");
    if (Files.exists(jinja)) { // transformers prefers the file to the config entry
      config =
          new TokenizerConfig(
              config.tokenizerClass(),
              config.bosToken(),
              config.eosToken(),
              config.addBosToken(),
              config.addEosToken(),
              config.addPrefixSpace(),
              config.legacy(),
              Files.readString(jinja));
    }
    return config;
  }

  static TokenizerConfig fromJson(JsonNode n) {
    return new TokenizerConfig(
        text(n.get("tokenizer_class")),
        tokenContent(n.get("bos_token")),
        tokenContent(n.get("eos_token")),
        bool(n.get("add_bos_token")),
        bool(n.get("add_eos_token")),
        bool(n.get("add_prefix_space")),
        bool(n.get("legacy")),
        chatTemplate(n.get("chat_template")));
  }

  /** A special token is a string or an AddedToken object with "content". */
  private static String tokenContent(JsonNode n) {
    if (n == null || n.isNull()) return null;
    return n.isObject() ? text(n.get("content")) : n.asText();
  }

  /** A string, or the older list of named templates, of which "default" is the chat template. */
  private static String chatTemplate(JsonNode n) {
    if (n == null || n.isNull()) return null;
    if (n.isTextual()) return n.asText();
    for (JsonNode t : n) {
      if ("default".equals(t.path("name").asText())) return text(t.get("template"));
    }
    return null;
  }

  private static String text(JsonNode n) {
    return n == null || n.isNull() ? null : n.asText();
  }

  private static Boolean bool(JsonNode n) {
    return n == null || n.isNull() ? null : n.asBoolean();
  }
}
