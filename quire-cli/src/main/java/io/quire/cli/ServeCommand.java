package io.quire.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

@Command(name = "serve", mixinStandardHelpOptions = true, description = "Serve a Triton model repository over HTTP.")
final class ServeCommand implements Callable<Integer> {
  @Override
  public Integer call() {
    System.err.println("quire serve: no server yet (the Triton/OpenAI server is being built: issue 3). Use `quire generate`.");
    return 2;
  }
}
