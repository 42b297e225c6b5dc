package io.quire.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code quire}: generate, tokenize, serve, dummy-model, bench. */
@Command(
    name = "quire",
    mixinStandardHelpOptions = true,
    version = "quire 0.1.0",
    description = "LLM inference on the JVM: paged KV cache, continuous batching, Triton/vLLM/OpenAI protocols.",
    subcommands = {GenerateCommand.class, TokenizeCommand.class, io.quire.server.ServeCommand.class, DummyModelCommand.class,
        BenchCommand.class})
public final class Main implements Runnable {
  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }

  public static void main(String[] args) {
    CommandLine cl = new CommandLine(new Main());
    // One clear line for a user's mistake, never a stack trace.
    cl.setExecutionExceptionHandler((ex, cmd, parse) -> {
      cmd.getErr().println("quire: " + Errors.oneLine(ex));
      return 1;
    });
    System.exit(cl.execute(args));
  }
}
