package io.quire.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quire.spi.DType;
import io.quire.spi.WeightData;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WeightStoreTest {
  @TempDir Path tmp;
  static final Path HF = TestData.root().resolve("hf-saved/llama2-tiny-partial");

  @Test
  void readsTensorsWrittenByHfSavePretrained() throws Exception {
    // The third shard of transformers' own sharded save of llama2-tiny (the other two hold the
    // embeddings and are left out to keep the repo light).
    Files.copy(HF.resolve("model-00003-of-00003.safetensors"), tmp.resolve("model-00003-of-00003.safetensors"));
    try (WeightStore s = WeightStore.open(tmp)) {
      assertEquals(19, s.names().size());
      WeightData q = s.get("model.layers.1.self_attn.q_proj.weight");
      assertEquals(DType.BF16, q.dtype());
      assertEquals(64, q.rows());
      assertEquals(64, q.cols());
      for (long i = 0; i < 64 * 64; i++) {
        short bits = q.data().get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2 * i);
        float got = Float.intBitsToFloat((bits & 0xffff) << 16);
        assertEquals(DummyWeights.value(q.name(), 64, 0, i), got, "element " + i);
      }
      WeightData norm = s.get("model.norm.weight");
      assertEquals(1, norm.rows());
      assertEquals(64, norm.cols());
    }
  }

  @Test
  void indexNamingAMissingShardIsOneClearError() throws Exception {
    for (String f : new String[] {"config.json", "model.safetensors.index.json", "model-00003-of-00003.safetensors"}) {
      Files.copy(HF.resolve(f), tmp.resolve(f));
    }
    ModelLoadException e = assertThrows(ModelLoadException.class, () -> WeightStore.open(tmp));
    assertTrue(e.getMessage().contains("missing weights file") && e.getMessage().matches(".*model-0000[12]-of-00003.safetensors"), e.getMessage());
  }

  @Test
  void truncatedFileIsReportedAsCorrupt() throws Exception {
    byte[] all = Files.readAllBytes(HF.resolve("model-00003-of-00003.safetensors"));
    Files.write(tmp.resolve("model.safetensors"), Arrays.copyOf(all, all.length - 100));
    ModelLoadException e = assertThrows(ModelLoadException.class, () -> WeightStore.open(tmp));
    assertTrue(e.getMessage().startsWith("corrupt safetensors file") && e.getMessage().contains("truncated"), e.getMessage());
  }

  @Test
  void garbageHeaderIsReportedAsCorrupt() throws Exception {
    byte[] junk = "\u0010\0\0\0\0\0\0\0{not json at all".getBytes(StandardCharsets.ISO_8859_1);
    Files.write(tmp.resolve("model.safetensors"), junk);
    ModelLoadException e = assertThrows(ModelLoadException.class, () -> WeightStore.open(tmp));
    assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
  }

  @Test
  void unsupportedDtypeNamesTensorAndDtype() throws Exception {
    String header = "{\"w\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}";
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + h.length + 16).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h);
    Files.write(tmp.resolve("model.safetensors"), b.array());
    try (WeightStore s = WeightStore.open(tmp)) {
      ModelLoadException e = assertThrows(ModelLoadException.class, () -> s.get("w"));
      assertTrue(e.getMessage().contains("tensor w") && e.getMessage().contains("unsupported dtype I64"), e.getMessage());
    }
  }

  @Test
  void folderWithoutWeightsSaysSo() {
    ModelLoadException e = assertThrows(ModelLoadException.class, () -> WeightStore.open(tmp));
    assertTrue(e.getMessage().startsWith("no *.safetensors weights in"), e.getMessage());
  }
}
