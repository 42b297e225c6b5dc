package io.quire.engine;

import io.quire.engine.core.EngineOverloadedException;
import io.quire.engine.core.Request;
import io.quire.engine.core.ScheduledRequest;
import io.quire.engine.core.Scheduler;
import io.quire.engine.core.SchedulerConfig;
import io.quire.engine.core.SchedulerOutput;
import io.quire.engine.core.SchedulerStats;
import io.quire.engine.core.SchedulingPolicy;
import io.quire.engine.sampling.DeviceSampling;
import io.quire.engine.sampling.OutputProcessor;
import io.quire.engine.sampling.SampledToken;
import io.quire.engine.sampling.Sampler;
import io.quire.engine.sampling.SamplingState;
import io.quire.engine.sampling.SequenceOutput;
import io.quire.engine.sampling.TokenHistory;
import io.quire.models.GenerationConfig;
import io.quire.models.LlamaModel;
import io.quire.models.ModelConfig;
import io.quire.spi.Backend;
import io.quire.spi.BatchMetadata;
import io.quire.spi.DType;
import io.quire.spi.DeviceBatch;
import io.quire.spi.DeviceMemory;
import io.quire.spi.KvCache;
import io.quire.spi.PendingIds;
import io.quire.spi.Tensor;
import io.quire.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The engine API that frontends see (DESIGN.md): submit a prompt with sampling parameters and read
 * its stream of deltas, abort, and take stats. One engine serves one model. Its engine thread is
 * the only writer of scheduler and KV state: {@code loop { schedule -> execute -> sample -> emit }};
 * callers only enqueue requests and aborts.
 */
public final class Engine implements AutoCloseable {
  /** vLLM's max_logprobs default: the most top logprobs a request may ask for. */
  public static final int MAX_LOGPROBS = 20;

  private static final Logger LOG = Logger.getLogger(Engine.class.getName());

  /** A submitted request: n sequences sharing one prompt and one output stream. */
  private static final class Live {
    final String id;
    final int[] promptIds;
    final SamplingParams params;
    final RequestStream stream;
    final List<Request> seqs = new ArrayList<>();
    final long arrival;
    final int priority;
    long firstScheduled, firstToken, lastToken;
    int generated;
    int finished;
    boolean counted; // still counted as waiting for the overload bound

    Live(String id, int[] promptIds, SamplingParams params, int priority, RequestStream stream, long arrival) {
      this.id = id;
      this.priority = priority;
      this.promptIds = promptIds;
      this.params = params;
      this.stream = stream;
      this.arrival = arrival;
    }
  }

  /** What the engine thread keeps on each sequence. */
  private record Seq(Live live, SamplingState sampling, SequenceOutput output) {}

  private record Abort(String requestId) {}

  /**
   * A launched step whose sampled ids are still on the device (async scheduling): an argmax, or the
   * device sampler's rows for {@code sampled} (null for an argmax).
   */
  private record InFlight(SchedulerOutput out, PendingIds ids, List<SamplingState> sampled) {}

  private final EngineConfig config;
  private final Backend backend;
  private final LlamaModel model;
  private final KvCache kvCache;
  private final Tokenizer tokenizer;
  private final GenerationConfig generationConfig;
  private final Scheduler scheduler;
  private final OutputProcessor outputs;
  private final Sampler sampler = new Sampler();
  private final int maxModelLen;
  private final int vocabSize;
  private final KvCacheSizing kvCacheSizing; // null unless sized from gpu_memory_utilization
  private final int maxDecodeRows; // a padded decode step stays within the model's buffers
  private final LinkedBlockingQueue<Object> intake = new LinkedBlockingQueue<>();
  private final Map<String, Live> live = new HashMap<>(); // engine thread only
  private final Map<String, Boolean> liveIds = new ConcurrentHashMap<>();
  private final AtomicInteger waitingCount = new AtomicInteger();
  private final Thread thread;
  private volatile boolean running = true;
  private volatile EngineStats stats;
  private float[] hostLogits = new float[0];
  private int[] argmaxIds = new int[0];
  /** QUIRE_DEVICE_ARGMAX=0 turns the greedy fast path off (the logits always go to the host sampler). */
  private static final boolean DEVICE_ARGMAX = !"0".equals(System.getenv("QUIRE_DEVICE_ARGMAX"));
  /** QUIRE_DEVICE_SAMPLING=0 keeps sampling on the host even where the backend samples on the device. */
  private static final boolean DEVICE_SAMPLING = !"0".equals(System.getenv("QUIRE_DEVICE_SAMPLING"));
  /**
   * Async scheduling: on where the backend defers sampled ids ({@link Backend#defersSampledIds}),
   * unless async_scheduling is false or QUIRE_ASYNC_SCHEDULING=0.
   */
  private final boolean asyncScheduling;
  private InFlight inFlight; // engine thread only
  /** Null where the backend cannot sample (or QUIRE_DEVICE_SAMPLING=0). */
  private final DeviceSampling deviceSampling;

  private long promptTokens, generationTokens, steps, finishedStop, finishedLength, finishedAbort;
  private long stepNanos, executeNanos;
  private long takeInHostNanos; // host work of taking in in-flight ids (after the wait for them)

  private Engine(EngineConfig config, Backend backend) {
    this.config = config;
    this.backend = backend;
    ModelConfig mc = ModelConfig.load(config.modelDir());
    try {
      this.tokenizer = Tokenizer.load(config.modelDir());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot load the tokenizer of " + config.modelDir() + ": " + e.getMessage(), e);
    }
    this.generationConfig = GenerationConfig.load(
        config.modelDir(), GenerationConfig.ModelConfigFallback.of(config.modelDir()));
    Optional<DeviceMemory> beforeWeights = backend.deviceMemory();
    this.model = LlamaModel.load(config.modelDir(), backend, config.maxNumBatchedTokens(), config.maxNumSeqs());
    this.vocabSize = mc.vocabSize();
    this.maxDecodeRows = Math.min(model.maxTokens(), model.maxLogitRows());
    int len = config.maxModelLen() != null ? config.maxModelLen() : mc.maxPositionEmbeddings();
    if (mc.slidingWindow() != null && mc.slidingWindow() < len) {
      // Sliding-window attention is not implemented: within the window, full attention is exact.
      LOG.warning("max_model_len capped at the model's sliding_window " + mc.slidingWindow());
      len = mc.slidingWindow();
    }
    int numBlocks;
    try {
      // kv_cache_dtype: the backend's own type (auto), or fp8 e4m3 where the backend has it.
      DType kvOverride = null;
      if (config.fp8KvCache()) {
        if (!backend.supportsKvCacheDType(DType.FP8_E4M3)) {
          throw new IllegalArgumentException("kv_cache_dtype fp8 is not supported by the " + backend.name()
              + " backend (on CUDA it needs compute capability 8.9 or newer); use kv_cache_dtype auto");
        }
        kvOverride = DType.FP8_E4M3;
      }
      DType kvType = kvOverride != null ? kvOverride : backend.activationDType() == DType.F32 ? DType.F32 : DType.BF16;
      long perBlock = model.kvBytesPerBlock(config.blockSize(), kvType);
      if (config.numKvBlocks() != null) {
        numBlocks = config.numKvBlocks();
        kvCacheSizing = null;
      } else if (config.kvCacheBytes() != null || beforeWeights.isEmpty()) {
        long bytes = config.kvCacheBytes() != null ? config.kvCacheBytes() : EngineConfig.CPU_KV_CACHE_BYTES;
        numBlocks = KvCacheSizing.blocksFromBytes(bytes, perBlock);
        kvCacheSizing = null;
      } else {
        MemoryProfile profile = MemoryProfiler.profile(backend, model, beforeWeights.get(), config.blockSize(), len,
            DEVICE_SAMPLING && backend.supportsSampling(), kvOverride);
        kvCacheSizing = KvCacheSizing.fromUtilization(
            profile, config.gpuMemoryUtilization(), perBlock, config.blockSize(), len);
        LOG.info(kvCacheSizing.summary());
        numBlocks = kvCacheSizing.numBlocks();
      }
      if ((long) numBlocks * config.blockSize() < len) {
        LOG.info("max_model_len " + len + " capped at the KV pool's capacity of " + (numBlocks * config.blockSize()) + " tokens");
        len = numBlocks * config.blockSize();
      }
      this.kvCache = model.allocateKvCache(numBlocks, config.blockSize(), kvOverride);
    } catch (RuntimeException | Error e) {
      model.close();
      throw e;
    }
    this.maxModelLen = len;
    this.scheduler = new Scheduler(new SchedulerConfig(
        config.maxNumSeqs(), config.maxNumBatchedTokens(), maxModelLen, config.blockSize(), numBlocks,
        config.enablePrefixCaching(), config.priorityPolicy() ? SchedulingPolicy.PRIORITY : SchedulingPolicy.FCFS,
        config.maxWaiting(), 0));
    this.outputs = new OutputProcessor(tokenizer, generationConfig.eosTokenIds(), maxModelLen);
    this.deviceSampling = DEVICE_SAMPLING && backend.supportsSampling() ? new DeviceSampling() : null;
    this.asyncScheduling = config.asyncScheduling() && DEVICE_ARGMAX && backend.defersSampledIds()
        && !"0".equals(System.getenv("QUIRE_ASYNC_SCHEDULING"));
    updateStats();
    this.thread = Thread.ofPlatform().name("quire-engine").daemon().unstarted(this::loop);
  }

  /** Loads the model folder onto {@code backend} and starts the engine thread. */
  public static Engine start(EngineConfig config, Backend backend) {
    Engine e = new Engine(config, backend);
    e.thread.start();
    return e;
  }

  /**
   * Queues a request. Throws IllegalArgumentException (bad sampling values, prompt longer than
   * max_model_len, empty prompt: the message names the field and the limit) or
   * {@link EngineOverloadedException} when the waiting queue is full.
   *
   * @param requestId unique among live requests
   * @param priority lower runs first under the priority policy (vLLM's convention)
   */
  public RequestStream submit(String requestId, Prompt prompt, SamplingParams params, int priority) {
    if (!running) throw new IllegalStateException("engine is shut down");
    int[] ids = prompt.tokenIds() != null ? prompt.tokenIds().clone() : tokenizer.encode(prompt.text(), true);
    if (ids.length == 0) throw new IllegalArgumentException("prompt must not be empty");
    for (int id : ids) {
      if (id < 0 || id >= vocabSize) {
        throw new IllegalArgumentException("prompt token id " + id + " is out of vocabulary (size " + vocabSize + ")");
      }
    }
    if (ids.length >= maxModelLen) {
      throw new IllegalArgumentException("prompt is " + ids.length + " tokens, max_model_len is " + maxModelLen
          + ": the prompt must be shorter, to leave room for at least one generated token");
    }
    if (params.logprobs() != null && params.logprobs() > MAX_LOGPROBS) {
      throw new IllegalArgumentException("logprobs must be at most " + MAX_LOGPROBS + " (max_logprobs), got " + params.logprobs());
    }
    if (params.maxTokens() == null) {
      Integer d = config.defaultMaxTokens();
      params = params.toBuilder().maxTokens(d != null ? Math.min(d, maxModelLen - ids.length) : maxModelLen - ids.length).build();
    }
    if (waitingCount.incrementAndGet() > config.maxWaiting()) {
      waitingCount.decrementAndGet();
      throw new EngineOverloadedException(config.maxWaiting(), config.maxWaiting());
    }
    if (liveIds.putIfAbsent(requestId, Boolean.TRUE) != null) {
      waitingCount.decrementAndGet();
      throw new IllegalArgumentException("request id " + requestId + " is already in use");
    }
    RequestStream stream = new RequestStream(requestId, this);
    intake.add(new Live(requestId, ids, params, priority, stream, System.nanoTime()));
    return stream;
  }

  /** Aborts a live request; returns false if it is unknown or already finished. */
  public boolean abort(String requestId) {
    if (!liveIds.containsKey(requestId)) return false;
    intake.add(new Abort(requestId));
    return true;
  }

  public EngineStats stats() {
    return stats;
  }

  public Tokenizer tokenizer() {
    return tokenizer;
  }

  public ModelConfig modelConfig() {
    return model.config();
  }

  public GenerationConfig generationConfig() {
    return generationConfig;
  }

  public EngineConfig config() {
    return config;
  }

  /**
   * How the KV pool was sized from gpu_memory_utilization (the profile and the blocks); empty when
   * num_gpu_blocks_override or a KV byte size was given, or the backend has no device memory.
   */
  public Optional<KvCacheSizing> kvCacheSizing() {
    return Optional.ofNullable(kvCacheSizing);
  }

  /** max_model_len in effect. */
  public int maxModelLen() {
    return maxModelLen;
  }

  // ---- engine thread ----

  private void loop() {
    while (running) {
      try {
        if (!scheduler.hasUnfinished()) {
          Object o = intake.poll(100, TimeUnit.MILLISECONDS);
          if (o != null) accept(o);
        }
        for (Object o; (o = intake.poll()) != null; ) accept(o);
        if (scheduler.hasUnfinished() || inFlight != null) step();
        updateStats();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      } catch (RuntimeException | Error e) {
        LOG.log(Level.SEVERE, "engine step failed; failing the running requests", e);
        inFlight = null;
        failAll(e);
      }
    }
    failAll(new IllegalStateException("engine shut down"));
  }

  private void accept(Object o) {
    if (o instanceof Abort a) {
      Live l = live.get(a.requestId());
      if (l != null) abortLive(l);
      return;
    }
    Live l = (Live) o;
    try {
      int n = l.params.n();
      for (int i = 0; i < n; i++) {
        Request r = new Request(n == 1 ? l.id : l.id + "#" + i, l.promptIds, l.params, l.priority, l.arrival);
        r.engineState = new Seq(l,
            SamplingState.create(l.params, i, TokenHistory.of(r), outputs.eosTokenIds()),
            outputs.newSequence(i, l.promptIds, l.params));
        scheduler.add(r);
        l.seqs.add(r);
      }
      l.counted = true;
      live.put(l.id, l);
    } catch (RuntimeException e) {
      for (Request r : l.seqs) scheduler.abort(r.requestId());
      waitingCount.decrementAndGet();
      liveIds.remove(l.id);
      l.stream.fail(e);
    }
  }

  private void step() {
    long stepStart = System.nanoTime();
    try {
      stepBody(stepStart);
    } finally {
      stepNanos += System.nanoTime() - stepStart;
    }
  }

  /**
   * One step. With async scheduling (a backend whose {@link Backend#argmaxAsync} leaves the ids on
   * the device), the step before may still be in flight: this step is scheduled and launched with
   * that step's sampled ids fed on the device, and only then are those ids taken in (appended,
   * stop-checked, emitted), while the GPU runs this step. This step is then sampled, with every
   * request's history up to date; a greedy step, or one the device sampler takes, leaves its ids in
   * flight for the next one (the host sampler's steps are taken in at once).
   */
  private void stepBody(long stepStart) {
    SchedulerOutput out = scheduler.schedule();
    long now = System.nanoTime();
    for (ScheduledRequest s : out.scheduled()) {
      Live l = ((Seq) s.request().engineState).live();
      if (l.firstScheduled == 0) {
        l.firstScheduled = now;
        if (l.counted) {
          l.counted = false;
          waitingCount.decrementAndGet();
        }
      }
    }
    if (out.isEmpty()) {
      if (inFlight != null) takeInFlight();
      return;
    }
    steps++;
    long t0 = System.nanoTime(), host0 = takeInHostNanos;
    int rows = out.numSamples();
    BatchMetadata batch = out.batch();
    if (batch.decodeOnly()) {
      batch = DecodePadding.pad(batch, Math.min(backend.paddedDecodeSize(batch.numTokens()), maxDecodeRows));
    }
    if (out.feedTokens().length > 0 && inFlight == null) {
      throw new IllegalStateException("the batch feeds " + out.feedTokens().length + " ids, no step is in flight");
    }
    List<SampledToken> tokens = null;
    PendingIds pending = null;
    List<SamplingState> sampledStates = null; // set when the device sampler's result is in flight
    try (DeviceBatch db = inFlight == null ? backend.prepare(batch)
        : backend.prepare(batch, inFlight.ids(), out.feedTokens(), out.feedRows())) {
      Tensor all = backend.runForward(kvCache, db, () -> model.forward(db, kvCache));
      scheduler.onStepLaunched(out);
      if (inFlight != null) takeInFlight();
      if (rows > 0) {
        List<SamplingState> states = new ArrayList<>(rows);
        for (ScheduledRequest s : out.scheduled()) {
          if (s.samples()) states.add(((Seq) s.request().engineState).sampling());
        }
        Tensor logits = all.firstRows(rows); // padding rows come after the real ones
        if (asyncScheduling && logits.dtype() == DType.F32 && allPlainGreedy(states)) {
          pending = backend.argmaxAsync(logits);
        } else if (asyncScheduling && deviceSampling != null && logits.dtype() == DType.F32
            && DeviceSampling.supports(states)) {
          pending = deviceSampling.sampleAsync(backend, logits, vocabSize, states);
          sampledStates = states;
        } else {
          tokens = sample(logits, states);
        }
      }
    }
    executeNanos += System.nanoTime() - t0 - (takeInHostNanos - host0); // the take-in's host work is not the device's
    if (pending != null) {
      inFlight = new InFlight(out, pending, sampledStates);
    } else {
      int[] sampled = new int[rows];
      for (int i = 0; i < rows; i++) sampled[i] = tokens.get(i).tokenId();
      takeIn(out, sampled, tokens);
    }
  }

  /** Waits for the in-flight step's ids and takes them in. */
  private void takeInFlight() {
    InFlight f = inFlight;
    inFlight = null;
    int[] ids = new int[f.ids().rows()];
    List<SampledToken> tokens = null;
    if (f.sampled() == null) {
      f.ids().await(ids);
    } else {
      tokens = deviceSampling.take(f.ids(), f.sampled(), vocabSize);
      for (int i = 0; i < ids.length; i++) ids[i] = tokens.get(i).tokenId();
    }
    long h = System.nanoTime();
    takeIn(f.out(), ids, tokens);
    takeInHostNanos += System.nanoTime() - h;
  }

  /**
   * A launched step's sampled ids (logprobs in {@code tokens} when not null): appended to their
   * requests, checked against the stop conditions, emitted. Rows of requests finished or aborted since
   * the step was scheduled are dropped.
   */
  private void takeIn(SchedulerOutput out, int[] sampled, List<SampledToken> tokens) {
    scheduler.onTokens(out, sampled);
    long now = System.nanoTime();
    Map<Live, List<CompletionDelta>> emitted = new LinkedHashMap<>();
    int k = 0;
    for (ScheduledRequest s : out.scheduled()) {
      if (!s.samples()) continue;
      int row = k++;
      Request r = s.request();
      Seq seq = (Seq) r.engineState;
      Live l = seq.live();
      if (seq.output().isFinished()) continue; // finished (stop, abort) since the step was scheduled
      if (l.firstToken == 0) {
        l.firstToken = now;
        promptTokens += l.promptIds.length;
      }
      l.lastToken = now;
      l.generated++;
      generationTokens++;
      CompletionDelta d = seq.output().append(sampled[row], tokens == null ? null : tokens.get(row).logprob());
      emitted.computeIfAbsent(l, x -> new ArrayList<>()).add(d);
      if (d.finishReason() != null) {
        scheduler.finish(r, d.finishReason());
        l.finished++;
        count(d.finishReason());
      } else if (r.isFinished()) {
        // The scheduler ended it (max_tokens, max_model_len) where the output processor did not.
        emitted.get(l).add(seq.output().finish(FinishReason.LENGTH));
        l.finished++;
        count(FinishReason.LENGTH);
      }
    }
    for (Map.Entry<Live, List<CompletionDelta>> e : emitted.entrySet()) emit(e.getKey(), e.getValue());
  }

  /**
   * Samples one step's rows now. Greedy fast path: when every row takes the plain argmax, the backend
   * reduces the logits and only the ids come back (not rows x vocab fp32), and the host sampler is
   * skipped. Otherwise a backend that samples on the device does (only ids and asked-for logprobs
   * come back), unless a row wants logprobs it cannot give (the whole vocab); then the logits go to
   * the host sampler. Both samplers keep the same tokens and draw the same ids for the same seed
   * (SamplingMath), so the choice never changes a request's output beyond fp32 rounding of logprobs.
   * A decode step runs padded to the backend's {@link Backend#paddedDecodeSize} ({@link
   * DecodePadding}); only the real rows' logits are read.
   */
  private List<SampledToken> sample(Tensor logits, List<SamplingState> states) {
    int rows = states.size();
    if (DEVICE_ARGMAX && allPlainGreedy(states) && logits.dtype() == DType.F32) {
      if (argmaxIds.length < rows) argmaxIds = new int[rows];
      backend.argmax(logits, argmaxIds);
      SampledToken[] t = new SampledToken[rows];
      for (int i = 0; i < rows; i++) t[i] = new SampledToken(argmaxIds[i], null);
      return Arrays.asList(t);
    }
    if (deviceSampling != null && logits.dtype() == DType.F32 && DeviceSampling.supports(states)) {
      return deviceSampling.sample(backend, logits, vocabSize, states);
    }
    if (hostLogits.length < rows * vocabSize) hostLogits = new float[rows * vocabSize];
    backend.copyToHost(logits, hostLogits);
    return sampler.sample(hostLogits, vocabSize, states);
  }

  /** Every row plain greedy: argmax, no penalties, no logprobs, and min_tokens masking nothing now. */
  private static boolean allPlainGreedy(List<SamplingState> states) {
    for (SamplingState st : states) {
      SamplingParams p = st.params();
      if (!p.isGreedy()
          || p.repetitionPenalty() != 1f
          || p.presencePenalty() != 0f
          || p.frequencyPenalty() != 0f
          || p.logprobs() != null
          || (p.minTokens() > 0 && st.history().numOutputTokens() < p.minTokens())) {
        return false;
      }
    }
    return true;
  }

  private void count(FinishReason r) {
    switch (r) {
      case STOP -> finishedStop++;
      case LENGTH -> finishedLength++;
      case ABORT -> finishedAbort++;
    }
  }

  private void emit(Live l, List<CompletionDelta> deltas) {
    boolean done = l.finished == l.seqs.size();
    RequestMetrics m = null;
    if (done) {
      live.remove(l.id);
      liveIds.remove(l.id);
      if (l.counted) {
        l.counted = false;
        waitingCount.decrementAndGet();
      }
      int cached = 0;
      for (Request r : l.seqs) cached = Math.max(cached, r.numCachedTokens);
      m = new RequestMetrics(l.arrival, l.firstScheduled, l.firstToken, l.lastToken, System.nanoTime(),
          l.promptIds.length, l.generated, cached);
    }
    l.stream.put(new RequestOutput(l.id, l.promptIds, List.copyOf(deltas), done, m));
  }

  private void abortLive(Live l) {
    List<CompletionDelta> deltas = new ArrayList<>();
    for (Request r : l.seqs) {
      Seq seq = (Seq) r.engineState;
      if (seq.output().isFinished()) continue;
      scheduler.abort(r.requestId());
      deltas.add(seq.output().abort());
      l.finished++;
      count(FinishReason.ABORT);
    }
    emit(l, deltas);
  }

  private void failAll(Throwable cause) {
    for (Live l : List.copyOf(live.values())) {
      for (Request r : l.seqs) scheduler.abort(r.requestId());
      live.remove(l.id);
      liveIds.remove(l.id);
      if (l.counted) waitingCount.decrementAndGet();
      l.stream.fail(new EngineException("engine failed the request: " + cause, cause));
    }
    for (Object o; (o = intake.poll()) != null; ) {
      if (o instanceof Live l) {
        liveIds.remove(l.id);
        waitingCount.decrementAndGet();
        l.stream.fail(new EngineException("engine failed the request: " + cause, cause));
      }
    }
  }

  private void updateStats() {
    SchedulerStats s = scheduler.stats();
    stats = new EngineStats(s.numRunning(), s.numWaiting() + intake.size(), s.kvBlocksUsed(), s.kvBlocksTotal(), s.kvUsage(),
        s.prefixCacheQueries(), s.prefixCacheHits(), s.numPreemptions(), promptTokens, generationTokens, steps,
        finishedStop, finishedLength, finishedAbort, stepNanos, executeNanos);
  }

  /**
   * Stops the engine thread (live requests fail with EngineException) and frees the model and the
   * KV pool. The backend stays open: whoever created it closes it, since one backend may outlive
   * several engines (the server's load/unload).
   */
  @Override
  public void close() {
    running = false;
    thread.interrupt();
    try {
      thread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    kvCache.close();
    model.close();
  }
}
