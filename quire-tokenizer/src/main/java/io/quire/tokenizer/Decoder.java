package io.quire.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A tokenizer.json decoder: turns token strings back into text, as tokenizers' decode_chain. */
sealed interface Decoder {

  List<String> decodeChain(List<String> tokens);

  default String decode(List<String> tokens) {
    return String.join("", decodeChain(tokens));
  }

  /** Maps byte-level characters back to bytes; a token with other characters keeps its UTF-8. */
  record ByteLevelDecoder() implements Decoder {
    public List<String> decodeChain(List<String> tokens) {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      for (String t : tokens) {
        boolean all = true;
        for (int i = 0; i < t.length() && all; i++) all = ByteLevel.byteOf(t.charAt(i)) >= 0;
        if (all) {
          for (int i = 0; i < t.length(); i++) bytes.write(ByteLevel.byteOf(t.charAt(i)));
        } else {
          bytes.writeBytes(t.getBytes(StandardCharsets.UTF_8));
        }
      }
      return List.of(Utf8.decodeLossy(bytes));
    }
  }

  /** The replacement becomes a space; in the first token it is dropped unless prepending is off. */
  record MetaspaceDecoder(char replacement, boolean prepends) implements Decoder {
    public List<String> decodeChain(List<String> tokens) {
      List<String> out = new ArrayList<>(tokens.size());
      for (int i = 0; i < tokens.size(); i++) {
        String t = tokens.get(i);
        out.add(i == 0 && prepends ? t.replace(String.valueOf(replacement), "") : t.replace(replacement, ' '));
      }
      return out;
    }
  }

  record Replace(Pattern pattern, String content) implements Decoder {
    public List<String> decodeChain(List<String> tokens) {
      List<String> out = new ArrayList<>(tokens.size());
      String replacement = Matcher.quoteReplacement(content);
      for (String t : tokens) out.add(pattern.matcher(t).replaceAll(replacement));
      return out;
    }
  }

  /** Runs of {@code <0xNN>} tokens become their UTF-8 text, or one U+FFFD per byte if invalid. */
  record ByteFallback() implements Decoder {
    public List<String> decodeChain(List<String> tokens) {
      List<String> out = new ArrayList<>(tokens.size());
      byte[] pending = new byte[16];
      int n = 0;
      for (String t : tokens) {
        int b = byteToken(t);
        if (b >= 0) {
          if (n == pending.length) pending = java.util.Arrays.copyOf(pending, n * 2);
          pending[n++] = (byte) b;
          continue;
        }
        flush(pending, n, out);
        n = 0;
        out.add(t);
      }
      flush(pending, n, out);
      return out;
    }

    private static void flush(byte[] pending, int n, List<String> out) {
      if (n == 0) return;
      if (Utf8.isValid(pending, n)) {
        out.add(new String(pending, 0, n, StandardCharsets.UTF_8));
      } else {
        for (int i = 0; i < n; i++) out.add(String.valueOf(Utf8.REPLACEMENT));
      }
    }

    private static int byteToken(String t) {
      if (t.length() != 6 || !t.startsWith("<0x") || t.charAt(5) != '>') return -1;
      int hi = Character.digit(t.charAt(3), 16);
      int lo = Character.digit(t.charAt(4), 16);
      return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
    }
  }

  record Fuse() implements Decoder {
    public List<String> decodeChain(List<String> tokens) {
      return List.of(String.join("", tokens));
    }
  }

  /** Removes up to {@code start} leading and {@code stop} trailing {@code content} chars per token. */
  record Strip(int content, int start, int stop) implements Decoder {
    public List<String> decodeChain(List<String> tokens) {
      List<String> out = new ArrayList<>(tokens.size());
      for (String t : tokens) {
        int[] cps = t.codePoints().toArray();
        int from = 0;
        for (int i = 0; i < Math.min(start, cps.length) && cps[i] == content; i++) from = i + 1;
        int to = cps.length;
        for (int i = 0; i < stop && cps.length - i - 1 >= from && cps[cps.length - i - 1] == content; i++) {
          to = cps.length - i - 1;
        }
        out.add(new String(cps, from, to - from));
      }
      return out;
    }
  }

  record Sequence(List<Decoder> decoders) implements Decoder {
    public List<String> decodeChain(List<String> tokens) {
      for (Decoder d : decoders) tokens = d.decodeChain(tokens);
      return tokens;
    }
  }

  static Decoder fromJson(JsonNode node) {
    if (node == null || node.isNull()) return null;
    String type = node.path("type").asText();
    return switch (type) {
      case "ByteLevel" -> new ByteLevelDecoder();
      case "Metaspace" -> {
        boolean prepends =
            node.has("prepend_scheme")
                ? !"never".equals(node.get("prepend_scheme").asText())
                : node.path("add_prefix_space").asBoolean(true);
        yield new MetaspaceDecoder(node.path("replacement").asText("\u2581").charAt(0), prepends);
      }
      case "Replace" -> new Replace(Patterns.of(node.get("pattern")), node.path("content").asText());
      case "ByteFallback" -> new ByteFallback();
      case "Fuse" -> new Fuse();
      case "Strip" ->
          new Strip(node.path("content").asText(" ").codePointAt(0), node.path("start").asInt(0), node.path("stop").asInt(0));
      case "Sequence" -> {
        List<Decoder> list = new ArrayList<>();
        for (JsonNode d : node.path("decoders")) {
          Decoder child = fromJson(d);
          if (child != null) list.add(child);
        }
        yield new Sequence(List.copyOf(list));
      }
      default -> throw new IllegalArgumentException("unsupported decoder type \"" + type + "\"");
    };
  }
}
