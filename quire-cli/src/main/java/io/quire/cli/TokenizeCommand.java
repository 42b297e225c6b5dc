package io.quire.cli;

import io.quire.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "tokenize", mixinStandardHelpOptions = true, description = "Print the token ids of TEXT as a JSON array.")
final class TokenizeCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, description = "Model folder holding tokenizer.json.") Path model;
  @Option(names = "--add-special-tokens", description = "Add BOS etc. as the tokenizer's post-processor does.") boolean addSpecial;
  @Parameters(index = "0", paramLabel = "TEXT") String text;

  @Override
  public Integer call() throws Exception {
    int[] ids = Tokenizer.load(model).encode(text, addSpecial);
    System.out.println(Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(", ", "[", "]")));
    return 0;
  }
}
