package io.quire.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/** A tokenizer.json post-processor: adds special tokens (BOS etc.) around an encoded sequence. */
sealed interface PostProcessor {

  int[] process(int[] ids);

  /** One element of a template: either the sequence itself or fixed special-token ids. */
  record Piece(boolean isSequence, int[] ids) {}

  record Template(List<Piece> single) implements PostProcessor {
    public int[] process(int[] ids) {
      IntBuffer out = new IntBuffer(ids.length + 4);
      for (Piece p : single) out.addAll(p.isSequence() ? ids : p.ids());
      return out.toArray();
    }
  }

  /** ByteLevel only trims offsets, which Quire does not report. */
  record Identity() implements PostProcessor {
    public int[] process(int[] ids) {
      return ids;
    }
  }

  record Sequence(List<PostProcessor> processors) implements PostProcessor {
    public int[] process(int[] ids) {
      for (PostProcessor p : processors) ids = p.process(ids);
      return ids;
    }
  }

  static PostProcessor fromJson(JsonNode node) {
    if (node == null || node.isNull()) return null;
    String type = node.path("type").asText();
    return switch (type) {
      case "TemplateProcessing" -> {
        List<Piece> single = new ArrayList<>();
        for (JsonNode item : node.path("single")) {
          if (item.has("Sequence")) {
            single.add(new Piece(true, null));
          } else if (item.has("SpecialToken")) {
            String id = item.get("SpecialToken").path("id").asText();
            JsonNode spec = node.path("special_tokens").get(id);
            if (spec == null) throw new IllegalArgumentException("template special token \"" + id + "\" is not defined");
            int[] ids = new int[spec.path("ids").size()];
            for (int i = 0; i < ids.length; i++) ids[i] = spec.path("ids").get(i).asInt();
            single.add(new Piece(false, ids));
          }
        }
        yield new Template(List.copyOf(single));
      }
      case "RobertaProcessing", "BertProcessing" ->
          new Template(
              List.of(
                  new Piece(false, new int[] {node.path("cls").get(1).asInt()}),
                  new Piece(true, null),
                  new Piece(false, new int[] {node.path("sep").get(1).asInt()})));
      case "ByteLevel" -> new Identity();
      case "Sequence" -> {
        List<PostProcessor> list = new ArrayList<>();
        for (JsonNode p : node.path("processors")) {
          PostProcessor child = fromJson(p);
          if (child != null) list.add(child);
        }
        yield new Sequence(List.copyOf(list));
      }
      default -> throw new IllegalArgumentException("unsupported post_processor type \"" + type + "\"");
    };
  }
}
