package io.quire.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code quire bench offline|serve}: throughput and latency figures from one reproducible command. */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Benchmark the engine in-process (offline) or a server over HTTP (serve).",
    subcommands = {BenchOfflineCommand.class, BenchServeCommand.class})
final class BenchCommand implements Runnable {
  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }

  static void writeJson(Path file, ObjectNode o) throws IOException {
    if (file.toAbsolutePath().getParent() != null) Files.createDirectories(file.toAbsolutePath().getParent());
    new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(file.toFile(), o);
  }
}
