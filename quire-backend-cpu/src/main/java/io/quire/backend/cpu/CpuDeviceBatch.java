package io.quire.backend.cpu;

import io.quire.spi.BatchMetadata;
import io.quire.spi.DeviceBatch;

/** On the CPU the host arrays are the device arrays; preparing a batch only validates it. */
record CpuDeviceBatch(BatchMetadata metadata) implements DeviceBatch {
  CpuDeviceBatch {
    int t = metadata.numTokens();
    int s = metadata.numRequests();
    check(metadata.positions().length == t, "positions", metadata.positions().length, t);
    check(metadata.slotMapping().length == t, "slotMapping", metadata.slotMapping().length, t);
    check(metadata.queryStartLoc().length == s + 1, "queryStartLoc", metadata.queryStartLoc().length, s + 1);
    check(metadata.blockTables().length == s, "blockTables", metadata.blockTables().length, s);
    if (metadata.blockSize() <= 0) {
      throw new IllegalArgumentException("blockSize must be > 0, got " + metadata.blockSize());
    }
    int[] qsl = metadata.queryStartLoc();
    if (qsl[0] != 0 || qsl[s] != t) {
      throw new IllegalArgumentException(
          "queryStartLoc must run from 0 to numTokens " + t + ", got " + qsl[0] + ".." + qsl[s]);
    }
    for (int i = 0; i < s; i++) {
      int nq = qsl[i + 1] - qsl[i];
      if (nq < 0 || nq > metadata.seqLens()[i]) {
        throw new IllegalArgumentException(
            "request " + i + ": " + nq + " query tokens but seqLen " + metadata.seqLens()[i]);
      }
      long needBlocks = ((long) metadata.seqLens()[i] + metadata.blockSize() - 1) / metadata.blockSize();
      if (nq > 0 && metadata.blockTables()[i].length < needBlocks) {
        throw new IllegalArgumentException(
            "request " + i + ": block table has " + metadata.blockTables()[i].length
                + " blocks, seqLen " + metadata.seqLens()[i] + " needs " + needBlocks);
      }
    }
  }

  private static void check(boolean ok, String field, int got, int want) {
    if (!ok) {
      throw new IllegalArgumentException(field + " has length " + got + ", expected " + want);
    }
  }
}
