package io.quire.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quire.engine.CompletionDelta;
import io.quire.engine.Engine;
import io.quire.engine.Prompt;
import io.quire.engine.RequestOutput;
import io.quire.engine.RequestStream;
import io.quire.engine.SamplingParams;
import io.quire.spi.Backend;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "generate", mixinStandardHelpOptions = true, description = "Generate a continuation of a prompt with the engine.")
final class GenerateCommand implements Callable<Integer> {
  @Mixin EngineOptions engine;
  @Mixin SamplingOptions sampling;

  @Option(names = "--prompt", required = true) String prompt;

  @Option(names = "--json", description = "Print one JSON object: prompt_token_ids, token_ids, text, finish_reason.")
  boolean json;

  @Override
  public Integer call() throws Exception {
    SamplingParams params = sampling.params();
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    try (Backend backend = engine.backend(); Engine e = Engine.start(engine.config(), backend)) {
      RequestStream s = e.submit("generate-0", Prompt.text(prompt), params, 0);
      int n = params.n();
      List<StringBuilder> texts = new ArrayList<>();
      List<List<Integer>> tokens = new ArrayList<>();
      String[] finish = new String[n];
      for (int i = 0; i < n; i++) {
        texts.add(new StringBuilder());
        tokens.add(new ArrayList<>());
      }
      int[] promptIds = new int[0];
      for (RequestOutput o; (o = s.next()) != null; ) {
        promptIds = o.promptTokenIds();
        for (CompletionDelta d : o.deltas()) {
          texts.get(d.index()).append(d.newText());
          for (int t : d.newTokenIds()) tokens.get(d.index()).add(t);
          if (d.finishReason() != null) finish[d.index()] = d.finishReason().wireName();
          if (!json && n == 1) out.print(d.newText());
        }
      }
      if (json) {
        ObjectMapper m = new ObjectMapper();
        ObjectNode r = m.createObjectNode();
        ArrayNode p = r.putArray("prompt_token_ids");
        for (int id : promptIds) p.add(id);
        ArrayNode outs = m.createArrayNode();
        for (int i = 0; i < n; i++) {
          ObjectNode c = outs.addObject();
          c.put("index", i);
          ArrayNode t = c.putArray("token_ids");
          tokens.get(i).forEach(t::add);
          c.put("text", texts.get(i).toString());
          c.put("finish_reason", finish[i]);
        }
        r.set("token_ids", outs.get(0).get("token_ids"));
        r.put("text", texts.get(0).toString());
        r.put("finish_reason", finish[0]);
        if (n > 1) r.set("outputs", outs);
        out.println(m.writeValueAsString(r));
      } else if (n == 1) {
        out.println();
      } else {
        for (int i = 0; i < n; i++) out.println("[" + i + "] " + texts.get(i) + " (" + finish[i] + ")");
      }
    }
    return 0;
  }
}
