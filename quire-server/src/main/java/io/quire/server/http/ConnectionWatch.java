package io.quire.server.http;

import io.helidon.http.HttpPrologue;
import io.helidon.webserver.ConnectionContext;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http1.Http1ConnectionListener;
import io.helidon.common.buffers.DataReader;
import io.helidon.common.socket.HelidonSocket;
import io.helidon.webserver.ServerConnectionException;
import java.io.UncheckedIOException;
import java.lang.reflect.Field;
import java.nio.channels.SocketChannel;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Notices that a client closed its connection while its request runs, so that a non-streaming
 * request (which writes nothing until the end) is aborted as a streaming one is.
 *
 * <p>Helidon SE 4.5 has no "connection closed" callback for a request handler: the connection's
 * virtual thread runs the handler and nobody reads the socket meanwhile ({@code
 * HelidonSocket.idle()}/{@code isConnected()} is its client pool's monitor; on the server's
 * {@code NioSocket} it does nothing and {@code isConnected()} only says the channel is open here).
 * So the watch looks itself: once the request body has been read, an HTTP/1.1 client sends nothing
 * until its response (or a pipelined request), so end of stream means the client went away. Every
 * {@link #POLL_NANOS} at most, {@link Watch#gone()} switches the socket channel to non-blocking for
 * one {@code DataReader.pullData()} (public API): no bytes is "still there"; end of stream or a reset
 * is "gone"; bytes (a pipelined request) land in the connection's own reader, where Helidon reads
 * them next, so nothing is lost.
 *
 * <p>Two pieces are not public API: the handler gets its {@link ConnectionContext} from an HTTP/1
 * receive listener ({@link #listener()}, public) through a thread local (the connection's thread
 * runs the listener and then the handler, and the socket ids are checked), and the socket channel
 * is read from {@code NioSocket}'s private field by reflection. Where that fails (another Helidon
 * version, TLS, a module path without access) the watch is off and a non-streaming request runs to
 * its end or its timeout; streaming requests notice a disconnect at their next write either way. A
 * client that half-closes its side after sending (shutdown of output) looks gone, as with uvicorn.
 */
final class ConnectionWatch {
  private static final Logger LOG = Logger.getLogger(ConnectionWatch.class.getName());
  private static final ThreadLocal<ConnectionContext> CURRENT = new ThreadLocal<>();
  /** Never gone: no watch. */
  static final BooleanSupplier OFF = () -> false;
  /** The longest a request goes without looking at its connection, when asked often. */
  static final long POLL_NANOS = 20_000_000L;
  private static final Field CHANNEL = channelField();

  private ConnectionWatch() {}

  private static Field channelField() {
    try {
      Field f = Class.forName("io.helidon.common.socket.NioSocket").getDeclaredField("delegate");
      f.setAccessible(true);
      if (!SocketChannel.class.isAssignableFrom(f.getType())) throw new NoSuchFieldException("delegate is " + f.getType());
      return f;
    } catch (ReflectiveOperationException | RuntimeException e) {
      LOG.log(Level.INFO, "disconnect detection for non-streaming requests is off: " + e);
      return null;
    }
  }

  /** The receive listener that makes each connection's context visible to its handler. */
  static Http1ConnectionListener listener() {
    return new Http1ConnectionListener() {
      @Override
      public void prologue(ConnectionContext ctx, HttpPrologue prologue) {
        CURRENT.set(ctx);
      }
    };
  }

  /**
   * Watches the connection of {@code req}, whose body must have been read already. The result says,
   * from any thread, whether the client has gone; call it only while this request's handler runs.
   */
  static BooleanSupplier start(ServerRequest req) {
    ConnectionContext ctx = CURRENT.get();
    if (ctx == null || CHANNEL == null || !ctx.childSocketId().equals(req.socketId())
        || !ctx.socketId().equals(req.serverSocketId())) {
      return OFF;
    }
    try {
      HelidonSocket hs = ctx.serverSocket();
      if (hs.getClass() != CHANNEL.getDeclaringClass()) return OFF; // TLS or another kind: not watched
      return new Watch((SocketChannel) CHANNEL.get(hs), ctx.dataReader());
    } catch (ReflectiveOperationException | RuntimeException e) {
      LOG.log(Level.FINE, "no disconnect watch for this request", e);
      return OFF;
    }
  }

  private static final class Watch implements BooleanSupplier {
    private final SocketChannel channel;
    private final DataReader reader;
    private long lastLook = System.nanoTime();
    private boolean gone;

    Watch(SocketChannel channel, DataReader reader) {
      this.channel = channel;
      this.reader = reader;
    }

    @Override
    public synchronized boolean getAsBoolean() {
      if (gone) return true;
      long now = System.nanoTime();
      if (now - lastLook < POLL_NANOS) return false;
      lastLook = now;
      try {
        channel.configureBlocking(false);
        try {
          reader.pullData();
        } finally {
          channel.configureBlocking(true);
        }
      } catch (DataReader.InsufficientDataAvailableException | UncheckedIOException | ServerConnectionException
          | java.io.IOException e) {
        gone = true; // end of stream, reset, or closed
      } catch (IllegalStateException e) {
        // "Read 0 bytes": nothing arrived; the client is still there
      } catch (RuntimeException e) {
        LOG.log(Level.FINE, "disconnect watch", e);
      }
      return gone;
    }
  }
}
