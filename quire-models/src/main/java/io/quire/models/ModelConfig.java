package io.quire.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Set;

/**
 * The Llama-family decoder described by an HF {@code config.json}. Architecture variants are data:
 * Qwen2's qkv bias, Qwen3's q/k RMSNorm and explicit head_dim, Llama 3's rope scaling, tied
 * embeddings.
 */
public record ModelConfig(
    String architecture,
    int hiddenSize,
    int intermediateSize,
    int numLayers,
    int numHeads,
    int numKvHeads,
    int headDim,
    int vocabSize,
    float rmsNormEps,
    double ropeTheta,
    RopeScaling ropeScaling,
    int maxPositionEmbeddings,
    boolean tieWordEmbeddings,
    boolean attentionBias,
    boolean qkNorm,
    String dtype,
    Integer slidingWindow) {

  public static final Set<String> ARCHITECTURES =
      Set.of("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM");

  /** Llama 3 rope scaling; null when the model uses plain RoPE. */
  public record RopeScaling(
      double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositionEmbeddings) {}

  public int qSize() {
    return numHeads * headDim;
  }

  public int kvSize() {
    return numKvHeads * headDim;
  }

  public static ModelConfig load(Path modelDir) {
    Path file = modelDir.resolve("config.json");
    JsonNode n;
    try {
      n = new ObjectMapper().readTree(Files.readString(file));
    } catch (NoSuchFileException e) {
      throw new ModelLoadException("missing " + file);
    } catch (IOException e) {
      throw new ModelLoadException("cannot parse " + file + ": " + e.getMessage().lines().findFirst().orElse(""));
    }
    return parse(n, file.toString());
  }

  static ModelConfig parse(JsonNode n, String where) {
    JsonNode archs = n.path("architectures");
    String arch = archs.isArray() && !archs.isEmpty() ? archs.get(0).asText() : null;
    if (arch == null) throw new ModelLoadException(where + ": missing \"architectures\"");
    if (!ARCHITECTURES.contains(arch)) {
      throw new ModelLoadException(
          where + ": unsupported architecture " + arch + " (supported: " + String.join(", ", ARCHITECTURES.stream().sorted().toList()) + ")");
    }
    int hidden = req(n, "hidden_size", where);
    int heads = req(n, "num_attention_heads", where);
    int kvHeads = n.has("num_key_value_heads") && !n.get("num_key_value_heads").isNull()
        ? n.get("num_key_value_heads").asInt() : heads;
    int headDim = n.has("head_dim") && !n.get("head_dim").isNull() ? n.get("head_dim").asInt() : hidden / heads;
    if (heads % kvHeads != 0) {
      throw new ModelLoadException(where + ": num_attention_heads " + heads + " is not a multiple of num_key_value_heads " + kvHeads);
    }
    String act = n.path("hidden_act").asText("silu");
    if (!act.equals("silu")) throw new ModelLoadException(where + ": unsupported hidden_act " + act + " (supported: silu)");

    // transformers 5 writes rope_parameters {rope_theta, rope_type, ...}; older files rope_theta + rope_scaling.
    JsonNode rp = n.has("rope_parameters") && !n.get("rope_parameters").isNull() ? n.get("rope_parameters") : n.path("rope_scaling");
    double theta = rp.has("rope_theta") ? rp.get("rope_theta").asDouble() : n.path("rope_theta").asDouble(10000.0);
    RopeScaling scaling = null;
    if (rp.isObject()) {
      String type = rp.has("rope_type") ? rp.get("rope_type").asText() : rp.path("type").asText("default");
      switch (type) {
        case "default" -> {}
        case "llama3" -> scaling = new RopeScaling(
            rp.path("factor").asDouble(8.0), rp.path("low_freq_factor").asDouble(1.0),
            rp.path("high_freq_factor").asDouble(4.0), rp.path("original_max_position_embeddings").asInt(8192));
        default -> throw new ModelLoadException(where + ": unsupported rope type " + type + " (supported: default, llama3)");
      }
    }
    boolean qwen2 = arch.equals("Qwen2ForCausalLM");
    boolean qwen3 = arch.equals("Qwen3ForCausalLM");
    boolean bias = qwen2 || n.path("attention_bias").asBoolean(false);
    if (n.path("mlp_bias").asBoolean(false)) throw new ModelLoadException(where + ": mlp_bias is not supported");
    Integer window = null;
    boolean windowOn = n.has("sliding_window") && !n.get("sliding_window").isNull()
        && (!n.has("use_sliding_window") || n.get("use_sliding_window").asBoolean());
    if (windowOn) window = n.get("sliding_window").asInt();
    String dtype = n.has("dtype") ? n.get("dtype").asText() : n.path("torch_dtype").asText("bfloat16");
    return new ModelConfig(
        arch, hidden, req(n, "intermediate_size", where), req(n, "num_hidden_layers", where), heads, kvHeads, headDim,
        req(n, "vocab_size", where), (float) n.path("rms_norm_eps").asDouble(1e-6), theta, scaling,
        n.path("max_position_embeddings").asInt(2048), n.path("tie_word_embeddings").asBoolean(false), bias, qwen3,
        dtype, window);
  }

  private static int req(JsonNode n, String field, String where) {
    JsonNode v = n.get(field);
    if (v == null || !v.canConvertToInt() || v.asInt() <= 0) {
      throw new ModelLoadException(where + ": missing or invalid \"" + field + "\"");
    }
    return v.asInt();
  }

  /** RoPE inverse frequencies, with Llama 3's wavelength-dependent scaling when configured. */
  public float[] ropeInvFreq() {
    int half = headDim / 2;
    float[] inv = new float[half];
    for (int i = 0; i < half; i++) {
      // As HF: 1 / theta^(2i/d), computed in float32 there; double here then rounded.
      double f = 1.0 / Math.pow(ropeTheta, (2.0 * i) / headDim);
      if (ropeScaling != null) {
        RopeScaling s = ropeScaling;
        double lowWavelen = s.originalMaxPositionEmbeddings() / s.lowFreqFactor();
        double highWavelen = s.originalMaxPositionEmbeddings() / s.highFreqFactor();
        double wavelen = 2 * Math.PI / f;
        if (wavelen > lowWavelen) {
          f = f / s.factor();
        } else if (wavelen >= highWavelen) {
          double smooth = (s.originalMaxPositionEmbeddings() / wavelen - s.lowFreqFactor())
              / (s.highFreqFactor() - s.lowFreqFactor());
          f = (1 - smooth) * f / s.factor() + smooth * f;
        }
      }
      inv[i] = (float) f;
    }
    return inv;
  }
}
