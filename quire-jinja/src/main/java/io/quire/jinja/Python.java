package io.quire.jinja;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Python's value semantics over the Java values a template sees: String (str), Long (int), Double
 * (float), Boolean (bool), null (None), List (list), PyTuple (tuple), Map (dict), Undefined.
 */
final class Python {
  private Python() {}

  /** Converts caller-supplied values (Integer, Float, arrays...) to the value model, copying containers. */
  static Object normalize(Object v) {
    return switch (v) {
      case null -> null;
      case String s -> s;
      case Long l -> l;
      case Boolean b -> b;
      case Double d -> d;
      case Integer i -> (long) i;
      case Short s -> (long) s;
      case Byte b -> (long) b;
      case Float f -> Double.parseDouble(f.toString());
      case BigInteger b -> b.longValueExact();
      case BigDecimal b -> b.doubleValue();
      case Character c -> c.toString();
      case Map<?, ?> m -> {
        Map<Object, Object> out = new LinkedHashMap<>();
        m.forEach((k, x) -> out.put(normalize(k), normalize(x)));
        yield out;
      }
      case Collection<?> c -> {
        List<Object> out = new ArrayList<>(c.size());
        for (Object x : c) out.add(normalize(x));
        yield out;
      }
      case Object[] a -> {
        List<Object> out = new ArrayList<>(a.length);
        for (Object x : a) out.add(normalize(x));
        yield out;
      }
      default -> v;
    };
  }

  static String typeName(Object v) {
    return switch (v) {
      case null -> "NoneType";
      case String s -> "str";
      case Boolean b -> "bool";
      case Long l -> "int";
      case Double d -> "float";
      case List<?> l -> "list";
      case PyTuple t -> "tuple";
      case Map<?, ?> m -> "dict";
      case Undefined u -> "Undefined";
      case Namespace n -> "Namespace";
      case Interpreter.Loop l -> "LoopContext";
      default -> "function";
    };
  }

  // ---- truthiness and conversion to text ----

  static boolean truthy(Object v) {
    return switch (v) {
      case null -> false;
      case Boolean b -> b;
      case String s -> !s.isEmpty();
      case Long l -> l != 0;
      case Double d -> d != 0.0;
      case List<?> l -> !l.isEmpty();
      case PyTuple t -> !t.items().isEmpty();
      case Map<?, ?> m -> !m.isEmpty();
      case Undefined u -> false;
      default -> true;
    };
  }

  /** Python's str(), which is what {{ }} prints. */
  static String str(Object v) {
    return switch (v) {
      case null -> "None";
      case String s -> s;
      case Undefined u -> "";
      default -> repr(v);
    };
  }

  static String repr(Object v) {
    return switch (v) {
      case null -> "None";
      case String s -> reprString(s);
      case Boolean b -> b ? "True" : "False";
      case Long l -> l.toString();
      case Double d -> floatRepr(d);
      case List<?> l -> {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < l.size(); i++) sb.append(i > 0 ? ", " : "").append(repr(l.get(i)));
        yield sb.append(']').toString();
      }
      case PyTuple t -> {
        StringBuilder sb = new StringBuilder("(");
        List<Object> items = t.items();
        for (int i = 0; i < items.size(); i++) sb.append(i > 0 ? ", " : "").append(repr(items.get(i)));
        yield sb.append(items.size() == 1 ? ",)" : ")").toString();
      }
      case Map<?, ?> m -> {
        StringBuilder sb = new StringBuilder("{");
        boolean first = true;
        for (Map.Entry<?, ?> e : m.entrySet()) {
          sb.append(first ? "" : ", ").append(repr(e.getKey())).append(": ").append(repr(e.getValue()));
          first = false;
        }
        yield sb.append('}').toString();
      }
      case Undefined u -> "Undefined";
      default -> v.toString();
    };
  }

  private static String reprString(String s) {
    char quote = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
    StringBuilder sb = new StringBuilder(s.length() + 2).append(quote);
    for (int i = 0; i < s.length(); ) {
      int c = s.codePointAt(i);
      i += Character.charCount(c);
      if (c == quote || c == '\\') sb.append('\\').appendCodePoint(c);
      else if (c == '\t') sb.append("\\t");
      else if (c == '\n') sb.append("\\n");
      else if (c == '\r') sb.append("\\r");
      else if (c < ' ' || c == 0x7f) sb.append(String.format("\\x%02x", c));
      else if (c < 0x7f || isPrintable(c)) sb.appendCodePoint(c);
      else if (c <= 0xff) sb.append(String.format("\\x%02x", c));
      else if (c <= 0xffff) sb.append(String.format("\\u%04x", c));
      else sb.append(String.format("\\U%08x", c));
    }
    return sb.append(quote).toString();
  }

  private static boolean isPrintable(int c) {
    if (c == ' ') return true;
    return switch (Character.getType(c)) {
      case Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE,
          Character.UNASSIGNED, Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR,
          Character.SPACE_SEPARATOR -> false;
      default -> true;
    };
  }

  /** Python's repr(float): shortest round-tripping digits, exponent form outside [1e-4, 1e16). */
  static String floatRepr(double d) {
    if (Double.isNaN(d)) return "nan";
    if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
    if (d == 0) return (1 / d < 0) ? "-0.0" : "0.0";
    BigDecimal bd = new BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros();
    if (bd.precision() == 2) {
      // Java prints at least two significant digits (4.9E-324); Python the shortest (5e-324).
      BigDecimal one = bd.round(new java.math.MathContext(1, java.math.RoundingMode.HALF_EVEN));
      if (one.doubleValue() == Math.abs(d)) bd = one.stripTrailingZeros();
    }
    String digits = bd.unscaledValue().toString();
    int decpt = digits.length() - bd.scale(); // value = 0.DIGITS * 10^decpt
    StringBuilder sb = new StringBuilder(d < 0 ? "-" : "");
    if (decpt > -4 && decpt <= 16) {
      if (decpt <= 0) {
        sb.append("0.").append("0".repeat(-decpt)).append(digits);
      } else if (decpt >= digits.length()) {
        sb.append(digits).append("0".repeat(decpt - digits.length())).append(".0");
      } else {
        sb.append(digits, 0, decpt).append('.').append(digits, decpt, digits.length());
      }
    } else {
      sb.append(digits.charAt(0));
      if (digits.length() > 1) sb.append('.').append(digits, 1, digits.length());
      int exp = decpt - 1;
      sb.append('e').append(exp < 0 ? '-' : '+');
      String e = Integer.toString(Math.abs(exp));
      sb.append(e.length() < 2 ? "0" + e : e);
    }
    return sb.toString();
  }

  // ---- whitespace, as str.isspace() defines it ----

  static boolean isSpace(int c) {
    return switch (c) {
      case ' ', '\t', '\n', 0x0b, '\f', '\r', 0x1c, 0x1d, 0x1e, 0x1f, 0x85, 0xa0, 0x1680, 0x2028, 0x2029,
          0x202f, 0x205f, 0x3000 -> true;
      default -> c >= 0x2000 && c <= 0x200a;
    };
  }

  private static boolean inChars(int c, String chars) {
    return chars == null ? isSpace(c) : chars.indexOf(c) >= 0 || (c > 0xffff && chars.contains(Character.toString(c)));
  }

  static String strip(String s, String chars) {
    return lstrip(rstrip(s, chars), chars);
  }

  static String lstrip(String s, String chars) {
    int i = 0;
    while (i < s.length()) {
      int c = s.codePointAt(i);
      if (!inChars(c, chars)) break;
      i += Character.charCount(c);
    }
    return s.substring(i);
  }

  static String rstrip(String s, String chars) {
    int i = s.length();
    while (i > 0) {
      int c = s.codePointBefore(i);
      if (!inChars(c, chars)) break;
      i -= Character.charCount(c);
    }
    return s.substring(0, i);
  }

  // ---- equality, ordering, membership ----

  static boolean isNumber(Object v) {
    return v instanceof Long || v instanceof Double || v instanceof Boolean;
  }

  static Object asNumber(Object v) {
    return v instanceof Boolean b ? (b ? 1L : 0L) : v;
  }

  static boolean eq(Object a, Object b) {
    if (a == b) return true;
    if (a == null || b == null) return false;
    if (isNumber(a) && isNumber(b)) {
      Object x = asNumber(a);
      Object y = asNumber(b);
      if (x instanceof Long l && y instanceof Long m) return l.longValue() == m.longValue();
      return ((Number) x).doubleValue() == ((Number) y).doubleValue();
    }
    if (a instanceof List<?> l && b instanceof List<?> m) return seqEq(l, m);
    if (a instanceof PyTuple l && b instanceof PyTuple m) return seqEq(l.items(), m.items());
    if (a instanceof Map<?, ?> l && b instanceof Map<?, ?> m) {
      if (l.size() != m.size()) return false;
      for (Map.Entry<?, ?> e : l.entrySet()) {
        if (!m.containsKey(e.getKey()) || !eq(e.getValue(), m.get(e.getKey()))) return false;
      }
      return true;
    }
    if (a instanceof Undefined && b instanceof Undefined) return true;
    return a.equals(b);
  }

  private static boolean seqEq(List<?> a, List<?> b) {
    if (a.size() != b.size()) return false;
    for (int i = 0; i < a.size(); i++) if (!eq(a.get(i), b.get(i))) return false;
    return true;
  }

  /** Python ordering; throws for types Python cannot order. */
  static int compare(Object a, Object b, String op) {
    if (a instanceof Undefined u) throw u.fail();
    if (b instanceof Undefined u) throw u.fail();
    if (isNumber(a) && isNumber(b)) {
      Object x = asNumber(a);
      Object y = asNumber(b);
      if (x instanceof Long l && y instanceof Long m) return Long.compare(l, m);
      double p = ((Number) x).doubleValue();
      double q = ((Number) y).doubleValue();
      return p < q ? -1 : p > q ? 1 : 0;
    }
    if (a instanceof String s && b instanceof String t) return compareStrings(s, t);
    if (a instanceof List<?> l && b instanceof List<?> m) return compareSeq(l, m, op);
    if (a instanceof PyTuple l && b instanceof PyTuple m) return compareSeq(l.items(), m.items(), op);
    throw new TemplateException(
        "'" + op + "' not supported between instances of '" + typeName(a) + "' and '" + typeName(b) + "'");
  }

  static int compareStrings(String s, String t) {
    int i = 0;
    int j = 0;
    while (i < s.length() && j < t.length()) {
      int c = s.codePointAt(i);
      int d = t.codePointAt(j);
      if (c != d) return Integer.compare(c, d);
      i += Character.charCount(c);
      j += Character.charCount(d);
    }
    return Integer.compare(s.length() - i, t.length() - j);
  }

  private static int compareSeq(List<?> a, List<?> b, String op) {
    for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
      if (!eq(a.get(i), b.get(i))) return compare(a.get(i), b.get(i), op);
    }
    return Integer.compare(a.size(), b.size());
  }

  static boolean contains(Object container, Object item) {
    return switch (container) {
      case String s -> {
        if (item instanceof String t) yield s.contains(t);
        if (item instanceof Undefined u) throw u.fail();
        throw new TemplateException("'in <string>' requires string as left operand, not " + typeName(item));
      }
      case Map<?, ?> m -> m.keySet().stream().anyMatch(k -> eq(k, item));
      case Undefined u -> false;
      case null, default -> iterate(container).stream().anyMatch(x -> eq(x, item));
    };
  }

  // ---- containers ----

  static List<Object> iterate(Object v) {
    return switch (v) {
      case List<?> l -> new ArrayList<>(l);
      case PyTuple t -> t.items();
      case Map<?, ?> m -> new ArrayList<>(m.keySet());
      case String s -> {
        List<Object> out = new ArrayList<>(s.length());
        s.codePoints().forEach(c -> out.add(Character.toString(c)));
        yield out;
      }
      case Undefined u -> List.of();
      case null, default -> throw new TemplateException("'" + typeName(v) + "' object is not iterable");
    };
  }

  static long len(Object v) {
    return switch (v) {
      case String s -> s.codePointCount(0, s.length());
      case List<?> l -> l.size();
      case PyTuple t -> t.items().size();
      case Map<?, ?> m -> m.size();
      case Undefined u -> 0;
      case null, default -> throw new TemplateException("object of type '" + typeName(v) + "' has no len()");
    };
  }

  /** The sandbox's getattr: a method or attribute first, then the item of that name. */
  static Object getattr(Object obj, String name) {
    if (obj instanceof Undefined u) throw u.fail();
    if (obj instanceof Namespace ns) {
      return ns.attrs.containsKey(name) ? ns.attrs.get(name) : Undefined.attribute(obj, name);
    }
    if (obj instanceof Interpreter.Loop loop) return loop.attribute(name);
    if (Methods.isUnsafe(obj, name)) {
      return new Undefined("access to attribute '" + name + "' of '" + typeName(obj) + "' object is unsafe.");
    }
    if (Methods.has(obj, name)) return new Methods.Bound(obj, name);
    if (obj instanceof Map<?, ?> m && m.containsKey(name)) return m.get(name);
    return Undefined.attribute(obj, name);
  }

  /** The sandbox's getitem: the item first, then (for string keys) the attribute of that name. */
  static Object getitem(Object obj, Object key) {
    if (obj instanceof Undefined u) throw u.fail();
    if (key instanceof Undefined u && !(obj instanceof Map)) throw u.fail();
    switch (obj) {
      case null -> {}
      case Map<?, ?> m -> {
        if (m.containsKey(key)) return m.get(key);
        if (isNumber(key)) {
          for (Map.Entry<?, ?> e : m.entrySet()) if (eq(e.getKey(), key)) return e.getValue();
        }
      }
      case List<?> l -> {
        Object r = sequenceItem(l, key);
        if (r != null) return r == NONE_ITEM ? null : r;
      }
      case PyTuple t -> {
        Object r = sequenceItem(t.items(), key);
        if (r != null) return r == NONE_ITEM ? null : r instanceof List<?> sub ? tuple(sub) : r;
      }
      case String s -> {
        if (key instanceof SliceValue sv) {
          int[] cps = s.codePoints().toArray();
          List<Integer> idx = sv.indices(cps.length);
          StringBuilder sb = new StringBuilder();
          for (int i : idx) sb.appendCodePoint(cps[i]);
          return sb.toString();
        }
        if (key instanceof Long || key instanceof Boolean) {
          int[] cps = s.codePoints().toArray();
          long i = (Long) asNumber(key);
          if (i < 0) i += cps.length;
          if (i >= 0 && i < cps.length) return Character.toString(cps[(int) i]);
        }
      }
      default -> {}
    }
    if (key instanceof String name && obj != null) {
      Object attr = getattr(obj, name);
      if (!(attr instanceof Undefined)) return attr;
    }
    return new Undefined("'" + typeName(obj) + " object' has no attribute " + repr(key));
  }

  private static final Object NONE_ITEM = new Object();

  private static Object sequenceItem(List<?> l, Object key) {
    if (key instanceof SliceValue sv) {
      List<Object> out = new ArrayList<>();
      for (int i : sv.indices(l.size())) out.add(l.get(i));
      return out;
    }
    if (key instanceof Long || key instanceof Boolean) {
      long i = (Long) asNumber(key);
      if (i < 0) i += l.size();
      if (i >= 0 && i < l.size()) {
        Object v = l.get((int) i);
        return v == null ? NONE_ITEM : v;
      }
    }
    return null;
  }

  /** dict[key] = value, where keys equal in Python (1, 1.0, True) are the same key. */
  static void dictPut(Map<Object, Object> map, Object key, Object value) {
    if (isNumber(key) && !map.containsKey(key)) {
      for (Map.Entry<Object, Object> e : map.entrySet()) {
        if (isNumber(e.getKey()) && eq(e.getKey(), key)) {
          e.setValue(value);
          return;
        }
      }
    }
    map.put(key, value);
  }

  static PyTuple tuple(List<?> items) {
    return new PyTuple(new ArrayList<>(items));
  }

  /** An evaluated slice; null parts take Python's defaults. */
  record SliceValue(Long start, Long stop, Long step) {
    List<Integer> indices(int length) {
      long st = step == null ? 1 : step;
      if (st == 0) throw new TemplateException("slice step cannot be zero");
      long lo;
      long hi;
      if (st > 0) {
        lo = start == null ? 0 : clamp(start, length, 0, length);
        hi = stop == null ? length : clamp(stop, length, 0, length);
      } else {
        lo = start == null ? length - 1 : clamp(start, length, -1, length - 1);
        hi = stop == null ? -1 : clamp(stop, length, -1, length - 1);
      }
      List<Integer> out = new ArrayList<>();
      if (st > 0) for (long i = lo; i < hi; i += st) out.add((int) i);
      else for (long i = lo; i > hi; i += st) out.add((int) i);
      return out;
    }

    private static long clamp(long i, int length, long min, long max) {
      if (i < 0) i += length;
      return Math.max(min, Math.min(max, i));
    }
  }

  // ---- arithmetic ----

  static Object binop(String op, Object a, Object b) {
    if (a instanceof Undefined u) throw u.fail();
    if (b instanceof Undefined u) throw u.fail();
    if (isNumber(a) && isNumber(b)) return numeric(op, asNumber(a), asNumber(b));
    switch (op) {
      case "+" -> {
        if (a instanceof String s && b instanceof String t) return s + t;
        if (a instanceof List<?> l && b instanceof List<?> m) {
          List<Object> out = new ArrayList<>(l);
          out.addAll(m);
          return out;
        }
        if (a instanceof PyTuple l && b instanceof PyTuple m) {
          List<Object> out = new ArrayList<>(l.items());
          out.addAll(m.items());
          return new PyTuple(out);
        }
        if (a instanceof String || b instanceof String) {
          String s = a instanceof String ? typeName(b) : typeName(a);
          throw new TemplateException(
              a instanceof String
                  ? "can only concatenate str (not \"" + s + "\") to str"
                  : "unsupported operand type(s) for +: '" + typeName(a) + "' and 'str'");
        }
      }
      case "*" -> {
        if (b instanceof Long || b instanceof Boolean) {
          Object r = repeat(a, (Long) asNumber(b));
          if (r != null) return r;
        }
        if (a instanceof Long || a instanceof Boolean) {
          Object r = repeat(b, (Long) asNumber(a));
          if (r != null) return r;
        }
      }
      case "%" -> {
        if (a instanceof String s) return Methods.percentFormat(s, b);
      }
      default -> {}
    }
    throw new TemplateException(
        "unsupported operand type(s) for " + op + ": '" + typeName(a) + "' and '" + typeName(b) + "'");
  }

  private static Object repeat(Object v, long n) {
    int k = (int) Math.max(0, n);
    if (v instanceof String s) return s.repeat(k);
    if (v instanceof List<?> l) {
      List<Object> out = new ArrayList<>();
      for (int i = 0; i < k; i++) out.addAll(l);
      return out;
    }
    return null;
  }

  private static Object numeric(String op, Object a, Object b) {
    if (a instanceof Long x && b instanceof Long y) {
      long p = x;
      long q = y;
      try {
        return switch (op) {
          case "+" -> Math.addExact(p, q);
          case "-" -> Math.subtractExact(p, q);
          case "*" -> Math.multiplyExact(p, q);
          case "/" -> {
            if (q == 0) throw new TemplateException("division by zero");
            yield (double) p / q;
          }
          case "//" -> {
            if (q == 0) throw new TemplateException("integer division or modulo by zero");
            yield Math.floorDiv(p, q);
          }
          case "%" -> {
            if (q == 0) throw new TemplateException("integer modulo by zero");
            yield Math.floorMod(p, q);
          }
          case "**" -> {
            if (q < 0) yield (Object) Math.pow(p, q);
            yield (Object) BigInteger.valueOf(p).pow((int) q).longValueExact();
          }
          default -> throw new IllegalArgumentException(op);
        };
      } catch (ArithmeticException e) {
        throw new TemplateException("integer overflow in " + p + " " + op + " " + q);
      }
    }
    double p = ((Number) a).doubleValue();
    double q = ((Number) b).doubleValue();
    return switch (op) {
      case "+" -> p + q;
      case "-" -> p - q;
      case "*" -> p * q;
      case "/" -> {
        if (q == 0) throw new TemplateException("float division by zero");
        yield p / q;
      }
      case "//" -> {
        if (q == 0) throw new TemplateException("float floor division by zero");
        yield Math.floor(p / q);
      }
      case "%" -> {
        if (q == 0) throw new TemplateException("float modulo");
        double m = p % q;
        if (m != 0 && ((q < 0) != (m < 0))) m += q;
        yield m == 0 ? Math.copySign(0.0, q) : m;
      }
      case "**" -> Math.pow(p, q);
      default -> throw new IllegalArgumentException(op);
    };
  }

  static Object negate(Object v) {
    if (v instanceof Undefined u) throw u.fail();
    Object n = asNumber(v);
    if (n instanceof Long l) return -l;
    if (n instanceof Double d) return -d;
    throw new TemplateException("bad operand type for unary -: '" + typeName(v) + "'");
  }

  static Object positive(Object v) {
    if (v instanceof Undefined u) throw u.fail();
    Object n = asNumber(v);
    if (n instanceof Long || n instanceof Double) return n;
    throw new TemplateException("bad operand type for unary +: '" + typeName(v) + "'");
  }
}
