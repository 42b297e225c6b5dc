package io.quire.backend.cuda;

import io.quire.spi.DType;
import io.quire.spi.SampledRows;
import io.quire.spi.SamplingBatch;
import io.quire.spi.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * What {@link CudaSamplingCheck} needs of a device: exact fp32 logits in, the sampler with its check
 * switches, the logits and kept-token masks back. {@link Cuda} is the real one; {@link
 * SampleKernelEmulator} runs the same check on a machine without a GPU.
 */
interface SamplingDevice extends AutoCloseable {
  /** Logits on the device: {@code rows} rows of vocab floats. */
  interface Logits extends AutoCloseable {
    @Override
    void close();
  }

  String name();

  /** Uploads {@code rows} (each vocab floats) exactly; a row may repeat {@code copies} times. */
  Logits upload(float[][] rows, int copies, int vocab);

  /** Samples the first batch.numRows() rows; keptMask (rows x vocab, or null) gets 1 for each token a row could draw. */
  void sample(Logits logits, SamplingBatch batch, SampledRows out, boolean noSort, byte[] keptMask);

  /** The logits now on the device (after sampling: with masks and penalties written in). */
  float[] download(Logits logits);

  int[] argmax(Logits logits);

  @Override
  void close();

  /** The CUDA backend. Exact uploads and mask downloads use the driver on the default stream after a synchronize. */
  final class Cuda implements SamplingDevice {
    final CudaBackend gpu = new CudaBackend();
    private final CudaDriver cu = CudaDriver.get();

    record DeviceLogits(Tensor t, int rows, int vocab) implements Logits {
      @Override
      public void close() {
        t.close();
      }
    }

    @Override
    public String name() {
      return gpu.deviceName();
    }

    @Override
    public Logits upload(float[][] rows, int copies, int vocab) {
      int n = rows.length * copies;
      Tensor t = gpu.allocate(DType.F32, n, vocab);
      gpu.synchronize();
      long ptr = ((CudaTensor) t).ptr();
      try (Arena a = Arena.ofConfined()) {
        MemorySegment s = a.allocate(4L * vocab, 64);
        for (int c = 0; c < copies; c++) {
          for (int r = 0; r < rows.length; r++) {
            MemorySegment.copy(rows[r], 0, s, ValueLayout.JAVA_FLOAT, 0, vocab);
            cu.memcpyHtoDAsync(ptr + 4L * vocab * (c * rows.length + r), s, 4L * vocab, MemorySegment.NULL);
          }
        }
        cu.streamSynchronize(MemorySegment.NULL);
      }
      return new DeviceLogits(t, n, vocab);
    }

    @Override
    public void sample(Logits logits, SamplingBatch batch, SampledRows out, boolean noSort, byte[] keptMask) {
      DeviceLogits l = (DeviceLogits) logits;
      long mask = 0;
      if (keptMask != null) {
        gpu.synchronize();
        mask = cu.memAlloc(Math.max(1, (long) batch.numRows() * l.vocab()));
      }
      try {
        gpu.sample(l.t(), batch, out, noSort, mask);
        if (keptMask != null) {
          gpu.synchronize();
          try (Arena a = Arena.ofConfined()) {
            long bytes = (long) batch.numRows() * l.vocab();
            MemorySegment s = a.allocate(bytes);
            cu.memcpyDtoHAsync(s, mask, bytes, MemorySegment.NULL);
            cu.streamSynchronize(MemorySegment.NULL);
            MemorySegment.copy(s, ValueLayout.JAVA_BYTE, 0, keptMask, 0, (int) bytes);
          }
        }
      } finally {
        if (mask != 0) cu.memFree(mask);
      }
    }

    @Override
    public float[] download(Logits logits) {
      DeviceLogits l = (DeviceLogits) logits;
      float[] host = new float[l.rows() * l.vocab()];
      gpu.copyToHost(l.t(), host);
      return host;
    }

    @Override
    public int[] argmax(Logits logits) {
      DeviceLogits l = (DeviceLogits) logits;
      int[] ids = new int[l.rows()];
      gpu.argmax(l.t(), ids);
      return ids;
    }

    @Override
    public void close() {
      gpu.close();
    }
  }
}
