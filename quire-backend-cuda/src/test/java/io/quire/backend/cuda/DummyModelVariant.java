package io.quire.backend.cuda;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quire.models.DummyWeights;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.stream.Stream;

/**
 * Writes a random-weight bf16 model folder of a preset shape with config keys overridden (the same
 * DummyWeights values as the preset: a tensor's values depend on its name and shape only, so layer 0
 * and 1 of a 2-layer variant equal those of the full model). Usage:
 * {@code DummyModelVariant <out> <shape> [key=int ...] [tokenizer=DIR]}, e.g.
 * {@code /tmp/m2l llama-3-8b num_hidden_layers=2 tokenizer=models/quire-demo/1}.
 */
public final class DummyModelVariant {
  public static void main(String[] args) throws Exception {
    Path out = Path.of(args[0]);
    ObjectNode cfg = DummyWeights.preset(args[1]);
    Path tokenizer = null;
    for (int i = 2; i < args.length; i++) {
      String[] kv = args[i].split("=", 2);
      if (kv[0].equals("tokenizer")) tokenizer = Path.of(kv[1]);
      else cfg.put(kv[0], Long.parseLong(kv[1]));
    }
    long t0 = System.nanoTime();
    DummyWeights.write(out, cfg, 0, 2L << 30);
    if (tokenizer != null) {
      try (Stream<Path> files = Files.list(tokenizer)) {
        for (Path f : files.filter(p -> p.getFileName().toString().startsWith("tokenizer")).toList()) {
          Files.copy(f, out.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
    System.out.printf("wrote %s (%s %s) in %.1f s%n", out, args[1], cfg, (System.nanoTime() - t0) / 1e9);
  }
}
