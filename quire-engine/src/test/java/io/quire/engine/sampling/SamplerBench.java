package io.quire.engine.sampling;

import io.quire.engine.SamplingParams;
import io.quire.engine.core.Request;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Host sampling cost for one decode step: {@code java ... SamplerBench [rows] [vocab]}. Prints ms
 * per step for each parameter mix (a program, not a test).
 */
public final class SamplerBench {
  public static void main(String[] args) {
    int rows = args.length > 0 ? Integer.parseInt(args[0]) : 256;
    int vocab = args.length > 1 ? Integer.parseInt(args[1]) : 151_936;
    SplittableRandom rnd = new SplittableRandom(1);
    float[] logits = new float[rows * vocab];
    for (int r = 0; r < rows; r++) {
      System.arraycopy(RandomRuns.logits(rnd, vocab), 0, logits, r * vocab, vocab);
    }
    Sampler sampler = new Sampler();
    String[] names = {"greedy", "T=0.8", "T=0.8 top_p=0.95", "T=0.8 top_k=50 top_p=0.9", "T=0.7 min_p=0.05 rep=1.1", "greedy logprobs=5"};
    SamplingParams[] mixes = {
      SamplingParams.builder().temperature(0f).build(),
      SamplingParams.builder().temperature(0.8f).build(),
      SamplingParams.builder().temperature(0.8f).topP(0.95f).build(),
      SamplingParams.builder().temperature(0.8f).topK(50).topP(0.9f).build(),
      SamplingParams.builder().temperature(0.7f).minP(0.05f).repetitionPenalty(1.1f).build(),
      SamplingParams.builder().temperature(0f).logprobs(5).build(),
    };
    System.out.printf("rows %d, vocab %d, %d cores%n", rows, vocab, Runtime.getRuntime().availableProcessors());
    for (int m = 0; m < mixes.length; m++) {
      List<SamplingState> states = new ArrayList<>();
      for (int r = 0; r < rows; r++) {
        int[] prompt = new int[512];
        for (int i = 0; i < prompt.length; i++) prompt[i] = rnd.nextInt(vocab);
        states.add(SamplingState.create(mixes[m], 0, TokenHistory.of(new Request("b" + r, prompt, mixes[m], 0, 0)), List.of()));
      }
      float[] work = logits.clone();
      for (int i = 0; i < 20; i++) {
        System.arraycopy(logits, 0, work, 0, logits.length);
        sampler.sample(work, vocab, states);
      }
      int iters = 30;
      long copyNanos = 0;
      long t0 = System.nanoTime();
      for (int i = 0; i < iters; i++) {
        long c = System.nanoTime();
        System.arraycopy(logits, 0, work, 0, logits.length);
        copyNanos += System.nanoTime() - c;
        sampler.sample(work, vocab, states);
      }
      double ms = (System.nanoTime() - t0 - copyNanos) / 1e6 / iters;
      System.out.printf("%-28s %8.2f ms/step  %6.1f us/row%n", names[m], ms, ms * 1000 / rows);
    }
  }
}
