package io.quire.jinja;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The methods of str, dict and list that the sandbox lets templates call. */
final class Methods {
  private Methods() {}

  /** A method looked up on a value, e.g. {@code message.content.startswith}. */
  record Bound(Object self, String name) implements PyCallable {
    @Override
    public Object call(List<Object> args, Map<String, Object> kwargs) {
      return Methods.call(self, name, new Args(name, args, kwargs));
    }

    @Override
    public String toString() {
      return "<built-in method " + name + " of " + Python.typeName(self) + " object>";
    }
  }

  private static final Set<String> STR = Set.of(
      "startswith", "endswith", "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "replace",
      "upper", "lower", "title", "capitalize", "swapcase", "casefold", "find", "rfind", "index", "rindex",
      "count", "join", "format", "isdigit", "isnumeric", "isdecimal", "isalpha", "isalnum", "isspace",
      "isupper", "islower", "zfill", "center", "ljust", "rjust", "partition", "rpartition",
      "removeprefix", "removesuffix");
  private static final Set<String> DICT = Set.of("items", "keys", "values", "get", "copy");
  private static final Set<String> LIST = Set.of("count", "index", "copy");
  private static final Set<String> LIST_MUTATORS =
      Set.of("append", "clear", "pop", "reverse", "insert", "sort", "extend", "remove");
  private static final Set<String> DICT_MUTATORS = Set.of("clear", "pop", "popitem", "setdefault", "update");

  static boolean has(Object obj, String name) {
    return switch (obj) {
      case String s -> STR.contains(name);
      case Map<?, ?> m -> DICT.contains(name);
      case List<?> l -> LIST.contains(name);
      case PyTuple t -> name.equals("count") || name.equals("index");
      case null, default -> false;
    };
  }

  /** ImmutableSandboxedEnvironment refuses methods that modify lists and dicts, and private names. */
  static boolean isUnsafe(Object obj, String name) {
    if (name.startsWith("__") && !(obj instanceof Map<?, ?> m && m.containsKey(name))) return obj != null;
    return (obj instanceof List && LIST_MUTATORS.contains(name))
        || (obj instanceof Map && DICT_MUTATORS.contains(name));
  }

  static Object call(Object self, String name, Args a) {
    return switch (self) {
      case String s -> strMethod(s, name, a);
      case Map<?, ?> m -> dictMethod(m, name, a);
      case List<?> l -> listMethod(l, name, a);
      case PyTuple t -> listMethod(t.items(), name, a);
      case null, default -> throw new TemplateException("no method " + name);
    };
  }

  private static Object dictMethod(Map<?, ?> m, String name, Args a) {
    return switch (name) {
      case "items" -> {
        List<Object> out = new ArrayList<>(m.size());
        m.forEach((k, v) -> out.add(new PyTuple(java.util.Arrays.asList(k, v))));
        yield out;
      }
      case "keys" -> new ArrayList<Object>(m.keySet());
      case "values" -> new ArrayList<Object>(m.values());
      case "get" -> {
        Object key = a.required(0, "key");
        Object def = a.get(1, "default", null);
        yield m.containsKey(key) ? m.get(key) : def;
      }
      case "copy" -> new java.util.LinkedHashMap<Object, Object>(m);
      default -> throw new TemplateException("no method " + name);
    };
  }

  private static Object listMethod(List<?> l, String name, Args a) {
    return switch (name) {
      case "count" -> {
        Object x = a.required(0, "value");
        yield l.stream().filter(y -> Python.eq(x, y)).count();
      }
      case "index" -> {
        Object x = a.required(0, "value");
        for (int i = 0; i < l.size(); i++) if (Python.eq(x, l.get(i))) yield (long) i;
        throw new TemplateException(Python.repr(x) + " is not in list");
      }
      case "copy" -> new ArrayList<Object>(l);
      default -> throw new TemplateException("no method " + name);
    };
  }

  private static String strArg(Args a, int i, String name) {
    Object v = a.get(i, name, null);
    if (v == null) return null;
    if (v instanceof String s) return s;
    if (v instanceof Undefined u) throw u.fail();
    throw new TemplateException(name + " arg must be None or str");
  }

  private static Object strMethod(String s, String name, Args a) {
    return switch (name) {
      case "startswith", "endswith" -> {
        Object p = a.required(0, "prefix");
        String sub = substringArgs(s, a);
        List<Object> options = p instanceof PyTuple t ? t.items() : List.of(p);
        boolean match = false;
        for (Object o : options) {
          if (!(o instanceof String x)) {
            throw new TemplateException(name + " first arg must be str or a tuple of str, not " + Python.typeName(o));
          }
          match |= name.equals("startswith") ? sub.startsWith(x) : sub.endsWith(x);
        }
        yield match;
      }
      case "strip" -> Python.strip(s, strArg(a, 0, "chars"));
      case "lstrip" -> Python.lstrip(s, strArg(a, 0, "chars"));
      case "rstrip" -> Python.rstrip(s, strArg(a, 0, "chars"));
      case "split" -> split(s, strArg(a, 0, "sep"), a.getLong(1, "maxsplit", -1));
      case "rsplit" -> rsplit(s, strArg(a, 0, "sep"), a.getLong(1, "maxsplit", -1));
      case "splitlines" -> splitlines(s, Python.truthy(a.get(0, "keepends", false)));
      case "replace" -> replace(s, (String) a.required(0, "old"), (String) a.required(1, "new"), a.getLong(2, "count", -1));
      case "upper" -> s.toUpperCase(java.util.Locale.ROOT);
      case "lower" -> s.toLowerCase(java.util.Locale.ROOT);
      case "casefold" -> s.toLowerCase(java.util.Locale.ROOT);
      case "title" -> title(s);
      case "capitalize" -> capitalize(s);
      case "swapcase" -> {
        StringBuilder sb = new StringBuilder();
        s.codePoints().forEach(c -> sb.append(Character.isUpperCase(c)
            ? Character.toString(c).toLowerCase(java.util.Locale.ROOT)
            : Character.toString(c).toUpperCase(java.util.Locale.ROOT)));
        yield sb.toString();
      }
      case "find", "index", "rfind", "rindex" -> {
        String sub = (String) a.required(0, "sub");
        String hay = substringArgs(s, a);
        int offset = s.codePointCount(0, s.length()) - hay.codePointCount(0, hay.length());
        int start = a.positional.size() > 1 ? offset : 0;
        int i = name.startsWith("r") ? hay.lastIndexOf(sub) : hay.indexOf(sub);
        if (i < 0) {
          if (name.endsWith("index")) throw new TemplateException("substring not found");
          yield -1L;
        }
        yield (long) (hay.codePointCount(0, i) + start);
      }
      case "count" -> {
        String sub = (String) a.required(0, "sub");
        String hay = substringArgs(s, a);
        if (sub.isEmpty()) yield (long) hay.codePointCount(0, hay.length()) + 1;
        long n = 0;
        for (int i = hay.indexOf(sub); i >= 0; i = hay.indexOf(sub, i + sub.length())) n++;
        yield n;
      }
      case "join" -> {
        StringBuilder sb = new StringBuilder();
        List<Object> items = Python.iterate(a.required(0, "iterable"));
        for (int i = 0; i < items.size(); i++) {
          if (!(items.get(i) instanceof String x)) {
            throw new TemplateException("sequence item " + i + ": expected str instance, "
                + Python.typeName(items.get(i)) + " found");
          }
          sb.append(i > 0 ? s : "").append(x);
        }
        yield sb.toString();
      }
      case "format" -> format(s, a.positional, a.keywords);
      case "isdigit", "isnumeric", "isdecimal" -> !s.isEmpty() && s.codePoints().allMatch(Character::isDigit);
      case "isalpha" -> !s.isEmpty() && s.codePoints().allMatch(Character::isLetter);
      case "isalnum" -> !s.isEmpty() && s.codePoints().allMatch(Character::isLetterOrDigit);
      case "isspace" -> !s.isEmpty() && s.codePoints().allMatch(Python::isSpace);
      case "isupper" -> hasCased(s) && s.equals(s.toUpperCase(java.util.Locale.ROOT));
      case "islower" -> hasCased(s) && s.equals(s.toLowerCase(java.util.Locale.ROOT));
      case "zfill" -> {
        int width = (int) a.getLong(0, "width", 0);
        int len = s.codePointCount(0, s.length());
        if (len >= width) yield s;
        String pad = "0".repeat(width - len);
        yield !s.isEmpty() && (s.charAt(0) == '-' || s.charAt(0) == '+') ? s.charAt(0) + pad + s.substring(1) : pad + s;
      }
      case "center", "ljust", "rjust" -> {
        int width = (int) a.getLong(0, "width", 0);
        String fill = a.get(1, "fillchar", " ").toString();
        int len = s.codePointCount(0, s.length());
        if (len >= width) yield s;
        int marg = width - len;
        int left = name.equals("ljust") ? 0 : name.equals("rjust") ? marg : marg / 2 + (marg & width & 1);
        yield fill.repeat(left) + s + fill.repeat(marg - left);
      }
      case "partition", "rpartition" -> {
        String sep = (String) a.required(0, "sep");
        int i = name.equals("partition") ? s.indexOf(sep) : s.lastIndexOf(sep);
        if (i < 0) {
          yield name.equals("partition")
              ? new PyTuple(java.util.Arrays.asList(s, "", ""))
              : new PyTuple(java.util.Arrays.asList("", "", s));
        }
        yield new PyTuple(java.util.Arrays.asList(s.substring(0, i), sep, s.substring(i + sep.length())));
      }
      case "removeprefix" -> {
        String p = (String) a.required(0, "prefix");
        yield s.startsWith(p) ? s.substring(p.length()) : s;
      }
      case "removesuffix" -> {
        String p = (String) a.required(0, "suffix");
        yield !p.isEmpty() && s.endsWith(p) ? s.substring(0, s.length() - p.length()) : s;
      }
      default -> throw new TemplateException("no method " + name);
    };
  }

  private static boolean hasCased(String s) {
    return s.codePoints().anyMatch(c -> Character.isUpperCase(c) || Character.isLowerCase(c) || Character.isTitleCase(c));
  }

  /** The s[start:end] that startswith/find/count take as optional 2nd and 3rd arguments. */
  private static String substringArgs(String s, Args a) {
    if (a.positional.size() < 2) return s;
    Object start = a.positional.get(1);
    Object end = a.positional.size() > 2 ? a.positional.get(2) : null;
    return (String) Python.getitem(s, new Python.SliceValue((Long) start, (Long) end, null));
  }

  static List<Object> split(String s, String sep, long maxsplit) {
    List<Object> out = new ArrayList<>();
    if (sep == null) {
      int i = 0;
      int n = s.length();
      while (true) {
        while (i < n && Python.isSpace(s.charAt(i))) i++;
        if (i >= n) break;
        if (maxsplit >= 0 && out.size() >= maxsplit) {
          out.add(s.substring(i));
          break;
        }
        int j = i;
        while (j < n && !Python.isSpace(s.charAt(j))) j++;
        out.add(s.substring(i, j));
        i = j;
      }
      return out;
    }
    if (sep.isEmpty()) throw new TemplateException("empty separator");
    int i = 0;
    while (maxsplit < 0 || out.size() < maxsplit) {
      int j = s.indexOf(sep, i);
      if (j < 0) break;
      out.add(s.substring(i, j));
      i = j + sep.length();
    }
    out.add(s.substring(i));
    return out;
  }

  static List<Object> rsplit(String s, String sep, long maxsplit) {
    List<Object> out = new ArrayList<>();
    if (sep == null) {
      int j = s.length();
      while (true) {
        while (j > 0 && Python.isSpace(s.charAt(j - 1))) j--;
        if (j <= 0) break;
        if (maxsplit >= 0 && out.size() >= maxsplit) {
          out.add(s.substring(0, j));
          break;
        }
        int i = j;
        while (i > 0 && !Python.isSpace(s.charAt(i - 1))) i--;
        out.add(s.substring(i, j));
        j = i;
      }
      java.util.Collections.reverse(out);
      return out;
    }
    if (sep.isEmpty()) throw new TemplateException("empty separator");
    int j = s.length();
    while (maxsplit < 0 || out.size() < maxsplit) {
      int i = s.lastIndexOf(sep, j - sep.length());
      if (i < 0 || j - sep.length() < 0) break;
      out.add(s.substring(i + sep.length(), j));
      j = i;
    }
    out.add(s.substring(0, j));
    java.util.Collections.reverse(out);
    return out;
  }

  static List<Object> splitlines(String s, boolean keepends) {
    List<Object> out = new ArrayList<>();
    int i = 0;
    int start = 0;
    while (i < s.length()) {
      char c = s.charAt(i);
      int eol = -1;
      if (c == '\r' && i + 1 < s.length() && s.charAt(i + 1) == '\n') eol = i + 2;
      else if (c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || c == 0x1c || c == 0x1d || c == 0x1e
          || c == 0x85 || c == 0x2028 || c == 0x2029) eol = i + 1;
      if (eol < 0) {
        i++;
        continue;
      }
      out.add(s.substring(start, keepends ? eol : i));
      start = i = eol;
    }
    if (start < s.length()) out.add(s.substring(start));
    return out;
  }

  static String replace(String s, String old, String replacement, long count) {
    if (count < 0) count = Long.MAX_VALUE;
    StringBuilder sb = new StringBuilder();
    if (old.isEmpty()) {
      long n = 0;
      int i = 0;
      while (true) {
        if (n++ < count) sb.append(replacement);
        if (i >= s.length()) break;
        int c = s.codePointAt(i);
        sb.appendCodePoint(c);
        i += Character.charCount(c);
      }
      return sb.toString();
    }
    int i = 0;
    for (long n = 0; n < count; n++) {
      int j = s.indexOf(old, i);
      if (j < 0) break;
      sb.append(s, i, j).append(replacement);
      i = j + old.length();
    }
    return sb.append(s, i, s.length()).toString();
  }

  /** Python's str.title(): a letter is upper-cased when it follows an uncased character. */
  static String title(String s) {
    StringBuilder sb = new StringBuilder(s.length());
    boolean prevCased = false;
    for (int i = 0; i < s.length(); ) {
      int c = s.codePointAt(i);
      i += Character.charCount(c);
      if (prevCased) sb.append(Character.toString(c).toLowerCase(java.util.Locale.ROOT));
      else sb.appendCodePoint(Character.toTitleCase(c));
      prevCased = Character.isUpperCase(c) || Character.isLowerCase(c) || Character.isTitleCase(c);
    }
    return sb.toString();
  }

  static String capitalize(String s) {
    if (s.isEmpty()) return s;
    int c = s.codePointAt(0);
    return new StringBuilder().appendCodePoint(Character.toTitleCase(c))
        .append(s.substring(Character.charCount(c)).toLowerCase(java.util.Locale.ROOT)).toString();
  }

  /** str.format with plain {} / {0} / {name} fields and !s / !r conversions (no format specs). */
  static String format(String s, List<Object> args, Map<String, Object> kwargs) {
    StringBuilder sb = new StringBuilder();
    int auto = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '{' && i + 1 < s.length() && s.charAt(i + 1) == '{') {
        sb.append('{');
        i++;
      } else if (c == '}' && i + 1 < s.length() && s.charAt(i + 1) == '}') {
        sb.append('}');
        i++;
      } else if (c == '{') {
        int close = s.indexOf('}', i);
        if (close < 0) throw new TemplateException("Single '{' encountered in format string");
        String field = s.substring(i + 1, close);
        char conv = 's';
        int bang = field.indexOf('!');
        if (bang >= 0) {
          conv = field.charAt(bang + 1);
          field = field.substring(0, bang);
        }
        if (field.contains(":")) throw new TemplateException("format specs are not supported: " + field);
        Object v;
        if (field.isEmpty()) v = args.get(auto++);
        else if (field.chars().allMatch(Character::isDigit)) v = args.get(Integer.parseInt(field));
        else if (kwargs.containsKey(field)) v = kwargs.get(field);
        else throw new TemplateException("KeyError: " + Python.repr(field));
        sb.append(conv == 'r' ? Python.repr(v) : Python.str(v));
        i = close;
      } else if (c == '}') {
        throw new TemplateException("Single '}' encountered in format string");
      } else {
        sb.append(c);
      }
    }
    return sb.toString();
  }

  /** printf-style {@code "%s" % value} for the conversions s, r, d, i, f (with precision) and %%. */
  static String percentFormat(String s, Object value) {
    List<Object> args = value instanceof PyTuple t ? t.items() : java.util.Arrays.asList(value);
    StringBuilder sb = new StringBuilder();
    int next = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c != '%') {
        sb.append(c);
        continue;
      }
      if (++i >= s.length()) throw new TemplateException("incomplete format");
      String key = null;
      if (s.charAt(i) == '(') {
        int close = s.indexOf(')', i);
        key = s.substring(i + 1, close);
        i = close + 1;
      }
      int precision = -1;
      if (s.charAt(i) == '.') {
        int j = ++i;
        while (Character.isDigit(s.charAt(i))) i++;
        precision = Integer.parseInt(s.substring(j, i));
      }
      char conv = s.charAt(i);
      if (conv == '%') {
        sb.append('%');
        continue;
      }
      Object v = key != null ? ((Map<?, ?>) value).get(key) : args.get(next++);
      switch (conv) {
        case 's' -> sb.append(Python.str(v));
        case 'r' -> sb.append(Python.repr(v));
        case 'd', 'i' -> sb.append(Python.asNumber(v) instanceof Double d ? (long) (double) d : Python.asNumber(v));
        case 'f' -> sb.append(String.format(java.util.Locale.ROOT, "%." + (precision < 0 ? 6 : precision) + "f",
            ((Number) Python.asNumber(v)).doubleValue()));
        default -> throw new TemplateException("unsupported format character '" + conv + "'");
      }
    }
    return sb.toString();
  }
}
