package io.quire.jinja;

import java.time.Clock;
import java.time.LocalDateTime;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A compiled Jinja2 template that renders exactly as transformers' {@code apply_chat_template} does:
 * jinja2 3.1's ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks and loop controls, plus
 * transformers' globals {@code raise_exception} and {@code strftime_now} and its {@code tojson} filter.
 *
 * <p>Thread-safe: compile once, render from any thread.
 */
public final class ChatTemplate {
  private final List<Node> body;
  private final Clock clock;

  private ChatTemplate(List<Node> body, Clock clock) {
    this.body = body;
    this.clock = clock;
  }

  /** Parses a template; throws {@link TemplateException} on a syntax error. */
  public static ChatTemplate compile(String source) {
    return compile(source, Clock.systemDefaultZone());
  }

  /** Parses a template whose {@code strftime_now} reads the given clock (in the clock's zone). */
  public static ChatTemplate compile(String source, Clock clock) {
    return new ChatTemplate(Parser.parse(source), clock);
  }

  /**
   * Renders with the given variables. Values may be String, Number, Boolean, null, List, Map (as
   * parsed from JSON). Throws {@link TemplateException} for {@code raise_exception(msg)} (with msg as
   * its message) and for any error Python would raise while rendering.
   */
  public String render(Map<String, Object> context) {
    return new Interpreter(globals(), context).render(body);
  }

  /**
   * Renders a conversation as transformers does: {@code messages}, {@code tools} and {@code documents}
   * (None unless given in extra), {@code add_generation_prompt}, then everything in extra: the special
   * tokens ({@code bos_token}, {@code eos_token}, ...) and template kwargs such as {@code enable_thinking}.
   */
  public String renderChat(List<Map<String, Object>> messages, boolean addGenerationPrompt, Map<String, Object> extra) {
    Map<String, Object> context = new HashMap<>();
    context.put("messages", messages);
    context.put("tools", null);
    context.put("documents", null);
    context.put("add_generation_prompt", addGenerationPrompt);
    context.putAll(extra);
    return render(context);
  }

  private Map<String, Object> globals() {
    Map<String, Object> g = new HashMap<>();
    g.put("raise_exception", (PyCallable) (args, kw) -> {
      throw new TemplateException(Python.str(new Args("raise_exception", args, kw).required(0, "message")));
    });
    g.put("strftime_now", (PyCallable) (args, kw) ->
        Strftime.format(LocalDateTime.now(clock), Python.str(new Args("strftime_now", args, kw).required(0, "format"))));
    return g;
  }
}
