package io.quire.bench.workload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quire.testkit.Fixtures;
import io.quire.bench.serve.Arrivals;
import io.quire.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WorkloadTest {
  static TokenCounter counter(String tokenizer) throws Exception {
    Tokenizer tok = Tokenizer.load(Fixtures.testdata().resolve("tokenizers").resolve(tokenizer));
    return text -> tok.encode(text, true).length;
  }

  @Test
  void syntheticPromptsHaveExactTokenLengthsOnEveryFixtureTokenizer() throws Exception {
    for (String t : List.of("llama2", "llama3", "qwen3")) {
      TokenCounter c = counter(t);
      var w = new Workload.Synthetic(20, LengthDistribution.parse("uniform:2-300"), LengthDistribution.parse("normal:50,10"), 7);
      List<BenchRequest> reqs = w.build(c);
      for (BenchRequest r : reqs) assertEquals(r.inputTokens(), c.count(r.prompt()), t + ": " + r.prompt());
      assertEquals(reqs, w.build(c), "the same seed gives the same workload");
    }
  }

  @Test
  void lengthDistributionsParseAndStayInRange() {
    assertEquals(new LengthDistribution.Fixed(128), LengthDistribution.parse("128"));
    assertEquals(new LengthDistribution.Uniform(64, 256), LengthDistribution.parse("uniform:64-256"));
    assertEquals(new LengthDistribution.Normal(128, 32), LengthDistribution.parse("normal:128,32"));
    Random rng = new Random(1);
    for (int i = 0; i < 1000; i++) {
      int u = LengthDistribution.parse("uniform:3-5").sample(rng);
      assertTrue(u >= 3 && u <= 5);
      assertTrue(LengthDistribution.parse("normal:2,50").sample(rng) >= 1);
    }
    var e = assertThrows(IllegalArgumentException.class, () -> LengthDistribution.parse("gauss:1"));
    assertEquals("length 'gauss:1' must be N, uniform:MIN-MAX or normal:MEAN,STD", e.getMessage());
  }

  @Test
  void shareGptMixHasItsPublishedMeansAndVllmsFilter() {
    Random rng = new Random(0);
    double in = 0, out = 0;
    int n = 20_000;
    for (int i = 0; i < n; i++) {
      in += Workload.ShareGpt.logNormal(rng, Workload.ShareGpt.INPUT_MEAN);
      out += Workload.ShareGpt.logNormal(rng, Workload.ShareGpt.OUTPUT_MEAN);
    }
    assertEquals(215, in / n, 215 * 0.05);
    assertEquals(198, out / n, 198 * 0.05);
  }

  @Test
  void malformedDatasetNamesTheLine(@TempDir Path tmp) throws Exception {
    Path f = tmp.resolve("prompts.jsonl");
    Files.writeString(f, "{\"prompt\": \"hello there\", \"output_len\": 8}\n\n{\"prompt\": \"x\", \"output_len\": 0}\n");
    var w = new Workload.Jsonl(f, null, new LengthDistribution.Fixed(16), 0);
    var e = assertThrows(IllegalArgumentException.class, () -> w.build(null));
    assertEquals(f + " line 3: \"output_len\" must be a positive integer, got 0", e.getMessage());
    Files.writeString(f, "{\"prompt\": \"a\"}\n{\"prompt\": \"b\", oops}\n");
    e = assertThrows(IllegalArgumentException.class, () -> w.build(null));
    assertTrue(e.getMessage().startsWith(f + " line 2: not valid JSON"), e.getMessage());
    Files.writeString(f, "{\"text\": \"a\"}\n");
    e = assertThrows(IllegalArgumentException.class, () -> w.build(null));
    assertEquals(f + " line 1: \"prompt\" must be a non-empty string", e.getMessage());
    Files.writeString(f, "{\"prompt\": \"a b c\", \"output_len\": 5}\n{\"prompt\": \"d\"}\n");
    List<BenchRequest> ok = new Workload.Jsonl(f, null, new LengthDistribution.Fixed(16), 0).build(counter("llama2"));
    assertEquals(List.of(new BenchRequest("a b c", 4, 5), new BenchRequest("d", 2, 16)), ok);
  }

  @Test
  void poissonArrivalsAreSeededWithTheirRate() {
    long[] a = new Arrivals(10, true, 3).offsetsNanos(5000);
    assertEquals(0, a[0]);
    for (int i = 1; i < a.length; i++) assertTrue(a[i] >= a[i - 1]);
    assertEquals(10.0, (a.length - 1) / (a[a.length - 1] / 1e9), 0.5);
    assertEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(new Arrivals(10, true, 3).offsetsNanos(5000)));
    long[] fixed = new Arrivals(4, false, 0).offsetsNanos(3);
    assertEquals(250_000_000L, fixed[1]);
    assertEquals(500_000_000L, fixed[2]);
    assertEquals(0, Arrivals.allAtOnce().offsetsNanos(3)[2]);
  }
}
