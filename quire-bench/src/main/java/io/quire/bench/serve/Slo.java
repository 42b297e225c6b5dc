package io.quire.bench.serve;

/**
 * Service-level objectives for goodput ({@code ttft_ms=500,tpot_ms=50,e2el_ms=2000}); null: no bound.
 */
public record Slo(Double ttftMs, Double tpotMs, Double e2elMs) {
  public static Slo parse(String s) {
    Double ttft = null, tpot = null, e2el = null;
    for (String part : s.split(",")) {
      String[] kv = part.trim().split("=");
      if (kv.length != 2) throw new IllegalArgumentException("--slo takes KEY=MS pairs (ttft_ms, tpot_ms, e2el_ms), got '" + part + "'");
      double v;
      try {
        v = Double.parseDouble(kv[1].trim());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("--slo " + kv[0] + " must be a number of milliseconds, got '" + kv[1] + "'");
      }
      if (!(v > 0)) throw new IllegalArgumentException("--slo " + kv[0] + " must be > 0, got " + v);
      switch (kv[0].trim()) {
        case "ttft_ms" -> ttft = v;
        case "tpot_ms" -> tpot = v;
        case "e2el_ms" -> e2el = v;
        default -> throw new IllegalArgumentException("--slo keys are ttft_ms, tpot_ms and e2el_ms, got '" + kv[0] + "'");
      }
    }
    return new Slo(ttft, tpot, e2el);
  }

  public boolean met(RequestResult r) {
    return r.ok() && (ttftMs == null || r.ttftMs() <= ttftMs) && (tpotMs == null || r.tpotMs() <= tpotMs)
        && (e2elMs == null || r.e2eNanos() / 1e6 <= e2elMs);
  }
}
