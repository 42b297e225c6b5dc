package io.quire.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quire.engine.EngineConfig;
import io.quire.server.repository.EngineArgs;
import io.quire.server.repository.EngineLauncher;
import io.quire.server.repository.InvalidModelException;
import io.quire.server.repository.ModelConfigs;
import io.quire.server.repository.ModelRepository;
import io.quire.server.repository.ModelState;
import io.quire.server.repository.proto.ModelConfig;
import io.quire.server.repository.proto.ModelInstanceGroup;
import io.quire.spi.BackendProvider;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** config.pbtxt parsing and completion, and the precedence of engine arguments. */
class ModelRepositoryTest {
  @TempDir Path tmp;

  @Test
  void seedConfigParsesAsTritonModelConfig() throws Exception {
    ModelConfig c = ModelConfigs.parse(TestModels.SEED_CONFIG, "config.pbtxt");
    assertEquals("vllm", c.getPlatform());
    assertEquals(1024, c.getMaxBatchSize());
    assertEquals("input_text", c.getInput(0).getName());
    assertEquals(-1L, c.getInput(0).getDims(0));
    assertEquals(ModelInstanceGroup.Kind.KIND_CPU, c.getInstanceGroup(0).getKind());
    ModelConfig done = ModelConfigs.complete(c, "llama2-7b-chat-v1.0");
    assertTrue(done.getInputList().stream().anyMatch(i -> i.getName().equals("text_input")));
    assertTrue(done.getOutputList().stream().anyMatch(o -> o.getName().equals("text_output")));
    assertTrue(done.getModelTransactionPolicy().getDecoupled());
  }

  @Test
  void parametersMapAndVersionPolicyParse() throws Exception {
    ModelConfig c = ModelConfigs.parse("""
        backend: "vllm"
        version_policy: { specific: { versions: [ 2 ] } }
        parameters { key: "max_num_seqs" value: { string_value: "8" } }
        instance_group [ { count: 1 kind: KIND_GPU gpus: [ 0 ] } ]
        """, "config.pbtxt");
    assertEquals("8", c.getParametersMap().get("max_num_seqs").getStringValue());
    assertEquals(2L, c.getVersionPolicy().getSpecific().getVersions(0));
    assertEquals(0, c.getInstanceGroup(0).getGpus(0));
  }

  @Test
  void invalidConfigsNameTheProblem() {
    var e = assertThrows(InvalidModelException.class, () -> ModelConfigs.parse("bogus_field: 1", "config.pbtxt"));
    assertTrue(e.getMessage().contains("bogus_field"), e.getMessage());
    e = assertThrows(InvalidModelException.class,
        () -> ModelConfigs.complete(ModelConfigs.parse("name: \"a\" backend: \"vllm\"", "x"), "b"));
    assertTrue(e.getMessage().contains("does not match"), e.getMessage());
    e = assertThrows(InvalidModelException.class, () -> ModelConfigs.complete(ModelConfig.getDefaultInstance(), "a"));
    assertTrue(e.getMessage().contains("neither backend nor platform"), e.getMessage());
  }

  @Test
  void engineArgumentPrecedenceIsParametersThenModelJsonThenEnv() throws Exception {
    Map<String, String> env = Map.of("TRITON_VLLM_GPU_MEMORY_UTILIZATION", "0.5", "QUIRE_GPU_MEMORY_UTILIZATION", "0.6");
    assertEquals(0.6, EngineArgs.resolve(Map.of(), Map.of(), env).gpuMemoryUtilization());
    assertEquals(0.5, EngineArgs.resolve(Map.of(), Map.of(), Map.of("TRITON_VLLM_GPU_MEMORY_UTILIZATION", "0.5")).gpuMemoryUtilization());
    assertEquals(0.7, EngineArgs.resolve(Map.of("gpu_memory_utilization", "0.7"), Map.of(), env).gpuMemoryUtilization());
    EngineArgs a = EngineArgs.resolve(Map.of("gpu_memory_utilization", "0.7", "max_num_seqs", "4", "block_size", "32"),
        Map.of("gpu_memory_utilization", "0.8", "vllm_unrelated", "x"), env);
    assertEquals(0.8, a.gpuMemoryUtilization());
    assertEquals(0.9, EngineArgs.resolve(Map.of(), Map.of(), Map.of()).gpuMemoryUtilization());
    EngineConfig ec = a.toEngineConfig(Path.of("m"), "cpu", 2);
    assertEquals(2, ec.maxNumSeqs(), "max_batch_size caps concurrent sequences");
    assertEquals(32, ec.blockSize());
    assertEquals(2048, ec.maxNumBatchedTokens());
    assertEquals(8192, a.toEngineConfig(Path.of("m"), "cuda", 0).maxNumBatchedTokens());
  }

  @Test
  void kvPoolIsSizedFromGpuMemoryUtilizationUnlessBlocksOrBytesAreGiven() throws Exception {
    EngineConfig sized = EngineArgs.resolve(Map.of(), Map.of("gpu_memory_utilization", "0.85"), Map.of())
        .toEngineConfig(Path.of("m"), "cuda", 0);
    assertEquals(0.85, sized.gpuMemoryUtilization());
    assertNull(sized.numKvBlocks());
    assertNull(sized.kvCacheBytes(), "no byte size: the engine sizes the pool (utilization on CUDA, 2 GiB on the CPU)");
    EngineConfig explicit = EngineArgs.resolve(Map.of("num_gpu_blocks_override", 512, "kv_cache_bytes", 1L << 30), Map.of(),
        Map.of()).toEngineConfig(Path.of("m"), "cuda", 0);
    assertEquals(512, explicit.numKvBlocks());
    assertEquals(1L << 30, explicit.kvCacheBytes());
    var e = assertThrows(InvalidModelException.class,
        () -> EngineArgs.resolve(Map.of("kv_cache_bytes", 0), Map.of(), Map.of()));
    assertTrue(e.getMessage().contains("kv_cache_bytes"), e.getMessage());
  }

  @Test
  void asyncSchedulingIsOnUnlessModelJsonOrAParameterTurnsItOff() throws Exception {
    assertTrue(EngineArgs.resolve(Map.of(), Map.of(), Map.of()).toEngineConfig(Path.of("m"), "cuda", 0).asyncScheduling());
    assertFalse(EngineArgs.resolve(Map.of("async_scheduling", false), Map.of(), Map.of())
        .toEngineConfig(Path.of("m"), "cuda", 0).asyncScheduling());
    assertFalse(EngineArgs.resolve(Map.of(), Map.of("async_scheduling", "false"), Map.of())
        .toEngineConfig(Path.of("m"), "cuda", 0).asyncScheduling());
    var e = assertThrows(InvalidModelException.class,
        () -> EngineArgs.resolve(Map.of("async_scheduling", "sometimes"), Map.of(), Map.of()));
    assertTrue(e.getMessage().contains("async_scheduling"), e.getMessage());
  }

  @Test
  void enforceEagerIsReadAndArgumentsQuireCannotHonourAreErrors() throws Exception {
    assertFalse(EngineArgs.resolve(Map.of(), Map.of(), Map.of()).enforceEager());
    assertTrue(EngineArgs.resolve(Map.of("enforce_eager", "true"), Map.of(), Map.of()).enforceEager());
    assertTrue(EngineArgs.resolve(Map.of(), Map.of("enforce_eager", "true"), Map.of()).enforceEager());
    // Triton's sample model.json for the vLLM backend loads; its unused keys are only logged.
    EngineArgs sample = EngineArgs.resolve(Map.of("model", "facebook/opt-125m", "disable_log_requests", "true",
        "gpu_memory_utilization", "0.5", "enforce_eager", "true"), Map.of(), Map.of());
    assertTrue(sample.enforceEager());
    assertEquals(0.5, sample.gpuMemoryUtilization());
    assertEquals("auto", EngineArgs.resolve(Map.of("kv_cache_dtype", "auto", "quantization", "none",
        "pipeline_parallel_size", "1"), Map.of(), Map.of()).dtype());
    // kv_cache_dtype fp8 (e4m3) is read and reaches the engine configuration; other fp8 formats are errors.
    assertFalse(EngineArgs.resolve(Map.of(), Map.of(), Map.of()).toEngineConfig(tmp, "cuda", 0).fp8KvCache());
    for (String v : List.of("fp8", "fp8_e4m3")) {
      assertTrue(EngineArgs.resolve(Map.of("kv_cache_dtype", v), Map.of(), Map.of()).toEngineConfig(tmp, "cuda", 0).fp8KvCache());
      assertTrue(EngineArgs.resolve(Map.of(), Map.of("kv_cache_dtype", v), Map.of()).fp8KvCache());
    }
    for (Map<String, Object> bad : List.<Map<String, Object>>of(Map.of("kv_cache_dtype", "fp8_e5m2"),
        Map.of("kv_cache_dtype", "int8"), Map.of("quantization", "awq"), Map.of("pipeline_parallel_size", "2"),
        Map.of("enforce_eager", "sometimes"))) {
      var e = assertThrows(InvalidModelException.class, () -> EngineArgs.resolve(bad, Map.of(), Map.of()), bad.toString());
      String key = bad.keySet().iterator().next();
      assertTrue(e.getMessage().contains(key), e.getMessage());
    }
  }

  @Test
  void enforceEagerReachesTheBackendBeforeTheEngineStarts() throws Exception {
    Path hf = TestModels.hfFolder("llama2-tiny", tmp.resolve("eager/hf"));
    Path repo = tmp.resolve("eager/repo");
    List<String> calls = new java.util.concurrent.CopyOnWriteArrayList<>();
    BackendProvider cpu = ServiceLoader.load(BackendProvider.class).stream().map(ServiceLoader.Provider::get)
        .filter(p -> p.name().equals("cpu")).findFirst().orElseThrow();
    BackendProvider recording = BackendCalls.around(cpu, name -> {
      if (name.equals("enforceEager") || name.equals("runForward")) calls.add(name);
    });
    for (boolean eager : new boolean[] {false, true}) {
      calls.clear();
      String name = eager ? "eager" : "graphs";
      TestModels.write(repo.resolve(name + "/config.pbtxt"), "backend: \"vllm\"\ninstance_group [ { kind: KIND_CPU } ]\n");
      TestModels.write(repo.resolve(name + "/1/model.json"), "{\"model\": \"" + hf.toString().replace("\\", "\\\\")
          + "\", \"num_gpu_blocks_override\": 16, \"enforce_eager\": " + eager + "}");
      ModelRepository r = ModelRepository.ofDirectory(repo, new ModelRepository.Options("cpu", Map.of()),
          new EngineLauncher(List.of(recording)));
      try {
        r.load(name);
        if (eager) {
          assertEquals("enforceEager", calls.get(0), "enforce_eager is applied before any step: " + calls);
          assertEquals(1, calls.stream().filter("enforceEager"::equals).count());
        } else {
          assertFalse(calls.contains("enforceEager"), calls.toString());
        }
      } finally {
        r.close();
      }
    }
  }

  /**
   * kv_cache_dtype fp8 loads on the CPU, where the same kv_cache_bytes hold 4x the blocks of the f32 cache;
   * a backend without an fp8 cache fails the model's load with an error naming the key, and the
   * repository carries on.
   */
  @Test
  void fp8KvCacheLoadsOnTheCpuAndABackendWithoutOneRefusesIt() throws Exception {
    Path hf = TestModels.hfFolder("llama2-tiny", tmp.resolve("fp8/hf"));
    Path repo = tmp.resolve("fp8/repo");
    String modelJson = "{\"model\": \"" + hf.toString().replace("\\", "\\\\") + "\", \"kv_cache_bytes\": 4194304";
    TestModels.write(repo.resolve("fp8/config.pbtxt"), "backend: \"vllm\"\ninstance_group [ { kind: KIND_CPU } ]\n");
    TestModels.write(repo.resolve("fp8/1/model.json"), modelJson + ", \"kv_cache_dtype\": \"fp8\"}");
    TestModels.write(repo.resolve("auto/config.pbtxt"), "backend: \"vllm\"\ninstance_group [ { kind: KIND_CPU } ]\n");
    TestModels.write(repo.resolve("auto/1/model.json"), modelJson + ", \"kv_cache_dtype\": \"auto\"}");
    ModelRepository r = ModelRepository.ofDirectory(repo, new ModelRepository.Options("cpu", Map.of()), new EngineLauncher());
    try {
      r.load("fp8");
      r.load("auto");
      assertEquals(ModelState.READY, r.status("fp8").state(), r.status("fp8").reason());
      assertEquals(ModelState.READY, r.status("auto").state());
      int fp8Blocks = r.get("fp8", "1").engine().stats().kvBlocksTotal();
      int f32Blocks = r.get("auto", "1").engine().stats().kvBlocksTotal();
      assertEquals(4 * f32Blocks, fp8Blocks);
    } finally {
      r.close();
    }
    BackendProvider cpu = ServiceLoader.load(BackendProvider.class).stream().map(ServiceLoader.Provider::get)
        .filter(p -> p.name().equals("cpu")).findFirst().orElseThrow();
    ModelRepository without = ModelRepository.ofDirectory(repo, new ModelRepository.Options("cpu", Map.of()),
        new EngineLauncher(List.of(BackendCalls.answering(cpu, "supportsKvCacheDType", false))));
    try {
      without.load("fp8");
      ModelRepository.IndexEntry s = without.status("fp8");
      assertEquals(ModelState.UNAVAILABLE, s.state());
      assertTrue(s.reason().contains("kv_cache_dtype fp8 is not supported by the cpu backend"), s.reason());
      without.load("auto");  // the same model with the default cache still loads
      assertEquals(ModelState.READY, without.status("auto").state());
    } finally {
      without.close();
    }
  }

  @Test
  void badEngineArgumentsNameTheKey() {
    var e = assertThrows(InvalidModelException.class, () -> EngineArgs.resolve(Map.of("max_num_seqs", "many"), Map.of(), Map.of()));
    assertTrue(e.getMessage().contains("max_num_seqs"));
    e = assertThrows(InvalidModelException.class, () -> EngineArgs.resolve(Map.of(), Map.of(), Map.of("QUIRE_GPU_MEMORY_UTILIZATION", "1.5")));
    assertTrue(e.getMessage().contains("gpu_memory_utilization"));
    e = assertThrows(InvalidModelException.class, () -> EngineArgs.resolve(Map.of("tensor_parallel_size", "2"), Map.of(), Map.of()));
    assertTrue(e.getMessage().contains("tensor_parallel_size"));
  }
}
