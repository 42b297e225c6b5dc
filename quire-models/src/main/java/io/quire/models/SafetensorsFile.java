package io.quire.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quire.spi.DType;
import io.quire.spi.WeightData;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One memory-mapped {@code .safetensors} file: an 8-byte little-endian header length, a JSON header
 * of {name: {dtype, shape, data_offsets}}, then the raw little-endian tensor bytes. Tensors are
 * slices of the mapping; nothing is read into the Java heap.
 */
final class SafetensorsFile {
  record Entry(String name, String dtype, long[] shape, long begin, long end) {}

  private final Path path;
  private final MemorySegment mapped;
  private final long dataStart;
  private final Map<String, Entry> entries = new LinkedHashMap<>();

  SafetensorsFile(Path path, Arena arena) {
    this.path = path;
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size < 8) throw corrupt("file is " + size + " bytes, shorter than the 8-byte header length");
      mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
      long headerLen = mapped.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0);
      if (headerLen <= 0 || headerLen > size - 8 || headerLen > 100_000_000) {
        throw corrupt("header length " + headerLen + " does not fit a file of " + size + " bytes");
      }
      byte[] header = mapped.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE);
      dataStart = 8 + headerLen;
      JsonNode root;
      try {
        root = new ObjectMapper().readTree(new String(header, StandardCharsets.UTF_8));
      } catch (IOException e) {
        throw corrupt("header is not valid JSON");
      }
      if (root == null || !root.isObject()) throw corrupt("header is not a JSON object");
      for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> f = it.next();
        if (f.getKey().equals("__metadata__")) continue;
        JsonNode t = f.getValue();
        JsonNode offs = t.path("data_offsets");
        JsonNode shapeNode = t.path("shape");
        if (!t.has("dtype") || !offs.isArray() || offs.size() != 2 || !shapeNode.isArray()) {
          throw corrupt("tensor " + f.getKey() + " lacks dtype, shape or data_offsets");
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) shape[i] = shapeNode.get(i).asLong();
        long b = offs.get(0).asLong(), e = offs.get(1).asLong();
        if (b < 0 || e < b || dataStart + e > size) {
          throw corrupt("tensor " + f.getKey() + " data_offsets [" + b + ", " + e + "] lie outside the file (truncated?)");
        }
        entries.put(f.getKey(), new Entry(f.getKey(), t.get("dtype").asText(), shape, b, e));
      }
    } catch (NoSuchFileException e) {
      throw new ModelLoadException("missing weights file " + path);
    } catch (IOException e) {
      throw new ModelLoadException("cannot read " + path + ": " + e.getMessage());
    }
  }

  private ModelLoadException corrupt(String why) {
    return new ModelLoadException("corrupt safetensors file " + path + ": " + why);
  }

  Path path() {
    return path;
  }

  Map<String, Entry> entries() {
    return entries;
  }

  /** The tensor as a 2-D weight (vectors become one row). */
  WeightData weight(String name) {
    Entry e = entries.get(name);
    if (e == null) throw new ModelLoadException("tensor " + name + " not found in " + path);
    DType dtype;
    try {
      dtype = DType.fromSafetensors(e.dtype());
    } catch (IllegalArgumentException ex) {
      throw new ModelLoadException("tensor " + name + " in " + path + " has unsupported dtype " + e.dtype() + " (supported: BF16, F16, F32)");
    }
    long rows, cols;
    if (e.shape().length == 1) {
      rows = 1;
      cols = e.shape()[0];
    } else if (e.shape().length == 2) {
      rows = e.shape()[0];
      cols = e.shape()[1];
    } else {
      throw new ModelLoadException("tensor " + name + " in " + path + " has rank " + e.shape().length + ", expected 1 or 2");
    }
    long need = rows * cols * dtype.bytes();
    if (e.end() - e.begin() != need) {
      throw corrupt("tensor " + name + " has " + (e.end() - e.begin()) + " bytes for shape " + java.util.Arrays.toString(e.shape()));
    }
    return new WeightData(name, dtype, Math.toIntExact(rows), Math.toIntExact(cols), mapped.asSlice(dataStart + e.begin(), need));
  }
}
