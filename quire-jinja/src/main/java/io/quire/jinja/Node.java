package io.quire.jinja;

import java.util.List;

/** Statement nodes of a parsed template. */
sealed interface Node {

  record Text(String text) implements Node {}

  record Output(Expr expr) implements Node {}

  record Branch(Expr test, List<Node> body) {}

  record If(List<Branch> branches, List<Node> orElse) implements Node {}

  record For(Expr target, Expr iter, Expr filter, List<Node> body, List<Node> orElse, boolean recursive)
      implements Node {}

  record Set(Expr target, Expr value) implements Node {}

  /** {@code {% set x | filters %}body{% endset %}}; filter is a chain ending at a null value, or null. */
  record SetBlock(Expr target, Expr filter, List<Node> body) implements Node {}

  record Param(String name, Expr defaultValue) {}

  record Macro(String name, List<Param> params, List<Node> body) implements Node {}

  /** {@code {% call(params) macro(args) %}body{% endcall %}}: the body becomes {@code caller}. */
  record CallBlock(Expr.Call call, List<Param> params, List<Node> body) implements Node {}

  record FilterBlock(Expr filter, List<Node> body) implements Node {}

  record With(List<Expr> targets, List<Expr> values, List<Node> body) implements Node {}

  record Break() implements Node {}

  record Continue() implements Node {}
}
