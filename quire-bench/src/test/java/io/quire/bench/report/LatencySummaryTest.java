package io.quire.bench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LatencySummaryTest {
  @Test
  void percentilesInterpolateBetweenClosestRanksAsNumpyDoes() {
    double[] v = new double[100];
    for (int i = 0; i < 100; i++) v[99 - i] = i + 1; // 1..100, given unsorted
    LatencySummary s = LatencySummary.of(v);
    // numpy.percentile(range(1, 101), [50, 90, 99]) == [50.5, 90.1, 99.01]
    assertEquals(50.5, s.p50(), 1e-9);
    assertEquals(90.1, s.p90(), 1e-9);
    assertEquals(99.01, s.p99(), 1e-9);
    assertEquals(50.5, s.mean(), 1e-9);
    assertEquals(100, s.count());
  }

  @Test
  void smallSamplesAndEdges() {
    LatencySummary s = LatencySummary.of(new double[] {10, 20, 30, 1000});
    assertEquals(25, s.p50(), 1e-9); // rank 1.5
    assertEquals(30 + (1000 - 30) * 0.7, s.p90(), 1e-9); // rank 2.7
    assertEquals(30 + (1000 - 30) * 0.97, s.p99(), 1e-9); // rank 2.97
    assertEquals(265, s.mean(), 1e-9);
    LatencySummary one = LatencySummary.of(new double[] {7});
    assertEquals(7, one.p50());
    assertEquals(7, one.p99());
    assertTrue(Double.isNaN(LatencySummary.of(new double[0]).p50()), "no samples: undefined, not 0");
  }
}
