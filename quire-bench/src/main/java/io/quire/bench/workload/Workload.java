package io.quire.bench.workload;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/** The requests a benchmark sends: synthetic lengths, a ShareGPT-like length mix, or a JSONL file. */
public sealed interface Workload {
  /** The requests, in order; {@code counter} may be null only for a JSONL file. */
  List<BenchRequest> build(TokenCounter counter);

  /** A short description for reports. */
  String describe();

  /** Random words of exact token lengths drawn from two distributions (vLLM's "random" dataset, token-exact). */
  record Synthetic(int numPrompts, LengthDistribution input, LengthDistribution output, long seed) implements Workload {
    @Override
    public List<BenchRequest> build(TokenCounter counter) {
      Random rng = new Random(seed);
      int[][] lengths = new int[numPrompts][];
      for (int i = 0; i < numPrompts; i++) lengths[i] = new int[] {input.sample(rng), output.sample(rng)};
      return Lengths.prompts(lengths, counter, seed);
    }

    @Override
    public String describe() {
      return "synthetic: " + numPrompts + " prompts, input " + input + ", output " + output + ", seed " + seed;
    }
  }

  /**
   * ShareGPT-like lengths: log-normal input and output lengths whose means match ShareGPT_V3 as
   * vLLM's benchmark_serving sees it (about 215 input and 198 output tokens per request, Llama
   * tokenizer), with vLLM's filter (each at least 4 tokens, input at most 1024, sum at most 2048)
   * and redrawn when a pair does not fit the server's max_model_len. The shape (sigma 1) is an
   * assumption, not a fit; the texts are random words, so there is no conversational prefix sharing.
   */
  record ShareGpt(int numPrompts, long seed) implements Workload {
    static final double INPUT_MEAN = 215, OUTPUT_MEAN = 198, SIGMA = 1.0;

    @Override
    public List<BenchRequest> build(TokenCounter counter) {
      int maxLen = counter.maxModelLen() > 0 ? counter.maxModelLen() : Integer.MAX_VALUE;
      Random rng = new Random(seed);
      int[][] lengths = new int[numPrompts][];
      for (int i = 0; i < numPrompts; i++) {
        for (int tries = 0; ; tries++) {
          int in = logNormal(rng, INPUT_MEAN);
          int out = logNormal(rng, OUTPUT_MEAN);
          if (in >= 4 && out >= 4 && in <= 1024 && in + out <= 2048 && in + out <= maxLen) {
            lengths[i] = new int[] {in, out};
            break;
          }
          if (tries > 10_000) throw new IllegalArgumentException("max_model_len " + maxLen + " is too small for the ShareGPT length mix");
        }
      }
      return Lengths.prompts(lengths, counter, seed);
    }

    static int logNormal(Random rng, double mean) {
      double mu = Math.log(mean) - SIGMA * SIGMA / 2;
      return (int) Math.round(Math.exp(mu + SIGMA * rng.nextGaussian()));
    }

    @Override
    public String describe() {
      return "sharegpt-like: " + numPrompts + " prompts, seed " + seed;
    }
  }

  /**
   * One JSON object a line: {@code {"prompt": "...", "output_len": 128}}; {@code output_len} may be
   * left out ({@code defaultOutput} then draws it). Blank lines are skipped.
   */
  record Jsonl(Path file, Integer numPrompts, LengthDistribution defaultOutput, long seed) implements Workload {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public List<BenchRequest> build(TokenCounter counter) {
      List<String> lines;
      try {
        lines = Files.readAllLines(file);
      } catch (NoSuchFileException e) {
        throw new IllegalArgumentException("dataset " + file + " does not exist");
      } catch (IOException e) {
        throw new IllegalArgumentException("cannot read dataset " + file + ": " + e.getMessage());
      }
      Random rng = new Random(seed);
      List<BenchRequest> out = new ArrayList<>();
      for (int i = 0; i < lines.size() && (numPrompts == null || out.size() < numPrompts); i++) {
        String line = lines.get(i).strip();
        if (line.isEmpty()) continue;
        String where = file + " line " + (i + 1) + ": ";
        JsonNode n;
        try {
          n = JSON.readTree(line);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
          throw new IllegalArgumentException(where + "not valid JSON (" + e.getOriginalMessage() + ")");
        }
        if (n == null || !n.isObject()) throw new IllegalArgumentException(where + "expected a JSON object {\"prompt\": ..., \"output_len\": ...}");
        JsonNode p = n.get("prompt");
        if (p == null || !p.isTextual() || p.textValue().isEmpty()) {
          throw new IllegalArgumentException(where + "\"prompt\" must be a non-empty string");
        }
        JsonNode o = n.get("output_len");
        int outLen;
        if (o == null || o.isNull()) {
          outLen = defaultOutput.sample(rng);
        } else if (o.isIntegralNumber() && o.canConvertToInt() && o.intValue() >= 1) {
          outLen = o.intValue();
        } else {
          throw new IllegalArgumentException(where + "\"output_len\" must be a positive integer, got " + o);
        }
        int inLen = counter == null ? -1 : counter.count(p.textValue());
        if (counter != null && counter.maxModelLen() > 0 && inLen + outLen > counter.maxModelLen()) {
          throw new IllegalArgumentException(where + "prompt of " + inLen + " tokens + output_len " + outLen
              + " exceeds the model's max_model_len " + counter.maxModelLen());
        }
        out.add(new BenchRequest(p.textValue(), inLen, outLen));
      }
      if (out.isEmpty()) throw new IllegalArgumentException("dataset " + file + " has no prompts");
      return out;
    }

    @Override
    public String describe() {
      return "jsonl: " + file;
    }
  }

  /** Shared by the length-driven workloads: token-exact prompts for (input, output) pairs, built in parallel. */
  final class Lengths {
    private Lengths() {}

    static List<BenchRequest> prompts(int[][] lengths, TokenCounter counter, long seed) {
      if (counter == null) throw new IllegalArgumentException("token-exact prompts need a tokenizer");
      int maxLen = counter.maxModelLen();
      for (int i = 0; i < lengths.length; i++) {
        if (maxLen > 0 && lengths[i][0] + lengths[i][1] > maxLen) {
          throw new IllegalArgumentException("request " + i + ": input " + lengths[i][0] + " + output " + lengths[i][1]
              + " tokens exceeds the model's max_model_len " + maxLen);
        }
      }
      PromptBuilder builder = new PromptBuilder(counter);
      List<Future<BenchRequest>> fs = new ArrayList<>();
      try (var ex = Executors.newVirtualThreadPerTaskExecutor()) {
        for (int i = 0; i < lengths.length; i++) {
          int in = lengths[i][0], out = lengths[i][1];
          Random r = new Random(seed * 0x9E3779B97F4A7C15L + i);
          fs.add(ex.submit(() -> new BenchRequest(builder.build(in, r), in, out)));
        }
      }
      List<BenchRequest> reqs = new ArrayList<>();
      for (Future<BenchRequest> f : fs) {
        try {
          reqs.add(f.get());
        } catch (ExecutionException e) {
          if (e.getCause() instanceof RuntimeException re) throw re;
          throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted");
        }
      }
      return reqs;
    }
  }
}
