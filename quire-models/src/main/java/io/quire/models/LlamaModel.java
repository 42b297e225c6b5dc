package io.quire.models;

import io.quire.spi.Backend;
import io.quire.spi.DType;
import io.quire.spi.DeviceBatch;
import io.quire.spi.KvCache;
import io.quire.spi.Rope;
import io.quire.spi.Tensor;
import io.quire.spi.WeightData;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The Llama-family decoder (Llama 2/3/3.x, Mistral, Qwen2, Qwen3), written once over the backend
 * ops; the variants are {@link ModelConfig} data. One forward runs the whole flat batch of a step.
 */
public final class LlamaModel implements AutoCloseable {
  private record Layer(
      Tensor inputNorm, Tensor q, Tensor k, Tensor v, Tensor qBias, Tensor kBias, Tensor vBias,
      Tensor qNorm, Tensor kNorm, Tensor o, Tensor postNorm, Tensor gateUp, Tensor down) {}

  private final ModelConfig config;
  private final Backend backend;
  private final WeightStore store;
  private final Arena fused = Arena.ofShared();
  private final Tensor embed;
  private final Tensor finalNorm;
  private final Tensor lmHead;
  private final List<Layer> layers = new ArrayList<>();
  private final Rope rope;
  private final int maxTokens;
  private final int maxLogitRows;
  private long weightBytes;
  // Activation buffers, sized once for the largest step; each step uses the first T rows.
  private final Tensor x, h, q, k, v, attn, proj, gateUp, act, logitHidden, logits;

  private LlamaModel(ModelConfig c, WeightStore store, Backend backend, int maxTokens, int maxLogitRows) {
    this.config = c;
    this.backend = backend;
    this.store = store;
    this.maxTokens = maxTokens;
    this.maxLogitRows = maxLogitRows;
    checkShapes(c, store);
    embed = w("model.embed_tokens.weight");
    finalNorm = w("model.norm.weight");
    lmHead = c.tieWordEmbeddings() ? embed : w("lm_head.weight");
    for (int i = 0; i < c.numLayers(); i++) {
      boolean b = c.attentionBias(), n = c.qkNorm();
      Tensor norm = w(LlamaWeights.layer(i, "input_layernorm.weight"));
      Tensor[] qkv = qkv(i);
      layers.add(new Layer(
          norm,
          qkv[0],
          qkv[1],
          qkv[2],
          b ? w(LlamaWeights.layer(i, "self_attn.q_proj.bias")) : null,
          b ? w(LlamaWeights.layer(i, "self_attn.k_proj.bias")) : null,
          b ? w(LlamaWeights.layer(i, "self_attn.v_proj.bias")) : null,
          n ? w(LlamaWeights.layer(i, "self_attn.q_norm.weight")) : null,
          n ? w(LlamaWeights.layer(i, "self_attn.k_norm.weight")) : null,
          w(LlamaWeights.layer(i, "self_attn.o_proj.weight")),
          w(LlamaWeights.layer(i, "post_attention_layernorm.weight")),
          stacked(LlamaWeights.layer(i, "mlp.gate_proj.weight"), LlamaWeights.layer(i, "mlp.up_proj.weight")),
          w(LlamaWeights.layer(i, "mlp.down_proj.weight"))));
    }
    rope = backend.createRope(c.ropeInvFreq(), c.headDim(), Math.min(c.maxPositionEmbeddings(), 1 << 16));
    DType a = backend.activationDType();
    x = backend.allocate(a, maxTokens, c.hiddenSize());
    h = backend.allocate(a, maxTokens, c.hiddenSize());
    q = backend.allocate(a, maxTokens, c.qSize());
    k = backend.allocate(a, maxTokens, c.kvSize());
    v = backend.allocate(a, maxTokens, c.kvSize());
    attn = backend.allocate(a, maxTokens, c.qSize());
    proj = backend.allocate(a, maxTokens, c.hiddenSize());
    gateUp = backend.allocate(a, maxTokens, 2 * c.intermediateSize());
    act = backend.allocate(a, maxTokens, c.intermediateSize());
    logitHidden = backend.allocate(a, maxLogitRows, c.hiddenSize());
    logits = backend.allocate(DType.F32, maxLogitRows, c.vocabSize());
  }

  /**
   * Loads {@code modelDir}'s config and memory-mapped weights onto {@code backend}.
   *
   * @param maxTokens the most tokens one step will run (max_num_batched_tokens)
   * @param maxLogitRows the most rows one step samples (max_num_seqs)
   */
  public static LlamaModel load(Path modelDir, Backend backend, int maxTokens, int maxLogitRows) {
    ModelConfig c = ModelConfig.load(modelDir);
    WeightStore store = WeightStore.open(modelDir);
    try {
      return new LlamaModel(c, store, backend, maxTokens, maxLogitRows);
    } catch (RuntimeException e) {
      store.close();
      throw e;
    }
  }

  private static void checkShapes(ModelConfig c, WeightStore store) {
    for (LlamaWeights.Spec s : LlamaWeights.specs(c)) {
      WeightData d = store.get(s.name());
      if (d.rows() != s.rows() || d.cols() != s.cols()) {
        throw new ModelLoadException("weight " + s.name() + " has shape [" + d.rows() + ", " + d.cols()
            + "], config.json implies [" + s.rows() + ", " + s.cols() + "]");
      }
    }
  }

  private Tensor w(String name) {
    return counted(backend.loadWeight(store.get(name)));
  }

  private Tensor counted(Tensor weight) {
    weightBytes += (long) weight.rows() * weight.cols() * weight.dtype().bytes();
    return weight;
  }

  /** Layer i's q, k and v projections, stacked in one allocation where the backend can (see loadStacked). */
  private Tensor[] qkv(int i) {
    WeightData q = store.get(LlamaWeights.layer(i, "self_attn.q_proj.weight"));
    WeightData k = store.get(LlamaWeights.layer(i, "self_attn.k_proj.weight"));
    WeightData v = store.get(LlamaWeights.layer(i, "self_attn.v_proj.weight"));
    Tensor[] t = backend.loadStacked(q, k, v);
    for (Tensor x : t) counted(x);
    return t;
  }

  /** gate and up stacked by rows, so one matmul yields [T, 2I] for siluMul. */
  private Tensor stacked(String gateName, String upName) {
    WeightData g = store.get(gateName), u = store.get(upName);
    if (g.dtype() != u.dtype()) throw new ModelLoadException(gateName + " and " + upName + " differ in dtype");
    MemorySegment both = fused.allocate(g.data().byteSize() + u.data().byteSize(), 64);
    MemorySegment.copy(g.data(), 0, both, 0, g.data().byteSize());
    MemorySegment.copy(u.data(), 0, both, g.data().byteSize(), u.data().byteSize());
    String name = gateName.replace("gate_proj", "gate_up_proj");
    return counted(backend.loadWeight(new WeightData(name, g.dtype(), g.rows() + u.rows(), g.cols(), both)));
  }

  public ModelConfig config() {
    return config;
  }

  public int maxTokens() {
    return maxTokens;
  }

  public int maxLogitRows() {
    return maxLogitRows;
  }

  /** Bytes of the weights as the backend holds them (its dtype: bf16 on CUDA); tied embeddings count once. */
  public long weightBytes() {
    return weightBytes;
  }

  public KvCache allocateKvCache(int numBlocks, int blockSize) {
    return backend.allocateKvCache(config.numLayers(), numBlocks, blockSize, config.numKvHeads(), config.headDim());
  }

  /** A KV cache in {@code kvDtype} (null: the backend's own type; else one the backend supports, e.g. fp8). */
  public KvCache allocateKvCache(int numBlocks, int blockSize, DType kvDtype) {
    if (kvDtype == null) return allocateKvCache(numBlocks, blockSize);
    return backend.allocateKvCache(config.numLayers(), numBlocks, blockSize, config.numKvHeads(), config.headDim(), kvDtype);
  }

  /**
   * Runs one step: writes this step's K/V into {@code cache} and returns the logits [S', vocab] of
   * the batch's logitsIndices rows (a view, valid until the next call).
   */
  public Tensor forward(DeviceBatch batch, KvCache cache) {
    int t = batch.metadata().numTokens();
    int s = batch.metadata().logitsIndices().length;
    if (t > maxTokens) throw new IllegalArgumentException("step has " + t + " tokens, model buffers hold " + maxTokens);
    if (s > maxLogitRows) throw new IllegalArgumentException("step samples " + s + " rows, model buffers hold " + maxLogitRows);
    Tensor x = this.x.firstRows(t), h = this.h.firstRows(t), q = this.q.firstRows(t), k = this.k.firstRows(t);
    Tensor v = this.v.firstRows(t), attn = this.attn.firstRows(t), proj = this.proj.firstRows(t);
    Tensor gateUp = this.gateUp.firstRows(t), act = this.act.firstRows(t);
    float eps = config.rmsNormEps();
    float scale = (float) (1.0 / Math.sqrt(config.headDim()));

    backend.embedding(embed, batch, x);
    for (int i = 0; i < layers.size(); i++) {
      Layer l = layers.get(i);
      // x is the residual stream; proj holds the previous block's output until it is added in.
      if (i == 0) backend.rmsNorm(x, l.inputNorm(), eps, h);
      else backend.addRmsNorm(proj, x, l.inputNorm(), eps, h);
      backend.matmul(h, l.q(), l.qBias(), q);
      backend.matmul(h, l.k(), l.kBias(), k);
      backend.matmul(h, l.v(), l.vBias(), v);
      if (l.qNorm() != null) {
        backend.headRmsNorm(q, config.headDim(), l.qNorm(), eps);
        backend.headRmsNorm(k, config.headDim(), l.kNorm(), eps);
      }
      backend.rope(q, k, rope, batch);
      backend.writeKv(k, v, cache, i, batch);
      backend.pagedAttention(q, cache, i, batch, scale, attn);
      backend.matmul(attn, l.o(), null, proj);
      backend.addRmsNorm(proj, x, l.postNorm(), eps, h);
      backend.matmul(h, l.gateUp(), null, gateUp);
      backend.siluMul(gateUp, act);
      backend.matmul(act, l.down(), null, proj);
    }
    backend.addRmsNorm(proj, x, finalNorm, eps, h);
    Tensor rows = logitHidden.firstRows(s);
    backend.gatherLogitRows(h, batch, rows);
    Tensor out = logits.firstRows(s);
    backend.matmul(rows, lmHead, null, out);
    return out;
  }

  /** Bytes one KV block takes over all layers (K and V). */
  public long kvBytesPerBlock(int blockSize, DType kvDtype) {
    return 2L * config.numLayers() * blockSize * config.numKvHeads() * config.headDim() * kvDtype.bytes();
  }

  @Override
  public void close() {
    fused.close();
    store.close();
  }
}
