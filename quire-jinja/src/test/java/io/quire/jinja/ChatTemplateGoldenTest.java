package io.quire.jinja;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Renders every case of testdata/golden/chat-templates.json (written by
 * tools/oracle/chat_template_goldens.py with Python jinja2 and transformers' settings) and requires
 * the same bytes, or the same failure: raise_exception messages must match exactly.
 */
class ChatTemplateGoldenTest {

  private static final Map<String, Object> GOLDEN = load();

  @SuppressWarnings("unchecked")
  private static Map<String, Object> load() {
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null && !Files.isDirectory(dir.resolve("testdata/golden"))) dir = dir.getParent();
    if (dir == null) throw new IllegalStateException("testdata/golden not found above the working directory");
    try {
      return new ObjectMapper().readValue(dir.resolve("testdata/golden/chat-templates.json").toFile(), Map.class);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Clock goldenClock() {
    LocalDateTime now = LocalDateTime.parse((String) GOLDEN.get("strftime_now"));
    return Clock.fixed(now.toInstant(ZoneOffset.UTC), ZoneOffset.UTC);
  }

  @SuppressWarnings("unchecked")
  @TestFactory
  Stream<DynamicTest> chatTemplatesRenderAsTransformersDoes() {
    Map<String, Map<String, Object>> templates = (Map<String, Map<String, Object>>) GOLDEN.get("templates");
    Map<String, List<Map<String, Object>>> conversations =
        (Map<String, List<Map<String, Object>>>) GOLDEN.get("conversations");
    Map<String, ChatTemplate> compiled = new HashMap<>();
    templates.forEach((name, t) -> compiled.put(name, ChatTemplate.compile((String) t.get("source"), goldenClock())));
    List<Map<String, Object>> cases = (List<Map<String, Object>>) GOLDEN.get("cases");
    return cases.stream().map(c -> {
      String name = c.get("template") + "/" + c.get("conversation") + "/agp=" + c.get("add_generation_prompt")
          + "/" + ((Map<String, Object>) c.get("extra")).keySet();
      return DynamicTest.dynamicTest(name, () -> {
        ChatTemplate t = compiled.get((String) c.get("template"));
        List<Map<String, Object>> messages = conversations.get((String) c.get("conversation"));
        boolean agp = (Boolean) c.get("add_generation_prompt");
        Map<String, Object> extra = (Map<String, Object>) c.get("extra");
        expect(c, () -> t.renderChat(messages, agp, extra));
      });
    });
  }

  @SuppressWarnings("unchecked")
  @TestFactory
  Stream<DynamicTest> snippetsRenderAsJinja2Does() {
    List<Map<String, Object>> snippets = (List<Map<String, Object>>) GOLDEN.get("snippets");
    return snippets.stream().map(s -> DynamicTest.dynamicTest((String) s.get("source"), () -> {
      Map<String, Object> context = (Map<String, Object>) s.get("context");
      expect(s, () -> ChatTemplate.compile((String) s.get("source"), goldenClock()).render(context));
    }));
  }

  private static void expect(Map<String, Object> golden, java.util.function.Supplier<String> render) {
    if (golden.containsKey("output")) {
      assertEquals(golden.get("output"), render.get());
      return;
    }
    TemplateException e = assertThrows(TemplateException.class, render::get, "expected " + golden.get("error"));
    if ("raise_exception".equals(golden.get("error"))) assertEquals(golden.get("message"), e.getMessage());
  }
}
