package io.quire.jinja;

/**
 * jinja2's default Undefined: renders as "", is falsy, iterates as empty, and fails on any other
 * use (arithmetic, attribute access, calls) with the reason it was created.
 */
record Undefined(String reason) {

  static Undefined name(String name) {
    return new Undefined("'" + name + "' is undefined");
  }

  static Undefined attribute(Object target, Object attr) {
    return new Undefined("'" + Python.typeName(target) + " object' has no attribute " + Python.repr(attr));
  }

  TemplateException fail() {
    return new TemplateException(reason);
  }

  @Override
  public String toString() {
    return "";
  }
}
