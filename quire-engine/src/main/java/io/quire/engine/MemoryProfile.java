package io.quire.engine;

/**
 * Device memory measured around the profiling step (bytes), the input of {@link KvCacheSizing}.
 *
 * @param totalBytes the device's memory
 * @param baselineBytes in use before the weights were loaded: the CUDA context, library handles, and
 *     whatever other processes or engines hold on the device
 * @param weightBytes the model's weights as the backend holds them
 * @param peakBytes in use at the peak of the profiling step: everything but this engine's KV pool
 */
public record MemoryProfile(long totalBytes, long baselineBytes, long weightBytes, long peakBytes) {
  public MemoryProfile {
    if (totalBytes <= 0 || baselineBytes < 0 || weightBytes < 0 || peakBytes < 0) {
      throw new IllegalArgumentException("memory profile: total " + totalBytes + ", baseline " + baselineBytes
          + ", weights " + weightBytes + ", peak " + peakBytes + " bytes");
    }
  }

  /** What the step added beyond the baseline and the weights: activations, workspaces, batch buffers. */
  public long activationBytes() {
    return Math.max(0, peakBytes - baselineBytes - weightBytes);
  }
}
