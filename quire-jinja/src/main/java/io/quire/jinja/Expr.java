package io.quire.jinja;

import java.util.List;

/** Expression nodes of a parsed template. */
sealed interface Expr {

  record Const(Object value) implements Expr {}

  record Name(String name) implements Expr {}

  /** {@code ns.attr} as an assignment target; only namespaces accept it. */
  record NsRef(String name, String attr) implements Expr {}

  record ListLit(List<Expr> items) implements Expr {}

  record TupleLit(List<Expr> items) implements Expr {}

  record DictLit(List<Expr> keys, List<Expr> values) implements Expr {}

  record GetAttr(Expr target, String attr) implements Expr {}

  record GetItem(Expr target, Expr key) implements Expr {}

  /** A slice used as a subscript: {@code x[start:stop:step]}, any part may be null. */
  record Slice(Expr start, Expr stop, Expr step) implements Expr {}

  record Keyword(String name, Expr value) {}

  record Args(List<Expr> positional, List<Keyword> keywords, Expr starArgs, Expr starKwargs) {
    static final Args NONE = new Args(List.of(), List.of(), null, null);
  }

  record Call(Expr target, Args args) implements Expr {}

  /** {@code value | name(args)}; value is null inside a filter block, which supplies its body. */
  record Filter(Expr value, String name, Args args) implements Expr {}

  record Test(Expr value, String name, Args args) implements Expr {}

  record Not(Expr operand) implements Expr {}

  record Neg(Expr operand) implements Expr {}

  record Pos(Expr operand) implements Expr {}

  record And(Expr left, Expr right) implements Expr {}

  record Or(Expr left, Expr right) implements Expr {}

  /** Arithmetic: one of + - * / // % **. */
  record BinOp(String op, Expr left, Expr right) implements Expr {}

  record Concat(List<Expr> parts) implements Expr {}

  /** A comparison chain {@code a < b <= c}; ops are ==, !=, <, <=, >, >=, in, notin. */
  record Compare(Expr first, List<String> ops, List<Expr> operands) implements Expr {}

  /** {@code then if test else orElse}; orElse null yields undefined. */
  record CondExpr(Expr test, Expr then, Expr orElse) implements Expr {}
}
