package io.quire.cli;

import io.quire.models.DummyWeights;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "dummy-model", mixinStandardHelpOptions = true,
    description = "Write a random-weight bf16 model folder of a real shape (as vLLM's --load-format dummy).")
final class DummyModelCommand implements Callable<Integer> {
  @Option(names = "--shape", required = true, description = "llama-3.2-1b, llama-3-8b or llama-2-7b.") String shape;
  @Option(names = "--out", required = true) Path out;
  @Option(names = "--tokenizer", description = "Folder whose tokenizer files are copied in.") Path tokenizer;
  @Option(names = "--seed", defaultValue = "0") long seed;

  @Override
  public Integer call() throws Exception {
    long t0 = System.nanoTime();
    DummyWeights.write(out, DummyWeights.preset(shape), seed, 2L << 30);
    if (tokenizer != null) {
      try (Stream<Path> files = Files.list(tokenizer)) {
        for (Path f : files.filter(p -> p.getFileName().toString().startsWith("tokenizer")).toList()) {
          Files.copy(f, out.resolve(f.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
    System.err.printf("wrote %s (%s) in %.1f s%n", out, shape, (System.nanoTime() - t0) / 1e9);
    return 0;
  }
}
