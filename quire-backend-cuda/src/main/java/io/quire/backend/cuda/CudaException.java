package io.quire.backend.cuda;

/** A failed CUDA, NVRTC or cuBLAS call: the message names the function and the error. */
public final class CudaException extends RuntimeException {
  public CudaException(String message) {
    super(message);
  }

  public CudaException(String message, Throwable cause) {
    super(message, cause);
  }
}
