package io.quire.server.repository;

import com.google.protobuf.TextFormat;
import io.quire.server.repository.proto.DataType;
import io.quire.server.repository.proto.ModelConfig;
import io.quire.server.repository.proto.ModelInput;
import io.quire.server.repository.proto.ModelOutput;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/**
 * Reads a model's {@code config.pbtxt} (protobuf text format against Triton's ModelConfig) and
 * completes it as Triton's vLLM backend does in {@code auto_complete_config}: the inputs and
 * outputs the backend understands are added when the config does not declare them.
 */
public final class ModelConfigs {
  private ModelConfigs() {}

  /** Backends (or platforms) this server runs. */
  public static final Set<String> SUPPORTED_BACKENDS = Set.of("vllm", "quire");

  public static ModelConfig parse(String text, String source) throws InvalidModelException {
    ModelConfig.Builder b = ModelConfig.newBuilder();
    try {
      TextFormat.getParser().merge(text, b);
    } catch (TextFormat.ParseException e) {
      throw new InvalidModelException("failed to parse " + source + ": " + e.getMessage());
    }
    return b.build();
  }

  public static ModelConfig read(Path file) throws InvalidModelException {
    try {
      return parse(Files.readString(file), file.getFileName().toString());
    } catch (IOException e) {
      throw new InvalidModelException("cannot read " + file.getFileName() + ": " + e.getMessage());
    }
  }

  /**
   * Checks what Triton checks before loading, plus that the backend is one this server runs, and
   * returns the completed config (name filled in, default vLLM-backend inputs and outputs added).
   */
  public static ModelConfig complete(ModelConfig c, String dirName) throws InvalidModelException {
    if (!c.getName().isEmpty() && !c.getName().equals(dirName)) {
      throw new InvalidModelException(
          "config.pbtxt name '" + c.getName() + "' does not match the model directory '" + dirName + "'");
    }
    String backend = !c.getBackend().isEmpty() ? c.getBackend() : c.getPlatform();
    if (backend.isEmpty()) {
      throw new InvalidModelException(
          "config.pbtxt sets neither backend nor platform; expected backend: \"vllm\" or platform: \"vllm\"");
    }
    if (!SUPPORTED_BACKENDS.contains(backend)) {
      throw new InvalidModelException(
          "unsupported backend '" + backend + "'; this server runs backend \"vllm\" or \"quire\"");
    }
    if (c.getMaxBatchSize() < 0) {
      throw new InvalidModelException("max_batch_size must be >= 0, got " + c.getMaxBatchSize());
    }
    ModelConfig.Builder b = c.toBuilder().setName(dirName);
    if (c.getBackend().isEmpty() && c.getPlatform().isEmpty()) b.setBackend(backend);
    Set<String> inputs = new HashSet<>();
    for (ModelInput in : c.getInputList()) {
      if (!inputs.add(in.getName())) {
        throw new InvalidModelException("input '" + in.getName() + "' is declared twice");
      }
    }
    addInput(b, inputs, "text_input", DataType.TYPE_STRING, false);
    addInput(b, inputs, "stream", DataType.TYPE_BOOL, true);
    addInput(b, inputs, "sampling_parameters", DataType.TYPE_STRING, true);
    addInput(b, inputs, "exclude_input_in_output", DataType.TYPE_BOOL, true);
    addInput(b, inputs, "return_finish_reason", DataType.TYPE_BOOL, true);
    addInput(b, inputs, "return_cumulative_logprob", DataType.TYPE_BOOL, true);
    addInput(b, inputs, "return_logprobs", DataType.TYPE_BOOL, true);
    addInput(b, inputs, "return_num_input_tokens", DataType.TYPE_BOOL, true);
    addInput(b, inputs, "return_num_output_tokens", DataType.TYPE_BOOL, true);
    Set<String> outputs = new HashSet<>();
    for (ModelOutput out : c.getOutputList()) {
      if (!outputs.add(out.getName())) {
        throw new InvalidModelException("output '" + out.getName() + "' is declared twice");
      }
    }
    if (!outputs.contains("text_output")) {
      b.addOutput(ModelOutput.newBuilder().setName("text_output").setDataType(DataType.TYPE_STRING).addDims(-1));
    }
    // The vLLM backend streams (decoupled); a config that says otherwise still streams here.
    if (!c.hasModelTransactionPolicy()) b.getModelTransactionPolicyBuilder().setDecoupled(true);
    return b.build();
  }

  private static void addInput(ModelConfig.Builder b, Set<String> have, String name, DataType type, boolean optional) {
    if (have.contains(name)) return;
    b.addInput(ModelInput.newBuilder().setName(name).setDataType(type).addDims(1).setOptional(optional));
  }

  /** KServe v2 datatype name of a config data type (TYPE_STRING is BYTES). */
  public static String kserveType(DataType t) {
    return switch (t) {
      case TYPE_STRING -> "BYTES";
      case TYPE_BOOL -> "BOOL";
      case TYPE_INVALID, UNRECOGNIZED -> "INVALID";
      default -> t.name().substring("TYPE_".length());
    };
  }
}
