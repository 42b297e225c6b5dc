package io.quire.bench.report;

import java.io.PrintStream;

/** A one-line progress bar on stderr, drawn only when stderr is a terminal. */
public final class ProgressBar implements AutoCloseable {
  private final PrintStream err;
  private final String label;
  private final int total;
  private final boolean enabled;
  private int done;
  private long lastDraw;

  public ProgressBar(String label, int total) {
    this(label, total, System.err, System.console() != null && System.console().isTerminal());
  }

  ProgressBar(String label, int total, PrintStream err, boolean enabled) {
    this.label = label;
    this.total = total;
    this.err = err;
    this.enabled = enabled;
  }

  /** One more request finished. Thread-safe; redraws at most ten times a second. */
  public synchronized void step() {
    done++;
    long now = System.nanoTime();
    if (enabled && (done == total || now - lastDraw > 100_000_000L)) {
      lastDraw = now;
      int width = 30, filled = total == 0 ? width : done * width / total;
      err.print("\r" + label + " [" + "#".repeat(filled) + ".".repeat(width - filled) + "] " + done + "/" + total);
      err.flush();
    }
  }

  @Override
  public synchronized void close() {
    if (enabled) {
      err.print("\r" + " ".repeat(label.length() + 50) + "\r");
      err.flush();
    }
  }
}
