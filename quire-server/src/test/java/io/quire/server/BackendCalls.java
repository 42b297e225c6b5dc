package io.quire.server;

import io.quire.spi.Backend;
import io.quire.spi.BackendProvider;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.function.Consumer;

/** A real backend provider whose backends report each method call (by name) before running it. */
final class BackendCalls {
  private BackendCalls() {}

  static BackendProvider around(BackendProvider p, Consumer<String> beforeCall) {
    return around(p, beforeCall, null, null);
  }

  /** As {@link #around(BackendProvider, Consumer)}, but method {@code method} answers {@code answer} instead. */
  static BackendProvider answering(BackendProvider p, String method, Object answer) {
    return around(p, name -> {}, method, answer);
  }

  private static BackendProvider around(BackendProvider p, Consumer<String> beforeCall, String method, Object answer) {
    return new BackendProvider() {
      @Override
      public String name() {
        return p.name();
      }

      @Override
      public boolean available() {
        return p.available();
      }

      @Override
      public String unavailableReason() {
        return p.unavailableReason();
      }

      @Override
      public Backend create() {
        Backend b = p.create();
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
            (proxy, m, args) -> {
              beforeCall.accept(m.getName());
              if (m.getName().equals(method)) return answer;
              try {
                return m.invoke(b, args);
              } catch (InvocationTargetException ex) {
                throw ex.getCause();
              }
            });
      }
    };
  }
}
