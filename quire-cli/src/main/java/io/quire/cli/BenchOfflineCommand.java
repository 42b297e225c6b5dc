package io.quire.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quire.bench.offline.OfflineBench;
import io.quire.bench.offline.OfflineReport;
import io.quire.bench.workload.BenchRequest;
import io.quire.bench.workload.TokenCounter;
import io.quire.bench.workload.Workload;
import io.quire.engine.Engine;
import io.quire.spi.Backend;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "offline", mixinStandardHelpOptions = true,
    description = "Throughput of the engine in-process: every request submitted at once (vLLM's benchmark_throughput).")
final class BenchOfflineCommand implements Callable<Integer> {
  @Mixin EngineOptions engine;
  @Mixin WorkloadOptions workload;

  @Option(names = "--result-json", description = "Write the figures as JSON here.")
  Path resultJson;

  @Override
  public Integer call() throws Exception {
    Workload w = workload.workload();
    try (Backend backend = engine.backend(); Engine e = Engine.start(engine.config(), backend)) {
      int maxLen = e.maxModelLen();
      TokenCounter counter = new TokenCounter() {
        @Override
        public int count(String text) {
          return e.tokenizer().encode(text, true).length;
        }

        @Override
        public int maxModelLen() {
          return maxLen;
        }
      };
      List<BenchRequest> reqs = w.build(counter);
      OfflineReport r = OfflineBench.run(e, reqs);
      System.out.print(r.format());
      if (resultJson != null) {
        ObjectNode o = new ObjectMapper().createObjectNode().put("command", "offline").put("model", engine.model.toString())
            .put("workload", w.describe());
        o.set("result", r.toJson());
        BenchCommand.writeJson(resultJson, o);
      }
    }
    return 0;
  }
}
