package io.quire.server.http;

import io.quire.engine.CompletionDelta;
import io.quire.engine.EngineException;
import io.quire.engine.FinishReason;
import io.quire.engine.Prompt;
import io.quire.engine.RequestMetrics;
import io.quire.engine.RequestOutput;
import io.quire.engine.RequestStream;
import io.quire.engine.SamplingParams;
import io.quire.engine.TokenLogprob;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.quire.engine.core.EngineOverloadedException;
import io.quire.server.metrics.ServerMetrics;
import io.quire.server.repository.ServedModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * Runs one request on a model's engine and gathers its output: the one place where protocols meet
 * the engine, so overload, validation, disconnects, statistics and metrics are handled once.
 */
final class Generation {
  private static final AtomicLong IDS = new AtomicLong();

  /** Receives each message as it arrives (streaming); an IOException means the client is gone. */
  interface Listener {
    void onOutput(RequestOutput out, Result soFar) throws IOException;
  }

  /** One sequence's accumulated output. */
  static final class Sequence {
    final int index;
    final StringBuilder text = new StringBuilder();
    final List<Integer> tokenIds = new ArrayList<>();
    final List<TokenLogprob> logprobs = new ArrayList<>();
    FinishReason finishReason;
    Object stopReason;

    Sequence(int index) {
      this.index = index;
    }
  }

  /** The whole request's output. */
  static final class Result {
    final String requestId;
    final Sequence[] sequences;
    int[] promptTokenIds = new int[0];
    RequestMetrics metrics;

    Result(String requestId, int n) {
      this.requestId = requestId;
      this.sequences = new Sequence[n];
      for (int i = 0; i < n; i++) sequences[i] = new Sequence(i);
    }

    int completionTokens() {
      int c = 0;
      for (Sequence s : sequences) c += s.tokenIds.size();
      return c;
    }
  }

  /** The client went away; the request was aborted. */
  static final class ClientGone extends RuntimeException {
    ClientGone(Throwable cause) {
      super("client disconnected", cause, false, false);
    }
  }

  private Generation() {}

  static String newRequestId(String prefix) {
    return prefix + "-" + Long.toHexString(System.nanoTime()) + "-" + IDS.incrementAndGet();
  }

  /**
   * Submits and runs to the end. {@code timeoutNanos} (0: none) aborts a request that runs longer;
   * {@code clientGone} (see {@link ConnectionWatch}) is polled while waiting, and aborts the
   * request once it says the client has gone.
   *
   * @throws ApiException 400 (bad sampling values, prompt too long), 503 (overloaded), 504 (timeout)
   * @throws ClientGone when the client went away (the listener failed to write, or clientGone)
   */
  static Result run(ServedModel model, ServerMetrics metrics, String requestId, Prompt prompt, SamplingParams params,
      int priority, long timeoutNanos, BooleanSupplier clientGone, Listener listener) {
    long t0 = System.nanoTime();
    ServedModel.Stats st = model.stats;
    st.pending.incrementAndGet();
    RequestStream stream;
    try {
      stream = model.engine().submit(requestId, prompt, params, priority);
    } catch (IllegalArgumentException e) {
      st.pending.decrementAndGet();
      fail(st, t0);
      String msg = e.getMessage() == null ? "invalid request" : e.getMessage();
      throw new ApiException(400, msg, msg.split(" ", 2)[0]);
    } catch (EngineOverloadedException e) {
      st.pending.decrementAndGet();
      fail(st, t0);
      throw new ApiException(503, e.getMessage());
    } catch (IllegalStateException e) {
      st.pending.decrementAndGet();
      fail(st, t0);
      throw new ApiException(503, "model '" + model.name() + "' is not accepting requests: " + e.getMessage());
    }
    Result r = new Result(requestId, params.n());
    // Inter-token latency, as vLLM measures it: per sequence, the time between consecutive
    // messages that carry new tokens (one engine step each), taken as each message arrives.
    long[] lastTokenAt = new long[params.n()];
    java.util.Arrays.fill(lastTokenAt, Long.MIN_VALUE);
    DistributionDataPoint itl = metrics.interTokenLatency(model);
    boolean watching = clientGone != null && clientGone != ConnectionWatch.OFF;
    boolean ok = false;
    try {
      boolean timed = timeoutNanos > 0;
      long deadline = t0 + timeoutNanos;
      while (true) {
        RequestOutput out;
        if (!timed && !watching) {
          out = stream.next();
        } else {
          long wait = timed ? deadline - System.nanoTime() : ConnectionWatch.POLL_NANOS;
          if (watching) wait = Math.min(wait, ConnectionWatch.POLL_NANOS);
          out = wait <= 0 ? null : stream.poll(wait, TimeUnit.NANOSECONDS);
          if (out == null) {
            if (watching && clientGone.getAsBoolean()) {
              stream.cancel();
              throw new ClientGone(null);
            }
            if (!timed || deadline - System.nanoTime() > 0) continue;
            stream.cancel();
            throw new ApiException(504, "request timed out after " + timeoutNanos / 1_000_000 + " ms");
          }
        }
        if (out == null) break;
        long now = System.nanoTime();
        if (out.promptTokenIds() != null) r.promptTokenIds = out.promptTokenIds();
        for (CompletionDelta d : out.deltas()) {
          if (d.index() < 0 || d.index() >= r.sequences.length) continue;
          Sequence s = r.sequences[d.index()];
          if (d.newText() != null) s.text.append(d.newText());
          if (d.newTokenIds() != null && d.newTokenIds().length > 0) {
            for (int id : d.newTokenIds()) s.tokenIds.add(id);
            if (lastTokenAt[d.index()] != Long.MIN_VALUE) itl.observe(Math.max(0, now - lastTokenAt[d.index()]) / 1e9);
            lastTokenAt[d.index()] = now;
          }
          if (d.logprobs() != null) s.logprobs.addAll(d.logprobs());
          if (d.finishReason() != null) {
            s.finishReason = d.finishReason();
            s.stopReason = d.stopReason();
          }
        }
        if (out.finished()) r.metrics = out.metrics();
        if (listener != null) {
          try {
            listener.onOutput(out, r);
          } catch (IOException | UncheckedIOException e) {
            stream.cancel();
            throw new ClientGone(e);
          }
        }
        if (out.finished()) break;
        if (watching && clientGone.getAsBoolean()) {
          stream.cancel();
          throw new ClientGone(null);
        }
      }
      ok = true;
      return r;
    } catch (InterruptedException e) {
      stream.cancel();
      Thread.currentThread().interrupt();
      throw new ClientGone(e);
    } catch (EngineException e) {
      throw new ApiException(500, "engine failed the request: " + e.getMessage());
    } catch (RuntimeException e) {
      stream.cancel();
      throw e;
    } finally {
      st.pending.decrementAndGet();
      if (ok) {
        long now = System.nanoTime();
        st.successCount.increment();
        st.successNs.add(now - t0);
        st.inferenceCount.increment();
        st.executionCount.increment();
        RequestMetrics m = r.metrics;
        if (m != null && m.firstScheduledNanos() > 0 && m.arrivalNanos() > 0) {
          st.queueNs.add(Math.max(0, m.firstScheduledNanos() - m.arrivalNanos()));
          st.computeNs.add(Math.max(0, (m.finishedNanos() > 0 ? m.finishedNanos() : now) - m.firstScheduledNanos()));
        }
        st.lastInferenceMs.set(System.currentTimeMillis());
        metrics.observe(model, m);
      } else {
        fail(st, t0);
      }
    }
  }

  private static void fail(ServedModel.Stats st, long t0) {
    st.failCount.increment();
    st.failNs.add(System.nanoTime() - t0);
  }
}
