package io.quire.engine.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quire.engine.SamplingParams;
import io.quire.engine.TokenLogprob;
import io.quire.engine.core.Request;
import io.quire.spi.SampledRows;
import io.quire.spi.SamplingBatch;
import io.quire.spi.SamplingMath;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/**
 * The device sampler's inputs: what {@link DeviceSampling} packs, and that the packed rows, sampled
 * by the contract of {@link SamplingBatch} ({@link ReferenceSampler}), give the host sampler's
 * tokens and logprobs.
 */
class DeviceSamplingTest {
  private static final int EOS = 2;

  private static SamplingParams randomParams(SplittableRandom rnd, int vocab) {
    var b = SamplingParams.builder();
    float[] temps = {0f, 0.3f, 0.8f, 1f, 1.7f};
    b.temperature(temps[rnd.nextInt(temps.length)]);
    int[] ks = {0, 0, 1, 5, 50, vocab - 1, vocab + 3};
    b.topK(Math.max(0, ks[rnd.nextInt(ks.length)]));
    float[] ps = {1f, 1f, 0.95f, 0.5f, 1e-6f};
    b.topP(ps[rnd.nextInt(ps.length)]);
    float[] minPs = {0f, 0f, 0.05f, 0.3f};
    b.minP(minPs[rnd.nextInt(minPs.length)]);
    if (rnd.nextBoolean()) {
      b.repetitionPenalty(rnd.nextBoolean() ? 1.3f : 0.8f);
      b.frequencyPenalty((float) (rnd.nextDouble() * 4 - 2));
      b.presencePenalty((float) (rnd.nextDouble() * 4 - 2));
    }
    Integer[] lps = {null, null, 0, 5, 20};
    b.logprobs(lps[rnd.nextInt(lps.length)]);
    if (rnd.nextInt(3) == 0) b.minTokens(1 + rnd.nextInt(6)).stopTokenIds(List.of(3, 7));
    return b.build();
  }

  /** Logits like a model's, sometimes with ties (repeated values) or nearly flat. */
  private static float[] randomLogits(SplittableRandom rnd, int vocab) {
    float[] l = RandomRuns.logits(rnd, vocab);
    switch (rnd.nextInt(4)) {
      case 0 -> {
        for (int i = 0; i < vocab / 3; i++) l[rnd.nextInt(vocab)] = l[rnd.nextInt(vocab)];
      }
      case 1 -> {
        for (int i = 0; i < vocab; i++) l[i] = (float) (rnd.nextDouble() * 0.01);
      }
      case 2 -> {
        for (int i = 0; i < vocab; i++) l[i] = Math.round(l[i] * 2) / 2f; // coarse: many equal logits
      }
      default -> {}
    }
    return l;
  }

  private static SamplingState randomState(SplittableRandom rnd, SamplingParams p, int vocab) {
    int[] prompt = new int[1 + rnd.nextInt(40)];
    for (int i = 0; i < prompt.length; i++) prompt[i] = rnd.nextInt(Math.min(vocab, 60));
    Request r = new Request("r", prompt, p, 0, 0);
    int outputs = rnd.nextInt(8);
    for (int i = 0; i < outputs; i++) r.appendOutputToken(rnd.nextInt(Math.min(vocab, 60)));
    return new SamplingState(p, rnd.nextLong(), TokenHistory.of(r), List.of(EOS));
  }

  @Test
  void packedRowsSampledByTheContractGiveTheHostSamplersTokensAndLogprobs() {
    Sampler sampler = new Sampler();
    RandomRuns.forEachSeed(60, rnd -> {
      int vocab = rnd.nextInt(10) == 0 ? 32000 : 8 + rnd.nextInt(3000);
      int rows = 1 + rnd.nextInt(6);
      float[] logits = new float[rows * vocab];
      List<SamplingState> states = new ArrayList<>();
      for (int r = 0; r < rows; r++) {
        System.arraycopy(randomLogits(rnd, vocab), 0, logits, r * vocab, vocab);
        states.add(randomState(rnd, randomParams(rnd, vocab), vocab));
      }
      float[] hostLogits = logits.clone();
      List<SampledToken> host = sampler.sample(hostLogits, vocab, states);
      SamplingBatch batch = new DeviceSampling().pack(states, vocab);
      SampledRows out = new SampledRows(rows);
      float[] refLogits = logits.clone();
      ReferenceSampler.sample(refLogits, vocab, batch, out);
      for (int i = 0; i < logits.length; i++) {
        // Both leave the masked and penalised logits in the array.
        assertEquals(Float.floatToRawIntBits(hostLogits[i]), Float.floatToRawIntBits(refLogits[i]), "logit " + i % vocab + " of row " + i / vocab);
      }
      for (int r = 0; r < rows; r++) {
        String row = "row " + r + " " + states.get(r).params();
        assertEquals(host.get(r).tokenId(), out.tokenIds[r], row);
        TokenLogprob lp = host.get(r).logprob();
        if (lp == null) continue;
        assertEquals(lp.logprob(), out.logprobs[r], row);
        for (int j = 0; j < lp.top().size(); j++) {
          assertEquals(lp.top().get(j).tokenId(), out.topIds[r * SamplingBatch.MAX_TOP_LOGPROBS + j], row + " rank " + j);
          assertEquals(lp.top().get(j).logprob(), out.topLogprobs[r * SamplingBatch.MAX_TOP_LOGPROBS + j], row + " rank " + j);
        }
      }
    });
  }

  /** The probabilities the host sampler reports are the ones it draws from: the contract's, token by token. */
  @Test
  void hostProbabilitiesAreTheFrequenciesOfTheContractsDraws() {
    SplittableRandom rnd = new SplittableRandom(RandomRuns.BASE);
    float[] l = {1.0f, 2.0f, 0.5f, -1.0f, 3.0f, 2.5f, 0.0f, 1.5f, 2.5f, -3f};
    for (SamplingParams p : List.of(
        SamplingParams.builder().topP(0.8f).build(),
        SamplingParams.builder().topK(4).topP(0.9f).build(),
        SamplingParams.builder().temperature(0.6f).minP(0.1f).build())) {
      SamplingState st = new SamplingState(p, 5, TokenHistory.of(new Request("r", new int[] {0}, p, 0, 0)), List.of());
      double[] probs = new Sampler().probabilities(l.clone(), l.length, st);
      // Every uniform number u in [0, 1) picks a token; the share of u picking each is its probability.
      int n = 1 << 16;
      int[] counts = new int[l.length];
      SamplingBatch batch = new SamplingBatch();
      SampledRows out = new SampledRows(1);
      for (int i = 0; i < n; i++) {
        long u = ((long) i << 37) + rnd.nextLong(1L << 37); // stratified over [0, 1)
        batch.clear();
        batch.addRow(new SamplingBatch.Row(false, Sampler.invTemperature(p), p.topK(), p.topP(), Sampler.minPOffset(p), 1f, 0f, 0f, u, -1));
        ReferenceSampler.sample(l.clone(), l.length, batch, out);
        counts[out.tokenIds[0]]++;
      }
      for (int t = 0; t < l.length; t++) {
        // Strata wholly inside a token's share of [0, 1) all pick it; only the two at its edges are random.
        assertEquals(probs[t], counts[t] / (double) n, 2.0 / n, p + " token " + t);
      }
    }
  }

  /** Equal logits have masses of exactly 2^shift each, so the boundaries fall on exact integers. */
  @Test
  void topPStopsAtTheTokenWhoseMassBeforeReachesTheTargetExactly() {
    float[] l = {0f, 0f, 0f, 0f, -50f};
    for (int k : new int[] {0, 4}) {
      var p = SamplingParams.builder().topK(k).topP(0.5f).build();
      SamplingState st = new SamplingState(p, 5, TokenHistory.of(new Request("r", new int[] {0}, p, 0, 0)), List.of());
      double[] probs = new Sampler().probabilities(l.clone(), l.length, st);
      // Mass before token 2 is 2 units of 4: equal to top_p * total, so token 2 is dropped.
      assertEquals(List.of(0.5, 0.5, 0.0, 0.0, 0.0), java.util.Arrays.stream(probs).boxed().toList(), "top_k " + k);
      SamplingBatch batch = new SamplingBatch();
      batch.addRow(new SamplingBatch.Row(false, 1f, k, 0.5f, Double.NEGATIVE_INFINITY, 1f, 0f, 0f, (1L << 53) - 1, -1));
      SampledRows out = new SampledRows(1);
      ReferenceSampler.sample(l.clone(), l.length, batch, out);
      assertEquals(1, out.tokenIds[0], "the contract: u next to 1 takes the last kept token, top_k " + k);
    }
  }

  @Test
  void aDrawTargetOnABoundaryPicksTheNextToken() {
    float[] l = {0f, 0f, 0f, 0f};
    SamplingBatch batch = new SamplingBatch();
    SampledRows out = new SampledRows(1);
    for (int k : new int[] {0, 2}) {
      batch.clear();
      // u = 1/2: the target is half the kept mass (4 or 2 units), which the running mass reaches
      // exactly after token 1 (or token 0) without exceeding it.
      long half = 1L << 52;
      batch.addRow(new SamplingBatch.Row(false, 1f, k, 1f, Double.NEGATIVE_INFINITY, 1f, 0f, 0f, half, -1));
      ReferenceSampler.sample(l.clone(), l.length, batch, out);
      assertEquals(k == 0 ? 2 : 1, out.tokenIds[0], "top_k " + k);
    }
  }

  @Test
  void entriesCarryEachTokenOnceWithItsOutputCountAndFlags() {
    var p = SamplingParams.builder().repetitionPenalty(1.2f).frequencyPenalty(0.5f).minTokens(10).stopTokenIds(List.of(3, 500)).build();
    Request r = new Request("r", new int[] {5, 5, 7, EOS}, p, 0, 0);
    for (int t : new int[] {7, 9, 9}) r.appendOutputToken(t);
    SamplingState st = new SamplingState(p, 1, TokenHistory.of(r), List.of(EOS, 9));
    SamplingBatch b = new DeviceSampling().pack(List.of(st), 100);
    Map<Integer, String> entries = new HashMap<>();
    for (int e = b.entryStart(0); e < b.entryStart(1); e++) {
      String prev = entries.put(b.entryToken(e), b.entryOutputCount(e) + "/" + b.entryFlags(e));
      assertNull(prev, "token " + b.entryToken(e) + " twice");
    }
    int masked = SamplingBatch.MASKED, prompt = SamplingBatch.IN_PROMPT;
    assertEquals(Map.of(
        3, "0/" + masked, // stop token id, in neither prompt nor output
        EOS, "0/" + (masked | prompt),
        9, "2/" + masked, // eos from generation_config, twice in the output
        5, "0/" + prompt,
        7, "1/" + prompt), entries, "500 is outside the vocab of 100");
  }

  @Test
  void rowsWithoutPenaltiesOrActiveMasksHaveNoEntries() {
    var p = SamplingParams.builder().minTokens(1).build();
    Request r = new Request("r", new int[] {5, 6}, p, 0, 0);
    r.appendOutputToken(8); // min_tokens reached
    SamplingBatch b = new DeviceSampling().pack(List.of(new SamplingState(p, 1, TokenHistory.of(r), List.of(EOS))), 100);
    assertEquals(0, b.numEntries());
  }

  @Test
  void rowParametersAreTheHostSamplersValues() {
    var p = SamplingParams.builder().temperature(0.7f).topK(100).topP(0.9f).minP(0.05f).logprobs(3).build();
    Request r = new Request("r", new int[] {1}, p, 0, 0);
    r.appendOutputToken(4);
    SamplingState st = new SamplingState(p, 42, TokenHistory.of(r), List.of());
    SamplingBatch.Row row = new DeviceSampling().pack(List.of(st), 1000).row(0);
    assertFalse(row.greedy());
    assertEquals((float) (1 / 0.7f), row.invTemperature(), 1e-6f);
    assertEquals(0.7f * Math.log(0.05f), row.minPOffset(), 1e-6);
    assertEquals(100, row.topK());
    assertEquals(0.9f, row.topP());
    assertEquals(3, row.topLogprobs());
    assertEquals(SamplingState.uniformBits(42, 1), row.uniformBits(), "the uniform of output index 1");
    assertEquals(0, new DeviceSampling().pack(List.of(st), 100).row(0).topK(), "top_k >= vocab is no top_k");
    var greedy = SamplingParams.builder().temperature(0f).build();
    SamplingBatch.Row g = new DeviceSampling().pack(
        List.of(new SamplingState(greedy, 1, TokenHistory.of(new Request("g", new int[] {1}, greedy, 0, 0)), List.of())), 10).row(0);
    assertTrue(g.greedy());
    assertEquals(-1, g.topLogprobs());
  }

  @Test
  void wholeVocabLogprobsNeedTheHostSampler() {
    var all = SamplingParams.builder().logprobs(-1).build();
    var some = SamplingParams.builder().logprobs(20).build();
    SamplingState a = new SamplingState(all, 1, TokenHistory.of(new Request("a", new int[] {1}, all, 0, 0)), List.of());
    SamplingState s = new SamplingState(some, 1, TokenHistory.of(new Request("s", new int[] {1}, some, 0, 0)), List.of());
    assertTrue(DeviceSampling.supports(List.of(s, s)));
    assertFalse(DeviceSampling.supports(List.of(s, a)));
  }

  @Test
  void vectorWeightsEqualTheScalarDefinitionBitForBit() {
    SplittableRandom rnd = new SplittableRandom(RandomRuns.BASE);
    int lanes = FloatVector.SPECIES_PREFERRED.length();
    float[] a = new float[lanes * 4096];
    float[] special = {0f, -0f, -87f, Math.nextDown(-87f), Math.nextUp(-87f), -1e-30f, -Float.MIN_VALUE, Float.NEGATIVE_INFINITY, -0.34657359f, -0.5f, -1f, -100f};
    for (int i = 0; i < a.length; i++) {
      a[i] = i < special.length ? special[i] : i % 3 == 0 ? (float) (-90 * rnd.nextDouble()) : -Float.intBitsToFloat(rnd.nextInt(0x42B00000));
    }
    for (int i = 0; i < a.length; i += lanes) {
      float[] v = new float[lanes];
      RowKernels.weight(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, a, i)).intoArray(v, 0);
      for (int j = 0; j < lanes; j++) {
        assertEquals(Float.floatToRawIntBits(SamplingMath.weight(a[i + j])), Float.floatToRawIntBits(v[j]), "weight(" + a[i + j] + ")");
      }
    }
  }

  @Test
  void blockMassesAreTheExactSumsOfTheScalarWeights() {
    RandomRuns.forEachSeed(5, rnd -> {
      int vocab = 1 + rnd.nextInt(5000);
      float[] x = RandomRuns.logits(rnd, vocab);
      float max = RowKernels.max(x, 0, vocab);
      float invT = 1.3f, threshold = max - 4f;
      float scale = SamplingMath.massScale(SamplingMath.massShift(vocab));
      float[] w = new float[vocab];
      long[] blocks = new long[(vocab + RowKernels.BLOCK - 1) / RowKernels.BLOCK];
      long total = RowKernels.expWeights(x, 0, vocab, max, invT, threshold, scale, w, blocks);
      long want = 0;
      for (int i = 0; i < vocab; i++) {
        float e = x[i] >= threshold ? SamplingMath.weight((x[i] - max) * invT) : 0f;
        assertEquals(e, w[i], "token " + i);
        want += SamplingMath.mass(e, scale);
      }
      assertEquals(want, total);
    });
  }
}
