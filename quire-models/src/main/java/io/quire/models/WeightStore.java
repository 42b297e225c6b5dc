package io.quire.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quire.spi.WeightData;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.stream.Stream;

/**
 * All weights of a model folder, memory-mapped: {@code model.safetensors}, or the shards named by
 * {@code model.safetensors.index.json}, or (without an index) every {@code *.safetensors} file.
 */
public final class WeightStore implements AutoCloseable {
  private final Arena arena = Arena.ofShared();
  private final Map<String, SafetensorsFile> byTensor = new HashMap<>();

  public static WeightStore open(Path modelDir) {
    WeightStore s = new WeightStore();
    try {
      s.map(modelDir);
    } catch (RuntimeException e) {
      s.close();
      throw e;
    }
    return s;
  }

  private void map(Path dir) {
    Path index = dir.resolve("model.safetensors.index.json");
    if (Files.exists(index)) {
      JsonNode map;
      try {
        map = new ObjectMapper().readTree(Files.readString(index)).get("weight_map");
      } catch (IOException e) {
        throw new ModelLoadException("cannot parse " + index + ": " + e.getMessage().lines().findFirst().orElse(""));
      }
      if (map == null || !map.isObject()) throw new ModelLoadException(index + " has no \"weight_map\" object");
      Map<String, SafetensorsFile> shards = new HashMap<>();
      for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        String shard = e.getValue().asText();
        Path p = dir.resolve(shard).normalize();
        if (!p.startsWith(dir.normalize())) throw new ModelLoadException(index + " names a shard outside the folder: " + shard);
        SafetensorsFile f = shards.computeIfAbsent(shard, k -> new SafetensorsFile(p, arena));
        if (!f.entries().containsKey(e.getKey())) {
          throw new ModelLoadException(index + " maps " + e.getKey() + " to " + shard + ", which does not contain it");
        }
        byTensor.put(e.getKey(), f);
      }
      return;
    }
    Path single = dir.resolve("model.safetensors");
    Path[] files;
    if (Files.exists(single)) {
      files = new Path[] {single};
    } else {
      try (Stream<Path> ls = Files.list(dir)) {
        files = ls.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toArray(Path[]::new);
      } catch (IOException e) {
        throw new ModelLoadException("cannot list " + dir + ": " + e.getMessage());
      }
    }
    if (files.length == 0) throw new ModelLoadException("no *.safetensors weights in " + dir);
    for (Path p : files) {
      SafetensorsFile f = new SafetensorsFile(p, arena);
      for (String name : f.entries().keySet()) byTensor.put(name, f);
    }
  }

  public boolean contains(String name) {
    return byTensor.containsKey(name);
  }

  public WeightData get(String name) {
    SafetensorsFile f = byTensor.get(name);
    if (f == null) throw new ModelLoadException("missing weight " + name + " in the model's safetensors files");
    return f.weight(name);
  }

  public java.util.Set<String> names() {
    return byTensor.keySet();
  }

  @Override
  public void close() {
    arena.close();
  }
}
