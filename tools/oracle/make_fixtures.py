#!/usr/bin/env python3
"""Reference fixtures from HF transformers and tokenizers (run on the GPU machine, where both exist).

Writes into OUT_DIR (default ./fixtures-out):
  golden/tokenizer-<name>.json  ids and decodes of corpus.json by HF tokenizers and by AutoTokenizer
  models/<fixture>/config.json, generation_config.json, tokenizer.txt (which tokenizer), golden.json
    golden.json: per prompt, the prompt ids (AutoTokenizer, add_special_tokens=True), transformers'
    greedy continuation in fp32, and the top logits of every step; tensor_sha256 of the bf16 bytes of
    every stored weight made by dummy_weights.py (Java's DummyWeights must reproduce them).
Usage: python3 tools/oracle/make_fixtures.py OUT_DIR
"""
import gzip, hashlib, json, os, shutil, sys, tempfile, time, traceback

import torch
import transformers
import tokenizers
from transformers import AutoModelForCausalLM, AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from dummy_weights import values  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else "fixtures-out"
TOK_SRC = os.path.join(ROOT, "testdata", "tokenizers")


def tokenizer_dir(name):
    d = tempfile.mkdtemp(prefix="tok-" + name)
    with gzip.open(os.path.join(TOK_SRC, name, "tokenizer.json.gz"), "rb") as f, open(os.path.join(d, "tokenizer.json"), "wb") as g:
        shutil.copyfileobj(f, g)
    shutil.copy(os.path.join(TOK_SRC, name, "tokenizer_config.json"), d)
    return d


def tokenizer_goldens():
    corpus = json.load(open(os.path.join(HERE, "corpus.json"), encoding="utf-8"))
    os.makedirs(os.path.join(OUT, "golden"), exist_ok=True)
    for name in ["llama2", "llama3", "qwen3"]:
        d = tokenizer_dir(name)
        raw = tokenizers.Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
        auto = AutoTokenizer.from_pretrained(d)
        cases = []
        for text in corpus:
            c = {"text": text}
            try:
                e0 = raw.encode(text, add_special_tokens=False)
                e1 = raw.encode(text, add_special_tokens=True)
                c["raw_ids"] = e0.ids
                c["raw_tokens"] = e0.tokens
                c["raw_ids_special"] = e1.ids
                c["raw_decode"] = raw.decode(e1.ids, skip_special_tokens=False)
                c["raw_decode_skip"] = raw.decode(e1.ids, skip_special_tokens=True)
                a0 = auto.encode(text, add_special_tokens=False)
                a1 = auto.encode(text, add_special_tokens=True)
                c["auto_ids"] = a0
                c["auto_ids_special"] = a1
                c["auto_decode"] = auto.decode(a1, skip_special_tokens=False)
                c["auto_decode_skip"] = auto.decode(a1, skip_special_tokens=True)
            except Exception as ex:  # record, never hide
                c["error"] = repr(ex)
            cases.append(c)
        meta = {"tokenizer": name, "tokenizers_version": tokenizers.__version__,
                "transformers_version": transformers.__version__, "auto_class": type(auto).__name__,
                "cases": cases}
        with open(os.path.join(OUT, "golden", f"tokenizer-{name}.json"), "w", encoding="utf-8") as f:
            json.dump(meta, f, ensure_ascii=False, indent=1)
        print("tokenizer", name, type(auto).__name__, "cases", len(cases), flush=True)


BASE = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=2048)
FIXTURES = {
    # name: (architecture, tokenizer, extra config)
    "llama2-tiny": ("LlamaForCausalLM", "llama2", dict(vocab_size=32000, rms_norm_eps=1e-5, rope_theta=10000.0,
                     bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)),
    "llama3-tiny": ("LlamaForCausalLM", "llama3", dict(vocab_size=128256, rms_norm_eps=1e-5, rope_theta=500000.0,
                     bos_token_id=128000, eos_token_id=128001, tie_word_embeddings=True,
                     rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                   "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})),
    "mistral-tiny": ("MistralForCausalLM", "llama2", dict(vocab_size=32000, rms_norm_eps=1e-5, rope_theta=1000000.0,
                      bos_token_id=1, eos_token_id=2, tie_word_embeddings=False, sliding_window=None,
                      head_dim=16)),
    "qwen2-tiny": ("Qwen2ForCausalLM", "qwen3", dict(vocab_size=151936, rms_norm_eps=1e-6, rope_theta=1000000.0,
                    bos_token_id=151643, eos_token_id=151645, tie_word_embeddings=False, use_sliding_window=False)),
    "qwen3-tiny": ("Qwen3ForCausalLM", "qwen3", dict(vocab_size=151936, rms_norm_eps=1e-6, rope_theta=1000000.0,
                    bos_token_id=151643, eos_token_id=151645, tie_word_embeddings=True, head_dim=32,
                    use_sliding_window=False)),
}
PROMPTS = [
    "The capital of France is",
    "def fib(n):\n    return",
    "日本語と English mixed: 123 + 456 =",
    " ".join(["Once upon a time, in a land far away, there lived a curious fox who loved numbers"] * 4),
]
NEW_TOKENS = 16
TOPK = 8


def make_config(arch, extra):
    cls = {"LlamaForCausalLM": transformers.LlamaConfig, "MistralForCausalLM": transformers.MistralConfig,
           "Qwen2ForCausalLM": transformers.Qwen2Config, "Qwen3ForCausalLM": transformers.Qwen3Config}[arch]
    cfg = cls(**BASE, **extra)
    cfg.architectures = [arch]
    cfg.dtype = "bfloat16"
    return cfg


def model_fixtures():
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    for fname, (arch, tok, extra) in FIXTURES.items():
        t0 = time.time()
        out = os.path.join(OUT, "models", fname)
        os.makedirs(out, exist_ok=True)
        cfg = make_config(arch, extra)
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32, attn_implementation="eager")
        tied = bool(getattr(cfg, "tie_word_embeddings", False))
        hashes = {}
        with torch.no_grad():
            for name, p in model.named_parameters():
                v = torch.from_numpy(values(name, tuple(p.shape)))
                p.copy_(v)
            for name, p in model.state_dict().items():
                if tied and name == "lm_head.weight":
                    continue
                b = p.detach().to(torch.bfloat16).contiguous().view(torch.int16).numpy().tobytes()
                hashes[name] = {"shape": list(p.shape), "sha256": hashlib.sha256(b).hexdigest()}
        model = model.to(dev).eval()
        d = tokenizer_dir(tok)
        auto = AutoTokenizer.from_pretrained(d)
        cfg_json = json.loads(cfg.to_json_string())
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(cfg_json, f, indent=2)
        gen = {"bos_token_id": extra["bos_token_id"], "eos_token_id": extra["eos_token_id"], "do_sample": False}
        with open(os.path.join(out, "generation_config.json"), "w") as f:
            json.dump(gen, f, indent=2)
        with open(os.path.join(out, "tokenizer.txt"), "w") as f:
            f.write(tok + "\n")
        cases = []
        for prompt in PROMPTS:
            ids = auto.encode(prompt, add_special_tokens=True)
            inp = torch.tensor([ids], device=dev)
            with torch.no_grad():
                r = model.generate(inp, attention_mask=torch.ones_like(inp), max_new_tokens=NEW_TOKENS,
                                   do_sample=False, output_logits=True, return_dict_in_generate=True,
                                   eos_token_id=extra["eos_token_id"], pad_token_id=extra["eos_token_id"])
            gen_ids = r.sequences[0, len(ids):].tolist()
            steps = []
            for s, lg in enumerate(r.logits):
                row = lg[0].float()
                top = torch.topk(row, TOPK)
                steps.append({"top_ids": top.indices.tolist(), "top_logits": [round(x, 6) for x in top.values.tolist()],
                              "chosen": gen_ids[s], "chosen_logit": round(row[gen_ids[s]].item(), 6)})
            cases.append({"prompt": prompt, "prompt_ids": ids, "greedy_ids": gen_ids,
                          "text": auto.decode(gen_ids, skip_special_tokens=True), "steps": steps})
        meta = {"fixture": fname, "architecture": arch, "tokenizer": tok, "dtype_reference": "float32",
                "device": torch.cuda.get_device_name(0) if dev == "cuda" else "cpu",
                "torch_version": torch.__version__, "transformers_version": transformers.__version__,
                "weights": "tools/oracle/dummy_weights.py, seed 0", "tensor_sha256": hashes, "cases": cases}
        with open(os.path.join(out, "golden.json"), "w", encoding="utf-8") as f:
            json.dump(meta, f, ensure_ascii=False, indent=1)
        print("model", fname, "done in %.1fs" % (time.time() - t0), [c["greedy_ids"][:6] for c in cases], flush=True)
        if fname == "llama2-tiny":
            # HF's own sharded safetensors writer, for the loader's format tests.
            sd = os.path.join(OUT, "hf-saved", fname)
            model.to(torch.bfloat16).save_pretrained(sd, max_shard_size="3MB")


if __name__ == "__main__":
    for step in (tokenizer_goldens, model_fixtures):
        try:
            step()
        except Exception:
            traceback.print_exc()
