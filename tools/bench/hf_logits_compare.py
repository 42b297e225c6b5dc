#!/usr/bin/env python3
"""Last-position logits of HF transformers (bf16 and fp32, same safetensors folder) against Quire's
(CudaLogits' out.f32: vocab float32 per prompt, little endian). Prints, per prompt and overall, the max
abs and relative error of Quire vs HF-bf16, Quire vs HF-fp32, and HF-bf16 vs HF-fp32 (the bf16 floor),
argmax agreement and the top-10 overlap.
With --fp8-kv, HF's keys and values (after RoPE) are rounded to float8 e4m3 (saturating at +-448) before
attention, as Quire's kv_cache_dtype fp8 cache stores them.
Usage: hf_logits_compare.py MODEL_DIR IDS_FILE QUIRE_F32 [--device cuda|cpu] [--json OUT] [--fp8-kv]"""
import argparse, json, sys, time
import numpy as np
import torch
from transformers import AutoModelForCausalLM

ap = argparse.ArgumentParser()
ap.add_argument("model"); ap.add_argument("ids"); ap.add_argument("quire")
ap.add_argument("--device", default="cuda"); ap.add_argument("--json")
ap.add_argument("--fp8-kv", action="store_true")
a = ap.parse_args()
attn = {}
if a.fp8_kv:
    from transformers import AttentionInterface
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
    sdpa_attention_forward = ALL_ATTENTION_FUNCTIONS["sdpa"]

    def e4m3(x):
        return x.float().clamp(-448, 448).to(torch.float8_e4m3fn).to(x.dtype)

    def fp8kv(module, query, key, value, attention_mask, **kw):
        return sdpa_attention_forward(module, query, e4m3(key), e4m3(value), attention_mask, **kw)

    AttentionInterface.register("fp8kv", fp8kv)
    attn = {"attn_implementation": "fp8kv"}
prompts = [[int(t) for t in l.split()] for l in open(a.ids) if l.strip()]
q = np.fromfile(a.quire, dtype="<f4").reshape(len(prompts), -1)

def run(dtype):
    t0 = time.time()
    m = AutoModelForCausalLM.from_pretrained(a.model, dtype=dtype, **attn).to(a.device).eval()
    out = []
    with torch.no_grad():
        for p in prompts:
            ids = torch.tensor([p], device=a.device)
            out.append(m(ids).logits[0, -1].float().cpu().numpy())
    del m
    if a.device == "cuda": torch.cuda.empty_cache()
    print(f"HF {dtype} ({a.device}) in {time.time() - t0:.1f} s", flush=True)
    return np.stack(out)

hb, hf = run(torch.bfloat16), run(torch.float32)

def cmp(x, ref):
    d = np.abs(x - ref)
    return {"max_abs": float(d.max()), "max_rel": float(d.max() / np.abs(ref).max()),
            "rel_l2": float(np.linalg.norm(x - ref) / np.linalg.norm(ref)),
            "argmax_agree": int(sum(int(np.argmax(x[i]) == np.argmax(ref[i])) for i in range(len(x)))),
            "top10_overlap": float(np.mean([len(set(np.argsort(-x[i])[:10]) & set(np.argsort(-ref[i])[:10])) / 10 for i in range(len(x))]))}

res = {"prompts": [len(p) for p in prompts], "fp8_kv": a.fp8_kv, "logit_abs_max_fp32": float(np.abs(hf).max()),
       "quire_vs_hf_bf16": cmp(q, hb), "quire_vs_hf_fp32": cmp(q, hf), "hf_bf16_vs_hf_fp32": cmp(hb, hf)}
for i in range(len(prompts)):
    print(f"prompt {i} ({len(prompts[i])} tokens): |q-bf16| {np.abs(q[i]-hb[i]).max():.4f}  |q-fp32| {np.abs(q[i]-hf[i]).max():.4f}"
          f"  |bf16-fp32| {np.abs(hb[i]-hf[i]).max():.4f}  argmax q/bf16/fp32 {np.argmax(q[i])}/{np.argmax(hb[i])}/{np.argmax(hf[i])}")
for k in ("quire_vs_hf_bf16", "quire_vs_hf_fp32", "hf_bf16_vs_hf_fp32"):
    r = res[k]
    print(f"{k}: max abs {r['max_abs']:.4f}, max rel (to max |logit|) {r['max_rel']:.2e}, rel L2 {r['rel_l2']:.2e},"
          f" argmax {r['argmax_agree']}/{len(prompts)}, top-10 overlap {r['top10_overlap']:.2f}")
print(f"max |logit| (HF fp32): {res['logit_abs_max_fp32']:.3f}")
if a.json: json.dump(res, open(a.json, "w"), indent=1)
