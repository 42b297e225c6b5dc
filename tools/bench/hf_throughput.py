#!/usr/bin/env python3
"""HF transformers throughput on a model folder, the workload of `quire bench offline` (random prompt
ids of --input-len, exactly --output-len new tokens, greedy, EOS ignored), plus the card's bf16 GEMM
rate. Modes (comma separated, run in order on one loaded model):
  gemm            torch.matmul bf16 8192^3: TFLOP/s (mean of 20 after 3 warm-ups)
  static:N:B      generate() on N requests in static batches of B (min_new_tokens = max_new_tokens)
  batch:N         generate_batch (continuous batching, paged attention) on N requests
Prints one line per mode and writes --json. Usage:
  hf_throughput.py MODEL_DIR --modes gemm,static:256:256,batch:64 [--input-len 512 --output-len 256]"""
import argparse, json, time
import torch

ap = argparse.ArgumentParser()
ap.add_argument("model"); ap.add_argument("--modes", default="gemm,static:256:256,batch:64")
ap.add_argument("--input-len", type=int, default=512); ap.add_argument("--output-len", type=int, default=256)
ap.add_argument("--json"); ap.add_argument("--seed", type=int, default=0)
a = ap.parse_args()
res = {"device": torch.cuda.get_device_name(), "input_len": a.input_len, "output_len": a.output_len}

def save():
    if a.json: json.dump(res, open(a.json, "w"), indent=1)

def gemm():
    n = 8192
    x = torch.randn(n, n, device="cuda", dtype=torch.bfloat16); y = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3): torch.matmul(x, y)
    torch.cuda.synchronize(); t = time.perf_counter()
    for _ in range(20): torch.matmul(x, y)
    torch.cuda.synchronize(); dt = (time.perf_counter() - t) / 20
    tf = 2 * n ** 3 / dt / 1e12
    print(f"gemm bf16 8192^3 on {res['device']}: {tf:.1f} TFLOP/s", flush=True)
    res["gemm_tflops"] = tf; save()

model = None
def load():
    global model
    if model is None:
        from transformers import AutoModelForCausalLM
        t = time.time()
        model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.bfloat16).to("cuda").eval()
        model.generation_config.eos_token_id = None
        model.generation_config.pad_token_id = 0
        res["params"] = sum(p.numel() for p in model.parameters())
        print(f"loaded {a.model} ({res['params'] / 1e9:.2f} B params) in {time.time() - t:.1f} s", flush=True)
    return model

def prompts(n):
    g = torch.Generator().manual_seed(a.seed)
    return torch.randint(1000, min(100000, load().config.vocab_size), (n, a.input_len), generator=g)

def static(n, b):
    m = load(); p = prompts(n); out_tokens = 0
    with torch.no_grad():
        m.generate(p[:2].cuda(), max_new_tokens=4, min_new_tokens=4, do_sample=False)  # warm-up
        torch.cuda.synchronize(); t = time.perf_counter()
        for i in range(0, n, b):
            x = p[i:i + b].cuda()
            o = m.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=a.output_len, min_new_tokens=a.output_len, do_sample=False)
            out_tokens += (o.shape[1] - x.shape[1]) * o.shape[0]
        torch.cuda.synchronize(); dt = time.perf_counter() - t
    r = {"requests": n, "batch": b, "seconds": dt, "output_tokens": out_tokens, "output_tok_s": out_tokens / dt}
    print(f"static generate(), {n} requests in batches of {b}: {dt:.1f} s, {out_tokens / dt:.0f} output tok/s", flush=True)
    res[f"static_{n}_{b}"] = r; save()

def batch(n):
    from transformers import GenerationConfig
    m = load(); p = prompts(n).tolist()
    gc = GenerationConfig(max_new_tokens=a.output_len, do_sample=False, eos_token_id=None, pad_token_id=0)
    t = time.perf_counter()
    with torch.no_grad():
        out = m.generate_batch(inputs=p, generation_config=gc)
    torch.cuda.synchronize(); dt = time.perf_counter() - t
    out_tokens = sum(len(o.generated_tokens) for o in out.values())
    r = {"requests": n, "seconds": dt, "output_tokens": out_tokens, "output_tok_s": out_tokens / dt}
    print(f"generate_batch (continuous batching), {n} requests: {dt:.1f} s (warm-up included), {out_tokens} output tokens,"
          f" {out_tokens / dt:.0f} output tok/s", flush=True)
    res[f"batch_{n}"] = r; save()

for mode in a.modes.split(","):
    f = mode.split(":")
    try:
        if f[0] == "gemm": gemm()
        elif f[0] == "static": static(int(f[1]), int(f[2]))
        elif f[0] == "batch": batch(int(f[1]))
    except Exception as e:
        import traceback; traceback.print_exc()
        print(f"mode {mode} failed: {e!r}", flush=True)
