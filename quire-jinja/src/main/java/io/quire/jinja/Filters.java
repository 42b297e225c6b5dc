package io.quire.jinja;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/** jinja2's builtin filters, with transformers' tojson in place of jinja2's. */
final class Filters {
  private Filters() {}

  @FunctionalInterface
  interface Filter {
    Object apply(Object value, Args args);
  }

  private static final Map<String, Filter> FILTERS = new LinkedHashMap<>();

  static boolean exists(String name) {
    return FILTERS.containsKey(name);
  }

  static Object apply(String name, Object value, Args args) {
    Filter f = FILTERS.get(name);
    if (f == null) throw new TemplateException("No filter named '" + name + "'.");
    return f.apply(value, args);
  }

  /** soft_str: what filters that work on text make of any value. */
  private static String text(Object v) {
    return Python.str(v);
  }

  static {
    FILTERS.put("abs", (v, a) -> {
      Object n = Python.asNumber(v);
      if (n instanceof Long l) return Math.abs(l);
      if (n instanceof Double d) return Math.abs(d);
      throw new TemplateException("bad operand type for abs(): '" + Python.typeName(v) + "'");
    });
    FILTERS.put("attr", (v, a) -> Python.getattr(v, text(a.required(0, "name"))));
    FILTERS.put("capitalize", (v, a) -> Methods.capitalize(text(v)));
    FILTERS.put("center", (v, a) -> Methods.call(text(v), "center",
        new Args("center", List.of(a.getLong(0, "width", 80)), Map.of())));
    FILTERS.put("length", (v, a) -> Python.len(v));
    FILTERS.put("count", (v, a) -> Python.len(v));
    Filter dflt = (v, a) -> {
      boolean useDefault = v instanceof Undefined || (a.getBool(1, "boolean", false) && !Python.truthy(v));
      return useDefault ? a.get(0, "default_value", "") : v;
    };
    FILTERS.put("default", dflt);
    FILTERS.put("d", dflt);
    FILTERS.put("dictsort", (v, a) -> {
      if (!(v instanceof Map<?, ?> m)) throw new TemplateException("dictsort requires a mapping");
      boolean cs = a.getBool(0, "case_sensitive", false);
      String by = a.getString(1, "by", "key");
      int pos = switch (by) {
        case "key" -> 0;
        case "value" -> 1;
        default -> throw new TemplateException("You can only sort by either \"key\" or \"value\"");
      };
      List<Object> items = new ArrayList<>();
      m.forEach((k, x) -> items.add(new PyTuple(Arrays.asList(k, x))));
      Comparator<Object> cmp = comparator(x -> ((PyTuple) x).items().get(pos), cs);
      if (a.getBool(2, "reverse", false)) cmp = cmp.reversed();
      items.sort(cmp);
      return items;
    });
    Filter escape = (v, a) -> v instanceof Undefined ? "" : escapeHtml(text(v));
    FILTERS.put("escape", escape);
    FILTERS.put("e", escape);
    FILTERS.put("forceescape", escape);
    FILTERS.put("first", (v, a) -> {
      List<Object> items = Python.iterate(v);
      return items.isEmpty() ? new Undefined("No first item, sequence was empty.") : items.getFirst();
    });
    FILTERS.put("last", (v, a) -> {
      List<Object> items = Python.iterate(v);
      return items.isEmpty() ? new Undefined("No last item, sequence was empty.") : items.getLast();
    });
    FILTERS.put("float", (v, a) -> toFloat(v, a.get(0, "default", 0.0)));
    FILTERS.put("int", (v, a) -> toInt(v, a.get(0, "default", 0L), a.getLong(1, "base", 10)));
    FILTERS.put("format", (v, a) -> {
      if (!a.positional.isEmpty() && !a.keywords.isEmpty()) {
        throw new TemplateException("can't handle positional and keyword arguments at the same time");
      }
      Object args = a.keywords.isEmpty() ? new PyTuple(a.positional) : new LinkedHashMap<Object, Object>(a.keywords);
      return Methods.percentFormat(text(v), args);
    });
    FILTERS.put("indent", (v, a) -> indent(text(v), a.get(0, "width", 4L), a.getBool(1, "first", false),
        a.getBool(2, "blank", false)));
    FILTERS.put("items", (v, a) -> {
      if (v instanceof Undefined) return List.of();
      if (!(v instanceof Map<?, ?> m)) throw new TemplateException("Can only get item pairs from a mapping.");
      return Methods.call(m, "items", new Args("items", List.of(), Map.of()));
    });
    FILTERS.put("join", (v, a) -> {
      String sep = a.getString(0, "d", "");
      Object attribute = a.get(1, "attribute", null);
      StringBuilder sb = new StringBuilder();
      boolean first = true;
      for (Object x : Python.iterate(v)) {
        if (attribute != null) x = attrGetter(attribute).apply(x);
        sb.append(first ? "" : sep).append(text(x));
        first = false;
      }
      return sb.toString();
    });
    FILTERS.put("list", (v, a) -> Python.iterate(v));
    FILTERS.put("lower", (v, a) -> text(v).toLowerCase(java.util.Locale.ROOT));
    FILTERS.put("upper", (v, a) -> text(v).toUpperCase(java.util.Locale.ROOT));
    FILTERS.put("title", (v, a) -> titleFilter(text(v)));
    FILTERS.put("trim", (v, a) -> Python.strip(text(v), (String) a.get(0, "chars", null)));
    FILTERS.put("string", (v, a) -> text(v));
    FILTERS.put("safe", (v, a) -> text(v));
    FILTERS.put("map", Filters::map);
    FILTERS.put("max", (v, a) -> minMax(v, a, true));
    FILTERS.put("min", (v, a) -> minMax(v, a, false));
    FILTERS.put("select", (v, a) -> select(v, a, false, false));
    FILTERS.put("reject", (v, a) -> select(v, a, true, false));
    FILTERS.put("selectattr", (v, a) -> select(v, a, false, true));
    FILTERS.put("rejectattr", (v, a) -> select(v, a, true, true));
    FILTERS.put("replace", (v, a) -> Methods.replace(text(v), text(a.required(0, "old")), text(a.required(1, "new")),
        a.get(2, "count", null) == null ? -1 : a.getLong(2, "count", -1)));
    FILTERS.put("reverse", (v, a) -> {
      if (v instanceof String s) return new StringBuilder(s).reverse().toString();
      List<Object> items = Python.iterate(v);
      return new ArrayList<>(items.reversed());
    });
    FILTERS.put("round", (v, a) -> {
      long precision = a.getLong(0, "precision", 0);
      String method = a.getString(1, "method", "common");
      Object n = Python.asNumber(v);
      if (method.equals("common") && n instanceof Long l) return l;
      double d = ((Number) n).doubleValue();
      if (Double.isNaN(d) || Double.isInfinite(d)) return d;
      RoundingMode mode = switch (method) {
        case "common" -> RoundingMode.HALF_EVEN;
        case "ceil" -> RoundingMode.CEILING;
        case "floor" -> RoundingMode.FLOOR;
        default -> throw new TemplateException("method must be common, ceil or floor");
      };
      double r = new BigDecimal(d).setScale((int) precision, mode).doubleValue();
      return r == 0 ? Math.copySign(0.0, d) : r;
    });
    FILTERS.put("sort", (v, a) -> {
      List<Object> items = new ArrayList<>(Python.iterate(v));
      Comparator<Object> cmp = comparator(attrGetter(a.get(2, "attribute", null)), a.getBool(1, "case_sensitive", false));
      items.sort(a.getBool(0, "reverse", false) ? cmp.reversed() : cmp);
      return items;
    });
    FILTERS.put("sum", (v, a) -> {
      Function<Object, Object> get = attrGetter(a.get(0, "attribute", null));
      Object total = a.get(1, "start", 0L);
      for (Object x : Python.iterate(v)) total = Python.binop("+", total, get.apply(x));
      return total;
    });
    FILTERS.put("tojson", (v, a) -> Json.dumps(v, a.getBool(0, "ensure_ascii", false), a.get(1, "indent", null),
        a.get(2, "separators", null), a.getBool(3, "sort_keys", false)));
    FILTERS.put("unique", (v, a) -> {
      boolean cs = a.getBool(0, "case_sensitive", false);
      Function<Object, Object> get = attrGetter(a.get(1, "attribute", null));
      List<Object> seen = new ArrayList<>();
      List<Object> out = new ArrayList<>();
      for (Object x : Python.iterate(v)) {
        Object key = cs ? get.apply(x) : ignoreCase(get.apply(x));
        if (seen.stream().noneMatch(k -> Python.eq(k, key))) {
          seen.add(key);
          out.add(x);
        }
      }
      return out;
    });
    FILTERS.put("wordcount", (v, a) -> (long) Methods.split(text(v).replaceAll("\\W+", " "), null, -1).size());
    FILTERS.put("batch", (v, a) -> {
      long size = a.getLong(0, "linecount", 1);
      boolean fill = a.has(1, "fill_with");
      Object filler = a.get(1, "fill_with", null);
      List<Object> out = new ArrayList<>();
      List<Object> cur = new ArrayList<>();
      for (Object x : Python.iterate(v)) {
        cur.add(x);
        if (cur.size() == size) {
          out.add(cur);
          cur = new ArrayList<>();
        }
      }
      if (!cur.isEmpty()) {
        while (fill && cur.size() < size) cur.add(filler);
        out.add(cur);
      }
      return out;
    });
  }

  static String escapeHtml(String s) {
    StringBuilder sb = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '&' -> sb.append("&amp;");
        case '<' -> sb.append("&lt;");
        case '>' -> sb.append("&gt;");
        case '"' -> sb.append("&#34;");
        case '\'' -> sb.append("&#39;");
        default -> sb.append(c);
      }
    }
    return sb.toString();
  }

  /** jinja2's title filter, which capitalizes after "-", whitespace and opening brackets only. */
  private static String titleFilter(String s) {
    StringBuilder sb = new StringBuilder();
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("([-\\s({\\[<]+)", java.util.regex.Pattern.UNICODE_CHARACTER_CLASS).matcher(s);
    int last = 0;
    List<String> parts = new ArrayList<>();
    while (m.find()) {
      parts.add(s.substring(last, m.start()));
      parts.add(m.group());
      last = m.end();
    }
    parts.add(s.substring(last));
    for (String item : parts) {
      if (item.isEmpty()) continue;
      int c = item.codePointAt(0);
      sb.append(Character.toString(c).toUpperCase(java.util.Locale.ROOT))
          .append(item.substring(Character.charCount(c)).toLowerCase(java.util.Locale.ROOT));
    }
    return sb.toString();
  }

  private static String indent(String s, Object width, boolean first, boolean blank) {
    String indention = width instanceof String w ? w : " ".repeat((int) (long) (Long) Python.asNumber(width));
    s += "\n";
    List<Object> lines = Methods.splitlines(s, false);
    StringBuilder rv = new StringBuilder();
    if (blank) {
      for (int i = 0; i < lines.size(); i++) rv.append(i > 0 ? "\n" + indention : "").append(lines.get(i));
    } else {
      rv.append(lines.getFirst());
      if (lines.size() > 1) {
        rv.append('\n');
        for (int i = 1; i < lines.size(); i++) {
          String line = (String) lines.get(i);
          rv.append(i > 1 ? "\n" : "").append(line.isEmpty() ? line : indention + line);
        }
      }
    }
    return first ? indention + rv : rv.toString();
  }

  private static Object toInt(Object v, Object def, long base) {
    if (v instanceof Undefined u) throw u.fail();
    try {
      if (v instanceof String s) {
        String t = Python.strip(s, null).replace("_", "");
        if (base == 16 && (t.startsWith("0x") || t.startsWith("0X"))) t = t.substring(2);
        return Long.parseLong(t.startsWith("+") ? t.substring(1) : t, (int) base);
      }
      Object n = Python.asNumber(v);
      if (n instanceof Long l) return l;
      if (n instanceof Double d && !d.isNaN() && !d.isInfinite()) return (long) (double) d;
    } catch (NumberFormatException e) {
      Object f = toFloat(v, null);
      if (f instanceof Double d && !d.isNaN() && !d.isInfinite()) return (long) (double) d;
    }
    return def;
  }

  private static Object toFloat(Object v, Object def) {
    if (v instanceof Undefined u) throw u.fail();
    if (v instanceof String s) {
      String t = Python.strip(s, null).replace("_", "").toLowerCase(java.util.Locale.ROOT);
      String u = t.startsWith("+") || t.startsWith("-") ? t.substring(1) : t;
      if (u.equals("inf") || u.equals("infinity")) return t.startsWith("-") ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
      if (u.equals("nan")) return Double.NaN;
      if (!u.matches("(\\d+\\.?\\d*|\\.\\d+)(e[+-]?\\d+)?")) return def;
      return Double.parseDouble(t);
    }
    Object n = Python.asNumber(v);
    if (n instanceof Number num) return num.doubleValue();
    return def;
  }

  private static Object ignoreCase(Object v) {
    return v instanceof String s ? s.toLowerCase(java.util.Locale.ROOT) : v;
  }

  private static Comparator<Object> comparator(Function<Object, Object> key, boolean caseSensitive) {
    return (x, y) -> {
      Object p = key.apply(x);
      Object q = key.apply(y);
      if (!caseSensitive) {
        p = ignoreCase(p);
        q = ignoreCase(q);
      }
      return Python.compare(p, q, "<");
    };
  }

  /** jinja2's make_attrgetter: "a.b.0" looks up each part with getitem; integer parts as ints. */
  static Function<Object, Object> attrGetter(Object attribute) {
    if (attribute == null) return x -> x;
    if (attribute instanceof Long || attribute instanceof Boolean) return x -> Python.getitem(x, attribute);
    String[] parts = Python.str(attribute).split("\\.");
    return x -> {
      for (String p : parts) {
        Object key = p.chars().allMatch(Character::isDigit) && !p.isEmpty() ? (Object) Long.parseLong(p) : p;
        x = Python.getitem(x, key);
      }
      return x;
    };
  }

  private static Object map(Object v, Args a) {
    List<Object> out = new ArrayList<>();
    if (a.positional.isEmpty() && a.keywords.containsKey("attribute")) {
      Function<Object, Object> get = attrGetter(a.keywords.get("attribute"));
      boolean hasDefault = a.keywords.containsKey("default");
      for (Object x : Python.iterate(v)) {
        Object r = get.apply(x);
        out.add(hasDefault && r instanceof Undefined ? a.keywords.get("default") : r);
      }
      return out;
    }
    if (a.positional.isEmpty()) throw new TemplateException("map requires a filter argument");
    String name = Python.str(a.positional.getFirst());
    Args rest = new Args(name, a.positional.subList(1, a.positional.size()), a.keywords);
    for (Object x : Python.iterate(v)) out.add(apply(name, x, rest));
    return out;
  }

  private static Object select(Object v, Args a, boolean reject, boolean byAttr) {
    int off = byAttr ? 1 : 0;
    Function<Object, Object> get = byAttr ? attrGetter(a.required(0, "attribute")) : x -> x;
    String test = a.positional.size() > off ? Python.str(a.positional.get(off)) : null;
    Args rest = new Args(test, test == null ? List.of() : a.positional.subList(off + 1, a.positional.size()),
        a.keywords);
    List<Object> out = new ArrayList<>();
    for (Object x : Python.iterate(v)) {
      Object value = get.apply(x);
      boolean ok = test == null ? Python.truthy(value) : Tests.apply(test, value, rest);
      if (ok != reject) out.add(x);
    }
    return out;
  }

  private static Object minMax(Object v, Args a, boolean max) {
    boolean cs = a.getBool(0, "case_sensitive", false);
    Comparator<Object> cmp = comparator(attrGetter(a.get(1, "attribute", null)), cs);
    List<Object> items = Python.iterate(v);
    if (items.isEmpty()) return new Undefined("No aggregated item, sequence was empty.");
    Object best = items.getFirst();
    for (Object x : items) {
      int c = cmp.compare(x, best);
      if (max ? c > 0 : c < 0) best = x;
    }
    return best;
  }

  static final Set<String> NAMES = FILTERS.keySet();
}
