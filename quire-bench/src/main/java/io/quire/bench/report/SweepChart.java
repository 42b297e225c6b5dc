package io.quire.bench.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;

/**
 * A sweep as a PNG: throughput against load on the left, p50/p99 latencies on the right. Load
 * values sit evenly spaced (sweeps are usually geometric: 1, 2, 4, 8) and are labelled as given.
 */
public final class SweepChart {
  /** One curve: its legend name, colour and a value per load point (NaN: no point). */
  public record Series(String name, Color color, double[] values) {}

  /** One panel: a title, a y-axis label and its curves. */
  public record Panel(String title, String yLabel, List<Series> series) {}

  public static final Color BLUE = new Color(31, 119, 180);
  public static final Color ORANGE = new Color(255, 127, 14);
  public static final Color GREEN = new Color(44, 160, 44);
  public static final Color RED = new Color(214, 39, 40);
  public static final Color PURPLE = new Color(148, 103, 189);

  static final int PANEL_W = 600, H = 480, TOP = 72, BOTTOM = 70, LEFT = 80, RIGHT = 30;

  private SweepChart() {}

  /** {@code subtitle} (the workload) is set smaller under the title, cut to the image width. */
  public static void write(Path png, String title, String subtitle, String xLabel, String[] xTicks, List<Panel> panels) throws IOException {
    System.setProperty("java.awt.headless", "true");
    BufferedImage img = new BufferedImage(PANEL_W * panels.size(), H, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, img.getWidth(), H);
    g.setColor(Color.BLACK);
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
    center(g, title, img.getWidth() / 2, 20);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    String sub = subtitle;
    while (g.getFontMetrics().stringWidth(sub) > img.getWidth() - 20 && sub.length() > 4) sub = sub.substring(0, sub.length() - 4) + "...";
    center(g, sub, img.getWidth() / 2, 38);
    for (int i = 0; i < panels.size(); i++) drawPanel(g, panels.get(i), i * PANEL_W, xLabel, xTicks);
    g.dispose();
    if (png.toAbsolutePath().getParent() != null) java.nio.file.Files.createDirectories(png.toAbsolutePath().getParent());
    ImageIO.write(img, "png", png.toFile());
  }

  private static void drawPanel(Graphics2D g, Panel p, int x0, String xLabel, String[] xTicks) {
    int left = x0 + LEFT, right = x0 + PANEL_W - RIGHT, top = TOP, bottom = H - BOTTOM;
    double max = 0;
    for (Series s : p.series()) for (double v : s.values()) if (Double.isFinite(v)) max = Math.max(max, v);
    double step = niceStep(max > 0 ? max : 1);
    double yMax = Math.ceil((max > 0 ? max : 1) * 1.05 / step) * step;
    int n = xTicks.length;
    java.util.function.IntUnaryOperator xAt = i -> n == 1 ? (left + right) / 2 : left + 20 + i * (right - left - 40) / (n - 1);
    java.util.function.DoubleToIntFunction yAt = v -> (int) Math.round(bottom - v / yMax * (bottom - top));

    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
    g.setColor(Color.BLACK);
    center(g, p.title(), (left + right) / 2, top - 14);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    FontMetrics fm = g.getFontMetrics();
    for (double v = 0; v <= yMax + step / 2; v += step) {
      int y = yAt.applyAsInt(v);
      g.setColor(new Color(225, 225, 225));
      g.drawLine(left, y, right, y);
      g.setColor(Color.DARK_GRAY);
      String s = label(v);
      g.drawString(s, left - 6 - fm.stringWidth(s), y + fm.getAscent() / 2 - 1);
    }
    for (int i = 0; i < n; i++) center(g, xTicks[i], xAt.applyAsInt(i), bottom + 18);
    g.setColor(Color.BLACK);
    g.drawRect(left, top, right - left, bottom - top);
    center(g, xLabel, (left + right) / 2, bottom + 42);
    var old = g.getTransform();
    g.rotate(-Math.PI / 2);
    center(g, p.yLabel(), -(top + bottom) / 2, x0 + 18);
    g.setTransform(old);

    int ly = top + 16;
    for (Series s : p.series()) {
      g.setColor(s.color());
      g.setStroke(new BasicStroke(3f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
      int px = -1, py = -1;
      for (int i = 0; i < n; i++) {
        double v = s.values()[i];
        if (!Double.isFinite(v)) {
          px = -1;
          continue;
        }
        int x = xAt.applyAsInt(i), y = yAt.applyAsInt(v);
        if (px >= 0) g.drawLine(px, py, x, y);
        g.fillOval(x - 5, y - 5, 10, 10);
        px = x;
        py = y;
      }
      // Legend, top left inside the plot.
      g.drawLine(left + 10, ly - 4, left + 34, ly - 4);
      g.setColor(Color.BLACK);
      g.drawString(s.name(), left + 40, ly);
      ly += 18;
    }
    g.setStroke(new BasicStroke(1f));
  }

  static double niceStep(double max) {
    double raw = max / 5, mag = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  }

  private static String label(double v) {
    if (v == Math.rint(v) && Math.abs(v) < 1e9) return Long.toString((long) v);
    return String.format("%.2g", v);
  }

  private static void center(Graphics2D g, String s, int x, int y) {
    g.drawString(s, x - g.getFontMetrics().stringWidth(s) / 2, y);
  }
}
