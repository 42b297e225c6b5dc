package io.quire.jinja;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Python's {@code json.dumps} as transformers' tojson filter calls it: ensure_ascii off by default,
 * optional indent (int or string), separators and sort_keys.
 */
final class Json {
  private final boolean ensureAscii;
  private final String indent;
  private final String itemSep;
  private final String keySep;
  private final boolean sortKeys;

  private Json(boolean ensureAscii, String indent, String itemSep, String keySep, boolean sortKeys) {
    this.ensureAscii = ensureAscii;
    this.indent = indent;
    this.itemSep = itemSep;
    this.keySep = keySep;
    this.sortKeys = sortKeys;
  }

  static String dumps(Object value, boolean ensureAscii, Object indent, Object separators, boolean sortKeys) {
    String ind = switch (indent) {
      case null -> null;
      case String s -> s;
      case Undefined u -> throw u.fail();
      default -> " ".repeat((int) Math.max(0, (Long) Python.asNumber(indent)));
    };
    String itemSep = ind == null ? ", " : ",";
    String keySep = ": ";
    if (separators != null) {
      List<Object> seps = Python.iterate(separators);
      itemSep = (String) seps.get(0);
      keySep = (String) seps.get(1);
    }
    StringBuilder sb = new StringBuilder();
    new Json(ensureAscii, ind, itemSep, keySep, sortKeys).write(sb, value, 0);
    return sb.toString();
  }

  private void newline(StringBuilder sb, int level) {
    if (indent != null) sb.append('\n').append(indent.repeat(level));
  }

  private void write(StringBuilder sb, Object v, int level) {
    switch (v) {
      case null -> sb.append("null");
      case String s -> string(sb, s);
      case Boolean b -> sb.append(b ? "true" : "false");
      case Long l -> sb.append(l);
      case Double d -> sb.append(number(d));
      case List<?> l -> array(sb, l, level);
      case PyTuple t -> array(sb, t.items(), level);
      case Map<?, ?> m -> {
        if (m.isEmpty()) {
          sb.append("{}");
          return;
        }
        List<Map.Entry<String, Object>> entries = new ArrayList<>();
        for (Map.Entry<?, ?> e : m.entrySet()) entries.add(Map.entry(key(e.getKey()), boxNull(e.getValue())));
        if (sortKeys) entries.sort((x, y) -> Python.compareStrings(x.getKey(), y.getKey()));
        sb.append('{');
        boolean first = true;
        for (Map.Entry<String, Object> e : entries) {
          if (!first) sb.append(itemSep);
          first = false;
          newline(sb, level + 1);
          string(sb, e.getKey());
          sb.append(keySep);
          write(sb, e.getValue() == NULL ? null : e.getValue(), level + 1);
        }
        newline(sb, level);
        sb.append('}');
      }
      default -> throw new TemplateException("Object of type " + Python.typeName(v) + " is not JSON serializable");
    }
  }

  private static final Object NULL = new Object();

  private static Object boxNull(Object v) {
    return v == null ? NULL : v;
  }

  private void array(StringBuilder sb, List<?> l, int level) {
    if (l.isEmpty()) {
      sb.append("[]");
      return;
    }
    sb.append('[');
    for (int i = 0; i < l.size(); i++) {
      if (i > 0) sb.append(itemSep);
      newline(sb, level + 1);
      write(sb, l.get(i), level + 1);
    }
    newline(sb, level);
    sb.append(']');
  }

  private static String key(Object k) {
    return switch (k) {
      case String s -> s;
      case null -> "null";
      case Boolean b -> b ? "true" : "false";
      case Long l -> l.toString();
      case Double d -> number(d);
      default -> throw new TemplateException("keys must be str, int, float, bool or None, not " + Python.typeName(k));
    };
  }

  private static String number(double d) {
    if (Double.isNaN(d)) return "NaN";
    if (Double.isInfinite(d)) return d > 0 ? "Infinity" : "-Infinity";
    return Python.floatRepr(d);
  }

  private void string(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        case '\b' -> sb.append("\\b");
        case '\f' -> sb.append("\\f");
        default -> {
          if (c < 0x20 || (ensureAscii && c > 0x7e)) sb.append(String.format("\\u%04x", (int) c));
          else sb.append(c);
        }
      }
    }
    sb.append('"');
  }
}
