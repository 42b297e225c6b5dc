package io.quire.jinja;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The language as chat templates use it; every expected value here was checked against Python jinja2 3.1. */
class ChatTemplateTest {

  private static String render(String source, Map<String, Object> context) {
    return ChatTemplate.compile(source).render(context);
  }

  private static String render(String source) {
    return render(source, Map.of());
  }

  @Test
  void valuesPrintAsPythonStrPrintsThem() {
    assertEquals("True|False|None", render("{{ true }}|{{ False }}|{{ none }}"));
    assertEquals("['a', 1, None, True, 2.5]", render("{{ ['a', 1, none, true, 2.5] }}"));
    assertEquals("{'k': [1, 2]}|(1,)|(1, 2)", render("{{ {'k': [1, 2]} }}|{{ (1,) }}|{{ (1, 2) }}"));
    assertEquals("[\"it's\"]", render("{{ [\"it's\"] }}"));
    assertEquals("1.0|1e+16|1e-05|0.30000000000000004", render("{{ 1.0 }}|{{ 1e16 }}|{{ 0.00001 }}|{{ 0.1 + 0.2 }}"));
  }

  @Test
  void arithmeticFollowsPython() {
    assertEquals("-4|2|3.5|1024|0.5", render("{{ -7 // 2 }}|{{ -7 % 3 }}|{{ 7 / 2 }}|{{ 2 ** 10 }}|{{ 2 ** -1 }}"));
    assertEquals("abab|[1, 2, 3]|a1None", render("{{ 'ab' * 2 }}|{{ [1] + [2, 3] }}|{{ 'a' ~ 1 ~ none }}"));
    assertEquals("2|True", render("{{ true + 1 }}|{{ 1 == 1.0 }}"));
  }

  @Test
  void addingStringAndNumberFailsAsInPython() {
    TemplateException e = assertThrows(TemplateException.class, () -> render("{{ 'a' + 1 }}"));
    assertEquals("can only concatenate str (not \"int\") to str", e.getMessage());
  }

  @Test
  void truthinessFollowsPython() {
    assertEquals("FFFFFFT", render(
        "{% for v in [0, 0.0, '', [], {}, none, 'x'] %}{{ 'T' if v else 'F' }}{% endfor %}"));
    assertEquals("x|y|[]", render("{{ 0 or 'x' }}|{{ 1 and 'y' }}|{{ none or [] }}"));
  }

  @Test
  void missingAttributesAreUndefinedWhichRendersEmptyAndIsFalsy() {
    Map<String, Object> ctx = Map.of("m", Map.of("role", "user"));
    assertEquals("[]|False|True|dflt", render(
        "[{{ m.content }}]|{{ m.content is defined }}|{{ m.content is undefined }}|{{ m.content | default('dflt') }}", ctx));
  }

  @Test
  void usingAnUndefinedValueBeyondPrintingItFails() {
    TemplateException e = assertThrows(TemplateException.class, () -> render("{{ missing.attr }}"));
    assertEquals("'missing' is undefined", e.getMessage());
    assertThrows(TemplateException.class, () -> render("{{ missing + 1 }}"));
  }

  @Test
  void slicingAndStringMethodsWorkAsQwen3UsesThem() {
    Map<String, Object> ctx = Map.of("messages", List.of("a", "b", "c"), "s", "<think>\nplan\n</think>\n\nanswer");
    assertEquals("['c', 'b', 'a']", render("{{ messages[::-1] }}", ctx));
    assertEquals("answer|plan", render(
        "{{ s.split('</think>')[-1].lstrip('\\n') }}|{{ s.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}", ctx));
    assertEquals("True|True", render("{{ s.startswith('<think>') }}|{{ s.endswith(('x', 'answer')) }}", ctx));
  }

  @Test
  void namespaceCarriesStateOutOfLoopsWhilePlainSetDoesNot() {
    assertEquals("1|3", render(
        "{% set x = 1 %}{% set ns = namespace(x=1) %}{% for i in [2, 3] %}{% set x = i %}{% set ns.x = i %}{% endfor %}{{ x }}|{{ ns.x }}"));
  }

  @Test
  void loopVariablesAndFiltersOnTheLoop() {
    assertEquals("1/2:b first;2/2:c last;", render(
        "{% for x in ['a', 'b', 'c'] if x != 'a' %}{{ loop.index }}/{{ loop.length }}:{{ x }}"
            + "{% if loop.first %} first{% endif %}{% if loop.last %} last{% endif %};{% endfor %}"));
    assertEquals("k=1;", render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", Map.of("d", Map.of("k", 1))));
    assertEquals("13", render("{% for i in range(6) %}{% if i is even %}{% continue %}{% endif %}{% if i > 4 %}{% break %}{% endif %}{{ i }}{% endfor %}"));
  }

  @Test
  void trimBlocksAndLstripBlocksAreOn() {
    assertEquals("  a\n  b\n", render("{% for x in ['a', 'b'] %}\n  {{ x }}\n{% endfor %}\n"));
    assertEquals("x", render("    {% if true %}\nx{% endif %}"));
    assertEquals("a b", render("a {{- ' ' -}}  b"));
  }

  @Test
  void tojsonIsJsonDumpsWithoutAsciiEscaping() {
    Map<String, Object> ctx = Map.of("d", Map.of("city", "Zürich"));
    assertEquals("{\"city\": \"Zürich\"}", render("{{ d | tojson }}", ctx));
    assertEquals("{\n  \"city\": \"Zürich\"\n}", render("{{ d | tojson(indent=2) }}", ctx));
  }

  @Test
  void raiseExceptionThrowsItsMessage() {
    TemplateException e = assertThrows(TemplateException.class,
        () -> render("{% if messages | length == 0 %}{{ raise_exception('No messages!') }}{% endif %}",
            Map.of("messages", List.of())));
    assertEquals("No messages!", e.getMessage());
  }

  @Test
  void strftimeNowReadsTheGivenClock() {
    Clock clock = Clock.fixed(Instant.parse("2024-07-26T09:05:03Z"), ZoneOffset.UTC);
    assertEquals("26 Jul 2024", ChatTemplate.compile("{{ strftime_now('%d %b %Y') }}", clock).render(Map.of()));
  }

  @Test
  void renderChatPassesToolsAndDocumentsAsNoneLikeTransformers() {
    ChatTemplate t = ChatTemplate.compile(
        "{{ tools is defined }}|{{ tools is none }}|{{ documents is none }}|{{ add_generation_prompt }}|{{ bos_token }}|{{ messages[0].content }}");
    Map<String, Object> message = Map.of("role", "user", "content", "hi");
    assertEquals("True|True|True|True|<s>|hi", t.renderChat(List.of(message), true, Map.of("bos_token", "<s>")));
  }

  @Test
  void sandboxRefusesToModifyLists() {
    TemplateException e = assertThrows(TemplateException.class, () -> render("{% set l = [] %}{{ l.append(1) }}"));
    assertEquals("access to attribute 'append' of 'list' object is unsafe.", e.getMessage());
  }

  @Test
  void callerValuesAreNotModifiedByRendering() {
    List<Object> list = new ArrayList<>(List.of(1, 2));
    Map<String, Object> ctx = new HashMap<>(Map.of("l", list));
    assertEquals("[1, 2, 3]|[1, 2]", render("{% set l2 = l + [3] %}{{ l2 }}|{{ l }}", ctx));
    assertEquals(List.of(1, 2), list);
  }

  @Test
  void syntaxErrorsNameTheLine() {
    TemplateException e = assertThrows(TemplateException.class, () -> ChatTemplate.compile("a\n{% if x %}\nb"));
    assertTrue(e.getMessage().startsWith("line "), e.getMessage());
    assertThrows(TemplateException.class, () -> ChatTemplate.compile("{% do x %}"));
  }

  @Test
  void macrosAndCallBlocks() {
    assertEquals("<hi!>", render(
        "{% macro wrap(x) %}<{{ caller(x) }}>{% endmacro %}{% call(v) wrap('hi') %}{{ v }}!{% endcall %}"));
    assertEquals("1-2|1-5", render("{% macro m(a, b=2) %}{{ a }}-{{ b }}{% endmacro %}{{ m(1) }}|{{ m(1, b=5) }}"));
  }
}
