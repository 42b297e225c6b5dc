package io.quire.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What the engine takes from {@code generation_config.json}: the EOS ids (one or a list) and the
 * model's recommended sampling defaults, which vLLM applies when a request leaves them unset.
 */
public record GenerationConfig(
    List<Integer> eosTokenIds, Integer bosTokenId, Float temperature, Float topP, Integer topK, Float repetitionPenalty) {

  public static GenerationConfig load(Path modelDir, ModelConfigFallback fallback) {
    Path file = modelDir.resolve("generation_config.json");
    JsonNode n = null;
    if (Files.exists(file)) {
      try {
        n = new ObjectMapper().readTree(Files.readString(file));
      } catch (IOException e) {
        throw new ModelLoadException("cannot parse " + file + ": " + e.getMessage().lines().findFirst().orElse(""));
      }
    }
    List<Integer> eos = new ArrayList<>();
    JsonNode e = n != null && n.has("eos_token_id") ? n.get("eos_token_id") : fallback.eosTokenId();
    if (e != null && e.isArray()) e.forEach(x -> eos.add(x.asInt()));
    else if (e != null && e.canConvertToInt()) eos.add(e.asInt());
    JsonNode b = n != null && n.has("bos_token_id") ? n.get("bos_token_id") : fallback.bosTokenId();
    Integer bos = b != null && b.canConvertToInt() ? b.asInt() : null;
    return new GenerationConfig(
        List.copyOf(eos), bos, f(n, "temperature"), f(n, "top_p"),
        n != null && n.has("top_k") ? n.get("top_k").asInt() : null, f(n, "repetition_penalty"));
  }

  private static Float f(JsonNode n, String k) {
    return n != null && n.has(k) && n.get(k).isNumber() ? (float) n.get(k).asDouble() : null;
  }

  /** config.json's own eos/bos ids, used when generation_config.json is absent. */
  public record ModelConfigFallback(JsonNode eosTokenId, JsonNode bosTokenId) {
    public static ModelConfigFallback of(Path modelDir) {
      try {
        JsonNode n = new ObjectMapper().readTree(Files.readString(modelDir.resolve("config.json")));
        return new ModelConfigFallback(n.get("eos_token_id"), n.get("bos_token_id"));
      } catch (IOException ex) {
        return new ModelConfigFallback(null, null);
      }
    }
  }
}
