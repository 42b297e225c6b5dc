package io.quire.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quire.models.DummyWeights;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Assembles servable folders from the committed fixtures: a HF model folder (config.json of
 * {@code testdata/models/<name>/}, DummyWeights seed 0, the real tokenizer it names) and Triton
 * model repositories around it.
 */
final class TestModels {
  private TestModels() {}

  static Path testdata() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null && !Files.isDirectory(p.resolve("testdata/models"))) p = p.getParent();
    if (p == null) throw new IllegalStateException("testdata/ not found above " + Path.of("").toAbsolutePath());
    return p.resolve("testdata");
  }

  /** Writes the HF folder of fixture {@code name} under {@code dir} and returns {@code dir}. */
  static Path hfFolder(String name, Path dir) throws IOException {
    Path fixture = testdata().resolve("models").resolve(name);
    ObjectNode config = (ObjectNode) new ObjectMapper().readTree(fixture.resolve("config.json").toFile());
    DummyWeights.write(dir, config, 0, 1L << 30);
    String tok = Files.readString(fixture.resolve("tokenizer.txt")).trim();
    Path tdir = testdata().resolve("tokenizers").resolve(tok);
    Files.copy(tdir.resolve("tokenizer.json.gz"), dir.resolve("tokenizer.json.gz"), StandardCopyOption.REPLACE_EXISTING);
    Files.copy(tdir.resolve("tokenizer_config.json"), dir.resolve("tokenizer_config.json"), StandardCopyOption.REPLACE_EXISTING);
    return dir;
  }

  /** The seed's config.pbtxt (../shared/seed/triton-vllm.txt) with only the kind changed to KIND_CPU. */
  static final String SEED_CONFIG = """
      name: "llama2-7b-chat-v1.0"
      platform: "vllm"
      max_batch_size: 1024 # Can be very high due to efficient batching
      input [
        {
          name: "input_text"
          data_type: TYPE_STRING
          dims: [ -1 ]
        },
        {
          name: "parameters"
          data_type: TYPE_STRING
          dims: [ -1 ]
        }
      ]
      output [
        {
          name: "generated_text"
          data_type: TYPE_STRING
          dims: [ -1 ]
        },
        {
          name: "finished"
          data_type: TYPE_BOOL
          dims: [ -1 ]
        }
      ]

      instance_group [
        {
          count: 1
          kind: KIND_CPU
        }
      ]

      # vLLM specific configuration (often handled by the server or a separate runtime)
      # Example:
      # backend_config {
      #   model_config_platform: "vllm"
      #   parameters {
      #     key: "vllm_gpu_memory_utilization"
      #     value {
      #       float_value: 0.9 # Use 90% of GPU memory for KV cache
      #     }
      #   }
      # }
      """;

  static void write(Path file, String text) throws IOException {
    Files.createDirectories(file.getParent());
    Files.writeString(file, text);
  }
}
