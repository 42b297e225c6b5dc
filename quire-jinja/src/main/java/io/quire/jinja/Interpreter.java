package io.quire.jinja;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Renders a parsed template: walks the statement tree and evaluates expressions with Python semantics. */
final class Interpreter {

  private enum Flow { NORMAL, BREAK, CONTINUE }

  /** Variables of one frame; a lookup that misses walks out to the enclosing frame. */
  static final class Scope {
    private final Map<String, Object> vars;
    private final Scope parent;

    Scope(Scope parent) {
      this(parent, new HashMap<>());
    }

    Scope(Scope parent, Map<String, Object> vars) {
      this.parent = parent;
      this.vars = vars;
    }

    boolean has(String name) {
      for (Scope s = this; s != null; s = s.parent) if (s.vars.containsKey(name)) return true;
      return false;
    }

    Object get(String name) {
      for (Scope s = this; s != null; s = s.parent) {
        if (s.vars.containsKey(name)) return s.vars.get(name);
      }
      return Undefined.name(name);
    }

    void set(String name, Object value) {
      vars.put(name, value);
    }
  }

  /** The {@code loop} variable of a for loop. */
  static final class Loop {
    private final List<Object> items;
    private final int depth;
    private final PyCallable recurse;
    private int index0;

    Loop(List<Object> items, int depth, PyCallable recurse) {
      this.items = items;
      this.depth = depth;
      this.recurse = recurse;
    }

    Object attribute(String name) {
      int n = items.size();
      return switch (name) {
        case "index" -> (long) index0 + 1;
        case "index0" -> (long) index0;
        case "revindex" -> (long) (n - index0);
        case "revindex0" -> (long) (n - index0 - 1);
        case "first" -> index0 == 0;
        case "last" -> index0 == n - 1;
        case "length" -> (long) n;
        case "depth" -> (long) depth;
        case "depth0" -> (long) depth - 1;
        case "previtem" -> index0 > 0 ? items.get(index0 - 1) : new Undefined("there is no previous item");
        case "nextitem" -> index0 < n - 1 ? items.get(index0 + 1) : new Undefined("there is no next item");
        case "cycle" -> (PyCallable) (args, kw) -> {
          if (args.isEmpty()) throw new TemplateException("no items for cycling given");
          return args.get(index0 % args.size());
        };
        default -> Undefined.attribute(this, name);
      };
    }

    @Override
    public String toString() {
      return "<LoopContext " + (index0 + 1) + "/" + items.size() + ">";
    }
  }

  /** A {@code {% macro %}}, closed over the frame it was defined in. */
  private final class Macro implements PyCallable {
    private final String name;
    private final List<Node.Param> params;
    private final List<Node> body;
    private final Scope closure;

    Macro(String name, List<Node.Param> params, List<Node> body, Scope closure) {
      this.name = name;
      this.params = params;
      this.body = body;
      this.closure = closure;
    }

    @Override
    public Object call(List<Object> args, Map<String, Object> kwargs) {
      Scope scope = new Scope(closure);
      Map<String, Object> extraKw = new LinkedHashMap<>(kwargs);
      for (int i = 0; i < params.size(); i++) {
        Node.Param p = params.get(i);
        Object v;
        if (i < args.size()) v = args.get(i);
        else if (extraKw.containsKey(p.name())) v = extraKw.remove(p.name());
        else if (p.defaultValue() != null) v = eval(p.defaultValue(), scope);
        else v = new Undefined("parameter '" + p.name() + "' was not provided");
        scope.set(p.name(), v);
      }
      if (extraKw.containsKey("caller")) scope.set("caller", extraKw.remove("caller"));
      List<Object> varargs = args.size() > params.size() ? args.subList(params.size(), args.size()) : List.of();
      scope.set("varargs", new PyTuple(new ArrayList<>(varargs)));
      scope.set("kwargs", new LinkedHashMap<Object, Object>(extraKw));
      StringBuilder out = new StringBuilder();
      exec(body, scope, out, null);
      return out.toString();
    }

    @Override
    public String toString() {
      return "<Macro '" + name + "'>";
    }
  }

  private final Scope root;

  Interpreter(Map<String, Object> globals, Map<String, Object> context) {
    Map<String, Object> base = new HashMap<>(builtins());
    base.putAll(globals);
    Map<String, Object> ctx = new HashMap<>();
    context.forEach((k, v) -> ctx.put(k, Python.normalize(v)));
    this.root = new Scope(new Scope(null, base), ctx);
  }

  String render(List<Node> template) {
    StringBuilder out = new StringBuilder();
    exec(template, new Scope(root), out, null);
    return out.toString();
  }

  private static Map<String, Object> builtins() {
    Map<String, Object> g = new HashMap<>();
    g.put("range", (PyCallable) (args, kw) -> {
      Args a = new Args("range", args, kw);
      long start = 0;
      long stop;
      long step = 1;
      if (args.size() == 1) {
        stop = a.getLong(0, "stop", 0);
      } else {
        start = a.getLong(0, "start", 0);
        stop = a.getLong(1, "stop", 0);
        step = a.getLong(2, "step", 1);
      }
      if (step == 0) throw new TemplateException("range() arg 3 must not be zero");
      List<Object> out = new ArrayList<>();
      for (long i = start; step > 0 ? i < stop : i > stop; i += step) {
        if (out.size() >= 100_000) throw new TemplateException("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
        out.add(i);
      }
      return out;
    });
    g.put("dict", (PyCallable) (args, kw) -> {
      Map<Object, Object> out = new LinkedHashMap<>();
      if (!args.isEmpty() && args.getFirst() instanceof Map<?, ?> m) out.putAll(m);
      out.putAll(kw);
      return out;
    });
    g.put("namespace", (PyCallable) (args, kw) -> {
      Namespace ns = new Namespace();
      if (!args.isEmpty() && args.getFirst() instanceof Map<?, ?> m) m.forEach((k, v) -> ns.attrs.put(Python.str(k), v));
      ns.attrs.putAll(kw);
      return ns;
    });
    g.put("joiner", (PyCallable) (args, kw) -> {
      String sep = new Args("joiner", args, kw).getString(0, "sep", ", ");
      boolean[] used = {false};
      return (PyCallable) (a2, k2) -> {
        if (used[0]) return sep;
        used[0] = true;
        return "";
      };
    });
    return g;
  }

  // ---- statements ----

  private Flow exec(List<Node> nodes, Scope scope, StringBuilder out, Loop loop) {
    for (Node node : nodes) {
      Flow flow = exec(node, scope, out, loop);
      if (flow != Flow.NORMAL) return flow;
    }
    return Flow.NORMAL;
  }

  private Flow exec(Node node, Scope scope, StringBuilder out, Loop loop) {
    switch (node) {
      case Node.Text t -> out.append(t.text());
      case Node.Output o -> out.append(Python.str(eval(o.expr(), scope)));
      case Node.If i -> {
        for (Node.Branch b : i.branches()) {
          if (Python.truthy(eval(b.test(), scope))) return exec(b.body(), scope, out, loop);
        }
        return exec(i.orElse(), scope, out, loop);
      }
      case Node.For f -> execFor(f, scope, out, loop);
      case Node.Set s -> assign(s.target(), eval(s.value(), scope), scope);
      case Node.SetBlock s -> {
        StringBuilder body = new StringBuilder();
        exec(s.body(), new Scope(scope), body, null);
        Object value = s.filter() == null ? body.toString() : applyFilterChain(s.filter(), body.toString(), scope);
        assign(s.target(), value, scope);
      }
      case Node.Macro m -> scope.set(m.name(), new Macro(m.name(), m.params(), m.body(), scope));
      case Node.CallBlock c -> {
        Macro caller = new Macro("caller", c.params(), c.body(), scope);
        Object fn = eval(c.call().target(), scope);
        Args args = evalArgs(c.call().args(), scope, "call");
        Map<String, Object> kw = new LinkedHashMap<>(args.keywords);
        kw.put("caller", caller);
        out.append(Python.str(call(fn, args.positional, kw)));
      }
      case Node.FilterBlock f -> {
        StringBuilder body = new StringBuilder();
        Flow flow = exec(f.body(), scope, body, loop);
        out.append(Python.str(applyFilterChain(f.filter(), body.toString(), scope)));
        return flow;
      }
      case Node.With w -> {
        Scope inner = new Scope(scope);
        for (int i = 0; i < w.targets().size(); i++) assign(w.targets().get(i), eval(w.values().get(i), scope), inner);
        return exec(w.body(), inner, out, loop);
      }
      case Node.Break b -> {
        return Flow.BREAK;
      }
      case Node.Continue c -> {
        return Flow.CONTINUE;
      }
    }
    return Flow.NORMAL;
  }

  private void execFor(Node.For f, Scope scope, StringBuilder out, Loop outer) {
    runLoop(f, eval(f.iter(), scope), 1, scope, out, outer);
  }

  /** One pass of a for loop; a recursive loop's {@code loop(items)} renders a nested pass. */
  private void runLoop(Node.For f, Object iterable, int depth, Scope scope, StringBuilder out, Loop outer) {
    List<Object> items = Python.iterate(iterable);
    if (f.filter() != null) {
      List<Object> kept = new ArrayList<>();
      for (Object item : items) {
        Scope s = new Scope(scope);
        assign(f.target(), item, s);
        if (Python.truthy(eval(f.filter(), s))) kept.add(item);
      }
      items = kept;
    }
    if (items.isEmpty()) {
      exec(f.orElse(), new Scope(scope), out, outer);
      return;
    }
    PyCallable recurse = !f.recursive() ? null : (args, kw) -> {
      StringBuilder nested = new StringBuilder();
      runLoop(f, new Args("loop", args, kw).required(0, "iterable"), depth + 1, scope, nested, outer);
      return nested.toString();
    };
    Loop loop = new Loop(items, depth, recurse);
    for (int i = 0; i < items.size(); i++) {
      loop.index0 = i;
      Scope s = new Scope(scope);
      assign(f.target(), items.get(i), s);
      s.set("loop", loop);
      if (exec(f.body(), s, out, loop) == Flow.BREAK) break;
    }
  }

  private void assign(Expr target, Object value, Scope scope) {
    switch (target) {
      case Expr.Name n -> scope.set(n.name(), value);
      case Expr.NsRef r -> {
        if (!(scope.get(r.name()) instanceof Namespace ns)) {
          throw new TemplateException("cannot assign attribute on non-namespace object");
        }
        ns.attrs.put(r.attr(), value);
      }
      case Expr.TupleLit t -> {
        List<Object> values = Python.iterate(value);
        if (values.size() < t.items().size()) {
          throw new TemplateException("not enough values to unpack (expected " + t.items().size() + ", got " + values.size() + ")");
        }
        if (values.size() > t.items().size()) {
          throw new TemplateException("too many values to unpack (expected " + t.items().size() + ")");
        }
        for (int i = 0; i < values.size(); i++) assign(t.items().get(i), values.get(i), scope);
      }
      default -> throw new TemplateException("can't assign to " + target);
    }
  }

  // ---- expressions ----

  Object eval(Expr e, Scope scope) {
    return switch (e) {
      case Expr.Const c -> c.value();
      case Expr.Name n -> scope.get(n.name());
      case Expr.NsRef r -> Python.getattr(scope.get(r.name()), r.attr());
      case Expr.ListLit l -> {
        List<Object> out = new ArrayList<>(l.items().size());
        for (Expr x : l.items()) out.add(eval(x, scope));
        yield out;
      }
      case Expr.TupleLit t -> {
        List<Object> out = new ArrayList<>(t.items().size());
        for (Expr x : t.items()) out.add(eval(x, scope));
        yield new PyTuple(out);
      }
      case Expr.DictLit d -> {
        Map<Object, Object> out = new LinkedHashMap<>();
        for (int i = 0; i < d.keys().size(); i++) {
          Python.dictPut(out, eval(d.keys().get(i), scope), eval(d.values().get(i), scope));
        }
        yield out;
      }
      case Expr.GetAttr g -> Python.getattr(eval(g.target(), scope), g.attr());
      case Expr.GetItem g -> {
        Object target = eval(g.target(), scope);
        Object key = g.key() instanceof Expr.Slice s
            ? new Python.SliceValue(sliceIndex(s.start(), scope), sliceIndex(s.stop(), scope), sliceIndex(s.step(), scope))
            : eval(g.key(), scope);
        yield Python.getitem(target, key);
      }
      case Expr.Slice s -> throw new TemplateException("slice outside of a subscript");
      case Expr.Call c -> {
        Object fn = eval(c.target(), scope);
        Args args = evalArgs(c.args(), scope, "call");
        yield call(fn, args.positional, args.keywords);
      }
      case Expr.Filter f -> {
        Object value = eval(f.value(), scope);
        yield Filters.apply(f.name(), value, evalArgs(f.args(), scope, f.name()));
      }
      case Expr.Test t -> {
        Object value = eval(t.value(), scope);
        if (!Tests.exists(t.name())) throw new TemplateException("No test named '" + t.name() + "'.");
        yield Tests.apply(t.name(), value, evalArgs(t.args(), scope, t.name()));
      }
      case Expr.Not n -> !Python.truthy(eval(n.operand(), scope));
      case Expr.Neg n -> Python.negate(eval(n.operand(), scope));
      case Expr.Pos p -> Python.positive(eval(p.operand(), scope));
      case Expr.And a -> {
        Object left = eval(a.left(), scope);
        yield Python.truthy(left) ? eval(a.right(), scope) : left;
      }
      case Expr.Or o -> {
        Object left = eval(o.left(), scope);
        yield Python.truthy(left) ? left : eval(o.right(), scope);
      }
      case Expr.BinOp b -> Python.binop(b.op(), eval(b.left(), scope), eval(b.right(), scope));
      case Expr.Concat c -> {
        StringBuilder sb = new StringBuilder();
        for (Expr x : c.parts()) sb.append(Python.str(eval(x, scope)));
        yield sb.toString();
      }
      case Expr.Compare c -> compare(c, scope);
      case Expr.CondExpr c -> {
        if (Python.truthy(eval(c.test(), scope))) yield eval(c.then(), scope);
        yield c.orElse() == null ? new Undefined("the inline if-expression evaluated to false and no else section was defined.") : eval(c.orElse(), scope);
      }
    };
  }

  private Long sliceIndex(Expr e, Scope scope) {
    if (e == null) return null;
    Object v = eval(e, scope);
    if (v == null) return null;
    if (v instanceof Undefined u) throw u.fail();
    if (Python.asNumber(v) instanceof Long l) return l;
    throw new TemplateException("slice indices must be integers or None");
  }

  private Object compare(Expr.Compare c, Scope scope) {
    Object left = eval(c.first(), scope);
    for (int i = 0; i < c.ops().size(); i++) {
      Object right = eval(c.operands().get(i), scope);
      String op = c.ops().get(i);
      boolean ok = switch (op) {
        case "==" -> Python.eq(left, right);
        case "!=" -> !Python.eq(left, right);
        case "<" -> Python.compare(left, right, op) < 0;
        case "<=" -> Python.compare(left, right, op) <= 0;
        case ">" -> Python.compare(left, right, op) > 0;
        case ">=" -> Python.compare(left, right, op) >= 0;
        case "in" -> Python.contains(right, left);
        case "notin" -> !Python.contains(right, left);
        default -> throw new IllegalStateException(op);
      };
      if (!ok) return false;
      left = right;
    }
    return true;
  }

  private Object applyFilterChain(Expr filter, Object seed, Scope scope) {
    Expr.Filter f = (Expr.Filter) filter;
    Object value = f.value() == null ? seed : applyFilterChain(f.value(), seed, scope);
    return Filters.apply(f.name(), value, evalArgs(f.args(), scope, f.name()));
  }

  private Args evalArgs(Expr.Args a, Scope scope, String function) {
    List<Object> positional = new ArrayList<>();
    for (Expr x : a.positional()) positional.add(eval(x, scope));
    if (a.starArgs() != null) positional.addAll(Python.iterate(eval(a.starArgs(), scope)));
    Map<String, Object> keywords = new LinkedHashMap<>();
    for (Expr.Keyword k : a.keywords()) keywords.put(k.name(), eval(k.value(), scope));
    if (a.starKwargs() != null && eval(a.starKwargs(), scope) instanceof Map<?, ?> m) {
      m.forEach((k, v) -> keywords.put(Python.str(k), v));
    }
    return new Args(function, positional, keywords);
  }

  private static Object call(Object fn, List<Object> args, Map<String, Object> kwargs) {
    if (fn instanceof PyCallable c) return c.call(args, kwargs);
    if (fn instanceof Loop l && l.recurse != null) return l.recurse.call(args, kwargs);
    if (fn instanceof Undefined u) throw u.fail();
    throw new TemplateException("'" + Python.typeName(fn) + "' object is not callable");
  }
}
