package io.quire.models;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * Random-weight model folders of real shapes (as vLLM's {@code --load-format dummy}), bit-identical
 * to {@code tools/oracle/dummy_weights.py} so that HF transformers can be run on the same weights.
 * Every value is an integer below 256 times a power of two: exact in bf16, fp16 and fp32.
 */
public final class DummyWeights {
  private DummyWeights() {}

  static long fnv1a64(String s) {
    long h = 0xCBF29CE484222325L;
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      h ^= (b & 0xff);
      h *= 0x100000001B3L;
    }
    return h;
  }

  /** Power-of-two exponent k of a tensor's values (u - 128) * 2^-k; -1 for norm weights. */
  static int exponent(String name, int cols) {
    if (name.endsWith("norm.weight")) return -1;
    if (name.endsWith(".bias")) return 10;
    if (name.contains("embed_tokens")) return 8;
    int bitLength = 64 - Long.numberOfLeadingZeros(cols - 1L);
    return 6 + (bitLength + 1) / 2;
  }

  /** Element i (row-major) of tensor {@code name} as a float. */
  public static float value(String name, int cols, long seed, long i) {
    return value(fnv1a64(name) ^ seed, exponent(name, cols), i);
  }

  private static float value(long h, int k, long i) {
    long z = h + (i + 1) * 0x9E3779B97F4A7C15L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    z = z ^ (z >>> 31);
    int u = (int) (z >>> 56);
    if (k < 0) return (128 + (u >> 1)) * 0x1p-8f;
    return Math.scalb((float) (u - 128), -k);
  }

  /** bf16 bits of the float (exact for these values). */
  static short bf16(float f) {
    return (short) (Float.floatToRawIntBits(f) >>> 16);
  }

  /** Model shapes that benchmarks use. */
  public static ObjectNode preset(String shape) {
    ObjectMapper m = new ObjectMapper();
    ObjectNode c = m.createObjectNode();
    c.putArray("architectures").add("LlamaForCausalLM");
    c.put("model_type", "llama").put("hidden_act", "silu").put("dtype", "bfloat16");
    switch (shape) {
      case "llama-3.2-1b" -> {
        c.put("hidden_size", 2048).put("intermediate_size", 8192).put("num_hidden_layers", 16)
            .put("num_attention_heads", 32).put("num_key_value_heads", 8).put("head_dim", 64)
            .put("vocab_size", 128256).put("rms_norm_eps", 1e-5).put("max_position_embeddings", 131072)
            .put("tie_word_embeddings", true).put("bos_token_id", 128000).put("eos_token_id", 128001);
        c.putObject("rope_parameters").put("rope_type", "llama3").put("rope_theta", 500000.0).put("factor", 32.0)
            .put("low_freq_factor", 1.0).put("high_freq_factor", 4.0).put("original_max_position_embeddings", 8192);
      }
      case "llama-3-8b" -> {
        c.put("hidden_size", 4096).put("intermediate_size", 14336).put("num_hidden_layers", 32)
            .put("num_attention_heads", 32).put("num_key_value_heads", 8).put("vocab_size", 128256)
            .put("rms_norm_eps", 1e-5).put("max_position_embeddings", 8192).put("rope_theta", 500000.0)
            .put("tie_word_embeddings", false).put("bos_token_id", 128000).put("eos_token_id", 128001);
      }
      case "llama-2-7b" -> {
        c.put("hidden_size", 4096).put("intermediate_size", 11008).put("num_hidden_layers", 32)
            .put("num_attention_heads", 32).put("num_key_value_heads", 32).put("vocab_size", 32000)
            .put("rms_norm_eps", 1e-5).put("max_position_embeddings", 4096).put("rope_theta", 10000.0)
            .put("tie_word_embeddings", false).put("bos_token_id", 1).put("eos_token_id", 2);
      }
      default -> throw new IllegalArgumentException("unknown shape " + shape + " (known: llama-3.2-1b, llama-3-8b, llama-2-7b)");
    }
    return c;
  }

  /**
   * Writes config.json, generation_config.json and bf16 safetensors (shards of at most
   * {@code maxShardBytes}, with an index when there is more than one) for {@code config}.
   */
  public static void write(Path dir, ObjectNode config, long seed, long maxShardBytes) throws IOException {
    write(dir, config, seed, maxShardBytes, io.quire.spi.DType.BF16);
  }

  /** As {@link #write(Path, ObjectNode, long, long)}, storing the same values as BF16, F16 or F32. */
  public static void write(Path dir, ObjectNode config, long seed, long maxShardBytes, io.quire.spi.DType dtype)
      throws IOException {
    if (dtype != io.quire.spi.DType.BF16 && dtype != io.quire.spi.DType.F16 && dtype != io.quire.spi.DType.F32) {
      throw new IllegalArgumentException("dummy weights are BF16, F16 or F32, not " + dtype);
    }
    Files.createDirectories(dir);
    ObjectMapper m = new ObjectMapper();
    Files.writeString(dir.resolve("config.json"), m.writerWithDefaultPrettyPrinter().writeValueAsString(config));
    ObjectNode gen = m.createObjectNode();
    if (config.has("bos_token_id")) gen.set("bos_token_id", config.get("bos_token_id"));
    if (config.has("eos_token_id")) gen.set("eos_token_id", config.get("eos_token_id"));
    Files.writeString(dir.resolve("generation_config.json"), m.writerWithDefaultPrettyPrinter().writeValueAsString(gen));
    ModelConfig c = ModelConfig.parse(config, dir.resolve("config.json").toString());
    List<LlamaWeights.Spec> specs = LlamaWeights.specs(c);

    // Group tensors into shards in order.
    List<List<LlamaWeights.Spec>> shards = new java.util.ArrayList<>();
    long size = 0;
    for (LlamaWeights.Spec s : specs) {
      long bytes = (long) dtype.bytes() * s.rows() * s.cols();
      if (shards.isEmpty() || (size > 0 && size + bytes > maxShardBytes)) {
        shards.add(new java.util.ArrayList<>());
        size = 0;
      }
      shards.getLast().add(s);
      size += bytes;
    }
    Map<String, String> weightMap = new LinkedHashMap<>();
    for (int i = 0; i < shards.size(); i++) {
      String file = shards.size() == 1 ? "model.safetensors"
          : String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
      writeShard(dir.resolve(file), shards.get(i), seed, dtype);
      for (LlamaWeights.Spec s : shards.get(i)) weightMap.put(s.name(), file);
    }
    if (shards.size() > 1) {
      ObjectNode idx = m.createObjectNode();
      idx.putObject("metadata");
      ObjectNode wm = idx.putObject("weight_map");
      weightMap.forEach(wm::put);
      Files.writeString(dir.resolve("model.safetensors.index.json"), m.writerWithDefaultPrettyPrinter().writeValueAsString(idx));
    }
  }

  private static void writeShard(Path file, List<LlamaWeights.Spec> specs, long seed, io.quire.spi.DType dtype)
      throws IOException {
    ObjectMapper m = new ObjectMapper();
    ObjectNode header = m.createObjectNode();
    header.putObject("__metadata__").put("format", "pt");
    long off = 0;
    for (LlamaWeights.Spec s : specs) {
      long bytes = (long) dtype.bytes() * s.rows() * s.cols();
      ObjectNode t = header.putObject(s.name());
      t.put("dtype", dtype.name());
      if (s.isVector()) t.putArray("shape").add(s.cols());
      else t.putArray("shape").add(s.rows()).add(s.cols());
      t.putArray("data_offsets").add(off).add(off + bytes);
      off += bytes;
    }
    byte[] json = m.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
    int pad = (8 - json.length % 8) % 8;
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
      ByteBuffer head = ByteBuffer.allocate(8 + json.length + pad).order(ByteOrder.LITTLE_ENDIAN);
      head.putLong(json.length + pad).put(json);
      for (int i = 0; i < pad; i++) head.put((byte) ' ');
      head.flip();
      while (head.hasRemaining()) ch.write(head);
      for (LlamaWeights.Spec s : specs) writeTensor(ch, s, seed, dtype);
    }
  }

  private static void writeTensor(FileChannel ch, LlamaWeights.Spec s, long seed, io.quire.spi.DType dtype)
      throws IOException {
    long n = (long) s.rows() * s.cols();
    long h = fnv1a64(s.name()) ^ seed;
    int k = exponent(s.name(), s.cols());
    int chunk = 1 << 22;
    for (long start = 0; start < n; start += chunk) {
      int len = (int) Math.min(chunk, n - start);
      int width = dtype.bytes();
      ByteBuffer buf = ByteBuffer.allocateDirect(width * len).order(ByteOrder.LITTLE_ENDIAN);
      long base = start;
      int parts = Math.max(1, Math.min(Runtime.getRuntime().availableProcessors(), len / 65536));
      IntStream.range(0, parts).parallel().forEach(p -> {
        int a = (int) ((long) len * p / parts), b = (int) ((long) len * (p + 1) / parts);
        for (int j = a; j < b; j++) {
          float v = value(h, k, base + j);
          switch (dtype) {
            case F32 -> buf.putFloat(4 * j, v);
            case F16 -> buf.putShort(2 * j, Float.floatToFloat16(v));
            default -> buf.putShort(2 * j, bf16(v));
          }
        }
      });
      buf.limit(width * len);
      while (buf.hasRemaining()) ch.write(buf);
    }
  }
}
