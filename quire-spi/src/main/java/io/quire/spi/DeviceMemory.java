package io.quire.spi;

/**
 * A backend's device memory at one moment: what the device reports (CUDA's {@code cuMemGetInfo}) and
 * what the backend itself holds. The engine sizes the KV pool from it (vLLM's gpu_memory_utilization).
 *
 * @param totalBytes the device's memory
 * @param freeBytes free on the device now; the rest is used by this process (context, weights,
 *     activations, library workspaces) and by any other process on the device
 * @param allocatedBytes what this backend's own allocations hold now
 * @param peakAllocatedBytes the most this backend's own allocations held since the last
 *     {@link Backend#resetPeakMemory()}
 */
public record DeviceMemory(long totalBytes, long freeBytes, long allocatedBytes, long peakAllocatedBytes) {
  public DeviceMemory {
    if (totalBytes < 0 || freeBytes < 0 || freeBytes > totalBytes) {
      throw new IllegalArgumentException("device memory: free " + freeBytes + " of total " + totalBytes + " bytes");
    }
    if (allocatedBytes < 0 || peakAllocatedBytes < allocatedBytes) {
      throw new IllegalArgumentException(
          "device memory: allocated " + allocatedBytes + " bytes, peak " + peakAllocatedBytes + " (must be >= allocated)");
    }
  }

  /** Bytes in use on the device by every context of every process: total minus free. */
  public long usedBytes() {
    return totalBytes - freeBytes;
  }
}
