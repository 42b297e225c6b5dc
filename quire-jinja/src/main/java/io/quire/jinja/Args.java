package io.quire.jinja;

import java.util.List;
import java.util.Map;

/** Evaluated call arguments, bound Python-style: by position first, then by keyword. */
final class Args {
  final String function;
  final List<Object> positional;
  final Map<String, Object> keywords;

  Args(String function, List<Object> positional, Map<String, Object> keywords) {
    this.function = function;
    this.positional = positional;
    this.keywords = keywords;
  }

  boolean has(int i, String name) {
    return i < positional.size() || keywords.containsKey(name);
  }

  Object get(int i, String name, Object def) {
    if (i < positional.size()) return positional.get(i);
    return keywords.containsKey(name) ? keywords.get(name) : def;
  }

  Object required(int i, String name) {
    if (!has(i, name)) throw new TemplateException(function + "() missing required argument: '" + name + "'");
    return get(i, name, null);
  }

  long getLong(int i, String name, long def) {
    Object v = get(i, name, null);
    if (v == null) return def;
    if (v instanceof Undefined u) throw u.fail();
    Object n = Python.asNumber(v);
    if (n instanceof Long l) return l;
    throw new TemplateException("'" + Python.typeName(v) + "' object cannot be interpreted as an integer");
  }

  boolean getBool(int i, String name, boolean def) {
    return Python.truthy(get(i, name, def));
  }

  String getString(int i, String name, String def) {
    Object v = get(i, name, def);
    return v == null ? null : Python.str(v);
  }
}
