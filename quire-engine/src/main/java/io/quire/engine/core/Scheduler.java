package io.quire.engine.core;

import io.quire.engine.FinishReason;
import io.quire.spi.BatchMetadata;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * vLLM v1's scheduler: each step gives every request some tokens so its {@code numComputedTokens}
 * catches up with {@code numTokens()}; prefill, chunked prefill, prefix-cache hits and decode are
 * one code path. Running requests go first; when their blocks run out, the policy's victim is
 * preempted by recompute and requeued ahead of new requests; then waiting requests are admitted
 * while the token budget, max_num_seqs and free blocks allow. Only the engine thread calls it.
 *
 * <p>Step protocol: {@link #schedule()}, run the batch, {@link #onStepDone}. Requests reaching
 * max_tokens or max_model_len are finished there with LENGTH (as vLLM's check_stop); EOS, stop ids
 * and stop strings are the engine's, which calls {@link #finish}. Call {@link #abort} and {@link
 * #finish} between steps, not between schedule and onStepDone.
 *
 * <p>Async scheduling splits onStepDone in two: {@link #onStepLaunched} right after the step is
 * launched, {@link #onTokens} when its sampled ids reach the host, which may be after the next step
 * was scheduled and launched. Meanwhile a sampled token is pending ({@link Request#numPendingTokens}):
 * the next schedule computes it as a placeholder whose id the step takes on the device from the
 * previous step's ids ({@link SchedulerOutput#feedTokens}). A request that its pending tokens bring to
 * max_tokens or max_model_len is not scheduled again; one that ends on EOS or a stop string has
 * computed one token for nothing, as in vLLM. Between onStepLaunched and onTokens, {@link #abort}
 * and {@link #finish} may be called: the step's ids for a finished request are dropped.
 */
public final class Scheduler {
  private final SchedulerConfig config;
  private final KvCacheManager kv;
  private final List<Request> running = new ArrayList<>();
  private final PriorityQueue<Request> waiting;
  private final Map<String, Request> requests = new HashMap<>();
  private long admitted;
  private long numPreemptions;

  public Scheduler(SchedulerConfig config) {
    this.config = config;
    this.kv = new KvCacheManager(config.numBlocks(), config.blockSize(), config.enablePrefixCaching());
    // FCFS by admission order puts a preempted request back ahead of every request that never ran.
    Comparator<Request> order =
        config.policy() == SchedulingPolicy.PRIORITY
            ? Comparator.comparingInt(Request::priority)
                .thenComparingLong(Request::arrivalNanos)
                .thenComparingLong(r -> r.admissionSeq)
            : Comparator.comparingLong(r -> r.admissionSeq);
    this.waiting = new PriorityQueue<>(order);
  }

  /**
   * Queues a new request. Throws IllegalArgumentException when it can never run (longer than
   * max_model_len, or more KV blocks than the pool holds), EngineOverloadedException when the
   * waiting queue is full.
   */
  public void add(Request r) {
    if (r.status != RequestStatus.WAITING || r.numComputedTokens != 0) {
      throw new IllegalArgumentException(r + " is not a new request");
    }
    if (requests.containsKey(r.requestId())) {
      throw new IllegalArgumentException("request id " + r.requestId() + " is already in use");
    }
    if (r.numTokens() > config.maxModelLen()) {
      throw new IllegalArgumentException("prompt length " + r.numTokens()
          + " exceeds max_model_len " + config.maxModelLen());
    }
    int slots = maxKvSlots(r);
    if (kv.blocksFor(slots) > config.numBlocks()) {
      throw new IllegalArgumentException("request needs " + kv.blocksFor(slots) + " KV blocks ("
          + slots + " tokens at block_size " + config.blockSize() + ") but the pool has "
          + config.numBlocks() + "; lower max_tokens or max_model_len, or give the KV cache more memory");
    }
    if (waiting.size() >= config.maxWaiting()) {
      throw new EngineOverloadedException(waiting.size(), config.maxWaiting());
    }
    r.admissionSeq = admitted++;
    requests.put(r.requestId(), r);
    waiting.add(r);
  }

  public SchedulerOutput schedule() {
    int budget = config.maxNumBatchedTokens();
    Map<Request, Integer> scheduled = new LinkedHashMap<>();
    List<Request> preempted = new ArrayList<>();

    for (int i = 0; i < running.size() && budget > 0; ) {
      Request r = running.get(i);
      int n = Math.min(capPrefill(r.numTokensWithPending() - r.numComputedTokens), budget);
      if (n <= 0 || (r.numPendingTokens > 0 && pendingReachLimit(r))) {
        // nothing left to compute until its sampled token arrives (onStepDone), or it will end there
        i++;
        continue;
      }
      boolean preemptedSelf = false;
      while (!kv.allocateSlots(r, n)) {
        Request victim = victim();
        if (running.size() == 1) {
          throw new IllegalStateException(r + " cannot grow although it runs alone: the KV pool ("
              + config.numBlocks() + " blocks) is smaller than add() checked");
        }
        int at = running.indexOf(victim);
        running.remove(at);
        if (at < i) i--;
        Integer refund = scheduled.remove(victim);
        if (refund != null) budget += refund;
        preempt(victim);
        preempted.add(victim);
        if (victim == r) {
          preemptedSelf = true;
          break;
        }
      }
      if (preemptedSelf) continue;
      scheduled.put(r, n);
      budget -= n;
      i++;
    }

    // As vLLM: no admissions in a step that had to preempt (the pool is short already).
    while (preempted.isEmpty() && budget > 0 && !waiting.isEmpty()
        && running.size() < config.maxNumSeqs()) {
      Request r = waiting.peek();
      List<KvBlock> hits = kv.findCachedPrefix(r);
      int cached = hits.size() * config.blockSize();
      int n = Math.min(capPrefill(r.numTokens() - cached), budget);
      if (!kv.allocateSlots(r, n, hits)) break;
      waiting.poll();
      r.numComputedTokens = cached;
      if (r.status == RequestStatus.WAITING) r.numCachedTokens = cached;
      r.status = RequestStatus.RUNNING;
      running.add(r);
      scheduled.put(r, n);
      budget -= n;
    }
    return output(scheduled, preempted);
  }

  /**
   * Advances every scheduled request by its scheduled tokens and appends the sampled ids, in
   * logits order, to those that sampled; finishes those reaching max_tokens or max_model_len.
   */
  public void onStepDone(SchedulerOutput out, int[] sampledTokenIds) {
    onStepLaunched(out);
    onTokens(out, sampledTokenIds);
  }

  /**
   * The step is launched: every scheduled request has its scheduled tokens computed, and those that
   * sample have one more pending token, whose id comes with {@link #onTokens}.
   */
  public void onStepLaunched(SchedulerOutput out) {
    int k = 0;
    for (ScheduledRequest s : out.scheduled()) {
      Request r = s.request();
      int row = s.samples() ? k++ : -1;
      if (r.status != RequestStatus.RUNNING) continue; // finished or aborted since schedule()
      r.numComputedTokens += s.numTokens();
      if (s.samples()) {
        r.numPendingTokens++;
        r.pendingRow = row;
      }
    }
  }

  /**
   * The sampled ids of a launched step, in logits order: appended to their requests (also to one
   * preempted since, which recomputes it when it runs again), finishing those reaching max_tokens or
   * max_model_len; dropped for requests finished or aborted since.
   */
  public void onTokens(SchedulerOutput out, int[] sampledTokenIds) {
    if (sampledTokenIds.length != out.numSamples()) {
      throw new IllegalArgumentException("expected " + out.numSamples() + " sampled ids, got "
          + sampledTokenIds.length);
    }
    int k = 0;
    for (ScheduledRequest s : out.scheduled()) {
      if (!s.samples()) continue;
      Request r = s.request();
      int token = sampledTokenIds[k++];
      if (r.isFinished() || r.numPendingTokens == 0) continue;
      r.numPendingTokens--;
      r.appendOutputToken(token);
      if (reachedLengthLimit(r)) finish(r, FinishReason.LENGTH);
    }
  }

  /** Ends a request (no-op if already finished) and frees its blocks. */
  public void finish(Request r, FinishReason reason) {
    if (r.isFinished()) return;
    if (!running.remove(r)) waiting.remove(r);
    requests.remove(r.requestId(), r);
    kv.free(r);
    r.status = switch (reason) {
      case STOP -> RequestStatus.FINISHED_STOPPED;
      case LENGTH -> RequestStatus.FINISHED_LENGTH;
      case ABORT -> RequestStatus.FINISHED_ABORTED;
    };
  }

  /** Aborts a waiting or running request, freeing its blocks now; false if unknown or finished. */
  public boolean abort(String requestId) {
    Request r = requests.get(requestId);
    if (r == null) return false;
    finish(r, FinishReason.ABORT);
    return true;
  }

  public boolean hasUnfinished() {
    return !running.isEmpty() || !waiting.isEmpty();
  }

  public int numRunning() {
    return running.size();
  }

  public int numWaiting() {
    return waiting.size();
  }

  /** Running requests in admission order (read-only view). */
  public List<Request> running() {
    return Collections.unmodifiableList(running);
  }

  public SchedulerConfig config() {
    return config;
  }

  public KvCacheManager kvCacheManager() {
    return kv;
  }

  public SchedulerStats stats() {
    return new SchedulerStats(running.size(), waiting.size(), kv.numUsedBlocks(), kv.numBlocks(),
        kv.usage(), kv.prefixCacheQueries(), kv.prefixCacheHits(), numPreemptions);
  }

  private Request victim() {
    if (config.policy() == SchedulingPolicy.FCFS) return running.getLast();
    Request worst = running.getFirst();
    for (Request r : running) {
      if (waiting.comparator().compare(r, worst) > 0) worst = r;
    }
    return worst;
  }

  private void preempt(Request r) {
    kv.free(r);
    r.numComputedTokens = 0;
    r.status = RequestStatus.PREEMPTED;
    r.numPreemptions++;
    numPreemptions++;
    waiting.add(r);
  }

  private int capPrefill(int remaining) {
    int cap = config.longPrefillTokenThreshold();
    return cap > 0 ? Math.min(remaining, cap) : remaining;
  }

  /** Whether the pending tokens, once taken in, end the request by max_tokens or max_model_len. */
  private boolean pendingReachLimit(Request r) {
    Integer maxTokens = r.params() == null ? null : r.params().maxTokens();
    return r.numTokensWithPending() >= config.maxModelLen()
        || (maxTokens != null && r.numOutputTokens() + r.numPendingTokens >= maxTokens);
  }

  private boolean reachedLengthLimit(Request r) {
    Integer maxTokens = r.params() == null ? null : r.params().maxTokens();
    return r.numTokens() >= config.maxModelLen()
        || (maxTokens != null && r.numOutputTokens() >= maxTokens);
  }

  /** K/V slots the request can ever hold: the last token it samples is never computed. */
  private int maxKvSlots(Request r) {
    Integer maxTokens = r.params() == null ? null : r.params().maxTokens();
    int finalLen = config.maxModelLen();
    if (maxTokens != null) finalLen = (int) Math.min(finalLen, (long) r.numPromptTokens() + maxTokens);
    return Math.max(r.numTokens(), finalLen - 1);
  }

  private SchedulerOutput output(Map<Request, Integer> scheduled, List<Request> preempted) {
    int numTokens = 0;
    for (int n : scheduled.values()) numTokens += n;
    int numReqs = scheduled.size();
    int bs = config.blockSize();
    int[] inputIds = new int[numTokens];
    int[] positions = new int[numTokens];
    int[] slotMapping = new int[numTokens];
    int[] queryStartLoc = new int[numReqs + 1];
    int[] seqLens = new int[numReqs];
    int[][] blockTables = new int[numReqs][];
    int[] logits = new int[numReqs];
    int numLogits = 0;
    List<ScheduledRequest> list = new ArrayList<>(numReqs);
    int[] feedTokens = new int[numReqs];
    int[] feedRows = new int[numReqs];
    int feeds = 0;
    int s = 0;
    int t = 0;
    for (Map.Entry<Request, Integer> e : scheduled.entrySet()) {
      Request r = e.getKey();
      int n = e.getValue();
      int start = r.numComputedTokens;
      int[] table = kv.blockTable(r);
      int known = r.numTokens();
      for (int pos = start; pos < start + n; pos++, t++) {
        if (pos < known) {
          inputIds[t] = r.tokenAt(pos);
        } else { // the pending token (at most one: the step before's ids are taken in before this one's)
          if (pos != known || r.numPendingTokens != 1) {
            throw new IllegalStateException(r + ": position " + pos + " is past its one pending token");
          }
          feedTokens[feeds] = t;
          feedRows[feeds++] = r.pendingRow;
        }
        positions[t] = pos;
        slotMapping[t] = table[pos / bs] * bs + pos % bs;
      }
      queryStartLoc[s + 1] = t;
      seqLens[s] = start + n;
      blockTables[s] = table;
      boolean samples = start + n == r.numTokensWithPending();
      if (samples) logits[numLogits++] = t - 1;
      list.add(new ScheduledRequest(r, n, samples));
      s++;
    }
    BatchMetadata batch = new BatchMetadata(inputIds, positions, queryStartLoc, seqLens, slotMapping,
        blockTables, Arrays.copyOf(logits, numLogits), bs);
    return new SchedulerOutput(List.copyOf(list), List.copyOf(preempted), batch, Arrays.copyOf(feedTokens, feeds),
        Arrays.copyOf(feedRows, feeds));
  }
}
