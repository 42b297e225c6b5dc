package io.quire.backend.cuda;

import io.quire.spi.BatchMetadata;
import io.quire.spi.DeviceBatch;

/**
 * One step's batch arrays, uploaded in one copy into the backend's batch buffer (int32 each, at the
 * offsets below). Valid until the next {@code prepare}: the backend keeps one buffer and checks the
 * generation.
 */
final class CudaDeviceBatch implements DeviceBatch {
  final CudaBackend owner;
  final BatchMetadata meta;
  final long generation;
  final long inputIds, positions, queryStart, seqLens, slotMapping, blockTables, logitsIndices, tokenRequest;
  final int maxBlocks;
  /** The kv cache whose bounds the slot mapping and block tables were last checked against. */
  CudaKvCache checkedAgainst;

  CudaDeviceBatch(CudaBackend owner, BatchMetadata meta, long generation, long base, int[] offsets, int maxBlocks) {
    this.owner = owner;
    this.meta = meta;
    this.generation = generation;
    this.inputIds = base + 4L * offsets[0];
    this.positions = base + 4L * offsets[1];
    this.queryStart = base + 4L * offsets[2];
    this.seqLens = base + 4L * offsets[3];
    this.slotMapping = base + 4L * offsets[4];
    this.blockTables = base + 4L * offsets[5];
    this.logitsIndices = base + 4L * offsets[6];
    this.tokenRequest = base + 4L * offsets[7];
    this.maxBlocks = maxBlocks;
  }

  @Override
  public BatchMetadata metadata() {
    return meta;
  }
}
