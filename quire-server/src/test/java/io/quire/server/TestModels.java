package io.quire.server;

import io.quire.testkit.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Assembles servable folders from the committed fixtures: a HF model folder (config.json of
 * {@code testdata/models/<name>/}, DummyWeights seed 0, the real tokenizer it names) and Triton
 * model repositories around it.
 */
final class TestModels {
  private TestModels() {}

  static Path testdata() {
    return Fixtures.testdata();
  }

  /** Writes the HF folder of fixture {@code name} under {@code dir} and returns {@code dir}. */
  static Path hfFolder(String name, Path dir) throws IOException {
    return Fixtures.hfFolder(name, dir);
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
