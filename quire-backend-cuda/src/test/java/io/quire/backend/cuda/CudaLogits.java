package io.quire.backend.cuda;

import io.quire.backend.cpu.CpuBackend;
import io.quire.models.LlamaModel;
import io.quire.spi.Backend;
import io.quire.spi.BatchMetadata;
import io.quire.spi.DeviceBatch;
import io.quire.spi.KvCache;
import java.io.DataOutputStream;
import java.io.FileOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Last-position logits of whole-prompt prefills, for comparison with HF transformers
 * (tools/bench/hf_logits_compare.py). Usage: {@code CudaLogits <model-dir> <ids-file> <out.f32> [cuda|cpu]}:
 * ids-file holds one prompt a line (token ids, space separated); out.f32 gets, for each prompt in
 * order, vocab float32 values (little endian). Each prompt runs alone from an empty cache.
 */
public final class CudaLogits {
  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    List<int[]> prompts = Files.readAllLines(Path.of(args[1])).stream().filter(l -> !l.isBlank())
        .map(l -> Arrays.stream(l.trim().split("\\s+")).mapToInt(Integer::parseInt).toArray()).toList();
    int maxLen = prompts.stream().mapToInt(p -> p.length).max().orElse(1);
    boolean cpu = args.length > 3 && args[3].equals("cpu");
    try (Backend b = cpu ? new CpuBackend() : new CudaBackend();
        LlamaModel model = LlamaModel.load(dir, b, maxLen, 1);
        DataOutputStream out = new DataOutputStream(new FileOutputStream(args[2]))) {
      int bs = 16;
      int[] table = new int[(maxLen + bs - 1) / bs];
      for (int i = 0; i < table.length; i++) table[i] = i;
      float[] logits = new float[model.config().vocabSize()];
      ByteBuffer buf = ByteBuffer.allocate(4 * logits.length).order(ByteOrder.LITTLE_ENDIAN);
      try (KvCache cache = model.allocateKvCache(table.length, bs, FixtureChecks.kvDtype())) {
        for (int[] ids : prompts) {
          int n = ids.length;
          int[] pos = new int[n];
          for (int i = 0; i < n; i++) pos[i] = i;
          try (DeviceBatch db = b.prepare(new BatchMetadata(ids, pos, new int[] {0, n}, new int[] {n}, pos.clone(),
              new int[][] {table}, new int[] {n - 1}, bs))) {
            b.copyToHost(model.forward(db, cache), logits);
          }
          int am = 0;
          for (int i = 1; i < logits.length; i++) if (logits[i] > logits[am]) am = i;
          System.out.printf("prompt of %d tokens: argmax %d (%.4f)%n", n, am, logits[am]);
          buf.clear();
          buf.asFloatBuffer().put(logits);
          out.write(buf.array());
        }
      }
      System.out.println("device " + (cpu ? "cpu" : ((CudaBackend) b).deviceName()) + ", " + prompts.size() + " prompts, vocab " + logits.length);
    }
  }
}
