package io.quire.engine;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The output stream of one submitted request. The engine thread writes; one consumer (an HTTP
 * handler on a virtual thread) reads. Ends with a message whose {@code finished} is true, or with
 * an {@link EngineException} if the engine failed the request.
 */
public final class RequestStream {
  private static final Object END = new Object();
  private final String requestId;
  private final LinkedBlockingQueue<Object> queue = new LinkedBlockingQueue<>();
  private final Engine engine;
  private volatile boolean done;

  RequestStream(String requestId, Engine engine) {
    this.requestId = requestId;
    this.engine = engine;
  }

  public String requestId() {
    return requestId;
  }

  void put(RequestOutput o) {
    queue.add(o);
  }

  void fail(RuntimeException e) {
    queue.add(e);
  }

  /** The next message, blocking; null once the finished message has been returned. */
  public RequestOutput next() throws InterruptedException {
    if (done) return null;
    return unwrap(queue.take());
  }

  /** The next message, waiting at most {@code timeout}; null on timeout or after the end. */
  public RequestOutput poll(long timeout, TimeUnit unit) throws InterruptedException {
    if (done) return null;
    Object o = queue.poll(timeout, unit);
    return o == null ? null : unwrap(o);
  }

  private RequestOutput unwrap(Object o) {
    if (o instanceof RuntimeException e) {
      done = true;
      throw e;
    }
    RequestOutput r = (RequestOutput) o;
    if (r.finished()) done = true;
    return r;
  }

  /** Aborts the request (a client disconnect); its KV blocks are freed at the next step. */
  public void cancel() {
    if (!done) engine.abort(requestId);
  }

  public boolean isDone() {
    return done;
  }
}
