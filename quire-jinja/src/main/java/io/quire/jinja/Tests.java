package io.quire.jinja;

import java.util.List;
import java.util.Map;

/** jinja2's builtin tests ({@code x is defined}, {@code x is string}, ...). */
final class Tests {
  private Tests() {}

  static boolean apply(String name, Object v, Args a) {
    return switch (name) {
      case "defined" -> !(v instanceof Undefined);
      case "undefined" -> v instanceof Undefined;
      case "none" -> v == null;
      case "boolean" -> v instanceof Boolean;
      case "true" -> Boolean.TRUE.equals(v);
      case "false" -> Boolean.FALSE.equals(v);
      case "integer" -> v instanceof Long;
      case "float" -> v instanceof Double;
      case "number" -> Python.isNumber(v);
      case "string" -> v instanceof String;
      case "mapping" -> v instanceof Map;
      case "sequence" -> v instanceof String || v instanceof List || v instanceof PyTuple || v instanceof Map;
      case "iterable" -> v instanceof String || v instanceof List || v instanceof PyTuple || v instanceof Map
          || v instanceof Undefined;
      case "callable" -> v instanceof PyCallable;
      case "odd" -> Math.floorMod(integer(v), 2L) == 1;
      case "even" -> Math.floorMod(integer(v), 2L) == 0;
      case "divisibleby" -> Math.floorMod(integer(v), integer(a.required(0, "num"))) == 0;
      case "lower" -> Methods.call(Python.str(v), "islower", a).equals(true);
      case "upper" -> Methods.call(Python.str(v), "isupper", a).equals(true);
      case "escaped" -> false;
      case "filter" -> Filters.exists(Python.str(v));
      case "test" -> exists(Python.str(v));
      case "sameas" -> same(v, a.required(0, "other"));
      case "in" -> Python.contains(a.required(0, "seq"), v);
      case "eq", "equalto", "==" -> Python.eq(v, a.required(0, "other"));
      case "ne", "!=" -> !Python.eq(v, a.required(0, "other"));
      case "lt", "lessthan", "<" -> Python.compare(v, a.required(0, "other"), "<") < 0;
      case "le", "<=" -> Python.compare(v, a.required(0, "other"), "<=") <= 0;
      case "gt", "greaterthan", ">" -> Python.compare(v, a.required(0, "other"), ">") > 0;
      case "ge", ">=" -> Python.compare(v, a.required(0, "other"), ">=") >= 0;
      default -> throw new TemplateException("No test named '" + name + "'.");
    };
  }

  private static final java.util.Set<String> NAMES = java.util.Set.of(
      "defined", "undefined", "none", "boolean", "true", "false", "integer", "float", "number", "string",
      "mapping", "sequence", "iterable", "callable", "odd", "even", "divisibleby", "lower", "upper", "escaped",
      "filter", "test", "sameas", "in", "eq", "equalto", "==", "ne", "!=", "lt", "lessthan", "<", "le", "<=",
      "gt", "greaterthan", ">", "ge", ">=");

  static boolean exists(String name) {
    return NAMES.contains(name);
  }

  private static long integer(Object v) {
    if (v instanceof Undefined u) throw u.fail();
    if (Python.asNumber(v) instanceof Long l) return l;
    throw new TemplateException("expected an integer, got " + Python.typeName(v));
  }

  /** Python's "is": identity, which for the immutable singletons and small values means equality. */
  private static boolean same(Object a, Object b) {
    if (a == null || b == null || a instanceof Boolean || b instanceof Boolean) return a == b || (a != null && a.equals(b));
    if (a instanceof Long || a instanceof String) return a.equals(b);
    return a == b;
  }
}
