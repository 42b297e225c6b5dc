package io.quire.jinja;

import io.quire.jinja.Lexer.Kind;
import io.quire.jinja.Lexer.Token;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** Recursive-descent parser following jinja2 3.1's grammar and operator precedence. */
final class Parser {

  private static final Set<String> COMPARE_OPS = Set.of("==", "!=", "<", "<=", ">", ">=");

  private final List<Token> tokens;
  private int pos;

  private Parser(List<Token> tokens) {
    this.tokens = tokens;
  }

  static List<Node> parse(String source) {
    Parser p = new Parser(Lexer.tokenize(source));
    List<Node> body = p.subparse(Set.of());
    if (p.cur().kind() != Kind.EOF) throw p.error("unexpected " + p.describe(p.cur()));
    return body;
  }

  private Token cur() {
    return tokens.get(pos);
  }

  private Token peek() {
    return tokens.get(Math.min(pos + 1, tokens.size() - 1));
  }

  private Token next() {
    return tokens.get(pos++);
  }

  private TemplateException error(String message) {
    return new TemplateException("line " + cur().line() + ": " + message);
  }

  private String describe(Token t) {
    return switch (t.kind()) {
      case EOF -> "end of template";
      case BLOCK_END -> "end of statement block";
      case VAR_END -> "end of print statement";
      default -> "'" + t.value() + "'";
    };
  }

  private boolean skipOp(String op) {
    if (cur().isOp(op)) {
      pos++;
      return true;
    }
    return false;
  }

  private boolean skipName(String name) {
    if (cur().isName(name)) {
      pos++;
      return true;
    }
    return false;
  }

  private void expectOp(String op) {
    if (!skipOp(op)) throw error("expected '" + op + "', got " + describe(cur()));
  }

  private String expectName() {
    if (cur().kind() != Kind.NAME) throw error("expected name, got " + describe(cur()));
    return next().value();
  }

  private void expect(Kind kind) {
    if (cur().kind() != kind) throw error("expected " + kind.name().toLowerCase() + ", got " + describe(cur()));
    pos++;
  }

  // ---- statements ----

  /** Parses nodes until a block tag whose name is in endTags (left unconsumed, after its "{%"). */
  private List<Node> subparse(Set<String> endTags) {
    List<Node> body = new ArrayList<>();
    while (true) {
      Token t = cur();
      switch (t.kind()) {
        case DATA -> {
          pos++;
          body.add(new Node.Text(t.value()));
        }
        case VAR_BEGIN -> {
          pos++;
          Expr e = parseTuple(false, true, Set.of(), false);
          expect(Kind.VAR_END);
          body.add(new Node.Output(e));
        }
        case BLOCK_BEGIN -> {
          pos++;
          Token name = cur();
          if (name.kind() == Kind.NAME && endTags.contains(name.value())) return body;
          body.add(parseStatement());
        }
        case EOF -> {
          if (!endTags.isEmpty()) {
            throw error("unexpected end of template, expected one of " + String.join(", ", endTags));
          }
          return body;
        }
        default -> throw error("unexpected " + describe(t));
      }
    }
  }

  /** Parses a body up to one of endTags; consumes the end tag name and returns it via last(). */
  private List<Node> statements(Set<String> endTags, boolean dropNeedle) {
    expect(Kind.BLOCK_END);
    List<Node> body = subparse(endTags);
    if (dropNeedle) {
      pos++;
      expect(Kind.BLOCK_END);
    }
    return body;
  }

  private Node parseStatement() {
    Token t = cur();
    if (t.kind() != Kind.NAME) throw error("tag name expected");
    switch (t.value()) {
      case "if" -> {
        return parseIf();
      }
      case "for" -> {
        return parseFor();
      }
      case "set" -> {
        return parseSet();
      }
      case "macro" -> {
        return parseMacro();
      }
      case "call" -> {
        return parseCallBlock();
      }
      case "filter" -> {
        pos++;
        Expr filter = parseFilter(null, true);
        return new Node.FilterBlock(filter, statements(Set.of("endfilter"), true));
      }
      case "with" -> {
        return parseWith();
      }
      case "break", "continue" -> {
        pos++;
        expect(Kind.BLOCK_END);
        return t.value().equals("break") ? new Node.Break() : new Node.Continue();
      }
      case "generation" -> {
        // transformers' AssistantTracker extension: the body renders as-is.
        pos++;
        return new Node.With(List.of(), List.of(), statements(Set.of("endgeneration"), true));
      }
      default -> throw error("Encountered unknown tag '" + t.value() + "'.");
    }
  }

  private Node parseIf() {
    pos++;
    List<Node.Branch> branches = new ArrayList<>();
    List<Node> orElse = List.of();
    Expr test = parseTuple(false, false, Set.of(), false);
    while (true) {
      List<Node> body = statements(Set.of("elif", "else", "endif"), false);
      branches.add(new Node.Branch(test, body));
      String tag = next().value();
      if (tag.equals("elif")) {
        test = parseTuple(false, false, Set.of(), false);
        continue;
      }
      if (tag.equals("else")) orElse = statements(Set.of("endif"), true);
      else expect(Kind.BLOCK_END);
      return new Node.If(branches, orElse);
    }
  }

  private Node parseFor() {
    pos++;
    Expr target = parseAssignTarget(Set.of("in"), false);
    if (!skipName("in")) throw error("expected 'in'");
    Expr iter = parseTuple(false, false, Set.of("recursive"), false);
    Expr filter = null;
    if (skipName("if")) filter = parseExpression(true);
    boolean recursive = skipName("recursive");
    List<Node> body = statements(Set.of("endfor", "else"), false);
    List<Node> orElse = List.of();
    if (next().value().equals("endfor")) expect(Kind.BLOCK_END);
    else orElse = statements(Set.of("endfor"), true);
    return new Node.For(target, iter, filter, body, orElse, recursive);
  }

  private Node parseSet() {
    pos++;
    Expr target = parseAssignTarget(Set.of(), true);
    if (skipOp("=")) {
      Expr value = parseTuple(false, true, Set.of(), false);
      expect(Kind.BLOCK_END);
      return new Node.Set(target, value);
    }
    Expr filter = cur().isOp("|") ? parseFilter(null, false) : null;
    return new Node.SetBlock(target, filter, statements(Set.of("endset"), true));
  }

  private Expr parseAssignTarget(Set<String> extraEnd, boolean withNamespace) {
    Expr target;
    if (withNamespace && peek().isOp(".") && cur().kind() == Kind.NAME) {
      String name = next().value();
      pos++;
      target = new Expr.NsRef(name, expectName());
    } else {
      target = parseTuple(true, true, extraEnd, false);
    }
    if (!isAssignable(target)) throw error("can't assign to " + target.getClass().getSimpleName());
    return target;
  }

  private static boolean isAssignable(Expr e) {
    return switch (e) {
      case Expr.Name n -> !Set.of("true", "false", "none", "True", "False", "None").contains(n.name());
      case Expr.NsRef r -> true;
      case Expr.TupleLit t -> t.items().stream().allMatch(Parser::isAssignable);
      default -> false;
    };
  }

  private List<Node.Param> parseSignature() {
    List<Node.Param> params = new ArrayList<>();
    expectOp("(");
    while (!cur().isOp(")")) {
      if (!params.isEmpty()) expectOp(",");
      if (cur().isOp(")")) break;
      String name = expectName();
      Expr def = skipOp("=") ? parseExpression(true) : null;
      params.add(new Node.Param(name, def));
    }
    expectOp(")");
    return params;
  }

  private Node parseMacro() {
    pos++;
    String name = expectName();
    List<Node.Param> params = parseSignature();
    return new Node.Macro(name, params, statements(Set.of("endmacro"), true));
  }

  private Node parseCallBlock() {
    pos++;
    List<Node.Param> params = cur().isOp("(") ? parseSignature() : List.of();
    Expr call = parseExpression(true);
    if (!(call instanceof Expr.Call c)) throw error("expected call");
    return new Node.CallBlock(c, params, statements(Set.of("endcall"), true));
  }

  private Node parseWith() {
    pos++;
    List<Expr> targets = new ArrayList<>();
    List<Expr> values = new ArrayList<>();
    while (cur().kind() != Kind.BLOCK_END) {
      if (!targets.isEmpty()) expectOp(",");
      targets.add(parseAssignTarget(Set.of(), false));
      expectOp("=");
      values.add(parseExpression(true));
    }
    return new Node.With(targets, values, statements(Set.of("endwith"), true));
  }

  // ---- expressions ----

  private Expr parseExpression(boolean withCondExpr) {
    return withCondExpr ? parseCondExpr() : parseOr();
  }

  private Expr parseCondExpr() {
    Expr expr1 = parseOr();
    while (skipName("if")) {
      Expr expr2 = parseOr();
      Expr expr3 = skipName("else") ? parseCondExpr() : null;
      expr1 = new Expr.CondExpr(expr2, expr1, expr3);
    }
    return expr1;
  }

  private Expr parseOr() {
    Expr left = parseAnd();
    while (skipName("or")) left = new Expr.Or(left, parseAnd());
    return left;
  }

  private Expr parseAnd() {
    Expr left = parseNot();
    while (skipName("and")) left = new Expr.And(left, parseNot());
    return left;
  }

  private Expr parseNot() {
    if (skipName("not")) return new Expr.Not(parseNot());
    return parseCompare();
  }

  private Expr parseCompare() {
    Expr expr = parseMath1();
    List<String> ops = new ArrayList<>();
    List<Expr> operands = new ArrayList<>();
    while (true) {
      Token t = cur();
      if (t.kind() == Kind.OPERATOR && COMPARE_OPS.contains(t.value())) {
        pos++;
        ops.add(t.value());
      } else if (skipName("in")) {
        ops.add("in");
      } else if (t.isName("not") && peek().isName("in")) {
        pos += 2;
        ops.add("notin");
      } else {
        break;
      }
      operands.add(parseMath1());
    }
    return ops.isEmpty() ? expr : new Expr.Compare(expr, ops, operands);
  }

  private Expr parseMath1() {
    Expr left = parseConcat();
    while (cur().isOp("+") || cur().isOp("-")) {
      String op = next().value();
      left = new Expr.BinOp(op, left, parseConcat());
    }
    return left;
  }

  private Expr parseConcat() {
    List<Expr> parts = new ArrayList<>();
    parts.add(parseMath2());
    while (skipOp("~")) parts.add(parseMath2());
    return parts.size() == 1 ? parts.getFirst() : new Expr.Concat(parts);
  }

  private Expr parseMath2() {
    Expr left = parsePow();
    while (cur().isOp("*") || cur().isOp("/") || cur().isOp("//") || cur().isOp("%")) {
      String op = next().value();
      left = new Expr.BinOp(op, left, parsePow());
    }
    return left;
  }

  private Expr parsePow() {
    Expr left = parseUnary(true);
    while (skipOp("**")) left = new Expr.BinOp("**", left, parseUnary(true));
    return left;
  }

  private Expr parseUnary(boolean withFilter) {
    Expr node;
    if (skipOp("-")) node = new Expr.Neg(parseUnary(false));
    else if (skipOp("+")) node = new Expr.Pos(parseUnary(false));
    else node = parsePrimary();
    node = parsePostfix(node);
    if (withFilter) node = parseFilterExpr(node);
    return node;
  }

  private Expr parsePrimary() {
    Token t = cur();
    switch (t.kind()) {
      case NAME -> {
        pos++;
        return switch (t.value()) {
          case "true", "True" -> new Expr.Const(Boolean.TRUE);
          case "false", "False" -> new Expr.Const(Boolean.FALSE);
          case "none", "None" -> new Expr.Const(null);
          default -> new Expr.Name(t.value());
        };
      }
      case STRING -> {
        StringBuilder sb = new StringBuilder();
        while (cur().kind() == Kind.STRING) sb.append((String) next().literal());
        return new Expr.Const(sb.toString());
      }
      case INTEGER, FLOAT -> {
        pos++;
        return new Expr.Const(t.literal());
      }
      case OPERATOR -> {
        switch (t.value()) {
          case "(" -> {
            pos++;
            Expr e = parseTuple(false, true, Set.of(), true);
            expectOp(")");
            return e;
          }
          case "[" -> {
            return parseList();
          }
          case "{" -> {
            return parseDict();
          }
          default -> {}
        }
      }
      default -> {}
    }
    throw error("unexpected " + describe(t));
  }

  private boolean isTupleEnd(Set<String> extraEnd) {
    Token t = cur();
    if (t.kind() == Kind.VAR_END || t.kind() == Kind.BLOCK_END || t.isOp(")")) return true;
    return t.kind() == Kind.NAME && extraEnd.contains(t.value());
  }

  private Expr parseTuple(boolean simplified, boolean withCondExpr, Set<String> extraEnd, boolean explicitParens) {
    List<Expr> args = new ArrayList<>();
    boolean isTuple = false;
    while (true) {
      if (!args.isEmpty()) expectOp(",");
      if (isTupleEnd(extraEnd)) break;
      args.add(simplified ? parsePrimary() : parseExpression(withCondExpr));
      if (cur().isOp(",")) isTuple = true;
      else break;
    }
    if (!isTuple) {
      if (!args.isEmpty()) return args.getFirst();
      if (!explicitParens) throw error("Expected an expression, got " + describe(cur()));
    }
    return new Expr.TupleLit(args);
  }

  private Expr parseList() {
    expectOp("[");
    List<Expr> items = new ArrayList<>();
    while (!cur().isOp("]")) {
      if (!items.isEmpty()) expectOp(",");
      if (cur().isOp("]")) break;
      items.add(parseExpression(true));
    }
    expectOp("]");
    return new Expr.ListLit(items);
  }

  private Expr parseDict() {
    expectOp("{");
    List<Expr> keys = new ArrayList<>();
    List<Expr> values = new ArrayList<>();
    while (!cur().isOp("}")) {
      if (!keys.isEmpty()) expectOp(",");
      if (cur().isOp("}")) break;
      keys.add(parseExpression(true));
      expectOp(":");
      values.add(parseExpression(true));
    }
    expectOp("}");
    return new Expr.DictLit(keys, values);
  }

  private Expr parsePostfix(Expr node) {
    while (true) {
      if (cur().isOp(".") || cur().isOp("[")) node = parseSubscript(node);
      else if (cur().isOp("(")) node = new Expr.Call(node, parseCallArgs());
      else return node;
    }
  }

  private Expr parseFilterExpr(Expr node) {
    while (true) {
      if (cur().isOp("|")) node = parseFilter(node, false);
      else if (cur().isName("is")) node = parseTest(node);
      else if (cur().isOp("(")) node = new Expr.Call(node, parseCallArgs());
      else return node;
    }
  }

  private Expr parseSubscript(Expr node) {
    Token t = next();
    if (t.isOp(".")) {
      Token attr = next();
      if (attr.kind() == Kind.NAME) return new Expr.GetAttr(node, attr.value());
      if (attr.kind() != Kind.INTEGER) throw error("expected name or number");
      return new Expr.GetItem(node, new Expr.Const(attr.literal()));
    }
    List<Expr> args = new ArrayList<>();
    while (!cur().isOp("]")) {
      if (!args.isEmpty()) expectOp(",");
      args.add(parseSubscribed());
    }
    expectOp("]");
    return new Expr.GetItem(node, args.size() == 1 ? args.getFirst() : new Expr.TupleLit(args));
  }

  private Expr parseSubscribed() {
    Expr start = null;
    if (!skipOp(":")) {
      Expr node = parseExpression(true);
      if (!skipOp(":")) return node;
      start = node;
    }
    Expr stop = null;
    if (!cur().isOp(":") && !cur().isOp("]") && !cur().isOp(",")) stop = parseExpression(true);
    Expr step = null;
    if (skipOp(":")) {
      if (!cur().isOp("]") && !cur().isOp(",")) step = parseExpression(true);
    }
    return new Expr.Slice(start, stop, step);
  }

  private Expr.Args parseCallArgs() {
    expectOp("(");
    List<Expr> args = new ArrayList<>();
    List<Expr.Keyword> kwargs = new ArrayList<>();
    Expr starArgs = null;
    Expr starKwargs = null;
    boolean requireComma = false;
    while (!cur().isOp(")")) {
      if (requireComma) {
        expectOp(",");
        if (cur().isOp(")")) break;
      }
      if (skipOp("*")) {
        starArgs = parseExpression(true);
      } else if (skipOp("**")) {
        starKwargs = parseExpression(true);
      } else if (cur().kind() == Kind.NAME && peek().isOp("=")) {
        String key = next().value();
        pos++;
        kwargs.add(new Expr.Keyword(key, parseExpression(true)));
      } else {
        if (!kwargs.isEmpty() || starArgs != null || starKwargs != null) {
          throw error("invalid syntax for function call expression");
        }
        args.add(parseExpression(true));
      }
      requireComma = true;
    }
    expectOp(")");
    return new Expr.Args(args, kwargs, starArgs, starKwargs);
  }

  private Expr parseFilter(Expr node, boolean startInline) {
    while (cur().isOp("|") || startInline) {
      if (!startInline) pos++;
      StringBuilder name = new StringBuilder(expectName());
      while (skipOp(".")) name.append('.').append(expectName());
      Expr.Args args = cur().isOp("(") ? parseCallArgs() : Expr.Args.NONE;
      node = new Expr.Filter(node, name.toString(), args);
      startInline = false;
    }
    return node;
  }

  private Expr parseTest(Expr node) {
    pos++;
    boolean negated = skipName("not");
    StringBuilder name = new StringBuilder(expectName());
    while (skipOp(".")) name.append('.').append(expectName());
    Expr.Args args = Expr.Args.NONE;
    Token t = cur();
    if (t.isOp("(")) {
      args = parseCallArgs();
    } else if ((t.kind() == Kind.NAME
            || t.kind() == Kind.STRING
            || t.kind() == Kind.INTEGER
            || t.kind() == Kind.FLOAT
            || t.isOp("[")
            || t.isOp("{"))
        && !t.isName("else")
        && !t.isName("or")
        && !t.isName("and")) {
      if (t.isName("is")) throw error("You cannot chain multiple tests with is");
      args = new Expr.Args(List.of(parsePostfix(parsePrimary())), List.of(), null, null);
    }
    Expr test = new Expr.Test(node, name.toString(), args);
    return negated ? new Expr.Not(test) : test;
  }
}
