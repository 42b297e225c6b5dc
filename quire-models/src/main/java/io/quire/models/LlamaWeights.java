package io.quire.models;

import java.util.ArrayList;
import java.util.List;

/** HF tensor names and shapes of the Llama-family decoder, shared by the loader and DummyWeights. */
public final class LlamaWeights {
  private LlamaWeights() {}

  public record Spec(String name, int rows, int cols) {
    public boolean isVector() {
      return rows == 1;
    }
  }

  public static String layer(int i, String suffix) {
    return "model.layers." + i + "." + suffix;
  }

  /** Every tensor a checkpoint of this config stores, in a stable order. Vectors have rows == 1. */
  public static List<Spec> specs(ModelConfig c) {
    List<Spec> s = new ArrayList<>();
    s.add(new Spec("model.embed_tokens.weight", c.vocabSize(), c.hiddenSize()));
    for (int i = 0; i < c.numLayers(); i++) {
      s.add(new Spec(layer(i, "input_layernorm.weight"), 1, c.hiddenSize()));
      s.add(new Spec(layer(i, "self_attn.q_proj.weight"), c.qSize(), c.hiddenSize()));
      s.add(new Spec(layer(i, "self_attn.k_proj.weight"), c.kvSize(), c.hiddenSize()));
      s.add(new Spec(layer(i, "self_attn.v_proj.weight"), c.kvSize(), c.hiddenSize()));
      if (c.attentionBias()) {
        s.add(new Spec(layer(i, "self_attn.q_proj.bias"), 1, c.qSize()));
        s.add(new Spec(layer(i, "self_attn.k_proj.bias"), 1, c.kvSize()));
        s.add(new Spec(layer(i, "self_attn.v_proj.bias"), 1, c.kvSize()));
      }
      if (c.qkNorm()) {
        s.add(new Spec(layer(i, "self_attn.q_norm.weight"), 1, c.headDim()));
        s.add(new Spec(layer(i, "self_attn.k_norm.weight"), 1, c.headDim()));
      }
      s.add(new Spec(layer(i, "self_attn.o_proj.weight"), c.hiddenSize(), c.qSize()));
      s.add(new Spec(layer(i, "post_attention_layernorm.weight"), 1, c.hiddenSize()));
      s.add(new Spec(layer(i, "mlp.gate_proj.weight"), c.intermediateSize(), c.hiddenSize()));
      s.add(new Spec(layer(i, "mlp.up_proj.weight"), c.intermediateSize(), c.hiddenSize()));
      s.add(new Spec(layer(i, "mlp.down_proj.weight"), c.hiddenSize(), c.intermediateSize()));
    }
    s.add(new Spec("model.norm.weight", 1, c.hiddenSize()));
    if (!c.tieWordEmbeddings()) s.add(new Spec("lm_head.weight", c.vocabSize(), c.hiddenSize()));
    return s;
  }
}
