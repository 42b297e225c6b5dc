package io.quire.backend.cuda;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quire.engine.CompletionDelta;
import io.quire.engine.Engine;
import io.quire.engine.EngineConfig;
import io.quire.engine.Prompt;
import io.quire.engine.RequestOutput;
import io.quire.engine.RequestStream;
import io.quire.engine.SamplingParams;
import io.quire.models.DummyWeights;
import io.quire.models.LlamaModel;
import io.quire.spi.Backend;
import io.quire.spi.BatchMetadata;
import io.quire.spi.DeviceBatch;
import io.quire.spi.KvCache;
import io.quire.spi.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The tiny fixtures of testdata/models (HF transformers' fp32 greedy runs) on a backend: the model
 * alone, teacher-forced along HF's tokens so every step is compared (top-logit error, argmax agreement,
 * HF's top-2 gap where they differ), and the whole engine greedy (token agreement per prompt).
 */
final class FixtureChecks {
  /**
   * The KV cache dtype the GPU check and benchmark mains use: system property quire.kvCacheDtype=fp8 (or
   * env QUIRE_KV_CACHE_DTYPE=fp8) for kv_cache_dtype fp8; otherwise null, the backend's own (bf16).
   */
  static io.quire.spi.DType kvDtype() {
    String v = System.getProperty("quire.kvCacheDtype", System.getenv().getOrDefault("QUIRE_KV_CACHE_DTYPE", "auto"));
    return v.equals("fp8") || v.equals("fp8_e4m3") ? io.quire.spi.DType.FP8_E4M3 : null;
  }

  static final String[] MODELS = {"llama2-tiny", "llama3-tiny", "mistral-tiny", "qwen2-tiny", "qwen3-tiny"};
  private static final ObjectMapper JSON = new ObjectMapper();

  static Path testdata() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null && !Files.isDirectory(p.resolve("testdata/models"))) p = p.getParent();
    if (p == null) throw new IllegalStateException("testdata/models not found above " + Path.of("").toAbsolutePath());
    return p.resolve("testdata");
  }

  static JsonNode golden(String name) {
    try {
      return JSON.readTree(Files.readString(testdata().resolve("models").resolve(name).resolve("golden.json")));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The fixture's HF folder (weights regenerated bit-identically), built once under {@code root}. */
  static Path modelDir(Path root, String name) {
    try {
      Path src = testdata().resolve("models").resolve(name);
      Path dir = root.resolve(name).toAbsolutePath();
      if (Files.exists(dir.resolve("done"))) return dir;
      Files.createDirectories(dir);
      ObjectNode config = (ObjectNode) JSON.readTree(Files.readString(src.resolve("config.json")));
      DummyWeights.write(dir, config, 0, 1L << 62);
      Files.copy(src.resolve("generation_config.json"), dir.resolve("generation_config.json"), StandardCopyOption.REPLACE_EXISTING);
      Path t = testdata().resolve("tokenizers").resolve(Files.readString(src.resolve("tokenizer.txt")).trim());
      Files.copy(t.resolve("tokenizer.json.gz"), dir.resolve("tokenizer.json.gz"), StandardCopyOption.REPLACE_EXISTING);
      Files.copy(t.resolve("tokenizer_config.json"), dir.resolve("tokenizer_config.json"), StandardCopyOption.REPLACE_EXISTING);
      Files.writeString(dir.resolve("done"), "");
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static int[] ints(JsonNode a) {
    int[] r = new int[a.size()];
    for (int i = 0; i < r.length; i++) r[i] = a.get(i).asInt();
    return r;
  }

  /** Per-fixture summary lines; ok=false when a step's argmax differs and HF's gap there was not a near-tie. */
  record Summary(String name, boolean ok, String line) {}

  /**
   * Model alone, teacher-forced: prefill the prompt, then feed HF's greedy token each step (through
   * scattered blocks). Reports the largest |logit - HF| over HF's top-8 at every step, and steps where
   * our argmax differs from HF's token, with HF's own top1-top2 gap there.
   */
  static Summary modelTeacherForced(Backend b, Path root, String name, double nearTie) {
    JsonNode golden = golden(name);
    int agree = 0, steps = 0;
    double maxErr = 0;
    boolean ok = true;
    StringBuilder mism = new StringBuilder();
    try (LlamaModel model = LlamaModel.load(modelDir(root, name), b, 256, 4)) {
      int bs = 16, numBlocks = 64;
      int ci = 0;
      for (JsonNode c : golden.get("cases")) {
        try (KvCache cache = model.allocateKvCache(numBlocks, bs)) {
          int[] prompt = ints(c.get("prompt_ids"));
          int[] want = ints(c.get("greedy_ids"));
          int[] table = new int[numBlocks / 3];
          for (int i = 0; i < table.length; i++) table[i] = numBlocks - 1 - 3 * i;
          List<Integer> seq = new ArrayList<>();
          for (int t : prompt) seq.add(t);
          int computed = 0;
          float[] logits = new float[model.config().vocabSize()];
          for (int step = 0; step < want.length; step++) {
            int n = seq.size() - computed;
            int[] ids = new int[n], pos = new int[n], slots = new int[n];
            for (int i = 0; i < n; i++) {
              int p = computed + i;
              ids[i] = seq.get(p);
              pos[i] = p;
              slots[i] = table[p / bs] * bs + p % bs;
            }
            BatchMetadata bm = new BatchMetadata(ids, pos, new int[] {0, n}, new int[] {seq.size()}, slots,
                new int[][] {table}, new int[] {n - 1}, bs);
            try (DeviceBatch db = b.prepare(bm)) {
              Tensor out = model.forward(db, cache);
              b.copyToHost(out, logits);
            }
            computed = seq.size();
            JsonNode s = c.get("steps").get(step);
            JsonNode topIds = s.get("top_ids"), topLogits = s.get("top_logits");
            for (int k = 0; k < topIds.size(); k++) {
              maxErr = Math.max(maxErr, Math.abs(topLogits.get(k).asDouble() - logits[topIds.get(k).asInt()]));
            }
            int arg = 0;
            for (int v = 1; v < logits.length; v++) if (logits[v] > logits[arg]) arg = v;
            steps++;
            if (arg == want[step]) {
              agree++;
            } else {
              double gap = topLogits.get(0).asDouble() - topLogits.get(1).asDouble();
              if (gap > nearTie) ok = false;
              mism.append(String.format(" [case %d step %d: got %d want %d, HF top1-top2 gap %.4f, our gap %.4f]",
                  ci, step, arg, want[step], gap, logits[arg] - logits[want[step]]));
            }
            seq.add(want[step]); // teacher forcing
          }
        }
        ci++;
      }
    }
    return new Summary(name, ok, String.format("%s model (teacher-forced): argmax agrees at %d/%d steps, max |logit - HF fp32| over top-8 %.4f%s",
        name, agree, steps, maxErr, mism));
  }

  /** The whole engine, greedy, all prompts submitted together; compared with HF's greedy tokens. */
  static Summary engineGreedy(Backend b, Path root, String name) throws InterruptedException {
    JsonNode golden = golden(name);
    List<RequestStream> streams = new ArrayList<>();
    List<int[]> wants = new ArrayList<>();
    StringBuilder sb = new StringBuilder();
    int exact = 0, cases = 0;
    try (Engine engine = Engine.start(EngineConfig.cpuDefaults(modelDir(root, name)).withNumKvBlocks(256), b)) {
      int i = 0;
      for (JsonNode c : golden.get("cases")) {
        streams.add(engine.submit("r" + i++, Prompt.text(c.get("prompt").asText()),
            SamplingParams.builder().temperature(0f).maxTokens(16).build(), 0));
        wants.add(ints(c.get("greedy_ids")));
      }
      for (int k = 0; k < streams.size(); k++) {
        List<Integer> got = new ArrayList<>();
        boolean finished = false;
        for (RequestOutput o; (o = streams.get(k).poll(30, TimeUnit.SECONDS)) != null; ) {
          for (CompletionDelta d : o.deltas()) if (d.index() == 0) for (int t : d.newTokenIds()) got.add(t);
          if (o.finished()) {
            finished = true;
            break;
          }
        }
        int[] want = wants.get(k);
        int first = -1;
        for (int j = 0; j < Math.max(want.length, got.size()); j++) {
          if (j >= want.length || j >= got.size() || want[j] != got.get(j)) {
            first = j;
            break;
          }
        }
        cases++;
        if (first < 0 && finished) exact++;
        else sb.append(String.format(" [case %d: first divergence at step %d%s]", k, first, finished ? "" : ", did not finish"));
      }
    }
    return new Summary(name, exact == cases, String.format("%s engine greedy: %d/%d prompts identical to HF%s", name, exact, cases, sb));
  }
}
