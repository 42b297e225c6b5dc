package io.quire.jinja;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits template source into tokens as jinja2 3.1's lexer does with transformers' settings:
 * trim_blocks and lstrip_blocks on, keep_trailing_newline off, newlines normalized to "\n".
 */
final class Lexer {

  enum Kind { DATA, VAR_BEGIN, VAR_END, BLOCK_BEGIN, BLOCK_END, NAME, STRING, INTEGER, FLOAT, OPERATOR, EOF }

  record Token(Kind kind, String value, Object literal, int line) {
    boolean is(Kind k, String v) {
      return kind == k && value.equals(v);
    }

    boolean isName(String v) {
      return is(Kind.NAME, v);
    }

    boolean isOp(String v) {
      return is(Kind.OPERATOR, v);
    }
  }

  private static final String[] OPERATORS = {
    "//", "**", "==", "!=", ">=", "<=",
    "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"
  };

  private final String src;
  private final List<Token> out = new ArrayList<>();
  private int pos;
  private int line = 1;
  private boolean lineStarting = true;

  private Lexer(String source) {
    String s = source.replace("\r\n", "\n").replace('\r', '\n');
    if (s.endsWith("\n")) s = s.substring(0, s.length() - 1);
    this.src = s;
  }

  static List<Token> tokenize(String source) {
    Lexer lx = new Lexer(source);
    lx.root();
    lx.out.add(new Token(Kind.EOF, "", null, lx.line));
    return lx.out;
  }

  private void root() {
    while (pos < src.length()) {
      int open = nextOpener(pos);
      if (open < 0) {
        emitData(src.substring(pos));
        pos = src.length();
        return;
      }
      char type = src.charAt(open + 1);
      char sign = open + 2 < src.length() ? src.charAt(open + 2) : 0;
      if (sign != '-' && sign != '+') sign = 0;
      String text = src.substring(pos, open);
      int rawEnd = type == '%' ? matchRawBegin(open) : -1;
      text = stripBefore(text, sign, type != '{');
      emitData(text);
      line += countNewlines(src, pos + text.length(), open);
      if (rawEnd >= 0) {
        lineStarting = src.charAt(rawEnd - 1) == '\n';
        line += countNewlines(src, open, rawEnd);
        pos = rawEnd;
        raw();
        continue;
      }
      int afterOpen = open + 2 + (sign != 0 ? 1 : 0);
      lineStarting = false;
      pos = afterOpen;
      if (type == '#') comment();
      else tag(type == '%');
    }
  }

  private int nextOpener(int from) {
    for (int i = from; i + 1 < src.length(); i++) {
      if (src.charAt(i) == '{') {
        char c = src.charAt(i + 1);
        if (c == '{' || c == '%' || c == '#') return i;
      }
    }
    return -1;
  }

  /** Applies "-" (strip all whitespace before the tag) or lstrip_blocks to the text before a tag. */
  private String stripBefore(String text, char sign, boolean lstrip) {
    if (sign == '-') return Python.rstrip(text, null);
    if (sign != '+' && lstrip) {
      int lpos = text.lastIndexOf('\n') + 1;
      if ((lpos > 0 || lineStarting) && lpos < text.length() && allWhitespace(text, lpos)) {
        return text.substring(0, lpos);
      }
    }
    return text;
  }

  private static boolean allWhitespace(String s, int from) {
    for (int i = from; i < s.length(); i++) if (!Python.isSpace(s.charAt(i))) return false;
    return true;
  }

  private void emitData(String text) {
    if (!text.isEmpty()) {
      out.add(new Token(Kind.DATA, text, null, line));
      line += countNewlines(text, 0, text.length());
    }
  }

  private static int countNewlines(String s, int from, int to) {
    int n = 0;
    for (int i = from; i < to; i++) if (s.charAt(i) == '\n') n++;
    return n;
  }

  /** Returns the end of a "{% raw %}" tag starting at open, or -1. */
  private int matchRawBegin(int open) {
    int i = open + 2;
    if (i < src.length() && (src.charAt(i) == '-' || src.charAt(i) == '+')) i++;
    i = skipSpace(i);
    if (!src.startsWith("raw", i)) return -1;
    i = skipSpace(i + 3);
    if (src.startsWith("-%}", i)) return skipSpace(i + 3);
    if (src.startsWith("%}", i)) return i + 2;
    return -1;
  }

  private int skipSpace(int i) {
    while (i < src.length() && Python.isSpace(src.charAt(i))) i++;
    return i;
  }

  private void raw() {
    for (int i = pos; i < src.length(); i++) {
      if (!src.startsWith("{%", i)) continue;
      int j = i + 2;
      char sign = 0;
      if (j < src.length() && (src.charAt(j) == '-' || src.charAt(j) == '+')) sign = src.charAt(j++);
      j = skipSpace(j);
      if (!src.startsWith("endraw", j)) continue;
      j = skipSpace(j + 6);
      int end = blockEnd(j);
      if (end < 0) continue;
      String text = stripBefore(src.substring(pos, i), sign, true);
      emitData(text);
      line += countNewlines(src, pos + text.length(), end);
      lineStarting = src.charAt(end - 1) == '\n';
      pos = end;
      return;
    }
    throw new TemplateException("line " + line + ": missing end of raw directive");
  }

  /** Matches a block end "+%}", "-%}\s*" or "%}\n?" at i; returns its end or -1. */
  private int blockEnd(int i) {
    if (src.startsWith("+%}", i)) return i + 3;
    if (src.startsWith("-%}", i)) return skipSpace(i + 3);
    if (src.startsWith("%}", i)) return i + 2 < src.length() && src.charAt(i + 2) == '\n' ? i + 3 : i + 2;
    return -1;
  }

  private void comment() {
    for (int i = pos; i < src.length(); i++) {
      int end = -1;
      if (src.startsWith("+#}", i)) end = i + 3;
      else if (src.startsWith("-#}", i)) end = skipSpace(i + 3);
      else if (src.startsWith("#}", i)) end = i + 2 < src.length() && src.charAt(i + 2) == '\n' ? i + 3 : i + 2;
      if (end >= 0) {
        line += countNewlines(src, pos, end);
        lineStarting = src.charAt(end - 1) == '\n';
        pos = end;
        return;
      }
    }
    throw new TemplateException("line " + line + ": missing end of comment tag");
  }

  private void tag(boolean block) {
    out.add(new Token(block ? Kind.BLOCK_BEGIN : Kind.VAR_BEGIN, block ? "{%" : "{{", null, line));
    int depth = 0;
    while (true) {
      if (pos >= src.length()) {
        throw new TemplateException("line " + line + ": unexpected end of template, expected end of tag");
      }
      if (depth == 0) {
        int end = block ? blockEnd(pos) : varEnd(pos);
        if (end >= 0) {
          out.add(new Token(block ? Kind.BLOCK_END : Kind.VAR_END, src.substring(pos, end), null, line));
          line += countNewlines(src, pos, end);
          lineStarting = src.charAt(end - 1) == '\n';
          pos = end;
          return;
        }
      }
      char c = src.charAt(pos);
      if (Python.isSpace(c)) {
        if (c == '\n') line++;
        pos++;
        continue;
      }
      if (lexNumber() || lexName() || lexString()) continue;
      String op = null;
      for (String o : OPERATORS) {
        if (src.startsWith(o, pos)) {
          op = o;
          break;
        }
      }
      if (op == null) throw new TemplateException("line " + line + ": unexpected char '" + c + "'");
      switch (op) {
        case "(", "[", "{" -> depth++;
        case ")", "]", "}" -> {
          if (depth == 0) throw new TemplateException("line " + line + ": unexpected '" + op + "'");
          depth--;
        }
        default -> {}
      }
      out.add(new Token(Kind.OPERATOR, op, null, line));
      pos += op.length();
    }
  }

  private int varEnd(int i) {
    if (src.startsWith("-}}", i)) return skipSpace(i + 3);
    if (src.startsWith("}}", i)) return i + 2;
    return -1;
  }

  private boolean lexName() {
    int c = src.codePointAt(pos);
    if (!(Character.isLetter(c) || c == '_')) return false;
    int i = pos + Character.charCount(c);
    while (i < src.length()) {
      int d = src.codePointAt(i);
      if (!(Character.isLetterOrDigit(d) || d == '_')) break;
      i += Character.charCount(d);
    }
    out.add(new Token(Kind.NAME, src.substring(pos, i), null, line));
    pos = i;
    return true;
  }

  private int digits(int i) {
    // (\d+_)*\d+
    int start = i;
    while (true) {
      int j = i;
      while (j < src.length() && isDigit(src.charAt(j))) j++;
      if (j == i) return i == start ? -1 : i;
      if (j < src.length() && src.charAt(j) == '_' && j + 1 < src.length() && isDigit(src.charAt(j + 1))) {
        i = j + 1;
      } else {
        return j;
      }
    }
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  private boolean lexNumber() {
    if (!isDigit(src.charAt(pos))) return false;
    // float: (?<!\.)(\d+_)*\d+((\.(\d+_)*\d+)?e[+-]?(\d+_)*\d+|\.(\d+_)*\d+)
    if (pos == 0 || src.charAt(pos - 1) != '.') {
      int i = digits(pos);
      int end = -1;
      int j = i;
      if (j < src.length() && src.charAt(j) == '.') {
        int k = digits(j + 1);
        if (k > 0) {
          end = k;
          j = k;
        }
      }
      int e = exponent(j);
      if (e > 0) end = e;
      if (end > 0) {
        String text = src.substring(pos, end);
        out.add(new Token(Kind.FLOAT, text, Double.parseDouble(text.replace("_", "")), line));
        pos = end;
        return true;
      }
    }
    // integer: 0b / 0o / 0x / [1-9](_?\d)* / 0(_?0)*
    int i = pos;
    int radix = 10;
    if (src.charAt(i) == '0' && i + 1 < src.length()) {
      char p = Character.toLowerCase(src.charAt(i + 1));
      radix = p == 'b' ? 2 : p == 'o' ? 8 : p == 'x' ? 16 : 10;
    }
    int end;
    String digitsText;
    if (radix != 10) {
      int j = i + 2;
      StringBuilder sb = new StringBuilder();
      while (j < src.length()) {
        int skip = src.charAt(j) == '_' ? 1 : 0;
        if (j + skip < src.length() && Character.digit(src.charAt(j + skip), radix) >= 0) {
          sb.append(src.charAt(j + skip));
          j += skip + 1;
        } else {
          break;
        }
      }
      if (sb.isEmpty()) {
        radix = 10;
      } else {
        out.add(new Token(Kind.INTEGER, src.substring(pos, j), Long.parseLong(sb.toString(), radix), line));
        pos = j;
        return true;
      }
    }
    if (src.charAt(i) == '0') {
      int j = i + 1;
      while (j < src.length()) {
        int skip = src.charAt(j) == '_' ? 1 : 0;
        if (j + skip < src.length() && src.charAt(j + skip) == '0') j += skip + 1;
        else break;
      }
      end = j;
    } else {
      int j = i + 1;
      while (j < src.length()) {
        int skip = src.charAt(j) == '_' ? 1 : 0;
        if (j + skip < src.length() && isDigit(src.charAt(j + skip))) j += skip + 1;
        else break;
      }
      end = j;
    }
    digitsText = src.substring(pos, end);
    out.add(new Token(Kind.INTEGER, digitsText, Long.parseLong(digitsText.replace("_", "")), line));
    pos = end;
    return true;
  }

  private int exponent(int j) {
    if (j < src.length() && (src.charAt(j) == 'e' || src.charAt(j) == 'E')) {
      int k = j + 1;
      if (k < src.length() && (src.charAt(k) == '+' || src.charAt(k) == '-')) k++;
      return digits(k);
    }
    return -1;
  }

  private boolean lexString() {
    char q = src.charAt(pos);
    if (q != '\'' && q != '"') return false;
    int i = pos + 1;
    while (i < src.length() && src.charAt(i) != q) {
      if (src.charAt(i) == '\\') i++;
      i++;
    }
    if (i >= src.length()) throw new TemplateException("line " + line + ": unexpected end of string");
    String body = src.substring(pos + 1, i);
    out.add(new Token(Kind.STRING, body, unescape(body), line));
    line += countNewlines(body, 0, body.length());
    pos = i + 1;
    return true;
  }

  /** Python's "unicode-escape" decoding, which jinja2 applies to string literals. */
  static String unescape(String s) {
    if (s.indexOf('\\') < 0) return s;
    StringBuilder sb = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c != '\\' || i + 1 >= s.length()) {
        sb.append(c);
        continue;
      }
      char n = s.charAt(++i);
      switch (n) {
        case '\n' -> {}
        case '\\' -> sb.append('\\');
        case '\'' -> sb.append('\'');
        case '"' -> sb.append('"');
        case 'a' -> sb.append('\u0007');
        case 'b' -> sb.append('\b');
        case 'f' -> sb.append('\f');
        case 'n' -> sb.append('\n');
        case 'r' -> sb.append('\r');
        case 't' -> sb.append('\t');
        case 'v' -> sb.append('\u000b');
        case 'x', 'u', 'U' -> {
          int len = n == 'x' ? 2 : n == 'u' ? 4 : 8;
          if (i + len >= s.length()) {
            throw new TemplateException("truncated \\" + n + " escape in string literal");
          }
          String hex = s.substring(i + 1, i + 1 + len);
          try {
            sb.appendCodePoint(Integer.parseInt(hex, 16));
          } catch (NumberFormatException e) {
            throw new TemplateException("bad \\" + n + " escape in string literal: " + hex);
          }
          i += len;
        }
        case 'N' -> {
          int close = s.indexOf('}', i);
          if (i + 1 >= s.length() || s.charAt(i + 1) != '{' || close < 0) {
            throw new TemplateException("malformed \\N character escape");
          }
          sb.appendCodePoint(Character.codePointOf(s.substring(i + 2, close)));
          i = close;
        }
        default -> {
          if (n >= '0' && n <= '7') {
            int v = 0;
            int k = i;
            while (k < s.length() && k < i + 3 && s.charAt(k) >= '0' && s.charAt(k) <= '7') {
              v = v * 8 + (s.charAt(k) - '0');
              k++;
            }
            sb.appendCodePoint(v);
            i = k - 1;
          } else {
            sb.append('\\').append(n);
          }
        }
      }
    }
    return sb.toString();
  }
}
