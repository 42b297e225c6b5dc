package io.quire.cli;

/** Turns an exception into the one line a user needs. */
final class Errors {
  private Errors() {}

  static String oneLine(Throwable ex) {
    Throwable t = ex;
    while ((t.getMessage() == null || t.getMessage().isBlank()) && t.getCause() != null) t = t.getCause();
    String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    return m.lines().findFirst().orElse(m);
  }
}
