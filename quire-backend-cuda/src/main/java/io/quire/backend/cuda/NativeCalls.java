package io.quire.backend.cuda;

/**
 * Runs a downcall handle invocation, turning the Throwable that {@code invokeExact} declares into a
 * {@link CudaException} (runtime exceptions and errors pass through). Status codes are checked by
 * the caller, which knows the function's name.
 */
final class NativeCalls {
  private NativeCalls() {}

  @FunctionalInterface
  interface IntCall {
    int run() throws Throwable;
  }

  @FunctionalInterface
  interface ObjectCall {
    Object run() throws Throwable;
  }

  static int callInt(IntCall c) {
    try {
      return c.run();
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new CudaException("native call failed: " + t, t);
    }
  }

  static Object callObject(ObjectCall c) {
    try {
      return c.run();
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new CudaException("native call failed: " + t, t);
    }
  }
}
