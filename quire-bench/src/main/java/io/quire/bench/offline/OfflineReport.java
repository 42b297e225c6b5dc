package io.quire.bench.offline;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * An offline run: throughput and the KV cache figures.
 *
 * @param prefixCacheHitRate hit tokens over queried tokens during the run; NaN when none were queried
 * @param steps engine steps during the run
 * @param stepS the engine thread's time in those steps
 * @param hostS of that, outside the forward pass and sampling (scheduling, batch building, outputs): time
 *     in which the device waits for the next step, except under async scheduling (CUDA), where this work
 *     runs while the device computes the next step
 */
public record OfflineReport(int requests, double durationS, long totalInputTokens, long totalOutputTokens,
    int peakKvBlocksUsed, int kvBlocksTotal, long preemptions, double prefixCacheHitRate, long steps, double stepS,
    double hostS) {

  public double requestThroughput() {
    return requests / durationS;
  }

  public double inputThroughput() {
    return totalInputTokens / durationS;
  }

  public double outputThroughput() {
    return totalOutputTokens / durationS;
  }

  public ObjectNode toJson() {
    ObjectNode o = new ObjectMapper().createObjectNode();
    o.put("requests", requests).put("duration_s", durationS).put("total_input_tokens", totalInputTokens)
        .put("total_output_tokens", totalOutputTokens).put("request_throughput", requestThroughput())
        .put("input_throughput", inputThroughput()).put("output_throughput", outputThroughput())
        .put("total_token_throughput", (totalInputTokens + totalOutputTokens) / durationS)
        .put("peak_kv_blocks_used", peakKvBlocksUsed).put("kv_blocks_total", kvBlocksTotal).put("preemptions", preemptions)
        .put("engine_steps", steps).put("engine_step_s", stepS).put("engine_host_s", hostS);
    if (Double.isNaN(prefixCacheHitRate)) o.putNull("prefix_cache_hit_rate");
    else o.put("prefix_cache_hit_rate", prefixCacheHitRate);
    return o;
  }

  public String format() {
    StringBuilder b = new StringBuilder("============ Offline Throughput ============\n");
    row(b, "Requests:", requests);
    row(b, "Duration (s):", String.format("%.2f", durationS));
    row(b, "Total input tokens:", totalInputTokens);
    row(b, "Total generated tokens:", totalOutputTokens);
    row(b, "Request throughput (req/s):", String.format("%.2f", requestThroughput()));
    row(b, "Input token throughput (tok/s):", String.format("%.2f", inputThroughput()));
    row(b, "Output token throughput (tok/s):", String.format("%.2f", outputThroughput()));
    row(b, "Peak KV blocks in use:", peakKvBlocksUsed + " of " + kvBlocksTotal);
    row(b, "Preemptions:", preemptions);
    row(b, "Prefix cache hit rate:", Double.isNaN(prefixCacheHitRate) ? "n/a" : String.format("%.1f%%", 100 * prefixCacheHitRate));
    row(b, "Engine steps:", steps);
    row(b, "Step time outside forward+sampling:", String.format("%.2f s of %.2f s (%.1f%%)", hostS, stepS,
        stepS > 0 ? 100 * hostS / stepS : 0.0));
    b.append("=".repeat(44)).append('\n');
    return b.toString();
  }

  private static void row(StringBuilder b, String k, Object v) {
    b.append(String.format("%-40s %s%n", k, v));
  }
}
