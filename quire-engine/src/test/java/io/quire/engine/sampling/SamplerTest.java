package io.quire.engine.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quire.engine.SamplingParams;
import io.quire.engine.TokenLogprob;
import io.quire.engine.core.Request;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class SamplerTest {
  private final Sampler sampler = new Sampler();

  private static SamplingState state(SamplingParams params, int[] prompt, long seed) {
    Request r = new Request("r", prompt, params, 0, 0);
    return new SamplingState(params, seed, TokenHistory.of(r), List.of());
  }

  private static SamplingState state(SamplingParams params, long seed) {
    return state(params, new int[] {0}, seed);
  }

  private int sampleOne(float[] logits, SamplingState state) {
    return sampler.sample(logits.clone(), logits.length, List.of(state)).get(0).tokenId();
  }

  private static int argmaxLowestId(float[] l) {
    int best = 0;
    for (int i = 1; i < l.length; i++) if (l[i] > l[best]) best = i;
    return best;
  }

  private static double[] softmax(float[] l, double temperature) {
    double max = Double.NEGATIVE_INFINITY;
    for (float x : l) max = Math.max(max, x);
    double[] p = new double[l.length];
    double z = 0;
    for (int i = 0; i < l.length; i++) z += p[i] = Math.exp((l[i] - max) / temperature);
    for (int i = 0; i < l.length; i++) p[i] /= z;
    return p;
  }

  @Test
  void greedyIsTheArgmaxWithTheLowestIdOnTies() {
    float[] l = {1f, 5f, 3f, 5f, -2f};
    assertEquals(1, sampleOne(l, state(SamplingParams.builder().temperature(0f).build(), 1)));
    RandomRuns.forEachSeed(20, rnd -> {
      float[] x = RandomRuns.logits(rnd, 1 + rnd.nextInt(5000));
      assertEquals(argmaxLowestId(x), sampleOne(x, state(SamplingParams.builder().temperature(0f).build(), rnd.nextLong())));
    });
  }

  @Test
  void topKOneIsGreedyAtAnyTemperature() {
    RandomRuns.forEachSeed(30, rnd -> {
      float[] x = RandomRuns.logits(rnd, 1 + rnd.nextInt(3000));
      float t = 0.05f + 1.95f * (float) rnd.nextDouble();
      var p = SamplingParams.builder().temperature(t).topK(1).build();
      assertEquals(argmaxLowestId(x), sampleOne(x, state(p, rnd.nextLong())));
    });
  }

  @Test
  void tinyTopPIsGreedy() {
    RandomRuns.forEachSeed(30, rnd -> {
      float[] x = RandomRuns.logits(rnd, 1 + rnd.nextInt(3000));
      var p = SamplingParams.builder().temperature(2f).topP(1e-6f).build();
      assertEquals(argmaxLowestId(x), sampleOne(x, state(p, rnd.nextLong())));
    });
  }

  @Test
  void minPOneIsGreedyAndMinPKeepsOnlyTokensAboveTheScaledThreshold() {
    float[] l = {0f, 2f, 1.5f, -3f, 1.9f};
    for (long seed = 0; seed < 50; seed++) {
      assertEquals(1, sampleOne(l, state(SamplingParams.builder().temperature(1.5f).minP(1f).build(), seed)));
    }
    // At T = 1, p_i / p_max = exp(l_i - 2): 0.135, 1, 0.607, 0.0067, 0.905. min_p 0.5 keeps {1, 2, 4}.
    Set<Integer> seen = new HashSet<>();
    var p = SamplingParams.builder().minP(0.5f).build();
    for (long seed = 0; seed < 2000; seed++) seen.add(sampleOne(l, state(p, seed)));
    assertEquals(Set.of(1, 2, 4), seen);
  }

  @Test
  void topKAndTopPSampleOnlyFromTheirCandidates() {
    RandomRuns.forEachSeed(8, rnd -> {
      int vocab = 1000 + rnd.nextInt(20000);
      float[] x = RandomRuns.logits(rnd, vocab);
      Integer[] order = IntStream.range(0, vocab).boxed().toArray(Integer[]::new);
      Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -x[i]).thenComparingInt(i -> i));
      int k = 1 + rnd.nextInt(50);
      Set<Integer> topK = new HashSet<>(Arrays.asList(order).subList(0, k));
      double[] probs = softmax(x, 0.8);
      float topP = 0.3f + 0.6f * (float) rnd.nextDouble();
      Set<Integer> nucleus = new HashSet<>();
      double before = 0;
      for (int i : order) {
        if (before >= topP) break;
        nucleus.add(i);
        before += probs[i];
      }
      for (int draw = 0; draw < 100; draw++) {
        int a = sampleOne(x, state(SamplingParams.builder().temperature(0.8f).topK(k).build(), rnd.nextLong()));
        assertTrue(topK.contains(a), "top_k " + k + " sampled " + a);
        int b = sampleOne(x, state(SamplingParams.builder().temperature(0.8f).topP(topP).build(), rnd.nextLong()));
        assertTrue(nucleus.contains(b), "top_p " + topP + " sampled " + b + " outside nucleus of " + nucleus.size());
      }
    });
  }

  @Test
  void topPAmongEqualLogitsKeepsTheLowestIds() {
    float[] l = new float[10];
    l[9] = 0.5f; // most likely, then nine ties at 0
    var p = SamplingParams.builder().topP(0.5f).build();
    // p_9 = e^0.5 / (e^0.5 + 9) = 0.155; each tie 0.094: the mass before the 5th tie (id 3) is
    // 0.155 + 3 * 0.094 = 0.437 < 0.5, before the 6th (id 4) 0.531.
    Set<Integer> seen = new HashSet<>();
    for (long seed = 0; seed < 3000; seed++) seen.add(sampleOne(l, state(p, seed)));
    assertEquals(Set.of(9, 0, 1, 2, 3), seen);
  }

  @Test
  void penaltiesChangeLogitsExactlyAsVllmsFormulas() {
    // prompt [0, 1], output [1, 2, 2]; repetition 2, frequency 0.5, presence 0.25
    var p = SamplingParams.builder().repetitionPenalty(2f).frequencyPenalty(0.5f).presencePenalty(0.25f).build();
    Request r = new Request("r", new int[] {0, 1}, p, 0, 0);
    for (int t : new int[] {1, 2, 2}) r.appendOutputToken(t);
    SamplingState s = new SamplingState(p, 0, TokenHistory.of(r), List.of());
    float[] logits = {2f, -1f, 0.5f, 3f, 0f};
    Penalties.apply(logits, 0, 5, p, s.promptCounts(), s.outputCounts());
    float[] expected = {
      2f / 2f, // prompt only: repetition divides a positive logit
      -1f * 2f - 0.5f * 1 - 0.25f, // prompt and output once: repetition multiplies a negative logit
      0.5f / 2f - 0.5f * 2 - 0.25f, // output twice
      3f, // never seen
      0f
    };
    assertArrayEquals(expected, logits, 1e-6f);
  }

  @Test
  void penaltiesSeeTokensAppendedBetweenSteps() {
    var p = SamplingParams.builder().temperature(0f).presencePenalty(2f).frequencyPenalty(2f).build();
    Request r = new Request("r", new int[] {3}, p, 0, 0);
    SamplingState s = new SamplingState(p, 0, TokenHistory.of(r), List.of());
    float[] l = {0f, 5f, 4f, 3.5f};
    assertEquals(1, sampleOne(l, s));
    r.appendOutputToken(1); // 5 - 2 - 2 = 1
    assertEquals(2, sampleOne(l, s));
    r.appendOutputToken(2); // 4 - 4 = 0
    assertEquals(3, sampleOne(l, s), "the prompt token 3 is not penalised by presence/frequency");
  }

  @Test
  void minTokensMasksEosAndStopTokenIdsUntilReached() {
    var p = SamplingParams.builder().temperature(0f).minTokens(2).stopTokenIds(List.of(2)).build();
    Request r = new Request("r", new int[] {0}, p, 0, 0);
    SamplingState s = new SamplingState(p, 0, TokenHistory.of(r), List.of(3));
    float[] l = {0f, 1f, 9f, 10f};
    assertEquals(1, sampleOne(l, s));
    r.appendOutputToken(1);
    assertEquals(1, sampleOne(l, s));
    r.appendOutputToken(1);
    assertEquals(3, sampleOne(l, s), "EOS allowed once min_tokens are generated");
  }

  @Test
  void minTokensMasksEosEvenWithIgnoreEos() {
    var p = SamplingParams.builder().temperature(0f).minTokens(1).ignoreEos(true).build();
    assertEquals(1, sampleOne(new float[] {0f, 1f, 5f}, new SamplingState(p, 0, TokenHistory.of(new Request("r", new int[] {0}, p, 0, 0)), List.of(2))));
  }

  @Test
  void seededSequencesGetTheSameTokensWhateverTheBatch() {
    RandomRuns.forEachSeed(5, rnd -> {
      int vocab = 5000;
      int steps = 6;
      long[] seeds = {11, 22, 33};
      var params = SamplingParams.builder().temperature(0.9f).topP(0.95f).build();
      float[][] stepLogits = new float[steps][];
      for (int t = 0; t < steps; t++) stepLogits[t] = RandomRuns.logits(rnd, vocab);
      // Alone: one sequence per batch.
      int[][] alone = new int[seeds.length][steps];
      for (int q = 0; q < seeds.length; q++) {
        Request r = new Request("a" + q, new int[] {1}, params, 0, 0);
        SamplingState s = new SamplingState(params, seeds[q], TokenHistory.of(r), List.of());
        for (int t = 0; t < steps; t++) {
          alone[q][t] = sampleOne(stepLogits[t], s);
          r.appendOutputToken(alone[q][t]);
        }
      }
      // Together, shuffled among unseeded fillers, in a different row order each step.
      Request[] reqs = new Request[seeds.length];
      SamplingState[] states = new SamplingState[seeds.length];
      for (int q = 0; q < seeds.length; q++) {
        reqs[q] = new Request("b" + q, new int[] {1}, params, 0, 0);
        states[q] = new SamplingState(params, seeds[q], TokenHistory.of(reqs[q]), List.of());
      }
      for (int t = 0; t < steps; t++) {
        List<SamplingState> rows = new ArrayList<>(Arrays.asList(states));
        for (int f = 0; f < 1 + rnd.nextInt(6); f++) {
          var fp = SamplingParams.builder().temperature(1f).build();
          rows.add(SamplingState.create(fp, 0, TokenHistory.of(new Request("f", new int[] {2}, fp, 0, 0)), List.of()));
        }
        Collections.shuffle(rows, new java.util.Random(rnd.nextLong()));
        float[] batch = new float[rows.size() * vocab];
        for (int row = 0; row < rows.size(); row++) {
          System.arraycopy(stepLogits[t], 0, batch, row * vocab, vocab);
        }
        List<SampledToken> out = sampler.sample(batch, vocab, rows);
        for (int q = 0; q < seeds.length; q++) {
          int token = out.get(rows.indexOf(states[q])).tokenId();
          assertEquals(alone[q][t], token, "seed " + seeds[q] + " step " + t);
          reqs[q].appendOutputToken(token);
        }
      }
    });
  }

  @Test
  void parallelRowsGiveTheSameTokensAsOneRowAtATime() {
    SplittableRandom rnd = new SplittableRandom(RandomRuns.BASE);
    int vocab = 32000;
    int rows = 48;
    float[] batch = new float[rows * vocab];
    List<SamplingState> states = new ArrayList<>();
    for (int r = 0; r < rows; r++) {
      System.arraycopy(RandomRuns.logits(rnd, vocab), 0, batch, r * vocab, vocab);
      var p = SamplingParams.builder().temperature(0.7f).topK(r % 3 == 0 ? 40 : 0).topP(r % 2 == 0 ? 0.9f : 1f).build();
      states.add(state(p, r));
    }
    float[] copy = batch.clone();
    List<SampledToken> together = sampler.sample(batch, vocab, states);
    for (int r = 0; r < rows; r++) {
      float[] row = Arrays.copyOfRange(copy, r * vocab, (r + 1) * vocab);
      assertEquals(together.get(r).tokenId(), sampleOne(row, states.get(r)), "row " + r);
    }
  }

  @Test
  void unseededSequencesDiffer() {
    float[] l = new float[1000];
    var p = SamplingParams.defaults();
    Set<Integer> tokens = new HashSet<>();
    for (int i = 0; i < 20; i++) tokens.add(sampleOne(l, SamplingState.create(p, 0, TokenHistory.of(new Request("r", new int[] {0}, p, 0, 0)), List.of())));
    assertTrue(tokens.size() > 10, "20 draws from a uniform 1000-token vocab gave " + tokens);
  }

  @Test
  void seededRequestWithNGivesEachSequenceItsOwnStream() {
    var p = SamplingParams.builder().n(2).seed(7L).build();
    Request r = new Request("r", new int[] {0}, p, 0, 0);
    assertEquals(7L, SamplingState.create(p, 0, TokenHistory.of(r), List.of()).seed());
    assertEquals(8L, SamplingState.create(p, 1, TokenHistory.of(r), List.of()).seed());
  }

  /** Pearson's chi-square of observed counts against probabilities (cells with p = 0 must be empty). */
  private static double chiSquare(int[] counts, double[] probs, int n) {
    double chi = 0;
    for (int i = 0; i < counts.length; i++) {
      if (probs[i] == 0) {
        assertEquals(0, counts[i], "token " + i + " has probability 0");
        continue;
      }
      double e = n * probs[i];
      chi += (counts[i] - e) * (counts[i] - e) / e;
    }
    return chi;
  }

  private int[] draw(float[] l, SamplingParams p, long seed, int n) {
    int[] counts = new int[l.length];
    Request r = new Request("r", new int[] {0}, p, 0, 0);
    SamplingState s = new SamplingState(p, seed, TokenHistory.of(r), List.of());
    for (int i = 0; i < n; i++) {
      int t = sampleOne(l, s);
      counts[t]++;
      r.appendOutputToken(t); // next output index: next uniform
    }
    return counts;
  }

  @Test
  void temperatureSamplingFollowsTheSoftmax() {
    float[] l = {1.0f, 2.0f, 0.5f, -1.0f, 3.0f, 2.5f, 0.0f, 1.5f};
    int n = 40_000;
    for (float t : new float[] {0.5f, 1f, 1.7f}) {
      double chi = chiSquare(draw(l, SamplingParams.builder().temperature(t).build(), 1234, n), softmax(l, t), n);
      // 7 degrees of freedom: P(chi2 > 29.9) = 1e-4.
      assertTrue(chi < 29.9, "T=" + t + " chi-square " + chi);
    }
  }

  @Test
  void truncatedSamplingFollowsTheRenormalisedSoftmax() {
    float[] l = {1.0f, 2.0f, 0.5f, -1.0f, 3.0f, 2.5f, 0.0f, 1.5f};
    int n = 20_000;
    // T = 1: probabilities 0.0545 0.1481 0.0331 0.0074 0.4027 0.2443 0.0200 0.0899 (id order).
    // top_k 4 keeps {4, 5, 1, 7}; top_p 0.7 keeps {4, 5, 1}: the mass before 1 is 0.647 < 0.7,
    // before 7 it is 0.795.
    double[] full = softmax(l, 1);
    assertExact(l, SamplingParams.builder().topK(4).build(), keep(full, 4, 5, 1, 7), n);
    assertExact(l, SamplingParams.builder().topP(0.7f).build(), keep(full, 4, 5, 1), n);
    // min_p 0.2: p_i / p_max >= 0.2 keeps {4, 5, 1, 7} (exp(-1.5) = 0.223, exp(-2) = 0.135).
    assertExact(l, SamplingParams.builder().minP(0.2f).build(), keep(full, 4, 5, 1, 7), n);
  }

  private void assertExact(float[] l, SamplingParams p, double[] probs, int n) {
    double chi = chiSquare(draw(l, p, 99, n), probs, n);
    assertTrue(chi < 29.9, p + " chi-square " + chi);
  }

  private static double[] keep(double[] probs, int... ids) {
    double[] out = new double[probs.length];
    double z = 0;
    for (int id : ids) z += probs[id];
    for (int id : ids) out[id] = probs[id] / z;
    return out;
  }

  @Test
  void logprobsAreTheLogSoftmaxOfTheRawLogits() {
    RandomRuns.forEachSeed(10, rnd -> {
      int vocab = 10 + rnd.nextInt(40000);
      float[] x = RandomRuns.logits(rnd, vocab);
      int k = rnd.nextInt(21);
      var p = SamplingParams.builder().temperature(0.7f).repetitionPenalty(1.5f).presencePenalty(1f).logprobs(k).build();
      Request r = new Request("r", new int[] {argmaxLowestId(x)}, p, 0, 0);
      r.appendOutputToken(argmaxLowestId(x));
      SamplingState s = new SamplingState(p, rnd.nextLong(), TokenHistory.of(r), List.of());
      SampledToken out = sampler.sample(x.clone(), vocab, List.of(s)).get(0);

      double max = Double.NEGATIVE_INFINITY;
      for (float v : x) max = Math.max(max, v);
      double z = 0;
      for (float v : x) z += Math.exp(v - max);
      double logZ = max + Math.log(z);
      TokenLogprob lp = out.logprob();
      assertEquals(out.tokenId(), lp.tokenId());
      assertEquals(x[out.tokenId()] - logZ, lp.logprob(), 1e-4, "sampled token, before penalties");
      Integer[] order = IntStream.range(0, vocab).boxed().toArray(Integer[]::new);
      Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -x[i]).thenComparingInt(i -> i));
      assertEquals(Math.min(k, vocab), lp.top().size());
      for (int i = 0; i < lp.top().size(); i++) {
        assertEquals(order[i], lp.top().get(i).tokenId(), "rank " + i);
        assertEquals(x[order[i]] - logZ, lp.top().get(i).logprob(), 1e-4);
      }
    });
  }

  @Test
  void logprobsMinusOneReturnsTheWholeVocabAndNullReturnsNone() {
    float[] l = {0.5f, -1f, 2f};
    var all = sampler.sample(l.clone(), 3, List.of(state(SamplingParams.builder().logprobs(-1).build(), 1))).get(0);
    assertEquals(List.of(2, 0, 1), all.logprob().top().stream().map(t -> t.tokenId()).toList());
    double sum = all.logprob().top().stream().mapToDouble(t -> Math.exp(t.logprob())).sum();
    assertEquals(1.0, sum, 1e-6);
    assertNull(sampler.sample(l.clone(), 3, List.of(state(SamplingParams.defaults(), 1))).get(0).logprob());
    assertEquals(List.of(), sampler.sample(l.clone(), 3, List.of(state(SamplingParams.builder().logprobs(0).build(), 1))).get(0).logprob().top());
  }

  @Test
  void largeVocabTopPWithoutTopKFindsWideNuclei() {
    // A flat distribution makes the nucleus most of the vocab: the candidate list must grow.
    int vocab = 151_936;
    float[] flat = new float[vocab];
    SplittableRandom rnd = new SplittableRandom(RandomRuns.BASE);
    for (int i = 0; i < vocab; i++) flat[i] = (float) (rnd.nextDouble() * 0.01);
    var p = SamplingParams.builder().topP(0.95f).build();
    Set<Integer> seen = new HashSet<>();
    for (long seed = 0; seed < 100; seed++) seen.add(sampleOne(flat, state(p, seed)));
    assertTrue(seen.size() > 95, "draws should spread over the vocab, got " + seen.size() + " distinct");
    float[] peaked = RandomRuns.logits(rnd, vocab);
    assertNotEquals(-1, sampleOne(peaked, state(p, 3)));
  }
}
