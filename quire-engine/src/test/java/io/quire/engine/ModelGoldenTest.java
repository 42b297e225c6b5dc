package io.quire.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.quire.backend.cpu.CpuBackend;
import io.quire.testkit.Fixtures;
import io.quire.models.LlamaModel;
import io.quire.spi.BatchMetadata;
import io.quire.spi.DeviceBatch;
import io.quire.spi.KvCache;
import io.quire.spi.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The model and the CPU backend alone (no scheduler, no sampler) against HF transformers' fp32
 * greedy run: a whole-prompt prefill, then one decode token per step through a paged cache whose
 * blocks are deliberately scattered.
 *
 * <p>Tolerance: both sides compute in fp32 from identical bf16 weights, so logits differ only by
 * summation order; 2e-3 absolute on logits of magnitude ~1-10 is about 100x the fp32 rounding
 * noise of these dot products, and far below the gaps between top candidates that decide tokens.
 */
class ModelGoldenTest {
  static final float TOL = 2e-3f;

  static String[] models() {
    return Fixtures.MODELS.toArray(String[]::new);
  }

  @ParameterizedTest
  @MethodSource("models")
  void greedyTokensAndTopLogitsMatchTransformers(String name) {
    JsonNode golden = Fixtures.golden(name);
    try (CpuBackend backend = new CpuBackend();
        LlamaModel model = LlamaModel.load(Fixtures.modelDir(name), backend, 256, 4)) {
      int blockSize = 16, numBlocks = 64;
      for (JsonNode c : golden.get("cases")) {
        try (KvCache cache = model.allocateKvCache(numBlocks, blockSize)) {
          int[] prompt = Fixtures.ints(c.get("prompt_ids"));
          int[] want = Fixtures.ints(c.get("greedy_ids"));
          // Scattered physical blocks: logical block i -> physical 63 - 3i.
          int[] table = new int[numBlocks / 3];
          for (int i = 0; i < table.length; i++) table[i] = numBlocks - 1 - 3 * i;
          List<Integer> seq = new ArrayList<>();
          for (int t : prompt) seq.add(t);
          int computed = 0;
          int[] got = new int[want.length];
          float[] logits = new float[model.config().vocabSize()];
          for (int step = 0; step < want.length; step++) {
            int n = seq.size() - computed;
            int[] ids = new int[n], pos = new int[n], slots = new int[n];
            for (int i = 0; i < n; i++) {
              int p = computed + i;
              ids[i] = seq.get(p);
              pos[i] = p;
              slots[i] = table[p / blockSize] * blockSize + p % blockSize;
            }
            BatchMetadata b = new BatchMetadata(ids, pos, new int[] {0, n}, new int[] {seq.size()}, slots,
                new int[][] {table}, new int[] {n - 1}, blockSize);
            try (DeviceBatch db = backend.prepare(b)) {
              Tensor out = model.forward(db, cache);
              backend.copyToHost(out, logits);
            }
            computed = seq.size();
            JsonNode s = c.get("steps").get(step);
            JsonNode topIds = s.get("top_ids"), topLogits = s.get("top_logits");
            for (int k = 0; k < topIds.size(); k++) {
              float w = (float) topLogits.get(k).asDouble();
              float g = logits[topIds.get(k).asInt()];
              assertEquals(w, g, TOL, name + " prompt " + c.get("prompt").asText() + " step " + step + " top " + k);
            }
            int arg = 0;
            for (int v = 1; v < logits.length; v++) if (logits[v] > logits[arg]) arg = v;
            got[step] = arg;
            seq.add(arg);
          }
          assertArrayEquals(want, got, name + ": " + c.get("prompt").asText());
          assertTrue(want.length > 0);
        }
      }
    }
  }
}
