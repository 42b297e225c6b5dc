package io.quire.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelConfigTest {
  @TempDir Path tmp;

  @Test
  void readsTheVariantsAsData() {
    Path models = TestData.root().resolve("models");
    ModelConfig llama3 = ModelConfig.load(models.resolve("llama3-tiny"));
    assertNotNull(llama3.ropeScaling());
    assertEquals(500000.0, llama3.ropeTheta());
    assertTrue(llama3.tieWordEmbeddings());
    ModelConfig qwen2 = ModelConfig.load(models.resolve("qwen2-tiny"));
    assertTrue(qwen2.attentionBias());
    ModelConfig qwen3 = ModelConfig.load(models.resolve("qwen3-tiny"));
    assertTrue(qwen3.qkNorm());
    assertEquals(32, qwen3.headDim());
    assertEquals(128, qwen3.qSize());
    ModelConfig mistral = ModelConfig.load(models.resolve("mistral-tiny"));
    assertNull(mistral.slidingWindow());
  }

  @Test
  void llama3ScalingLeavesHighFrequenciesAndDividesLowOnes() {
    ModelConfig c = ModelConfig.load(TestData.root().resolve("models/llama3-tiny"));
    float[] inv = c.ropeInvFreq();
    assertEquals(1.0f, inv[0]); // wavelength 2*pi, far below 8192/4: untouched
    double plain = 1.0 / Math.pow(500000.0, 14.0 / 16);
    assertEquals((float) (plain / 32), inv[7]); // wavelength above 8192: divided by factor
  }

  @Test
  void unsupportedArchitectureIsOneLineNamingIt() throws Exception {
    Files.writeString(tmp.resolve("config.json"), "{\"architectures\":[\"GPT2LMHeadModel\"],\"hidden_size\":8}");
    ModelLoadException e = assertThrows(ModelLoadException.class, () -> ModelConfig.load(tmp));
    assertTrue(e.getMessage().contains("unsupported architecture GPT2LMHeadModel"), e.getMessage());
    assertEquals(1, e.getMessage().lines().count());
  }

  @Test
  void missingConfigNamesTheFile() {
    ModelLoadException e = assertThrows(ModelLoadException.class, () -> ModelConfig.load(tmp));
    assertTrue(e.getMessage().startsWith("missing ") && e.getMessage().endsWith("config.json"), e.getMessage());
  }

  @Test
  void unsupportedRopeTypeIsRefused() throws Exception {
    Files.writeString(tmp.resolve("config.json"), """
        {"architectures":["LlamaForCausalLM"],"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,
         "num_attention_heads":2,"vocab_size":10,"rope_scaling":{"rope_type":"yarn","factor":4.0}}""");
    ModelLoadException e = assertThrows(ModelLoadException.class, () -> ModelConfig.load(tmp));
    assertTrue(e.getMessage().contains("unsupported rope type yarn"), e.getMessage());
  }
}
