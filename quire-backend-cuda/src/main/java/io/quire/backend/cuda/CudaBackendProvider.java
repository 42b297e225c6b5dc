package io.quire.backend.cuda;

import io.quire.spi.Backend;
import io.quire.spi.BackendProvider;

/**
 * The CUDA backend, available where libcuda.so.1 loads, a device is present, and NVRTC and cuBLAS
 * (libnvrtc.so.13, libcublas.so.13) are on the loader path or under CUDA_HOME.
 */
public final class CudaBackendProvider implements BackendProvider {
  private volatile String reason;

  @Override
  public String name() {
    return "cuda";
  }

  @Override
  public boolean available() {
    return unavailableReason().isEmpty();
  }

  @Override
  public String unavailableReason() {
    String r = reason;
    if (r == null) {
      r = probe();
      reason = r;
    }
    return r;
  }

  private static String probe() {
    try {
      CudaDriver cu = CudaDriver.get();
      if (cu.deviceCount() == 0) return "no CUDA device found";
      Nvrtc.get();
      Cublas.library();
      return "";
    } catch (CudaException | UnsatisfiedLinkError | IllegalCallerException e) {
      return e.getMessage();
    }
  }

  @Override
  public Backend create() {
    String r = unavailableReason();
    if (!r.isEmpty()) throw new CudaException("cuda backend unavailable: " + r);
    return new CudaBackend();
  }
}
