package io.quire.cli;

import io.quire.bench.workload.LengthDistribution;
import io.quire.bench.workload.Workload;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** What {@code quire bench} sends: the workload flags shared by offline and serve. */
final class WorkloadOptions {
  @Option(names = "--workload", defaultValue = "synthetic",
      description = "synthetic (token-exact random-word prompts of --input-len/--output-len), sharegpt (built-in ShareGPT-like"
          + " length mix) or jsonl (--dataset). Default: ${DEFAULT-VALUE}; jsonl when --dataset is given.")
  String workload;

  @Option(names = "--dataset", description = "JSONL file, one {\"prompt\": ..., \"output_len\": ...} a line.")
  Path dataset;

  @Option(names = "--num-prompts", description = "Requests to send (default 100; all lines of a --dataset).")
  Integer numPrompts;

  @Option(names = "--input-len", defaultValue = "128", description = "Input tokens: N, uniform:MIN-MAX or normal:MEAN,STD. Default: ${DEFAULT-VALUE}.")
  String inputLen;

  @Option(names = "--output-len", defaultValue = "128",
      description = "Output tokens (exact: ignore_eos), same forms; also for dataset lines without output_len. Default: ${DEFAULT-VALUE}.")
  String outputLen;

  @Option(names = "--seed", defaultValue = "0", description = "Seed of lengths, prompt words and Poisson arrivals. Default: ${DEFAULT-VALUE}.")
  long seed;

  Workload workload() {
    String kind = dataset != null ? "jsonl" : workload;
    int n = numPrompts != null ? numPrompts : 100;
    if (n < 1) throw new IllegalArgumentException("--num-prompts must be >= 1, got " + n);
    return switch (kind) {
      case "synthetic" -> new Workload.Synthetic(n, LengthDistribution.parse(inputLen), LengthDistribution.parse(outputLen), seed);
      case "sharegpt" -> new Workload.ShareGpt(n, seed);
      case "jsonl" -> {
        if (dataset == null) throw new IllegalArgumentException("--workload jsonl needs --dataset FILE");
        yield new Workload.Jsonl(dataset, numPrompts, LengthDistribution.parse(outputLen), seed);
      }
      default -> throw new IllegalArgumentException("--workload must be synthetic, sharegpt or jsonl, got " + workload);
    };
  }
}
