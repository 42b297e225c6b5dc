package io.quire.tokenizer;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * tokenizer.json, read in one streaming pass: the model's vocab and merges (hundreds of thousands
 * of entries) go straight into their final collections, everything else into a JSON tree.
 *
 * @param root the document with model.vocab and model.merges left out
 */
record TokenizerJson(JsonNode root, Map<String, Integer> vocab, List<String[]> merges) {

  static TokenizerJson read(InputStream in, ObjectMapper json) throws IOException {
    try (JsonParser p = json.getFactory().createParser(in)) {
      expect(p.nextToken(), JsonToken.START_OBJECT, "tokenizer.json");
      ObjectNode root = json.createObjectNode();
      Map<String, Integer> vocab = new HashMap<>();
      List<String[]> merges = new ArrayList<>();
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        p.nextToken();
        if (!field.equals("model") || p.currentToken() != JsonToken.START_OBJECT) {
          root.set(field, p.readValueAsTree());
          continue;
        }
        ObjectNode model = json.createObjectNode();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String name = p.currentName();
          JsonToken t = p.nextToken();
          if (name.equals("vocab") && t == JsonToken.START_OBJECT) {
            readVocab(p, vocab);
          } else if (name.equals("merges") && t == JsonToken.START_ARRAY) {
            readMerges(p, merges);
          } else {
            model.set(name, p.readValueAsTree());
          }
        }
        root.set("model", model);
      }
      return new TokenizerJson(root, vocab, merges);
    }
  }

  private static void readVocab(JsonParser p, Map<String, Integer> vocab) throws IOException {
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String token = p.currentName();
      p.nextToken();
      vocab.put(token, p.getIntValue());
    }
  }

  /** Merges are "a b" strings (older files) or [a, b] pairs (tokens may then contain spaces). */
  private static void readMerges(JsonParser p, List<String[]> merges) throws IOException {
    JsonToken t;
    while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
      if (t == JsonToken.VALUE_STRING) {
        String s = p.getText();
        int sp = s.indexOf(' ', 1);
        if (sp < 0) throw new IllegalArgumentException("merge \"" + s + "\" is not two tokens separated by a space");
        merges.add(new String[] {s.substring(0, sp), s.substring(sp + 1)});
      } else if (t == JsonToken.START_ARRAY) {
        p.nextToken();
        String a = p.getText();
        p.nextToken();
        String b = p.getText();
        expect(p.nextToken(), JsonToken.END_ARRAY, "merge pair");
        merges.add(new String[] {a, b});
      } else {
        throw new IllegalArgumentException("unexpected " + t + " in model.merges");
      }
    }
  }

  private static void expect(JsonToken actual, JsonToken expected, String where) {
    if (actual != expected) throw new IllegalArgumentException("expected " + expected + " in " + where + ", got " + actual);
  }
}
