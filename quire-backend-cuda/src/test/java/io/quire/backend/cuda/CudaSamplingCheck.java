package io.quire.backend.cuda;

import io.quire.engine.SamplingParams;
import io.quire.engine.TokenLogprob;
import io.quire.engine.core.Request;
import io.quire.engine.sampling.DeviceSampling;
import io.quire.engine.sampling.SampledToken;
import io.quire.engine.sampling.Sampler;
import io.quire.engine.sampling.SamplingState;
import io.quire.engine.sampling.TokenHistory;
import io.quire.spi.SampledRows;
import io.quire.spi.SamplingBatch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * The device sampler (sample.cu through {@link CudaBackend#sample}) against the host sampler
 * ({@link Sampler}) on synthetic logits rows, a 128k vocab and a small one. On the GPU machine:
 *
 * <ol>
 *   <li>kept sets: for every row, the tokens the device could draw (its kept-token mask) are exactly
 *       those the host gives a nonzero probability ({@link Sampler#probabilities}), through top_k
 *       (sorted and radix paths), top_p, min_p, penalties and min_tokens masks; the penalised logits
 *       the device leaves in the tensor equal the host's bit for bit;
 *   <li>logprobs: the top ids equal the host's, values within 1e-4 (sampled token's too);
 *   <li>ids: every sampled id equals the host sampler's for the same seed (both use the same uniform
 *       number and exact integer masses, so any difference is a bug, not rounding);
 *   <li>frequencies: 2^18 draws (distinct seeds) per distribution against the host's exact processed
 *       probabilities, Pearson's chi-square over cells of expected count >= 50 (less likely tokens
 *       merged), failing below p = 1e-6 (the false-failure rate of each of these checks);
 *   <li>batch invariance: a seeded row gives the same id, logprobs and penalised logits alone and at any
 *       position among 64 other rows;
 *   <li>greedy: temperature 0 gives the device argmax and the host's.
 * </ol>
 *
 * Then INFO timings against copying the logits to the host and sampling there. Prints PASS/FAIL per
 * check; exits 1 on any failure. Usage: {@code CudaSamplingCheck [--emulate] [seed]} ({@code --emulate}:
 * sample.cu emulated on the host, small sizes, for machines without a GPU).
 */
public final class CudaSamplingCheck {
  /** Sizes: the 128k vocab and full draw counts on the GPU; small ones for the host emulation. */
  record Config(int bigVocab, int smallVocab, int draws, int drawBatch, int invarianceSeeds, boolean timing) {
    static final Config FULL = new Config(128_256, 1000, 1 << 18, 1024, 12, true);
    static final Config QUICK = new Config(2000, 300, 1 << 11, 256, 2, false);
  }

  record Result(String name, boolean pass, String detail) {
    @Override
    public String toString() {
      return (pass ? "PASS " : "FAIL ") + name + ": " + detail;
    }
  }

  /** One row: its logits, parameters and history (prompt and output tokens drawn from its likely tokens). */
  record Case(String name, float[] logits, SamplingParams params, SamplingState state) {}

  private static final double MIN_P_VALUE = 1e-6;
  private static final double MIN_EXPECTED = 50;
  private static final float LOGPROB_TOLERANCE = 1e-4f;

  private final SamplingDevice dev;
  private final Config cfg;
  private final SplittableRandom rnd;
  private final Sampler sampler = new Sampler();
  private final List<Result> results = new ArrayList<>();

  CudaSamplingCheck(SamplingDevice dev, Config cfg, long seed) {
    this.dev = dev;
    this.cfg = cfg;
    this.rnd = new SplittableRandom(seed);
  }

  public static void main(String[] args) {
    boolean emulate = false;
    long seed = 20_260_417L;
    for (String a : args) {
      if (a.equals("--emulate")) emulate = true;
      else seed = Long.parseLong(a);
    }
    if (!emulate) {
      CudaBackendProvider p = new CudaBackendProvider();
      if (!p.available()) {
        System.out.println("SKIP cuda unavailable: " + p.unavailableReason());
        System.exit(2);
      }
    }
    long t0 = System.nanoTime();
    boolean ok;
    try (SamplingDevice dev = emulate ? new SampleKernelEmulator() : new SamplingDevice.Cuda()) {
      System.out.println("device " + dev.name() + ", seed " + seed);
      List<Result> rs = new CudaSamplingCheck(dev, emulate ? Config.QUICK : Config.FULL, seed).run();
      ok = rs.stream().allMatch(Result::pass);
    }
    System.out.printf("%s in %.1f s%n", ok ? "ALL PASS" : "SOME FAILED", (System.nanoTime() - t0) / 1e9);
    System.exit(ok ? 0 : 1);
  }

  /** Runs every check, printing each result as it comes. */
  List<Result> run() {
    for (int vocab : new int[] {cfg.bigVocab(), cfg.smallVocab(), 7}) {
      guard("rows vocab " + vocab, () -> compareRows(vocab));
    }
    for (int vocab : new int[] {cfg.bigVocab(), 8}) guard("exact boundaries vocab " + vocab, () -> exactBoundaries(vocab));
    guard("greedy", this::greedyIsArgmax);
    guard("frequencies", this::frequencies);
    guard("batch invariance", this::batchInvariance);
    if (dev instanceof SamplingDevice.Cuda cuda) guard("engine", () -> engineAgreement(cuda.gpu));
    if (cfg.timing()) guard("timing", this::timing);
    return results;
  }

  private void add(String name, boolean pass, String detail) {
    Result r = new Result(name, pass, detail);
    results.add(r);
    System.out.println(r);
  }

  private void guard(String name, Runnable r) {
    try {
      r.run();
    } catch (RuntimeException | AssertionError e) {
      add(name, false, "threw " + e);
      e.printStackTrace(System.out);
    }
  }

  // ---- inputs ----

  private static final String[] KINDS = {"model", "peaked", "flat", "ties", "dups", "neginf", "wide"};

  private float[] logits(String kind, int vocab) {
    float[] l = new float[vocab];
    for (int i = 0; i < vocab; i++) l[i] = (float) (rnd.nextGaussian() * 2.0);
    switch (kind) {
      case "model" -> {
        for (int i = 0; i < Math.min(8, vocab); i++) l[rnd.nextInt(vocab)] += 6f + 4f * (float) rnd.nextDouble();
      }
      case "peaked" -> l[rnd.nextInt(vocab)] += 20f;
      case "flat" -> {
        for (int i = 0; i < vocab; i++) l[i] = (float) (rnd.nextDouble() * 0.01);
      }
      case "ties" -> {
        for (int i = 0; i < vocab; i++) l[i] = Math.round(l[i] * 2) / 2f;
      }
      case "dups" -> {
        for (int i = 0; i < vocab / 3; i++) l[rnd.nextInt(vocab)] = l[rnd.nextInt(vocab)];
      }
      case "neginf" -> {
        for (int i = 0; i < vocab; i++) if (rnd.nextInt(10) < 3) l[i] = Float.NEGATIVE_INFINITY;
        l[rnd.nextInt(vocab)] = 5f;
      }
      case "wide" -> {
        for (int i = 0; i < vocab; i++) l[i] *= 4f;
      }
      default -> throw new IllegalArgumentException(kind);
    }
    return l;
  }

  /** Parameter mixes: every rule alone and in the combinations the engine sees. */
  private static List<SamplingParams> mixes(int vocab, int likely) {
    List<SamplingParams> ps = new ArrayList<>();
    ps.add(b().temperature(0f).build());
    ps.add(b().temperature(0f).repetitionPenalty(1.3f).frequencyPenalty(0.5f).logprobs(5).build());
    ps.add(b().temperature(1f).build());
    ps.add(b().temperature(0.7f).topP(0.9f).logprobs(20).build());
    ps.add(b().temperature(1f).topP(0.5f).build());
    ps.add(b().temperature(1.5f).topP(0.999f).build());
    ps.add(b().temperature(1f).topP(1e-6f).build());
    ps.add(b().temperature(0.01f).topP(0.9f).build());
    ps.add(b().temperature(2f).logprobs(0).build());
    ps.add(b().temperature(1f).topK(1).build());
    ps.add(b().temperature(1f).topK(5).build());
    ps.add(b().temperature(0.8f).topK(50).topP(0.9f).logprobs(3).build());
    ps.add(b().temperature(1f).topK(Math.min(1024, vocab - 1)).topP(0.95f).build());
    ps.add(b().temperature(1f).topK(Math.min(1025, vocab - 1)).build());
    ps.add(b().temperature(1.2f).topK(Math.max(1, vocab / 2)).topP(0.8f).build());
    ps.add(b().temperature(1f).topK(vocab + 10).topP(0.7f).build());
    ps.add(b().temperature(1f).minP(0.05f).build());
    ps.add(b().temperature(0.9f).minP(0.3f).topK(20).build());
    ps.add(b().temperature(1f).minP(1f).build());
    ps.add(b().temperature(0.8f).topP(0.95f).repetitionPenalty(1.2f).frequencyPenalty(0.5f).presencePenalty(0.3f).build());
    ps.add(b().temperature(1f).topK(40).repetitionPenalty(0.8f).presencePenalty(-1f).logprobs(5).build());
    ps.add(b().temperature(1f).minTokens(50).stopTokenIds(List.of(likely)).logprobs(2).build());
    ps.add(b().temperature(0.6f).topK(10).minTokens(50).frequencyPenalty(2f).build());
    return ps;
  }

  private static SamplingParams.Builder b() {
    return SamplingParams.builder().maxTokens(1000);
  }

  /** The row's ids, most likely first (lower id first among equal logits). */
  private static int[] ranked(float[] l) {
    long[] keyed = new long[l.length];
    for (int i = 0; i < l.length; i++) keyed[i] = ((long) ~io.quire.spi.SamplingMath.orderedKey(l[i]) << 32) | i;
    Arrays.sort(keyed);
    int[] ids = new int[l.length];
    for (int i = 0; i < l.length; i++) ids[i] = (int) keyed[i];
    return ids;
  }

  /**
   * A state whose prompt (40 tokens) and output (12) come mostly from the row's 300 most likely
   * tokens, so penalties move candidates; the row's best token is its EOS (masked before min_tokens).
   */
  private SamplingState state(float[] l, int[] order, SamplingParams p, long seed) {
    int pool = Math.min(300, l.length);
    int[] prompt = new int[40];
    for (int i = 0; i < prompt.length; i++) prompt[i] = rnd.nextInt(4) == 0 ? rnd.nextInt(l.length) : order[rnd.nextInt(pool)];
    Request r = new Request("r", prompt, p, 0, 0);
    for (int i = 0; i < 12; i++) r.appendOutputToken(order[rnd.nextInt(Math.min(pool, 30))]);
    return new SamplingState(p, seed, TokenHistory.of(r), List.of(order[0]));
  }

  private List<Case> cases(int vocab) {
    List<Case> cs = new ArrayList<>();
    for (String kind : KINDS) {
      float[] l = logits(kind, vocab);
      int[] order = ranked(l);
      for (SamplingParams p : mixes(vocab, order[Math.min(1, vocab - 1)])) {
        cs.add(new Case(kind + " " + describe(p), l, p, state(l, order, p, rnd.nextLong())));
      }
    }
    return cs;
  }

  private static String describe(SamplingParams p) {
    StringBuilder s = new StringBuilder("T=" + p.temperature());
    if (p.topK() > 0) s.append(" top_k=").append(p.topK());
    if (p.topP() < 1f) s.append(" top_p=").append(p.topP());
    if (p.minP() > 0f) s.append(" min_p=").append(p.minP());
    if (p.repetitionPenalty() != 1f) s.append(" rep=").append(p.repetitionPenalty());
    if (p.frequencyPenalty() != 0f) s.append(" freq=").append(p.frequencyPenalty());
    if (p.presencePenalty() != 0f) s.append(" pres=").append(p.presencePenalty());
    if (p.minTokens() > 0) s.append(" min_tokens=").append(p.minTokens());
    if (p.logprobs() != null) s.append(" logprobs=").append(p.logprobs());
    return s.toString();
  }

  // ---- checks ----

  /** What the device returned for one batch on one path. */
  private record DeviceRun(SampledRows out, byte[] kept, float[] logits) {}

  private DeviceRun runDevice(List<Case> cs, int vocab, boolean noSort) {
    float[][] rows = cs.stream().map(Case::logits).toArray(float[][]::new);
    SamplingBatch batch = new DeviceSampling().pack(cs.stream().map(Case::state).toList(), vocab);
    SampledRows out = new SampledRows(cs.size());
    byte[] kept = new byte[cs.size() * vocab];
    try (SamplingDevice.Logits l = dev.upload(rows, 1, vocab)) {
      dev.sample(l, batch, out, noSort, kept);
      return new DeviceRun(out, kept, dev.download(l));
    }
  }

  private void compareRows(int vocab) {
    List<Case> cs = cases(vocab);
    DeviceRun sorted = runDevice(cs, vocab, false);
    DeviceRun radix = runDevice(cs, vocab, true);
    int keptBad = 0, logitBad = 0, idBad = 0, lpBad = 0, lpRows = 0, pathBad = 0;
    long keptTotal = 0;
    float worstLp = 0;
    List<String> firsts = new ArrayList<>();
    for (int r = 0; r < cs.size(); r++) {
      Case c = cs.get(r);
      float[] penalised = c.logits().clone();
      double[] probs = sampler.probabilities(penalised, vocab, c.state());
      SampledToken host = sampler.sample(c.logits().clone(), vocab, List.of(c.state())).get(0);
      for (DeviceRun d : List.of(sorted, radix)) {
        String path = d == sorted ? "" : " (radix path)";
        int diff = -1, inHost = 0, inDevice = 0;
        for (int i = 0; i < vocab; i++) {
          boolean h = probs[i] > 0, g = d.kept()[r * vocab + i] != 0;
          if (h) inHost++;
          if (g) inDevice++;
          if (h != g && diff < 0) diff = i;
        }
        keptTotal += inHost;
        if (diff >= 0) {
          keptBad++;
          note(firsts, "kept set of " + c.name() + path + ": host keeps " + inHost + ", device " + inDevice + ", first difference at token "
              + diff + " (host p " + probs[diff] + ")");
        }
        for (int i = 0; i < vocab; i++) {
          if (Float.floatToRawIntBits(penalised[i]) != Float.floatToRawIntBits(d.logits()[r * vocab + i])) {
            logitBad++;
            note(firsts, "penalised logit " + i + " of " + c.name() + path + ": host " + penalised[i] + ", device " + d.logits()[r * vocab + i]);
            break;
          }
        }
        if (d.out().tokenIds[r] != host.tokenId()) {
          idBad++;
          note(firsts, "id of " + c.name() + path + ": host " + host.tokenId() + " (p " + probs[host.tokenId()] + "), device "
              + d.out().tokenIds[r] + " (p " + probs[Math.max(0, Math.min(vocab - 1, d.out().tokenIds[r]))] + ")");
        }
      }
      if (sorted.out().tokenIds[r] != radix.out().tokenIds[r]) pathBad++;
      TokenLogprob lp = host.logprob();
      if (lp == null) continue;
      lpRows++;
      String err = null;
      float e = gap(lp.logprob(), sorted.out().logprobs[r]);
      worstLp = Math.max(worstLp, e);
      if (!(e <= LOGPROB_TOLERANCE)) err = "sampled token's logprob host " + lp.logprob() + " device " + sorted.out().logprobs[r];
      for (int j = 0; j < lp.top().size() && err == null; j++) {
        int w = r * SamplingBatch.MAX_TOP_LOGPROBS + j;
        float ej = gap(lp.top().get(j).logprob(), sorted.out().topLogprobs[w]);
        worstLp = Math.max(worstLp, ej);
        if (lp.top().get(j).tokenId() != sorted.out().topIds[w] || !(ej <= LOGPROB_TOLERANCE)) {
          err = "rank " + j + ": host " + lp.top().get(j) + ", device id " + sorted.out().topIds[w] + " logprob " + sorted.out().topLogprobs[w];
        }
      }
      if (err != null) {
        lpBad++;
        note(firsts, "logprobs of " + c.name() + ": " + err);
      }
    }
    for (String f : firsts) System.out.println("  " + f);
    String v = "vocab " + vocab + ", " + cs.size() + " rows x 2 paths";
    add("kept sets " + v, keptBad == 0, keptBad + " rows differ; " + keptTotal + " kept tokens in all");
    add("penalised logits " + v, logitBad == 0, logitBad + " rows differ bitwise");
    add("ids equal host " + v, idBad == 0, idBad + " rows differ; sorted vs radix path differ in " + pathBad);
    add("logprobs " + v, lpBad == 0, lpRows + " rows with logprobs, " + lpBad + " off; worst |difference| " + worstLp);
  }

  /** |a - b|, 0 for equal values (-inf too), NaN when only one is NaN. */
  private static float gap(float a, float b) {
    return a == b || (Float.isNaN(a) && Float.isNaN(b)) ? 0f : Math.abs(a - b);
  }

  private static void note(List<String> firsts, String s) {
    if (firsts.size() < 12) firsts.add(s);
  }

  /**
   * Four equal logits (ids a < b < c < d, the rest -inf) have masses of exactly one unit each, so top_p
   * 1/2 and u = 1/2 fall exactly on boundaries: the mass before c equals top_p * total, so top_p keeps
   * {a, b}; a draw target equal to a running mass goes to the next token. By hand, per the contract.
   */
  private void exactBoundaries(int vocab) {
    float[] row = new float[vocab];
    Arrays.fill(row, Float.NEGATIVE_INFINITY);
    int[] ids = vocab <= 8 ? new int[] {1, 2, 5, 6} : new int[] {17, vocab / 3, vocab / 3 + 1, vocab - 1};
    for (int id : ids) row[id] = 0f;
    long half = 1L << 52, last = (1L << 53) - 1;
    record Probe(String name, int topK, float topP, long u, int want, int kept) {}
    List<Probe> probes = List.of(
        new Probe("top_p 0.5, u next to 1: the last kept token", 0, 0.5f, last, ids[1], 2),
        new Probe("top_k 4, top_p 0.5, u next to 1", 4, 0.5f, last, ids[1], 2),
        new Probe("u = 1/2 of 4 units: the token after the boundary", 0, 1f, half, ids[2], 4),
        new Probe("top_k 2, u = 1/2 of 2 units", 2, 1f, half, ids[1], 2),
        new Probe("top_k 3, top_p 0.5, u = 0", 3, 0.5f, 0, ids[0], 2));
    SamplingBatch batch = new SamplingBatch();
    for (Probe p : probes) {
      batch.addRow(new SamplingBatch.Row(false, 1f, p.topK(), p.topP(), Double.NEGATIVE_INFINITY, 1f, 0f, 0f, p.u(), -1));
    }
    float[][] rows = new float[probes.size()][];
    Arrays.fill(rows, row);
    for (boolean noSort : new boolean[] {false, true}) {
      SampledRows out = new SampledRows(probes.size());
      byte[] kept = new byte[probes.size() * vocab];
      try (SamplingDevice.Logits l = dev.upload(rows, 1, vocab)) {
        dev.sample(l, batch, out, noSort, kept);
      }
      StringBuilder bad = new StringBuilder();
      for (int r = 0; r < probes.size(); r++) {
        int n = 0;
        for (int i = 0; i < vocab; i++) n += kept[r * vocab + i];
        Probe p = probes.get(r);
        if (out.tokenIds[r] != p.want() || n != p.kept()) {
          bad.append("; ").append(p.name()).append(": token ").append(out.tokenIds[r]).append(" (want ").append(p.want()).append("), kept ")
              .append(n).append(" (want ").append(p.kept()).append(")");
        }
      }
      add("exact boundaries vocab " + vocab + (noSort ? " (radix path)" : ""), bad.isEmpty(), probes.size() + " probes" + bad);
    }
  }

  private void greedyIsArgmax() {
    for (int vocab : new int[] {cfg.bigVocab(), cfg.smallVocab()}) {
      List<Case> cs = new ArrayList<>();
      SamplingParams greedy = b().temperature(0f).build();
      for (String kind : KINDS) {
        float[] l = logits(kind, vocab);
        cs.add(new Case(kind, l, greedy, new SamplingState(greedy, 1, TokenHistory.of(new Request("g", new int[] {0}, greedy, 0, 0)), List.of())));
      }
      float[][] rows = cs.stream().map(Case::logits).toArray(float[][]::new);
      int[] argmax;
      try (SamplingDevice.Logits l = dev.upload(rows, 1, vocab)) {
        argmax = dev.argmax(l);
      }
      DeviceRun d = runDevice(cs, vocab, false);
      int bad = 0;
      StringBuilder detail = new StringBuilder();
      for (int r = 0; r < cs.size(); r++) {
        int host = sampler.sample(rows[r].clone(), vocab, List.of(cs.get(r).state())).get(0).tokenId();
        if (d.out().tokenIds[r] != argmax[r] || host != argmax[r]) {
          bad++;
          detail.append(" ").append(cs.get(r).name()).append(": sample ").append(d.out().tokenIds[r]).append(", argmax ").append(argmax[r])
              .append(", host ").append(host);
        }
      }
      add("greedy is argmax vocab " + vocab, bad == 0, cs.size() + " rows (ties, -inf, flat)" + detail);
    }
  }

  private void frequencies() {
    int big = cfg.bigVocab();
    float[] model = logits("model", big);
    float[] flat = logits("flat", big);
    float[] small = logits("model", cfg.smallVocab());
    int likely = ranked(small)[1];
    frequency("T=1 vocab " + big, model, b().temperature(1f).build(), false);
    frequency("T=0.8 top_p=0.9 vocab " + big, model, b().temperature(0.8f).topP(0.9f).build(), false);
    frequency("T=0.7 top_k=50 vocab " + big, model, b().temperature(0.7f).topK(50).build(), false);
    frequency("flat top_p=0.5 vocab " + big, flat, b().topP(0.5f).build(), false);
    frequency("min_p=0.05 penalties min_tokens vocab " + cfg.smallVocab(), small, b().temperature(1.3f).minP(0.02f)
        .repetitionPenalty(1.5f).frequencyPenalty(0.7f).presencePenalty(0.4f).minTokens(100).stopTokenIds(List.of(likely)).build(), true);
  }

  /**
   * Draws cfg.draws() tokens from one row with distinct seeds and tests the counts against the host's
   * probabilities: tokens with probability 0 must never come; chi-square over the others.
   */
  private void frequency(String name, float[] row, SamplingParams p, boolean penalised) {
    int vocab = row.length, batchRows = cfg.drawBatch();
    int[] order = ranked(row);
    SamplingState base = state(row, order, p, 0);
    long salt = rnd.nextLong(); // each distribution gets its own uniform numbers
    double[] probs = sampler.probabilities(row.clone(), vocab, base);
    long[] counts = new long[vocab];
    int n = 0, idBad = 0;
    DeviceSampling ds = new DeviceSampling();
    SampledRows out = new SampledRows(batchRows);
    SamplingDevice.Logits logits = dev.upload(new float[][] {row}, batchRows, vocab);
    try {
      for (int start = 0; start < cfg.draws(); start += batchRows) {
        List<SamplingState> states = new ArrayList<>(batchRows);
        for (int j = 0; j < batchRows; j++) states.add(new SamplingState(p, salt + 1_000_003L * (start + j), base.history(), List.of(order[0])));
        if (penalised && start > 0) { // penalties were written into the rows: start again from the raw logits
          logits.close();
          logits = dev.upload(new float[][] {row}, batchRows, vocab);
        }
        dev.sample(logits, ds.pack(states, vocab), out, false, null);
        for (int j = 0; j < batchRows; j++) counts[out.tokenIds[j]]++;
        n += batchRows;
        if (start == 0) {
          for (int j = 0; j < Math.min(batchRows, 256); j++) {
            if (sampler.sample(row.clone(), vocab, List.of(states.get(j))).get(0).tokenId() != out.tokenIds[j]) idBad++;
          }
        }
      }
    } finally {
      logits.close();
    }
    int outside = 0;
    for (int i = 0; i < vocab; i++) if (probs[i] == 0 && counts[i] > 0) outside++;
    // Cells: tokens by decreasing probability, merged until each is expected MIN_EXPECTED times (at 5, as
    // textbooks allow, this statistic's tail ran heavier than chi-square's in host trials).
    Integer[] byProb = IntStream.range(0, vocab).filter(i -> probs[i] > 0).boxed().toArray(Integer[]::new);
    Arrays.sort(byProb, Comparator.comparingDouble((Integer i) -> -probs[i]));
    List<double[]> cellList = new ArrayList<>(); // {expected, observed}
    double expected = 0, observed = 0, tv = 0;
    for (int k = 0; k < byProb.length; k++) {
      int i = byProb[k];
      expected += n * probs[i];
      observed += counts[i];
      tv += Math.abs(counts[i] / (double) n - probs[i]);
      if (expected >= MIN_EXPECTED || k == byProb.length - 1) {
        if (expected < MIN_EXPECTED && !cellList.isEmpty()) { // the tail's remainder joins the last full cell
          cellList.getLast()[0] += expected;
          cellList.getLast()[1] += observed;
        } else {
          cellList.add(new double[] {expected, observed});
        }
        expected = observed = 0;
      }
    }
    double chi = 0;
    for (double[] c : cellList) chi += (c[1] - c[0]) * (c[1] - c[0]) / c[0];
    int cells = cellList.size();
    double pValue = cells > 1 ? upperGamma((cells - 1) / 2.0, chi / 2) : 1;
    boolean pass = outside == 0 && pValue >= MIN_P_VALUE && idBad == 0;
    add("frequencies " + name, pass, String.format("%d draws, %d tokens kept, %d cells, chi-square %.1f (df %d), p = %.3g, "
        + "total variation %.4f, %d tokens drawn outside the kept set, %d of the first %d ids differ from the host's",
        n, byProb.length, cells, chi, cells - 1, pValue, tv / 2, outside, idBad, Math.min(batchRows, 256)));
  }

  private void batchInvariance() {
    int vocab = cfg.bigVocab();
    List<float[]> rows = List.of(logits("model", vocab), logits("dups", vocab), logits("ties", vocab));
    List<SamplingParams> targets = List.of(
        b().temperature(0.8f).topP(0.9f).repetitionPenalty(1.2f).presencePenalty(0.5f).logprobs(5).build(),
        b().temperature(0.7f).topK(40).logprobs(20).build(),
        b().temperature(1.2f).minP(0.1f).topK(3000).topP(0.95f).build());
    List<Case> others = new ArrayList<>();
    for (int o = 0; o < 64; o++) {
      float[] l = logits(KINDS[rnd.nextInt(KINDS.length)], vocab);
      int[] order = ranked(l);
      List<SamplingParams> ms = mixes(vocab, order[1]);
      SamplingParams p = ms.get(rnd.nextInt(ms.size()));
      others.add(new Case("other", l, p, state(l, order, p, rnd.nextLong())));
    }
    List<int[]> orders = rows.stream().map(CudaSamplingCheck::ranked).toList();
    int bad = 0, checked = 0;
    StringBuilder detail = new StringBuilder();
    for (int s = 0; s < cfg.invarianceSeeds(); s++) {
      for (int t = 0; t < targets.size(); t++) {
        float[] row = rows.get(t);
        SamplingState target = state(row, orders.get(t), targets.get(t), 77L * s + t);
        Case alone = new Case("target", row, targets.get(t), target);
        DeviceRun a = runDevice(List.of(alone), vocab, false);
        List<Case> batch = new ArrayList<>(others);
        java.util.Collections.shuffle(batch, new java.util.Random(rnd.nextLong()));
        int pos = (13 * s + 29 * t) % 65;
        batch.add(pos, alone);
        DeviceRun g = runDevice(batch, vocab, false);
        checked++;
        String why = differs(a, 0, g, pos, vocab);
        if (why != null) {
          bad++;
          if (detail.length() < 600) detail.append("; seed ").append(s).append(" target ").append(t).append(" at ").append(pos).append(": ").append(why);
        }
      }
    }
    add("batch invariance vocab " + vocab, bad == 0, checked + " seeded rows alone vs among 64 others, " + bad + " differ" + detail);
  }

  /** Null when row ra of a equals row rb of b: id, logprobs and penalised logits, bit for bit. */
  private static String differs(DeviceRun a, int ra, DeviceRun b, int rb, int vocab) {
    if (a.out().tokenIds[ra] != b.out().tokenIds[rb]) return "id " + a.out().tokenIds[ra] + " vs " + b.out().tokenIds[rb];
    if (Float.floatToRawIntBits(a.out().logprobs[ra]) != Float.floatToRawIntBits(b.out().logprobs[rb])) return "logprob";
    int w = SamplingBatch.MAX_TOP_LOGPROBS;
    for (int j = 0; j < w; j++) {
      if (a.out().topIds[ra * w + j] != b.out().topIds[rb * w + j]
          || Float.floatToRawIntBits(a.out().topLogprobs[ra * w + j]) != Float.floatToRawIntBits(b.out().topLogprobs[rb * w + j])) {
        return "top logprob " + j;
      }
    }
    for (int i = 0; i < vocab; i++) {
      if (Float.floatToRawIntBits(a.logits()[ra * vocab + i]) != Float.floatToRawIntBits(b.logits()[rb * vocab + i])) return "logit " + i;
    }
    return null;
  }

  /**
   * The whole engine on the GPU (llama3-tiny), once sampling on the device and once with the same
   * backend hiding that it can (so the logits go to the host sampler): seeded requests, each run alone
   * so both runs see the same batches, must give the same tokens, logprobs within 1e-4.
   */
  private void engineAgreement(CudaBackend gpu) {
    List<SamplingParams> ps = List.of(
        b().temperature(0.9f).seed(11L).maxTokens(24).ignoreEos(true).build(),
        b().temperature(0.7f).topK(20).topP(0.9f).seed(12L).maxTokens(24).logprobs(5).build(),
        b().temperature(1.2f).minP(0.05f).repetitionPenalty(1.3f).seed(13L).maxTokens(24).build(),
        b().temperature(1f).topP(0.8f).frequencyPenalty(1.5f).presencePenalty(0.5f).minTokens(10).seed(14L).maxTokens(24).logprobs(0).build(),
        b().temperature(0f).repetitionPenalty(1.5f).maxTokens(24).logprobs(20).build(),
        b().temperature(0.8f).n(3).seed(15L).maxTokens(16).build());
    try {
      java.nio.file.Path model = FixtureChecks.modelDir(java.nio.file.Files.createTempDirectory("quire-sampling"), "llama3-tiny");
      List<EngineRun> device = engineRun(gpu, model, ps);
      List<EngineRun> host = engineRun(new HostSampling(gpu), model, ps);
      int bad = 0;
      float worst = 0;
      StringBuilder detail = new StringBuilder();
      for (int i = 0; i < ps.size(); i++) {
        EngineRun d = device.get(i), h = host.get(i);
        boolean same = d.ids().equals(h.ids()) && d.logprobs().size() == h.logprobs().size();
        for (int j = 0; same && j < d.logprobs().size(); j++) {
          float g = gap(d.logprobs().get(j), h.logprobs().get(j));
          worst = Math.max(worst, g);
          same = g <= LOGPROB_TOLERANCE;
        }
        if (!same) {
          bad++;
          if (detail.length() < 800) detail.append("; request ").append(i).append(" device ").append(d).append(" host ").append(h);
        }
      }
      add("engine device sampling = host sampling (llama3-tiny)", bad == 0,
          ps.size() + " seeded requests, " + bad + " differ; worst logprob difference " + worst + detail);
    } catch (java.io.IOException | InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }

  /** One request's sequences: ids (sampled and top, as text) and the logprob values in the same order. */
  private record EngineRun(String ids, List<Float> logprobs) {}

  /** Each request alone, in order. */
  private static List<EngineRun> engineRun(io.quire.spi.Backend backend, java.nio.file.Path model, List<SamplingParams> ps)
      throws InterruptedException {
    List<EngineRun> out = new ArrayList<>();
    try (io.quire.engine.Engine engine = io.quire.engine.Engine.start(
        io.quire.engine.EngineConfig.cpuDefaults(model).withNumKvBlocks(256), backend)) {
      for (int i = 0; i < ps.size(); i++) {
        io.quire.engine.RequestStream st = engine.submit("r" + i, io.quire.engine.Prompt.text("Request " + i + ": once upon a time"), ps.get(i), 0);
        StringBuilder ids = new StringBuilder();
        List<Float> lps = new ArrayList<>();
        for (io.quire.engine.RequestOutput o; (o = st.poll(60, java.util.concurrent.TimeUnit.SECONDS)) != null; ) {
          for (io.quire.engine.CompletionDelta d : o.deltas()) {
            ids.append(d.index()).append(Arrays.toString(d.newTokenIds()));
            if (d.logprobs() != null) {
              for (TokenLogprob lp : d.logprobs()) {
                ids.append('{').append(lp.tokenId());
                lps.add(lp.logprob());
                for (var t : lp.top()) {
                  ids.append(',').append(t.tokenId());
                  lps.add(t.logprob());
                }
                ids.append('}');
              }
            }
            ids.append(' ');
          }
          if (o.finished()) break;
        }
        out.add(new EngineRun(ids.toString(), lps));
      }
    }
    return out;
  }

  /** The CUDA backend with device sampling hidden: the engine copies the logits to the host sampler. */
  private static final class HostSampling implements io.quire.spi.Backend {
    private final CudaBackend gpu;

    HostSampling(CudaBackend gpu) {
      this.gpu = gpu;
    }

    @Override public String name() { return "cuda, host sampling"; }
    @Override public io.quire.spi.DType activationDType() { return gpu.activationDType(); }
    @Override public io.quire.spi.Tensor loadWeight(io.quire.spi.WeightData w) { return gpu.loadWeight(w); }
    @Override public io.quire.spi.Tensor allocate(io.quire.spi.DType d, int rows, int cols) { return gpu.allocate(d, rows, cols); }
    @Override public io.quire.spi.KvCache allocateKvCache(int l, int n, int bs, int h, int d) { return gpu.allocateKvCache(l, n, bs, h, d); }
    @Override public io.quire.spi.Rope createRope(float[] f, int hd, int mp) { return gpu.createRope(f, hd, mp); }
    @Override public io.quire.spi.DeviceBatch prepare(io.quire.spi.BatchMetadata m) { return gpu.prepare(m); }
    @Override public void embedding(io.quire.spi.Tensor t, io.quire.spi.DeviceBatch b, io.quire.spi.Tensor o) { gpu.embedding(t, b, o); }
    @Override public void rmsNorm(io.quire.spi.Tensor x, io.quire.spi.Tensor w, float e, io.quire.spi.Tensor o) { gpu.rmsNorm(x, w, e, o); }
    @Override public void addRmsNorm(io.quire.spi.Tensor x, io.quire.spi.Tensor r, io.quire.spi.Tensor w, float e, io.quire.spi.Tensor o) { gpu.addRmsNorm(x, r, w, e, o); }
    @Override public void headRmsNorm(io.quire.spi.Tensor x, int hd, io.quire.spi.Tensor w, float e) { gpu.headRmsNorm(x, hd, w, e); }
    @Override public void matmul(io.quire.spi.Tensor x, io.quire.spi.Tensor w, io.quire.spi.Tensor b, io.quire.spi.Tensor o) { gpu.matmul(x, w, b, o); }
    @Override public void rope(io.quire.spi.Tensor q, io.quire.spi.Tensor k, io.quire.spi.Rope r, io.quire.spi.DeviceBatch b) { gpu.rope(q, k, r, b); }
    @Override public void siluMul(io.quire.spi.Tensor g, io.quire.spi.Tensor o) { gpu.siluMul(g, o); }
    @Override public void writeKv(io.quire.spi.Tensor k, io.quire.spi.Tensor v, io.quire.spi.KvCache c, int l, io.quire.spi.DeviceBatch b) { gpu.writeKv(k, v, c, l, b); }
    @Override public void pagedAttention(io.quire.spi.Tensor q, io.quire.spi.KvCache c, int l, io.quire.spi.DeviceBatch b, float s, io.quire.spi.Tensor o) { gpu.pagedAttention(q, c, l, b, s, o); }
    @Override public void gatherLogitRows(io.quire.spi.Tensor x, io.quire.spi.DeviceBatch b, io.quire.spi.Tensor o) { gpu.gatherLogitRows(x, b, o); }
    @Override public void copyToHost(io.quire.spi.Tensor t, float[] dst) { gpu.copyToHost(t, dst); }
    @Override public void argmax(io.quire.spi.Tensor t, int[] dst) { gpu.argmax(t, dst); }
    @Override public io.quire.spi.Tensor runForward(Object owner, io.quire.spi.DeviceBatch b, java.util.function.Supplier<io.quire.spi.Tensor> f) {
      return gpu.runForward(owner, b, f);
    }
    @Override public java.util.Optional<io.quire.spi.DeviceMemory> deviceMemory() { return gpu.deviceMemory(); }
    @Override public void resetPeakMemory() { gpu.resetPeakMemory(); }
    @Override public void close() {} // the check closes the real backend
  }

  /** Device sampling per step vs copying the logits to the host and sampling there (INFO, not a check). */
  private void timing() {
    if (!(dev instanceof SamplingDevice.Cuda cuda)) return;
    int vocab = cfg.bigVocab(), rows = 256;
    float[][] ls = new float[rows][];
    for (int r = 0; r < rows; r++) ls[r] = logits("model", vocab);
    List<SamplingParams> ms = List.of(
        b().temperature(0.8f).build(),
        b().temperature(0.8f).topP(0.95f).build(),
        b().temperature(0.8f).topK(50).topP(0.9f).build(),
        b().temperature(0.7f).minP(0.05f).repetitionPenalty(1.1f).build(),
        b().temperature(0f).logprobs(5).build());
    for (SamplingParams p : ms) {
      List<SamplingState> states = new ArrayList<>();
      for (int r = 0; r < rows; r++) states.add(state(ls[r], ranked(ls[r]), p, r));
      DeviceSampling ds = new DeviceSampling();
      try (SamplingDevice.Logits l = dev.upload(ls, 1, vocab)) {
        io.quire.spi.Tensor t = ((SamplingDevice.Cuda.DeviceLogits) l).t();
        double[] dt = new double[8];
        for (int i = -3; i < dt.length; i++) {
          long t0 = System.nanoTime();
          ds.sample(cuda.gpu, t, vocab, states);
          if (i >= 0) dt[i] = (System.nanoTime() - t0) / 1e6;
        }
        float[] host = new float[rows * vocab];
        double[] copy = new double[3], samp = new double[3];
        for (int i = 0; i < 3; i++) {
          long t0 = System.nanoTime();
          cuda.gpu.copyToHost(t, host);
          long t1 = System.nanoTime();
          sampler.sample(host, vocab, states);
          copy[i] = (t1 - t0) / 1e6;
          samp[i] = (System.nanoTime() - t1) / 1e6;
        }
        Arrays.sort(dt);
        Arrays.sort(copy);
        Arrays.sort(samp);
        System.out.printf("INFO sample %dx%d %s: device %.2f ms/step (median of %d, packing and ids back included); host path "
            + "copy %.2f ms + sampler %.2f ms (median of 3, %d cores)%n", rows, vocab, describe(p), dt[dt.length / 2], dt.length,
            copy[1], samp[1], Runtime.getRuntime().availableProcessors());
      }
    }
  }

  // ---- statistics ----

  /** The regularised upper incomplete gamma function Q(a, x) (Numerical Recipes, gser and gcf). */
  static double upperGamma(double a, double x) {
    if (x <= 0) return 1;
    double lnPre = -x + a * Math.log(x) - lnGamma(a);
    if (x < a + 1) {
      double sum = 1 / a, term = sum;
      for (int n = 1; n < 100_000; n++) {
        term *= x / (a + n);
        sum += term;
        if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
      }
      return Math.max(0, 1 - sum * Math.exp(lnPre));
    }
    double bq = x + 1 - a, c = 1e300, d = 1 / bq, h = d;
    for (int i = 1; i < 100_000; i++) {
      double an = -i * (i - a);
      bq += 2;
      d = an * d + bq;
      if (Math.abs(d) < 1e-300) d = 1e-300;
      c = bq + an / c;
      if (Math.abs(c) < 1e-300) c = 1e-300;
      d = 1 / d;
      double del = d * c;
      h *= del;
      if (Math.abs(del - 1) < 1e-15) break;
    }
    return Math.exp(lnPre) * h;
  }

  /** ln Gamma(x), Lanczos (g = 7, n = 9). */
  static double lnGamma(double x) {
    double[] c = {0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
        12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7};
    if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
    x -= 1;
    double s = c[0];
    for (int i = 1; i < 9; i++) s += c[i] / (x + i);
    double t = x + 7.5;
    return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(s);
  }
}
