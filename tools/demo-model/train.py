#!/usr/bin/env python3
"""Trains Quire's demo model: a small Llama (LlamaForCausalLM) with its own byte-level BPE tokenizer,
on the Brown Corpus as tools/demo-model/prepare_data.py writes it.

  python3 tools/demo-model/train.py --data DIR --out OUT --minutes 3

DIR holds brown.jsonl.gz (and SOURCE.txt). OUT receives:
  model/        the Hugging Face folder: config.json, generation_config.json, model.safetensors (bf16),
                tokenizer.json, tokenizer_config.json (bos/eos and the chat template)
  loss.csv      step,elapsed_s,lr,train_loss,val_loss (train loss averaged over the last 10 steps)
  loss.png      the curve (when matplotlib is there)
  samples.txt   greedy and sampled generations, plain and chat
  golden.json   per fixed prompt: prompt ids (AutoTokenizer, add_special_tokens=True) and transformers'
                greedy continuation (fp32, CPU, 40 new tokens, stopping at eos) with top-5 logits per step
  train_info.json  sizes, parameter count, losses, timings, versions

Stages after training (golden, samples, plot) each run in their own try, so a failure there keeps the
saved model. `--check-data` runs only the data preparation (needs jinja2, not torch): for testing
without a GPU.
"""
import argparse, gzip, json, math, os, random, sys, time, traceback, zlib

BOS, EOS = "<|bos|>", "<|eos|>"
SPECIALS = [BOS, EOS, "<|system|>", "<|user|>", "<|assistant|>"]
# Plain Jinja, so that any Jinja engine renders it exactly as transformers' apply_chat_template does.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)
GOLDEN_PROMPTS = [
    "The jury said that",
    "It was a cold night, and",
    "The new method of teaching children",
]
SAMPLE_PROMPTS = [
    "The president of the United States",
    "She looked at him and said",
    "In the morning, the",
    "Science has shown that",
    "The church",
    "He was born in",
]
CHAT_PROMPTS = [
    "Tell me about the city.",
    "What did the committee decide?",
]


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# ---------------------------------------------------------------- data (no torch needed)

def load_paragraphs(data_dir):
    with gzip.open(os.path.join(data_dir, "brown.jsonl.gz"), "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def is_val_doc(doc):
    """About 4% of the corpus files, fixed by name."""
    return zlib.crc32(doc.encode()) % 25 == 0


def render_chat(messages, add_generation_prompt=False):
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    t = env.from_string(CHAT_TEMPLATE)
    return t.render(messages=messages, add_generation_prompt=add_generation_prompt, bos_token=BOS, eos_token=EOS)


def training_texts(paragraphs, chat_frac, seed):
    """(train, val) lists of texts with special tokens spelled out: plain paragraphs as
    '<|bos|>text<|eos|>', a chat_frac share of the multi-sentence ones as a chat (first sentence from
    the user, the rest from the assistant) rendered with the chat template."""
    rng = random.Random(seed)
    train, val = [], []
    for p in paragraphs:
        s = p["sentences"]
        if len(s) >= 2 and rng.random() < chat_frac:
            text = render_chat([{"role": "user", "content": s[0]},
                                {"role": "assistant", "content": " ".join(s[1:])}])
        else:
            text = BOS + " ".join(s) + EOS
        (val if is_val_doc(p["doc"]) else train).append(text)
    rng.shuffle(train)
    return train, val


# ---------------------------------------------------------------- tokenizer

def train_tokenizer(paragraphs, vocab_size, out_dir, ctx):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIALS, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    texts = [" ".join(p["sentences"]) for p in paragraphs if not is_val_doc(p["doc"])]
    tok.train_from_iterator(texts, trainer=trainer)
    bos_id, eos_id = tok.token_to_id(BOS), tok.token_to_id(EOS)
    tok.post_processor = processors.TemplateProcessing(
        single=BOS + " $A", pair=BOS + " $A " + BOS + " $B:1", special_tokens=[(BOS, bos_id)])
    os.makedirs(out_dir, exist_ok=True)
    tok.save(os.path.join(out_dir, "tokenizer.json"))
    cfg = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": EOS,
        "model_max_length": ctx,
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
        "chat_template": CHAT_TEMPLATE,
    }
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return tok, bos_id, eos_id


def encode_stream(tok, texts):
    import numpy as np

    ids = []
    for enc in tok.encode_batch(texts, add_special_tokens=False):
        ids.extend(enc.ids)
    return np.asarray(ids, dtype=np.int64)


# ---------------------------------------------------------------- model

def build_model(args, vocab, bos_id, eos_id):
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=vocab, hidden_size=args.hidden, intermediate_size=args.ffn,
        num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
        max_position_embeddings=args.ctx, rms_norm_eps=1e-5, tie_word_embeddings=True,
        bos_token_id=bos_id, eos_token_id=eos_id, attention_dropout=0.0, initializer_range=0.02)
    return LlamaForCausalLM(cfg)


def add_dropout(model, p):
    """Dropout on the embeddings and on each block's attention and MLP outputs, while training only
    (forward hooks: nothing of it is saved)."""
    import torch.nn.functional as F

    def hook(m, inp, out):
        return F.dropout(out, p, m.training)

    mods = [model.model.embed_tokens]
    for layer in model.model.layers:
        mods += [layer.self_attn.o_proj, layer.mlp.down_proj]
    return [m.register_forward_hook(hook) for m in mods]


def train(args, model, train_ids, val_ids, out):
    import numpy as np
    import torch
    import torch.nn.functional as F

    dev = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    model.to(dev)
    hooks = add_dropout(model, args.dropout) if args.dropout > 0 else []
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt_kw = dict(lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    if dev.type == "cuda":
        opt_kw["fused"] = True
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd},
                             {"params": no_decay, "weight_decay": 0.0}], **opt_kw)
    T = args.ctx
    tr = torch.from_numpy(train_ids).to(dev)
    ar = torch.arange(T + 1, device=dev)
    nval = min(args.val_chunks, (len(val_ids) - 1) // T)
    va = torch.from_numpy(val_ids[: nval * T + 1]).to(dev)
    use_amp = dev.type == "cuda"
    tokens_per_step = args.batch * T
    epochs_steps = int(args.epochs * len(train_ids) / tokens_per_step)
    total_steps = max(args.warmup + 1, epochs_steps)
    budget = args.minutes * 60.0
    log("train tokens %d, val tokens %d (%d chunks), %d tokens/step, step cap %d (%.0f epochs), time cap %.0fs"
        % (len(train_ids), len(val_ids), nval, tokens_per_step, total_steps, args.epochs, budget))

    def lr_at(progress, step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        return args.min_lr + 0.5 * (args.lr - args.min_lr) * (1 + math.cos(math.pi * min(1.0, progress)))

    @torch.no_grad()
    def evaluate():
        model.eval()
        tot, n = 0.0, 0
        for i in range(0, nval, 32):
            k = min(32, nval - i)
            starts = (torch.arange(k, device=dev) + i) * T
            chunk = va[starts[:, None] + ar]
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_amp):
                logits = model(input_ids=chunk[:, :-1]).logits
            tot += F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), chunk[:, 1:].reshape(-1),
                                   reduction="sum").item()
            n += chunk[:, 1:].numel()
        model.train()
        return tot / max(1, n)

    csv = open(os.path.join(out, "loss.csv"), "w")
    csv.write("step,elapsed_s,lr,train_loss,val_loss\n")
    best = (float("inf"), -1, None)
    hist = []
    model.train()
    t0 = time.time()
    step = 0
    run_loss = []
    stop_reason = "step cap"
    lr, tl = 0.0, float("nan")
    gen = torch.Generator(device=dev)
    gen.manual_seed(args.seed)
    while True:
        elapsed = time.time() - t0
        progress = max(step / total_steps, elapsed / budget)
        if progress >= 1.0:
            stop_reason = "time cap" if elapsed >= budget else "step cap"
            break
        lr = lr_at(progress, step)
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, len(tr) - T - 1, (args.batch,), device=dev, generator=gen)
        chunk = tr[starts[:, None] + ar]
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_amp):
            logits = model(input_ids=chunk[:, :-1]).logits
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), chunk[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        run_loss.append(loss.detach())
        if step % 10 == 0 or step == 1:
            tl = torch.stack(run_loss).mean().item()
            run_loss = []
            if not math.isfinite(tl):
                stop_reason = "non-finite loss"
                log("loss is not finite at step", step)
                break
            vl = ""
            if step % args.eval_every == 0:
                v = evaluate()
                vl = "%.4f" % v
                if v < best[0]:
                    best = (v, step, {k: t.detach().to("cpu", copy=True) for k, t in model.state_dict().items()})
                hist.append(v)
                el = time.time() - t0
                log("step %5d  %6.1fs  lr %.2e  train %.4f  val %.4f  best %.4f@%d  %.0f tok/s"
                    % (step, el, lr, tl, v, best[0], best[1], step * tokens_per_step / el))
                if v > best[0] + args.overfit_margin:
                    stop_reason = "val loss %.3f above best %.3f by more than %.2f" % (v, best[0], args.overfit_margin)
                    csv.write("%d,%.2f,%.3e,%.4f,%s\n" % (step, time.time() - t0, lr, tl, vl))
                    break
            elif step % 100 == 0:
                log("step %5d  %6.1fs  lr %.2e  train %.4f" % (step, time.time() - t0, lr, tl))
            csv.write("%d,%.2f,%.3e,%.4f,%s\n" % (step, time.time() - t0, lr, tl, vl))
            csv.flush()
    v = evaluate()
    if v < best[0] or best[2] is None:
        best = (v, step, {k: t.detach().to("cpu", copy=True) for k, t in model.state_dict().items()})
    csv.write("%d,%.2f,%.3e,,%.4f\n" % (step, time.time() - t0, lr, v))
    csv.close()
    train_time = time.time() - t0
    log("stopped: %s; %d steps in %.1fs; final val %.4f; best val %.4f at step %d"
        % (stop_reason, step, train_time, v, best[0], best[1]))
    for h in hooks:
        h.remove()
    model.load_state_dict(best[2])
    return {"steps": step, "train_seconds": round(train_time, 1), "stop_reason": stop_reason,
            "final_val_loss": round(v, 4), "best_val_loss": round(best[0], 4), "best_step": best[1],
            "tokens_per_step": tokens_per_step, "last_train_loss": round(tl, 4) if math.isfinite(tl) else None}


def save_model(model, model_dir, bos_id, eos_id):
    import torch
    from transformers import GenerationConfig

    model.to("cpu").to(torch.bfloat16)
    model.config.use_cache = True
    model.save_pretrained(model_dir)
    gc = GenerationConfig(bos_token_id=bos_id, eos_token_id=eos_id, pad_token_id=eos_id,
                          do_sample=True, temperature=0.8, top_p=0.95)
    gc.save_pretrained(model_dir)


# ---------------------------------------------------------------- after training

def golden(model_dir, out, eos_id, max_new=40):
    """Greedy ids by an explicit argmax loop over transformers' forward, fp32 on the CPU."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    cases = []

    def greedy(ids):
        seq = list(ids)
        new, tops = [], []
        with torch.no_grad():
            for _ in range(max_new):
                logits = model(input_ids=torch.tensor([seq])).logits[0, -1].float()
                v, i = torch.topk(logits, 5)
                tops.append([[int(a), round(float(b), 4)] for a, b in zip(i, v)])
                nxt = int(i[0])
                new.append(nxt)
                seq.append(nxt)
                if nxt == eos_id:
                    break
        return new, tops

    for prompt in GOLDEN_PROMPTS:
        ids = tok(prompt)["input_ids"]
        new, tops = greedy(ids)
        cases.append({"prompt": prompt, "prompt_token_ids": ids, "token_ids": new,
                      "text": tok.decode(new, skip_special_tokens=True),
                      "finish_reason": "stop" if new and new[-1] == eos_id else "length", "top5": tops})
    chats = []
    for q in CHAT_PROMPTS:
        msgs = [{"role": "user", "content": q}]
        text = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        ids = tok(text, add_special_tokens=False)["input_ids"]
        new, tops = greedy(ids)
        chats.append({"messages": msgs, "rendered": text, "prompt_token_ids": ids, "token_ids": new,
                      "text": tok.decode(new, skip_special_tokens=True), "top5": tops})
    # cross-check with generate()
    try:
        from transformers import GenerationConfig

        gc = GenerationConfig(do_sample=False, max_new_tokens=max_new, eos_token_id=eos_id, pad_token_id=eos_id)
        for c in cases:
            g = model.generate(torch.tensor([c["prompt_token_ids"]]), generation_config=gc)
            c["generate_matches"] = g[0, len(c["prompt_token_ids"]):].tolist() == c["token_ids"]
    except Exception:
        traceback.print_exc()
    import transformers, tokenizers

    res = {"note": "transformers greedy (fp32, CPU) for the files in models/quire-demo/1; prompt ids by "
                   "AutoTokenizer with add_special_tokens=True; chat prompts rendered by apply_chat_template "
                   "(add_generation_prompt=True) and encoded without special tokens",
           "max_new_tokens": max_new, "eos_token_id": eos_id,
           "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                        "tokenizers": tokenizers.__version__},
           "cases": cases, "chat_cases": chats}
    with open(os.path.join(out, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(res, f, indent=1, ensure_ascii=False)
    for c in cases:
        log("golden %r -> %r (generate matches: %s)" % (c["prompt"], c["text"], c.get("generate_matches")))


def samples(model_dir, out, eos_id, seed):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    lines = []
    greedy = GenerationConfig(do_sample=False, max_new_tokens=60, eos_token_id=eos_id, pad_token_id=eos_id)
    sampled = GenerationConfig(do_sample=True, temperature=0.8, top_p=0.95, max_new_tokens=60,
                               eos_token_id=eos_id, pad_token_id=eos_id)
    torch.manual_seed(seed)
    for prompt in SAMPLE_PROMPTS:
        ids = torch.tensor([tok(prompt)["input_ids"]])
        for name, gc in (("greedy", greedy), ("sampled t=0.8 top_p=0.95", sampled)):
            g = model.generate(ids, generation_config=gc)
            lines.append("[%s] %s|%s" % (name, prompt, tok.decode(g[0, ids.shape[1]:], skip_special_tokens=True)))
    for q in CHAT_PROMPTS:
        text = tok.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True, tokenize=False)
        ids = torch.tensor([tok(text, add_special_tokens=False)["input_ids"]])
        for name, gc in (("chat greedy", greedy), ("chat sampled", sampled)):
            g = model.generate(ids, generation_config=gc)
            lines.append("[%s] user: %s\n  assistant: %s"
                         % (name, q, tok.decode(g[0, ids.shape[1]:], skip_special_tokens=True)))
    with open(os.path.join(out, "samples.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    for l in lines:
        log(l)


def plot(out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, tr, vs, vl = [], [], [], []
    for line in open(os.path.join(out, "loss.csv")).read().splitlines()[1:]:
        s, _, _, t, v = line.split(",")
        if t:
            steps.append(int(s))
            tr.append(float(t))
        if v:
            vs.append(int(s))
            vl.append(float(v))
    plt.figure(figsize=(7, 4))
    plt.plot(steps, tr, label="train (mean of 10 steps)")
    plt.plot(vs, vl, "o-", label="validation")
    plt.xlabel("step")
    plt.ylabel("cross-entropy (nats/token)")
    plt.ylim(min(tr + vl) - 0.2, min(max(tr + vl), 9.0))
    plt.title("quire-demo: Brown Corpus, Llama ~11M params")
    plt.grid(alpha=0.3)
    plt.legend()
    plt.tight_layout()
    plt.savefig(os.path.join(out, "loss.png"), dpi=100)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=3.0, help="training time cap")
    ap.add_argument("--epochs", type=float, default=24.0, help="training step cap, in passes over the data")
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--hidden", type=int, default=384)
    ap.add_argument("--ffn", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--min-lr", type=float, default=1e-4)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--val-chunks", type=int, default=128)
    ap.add_argument("--overfit-margin", type=float, default=0.25,
                    help="stop once the validation loss is this far above its best")
    ap.add_argument("--chat-frac", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--device", default=None)
    ap.add_argument("--check-data", action="store_true", help="only prepare the texts (no torch)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    t_start = time.time()

    paras = load_paragraphs(args.data)
    train_texts, val_texts = training_texts(paras, args.chat_frac, args.seed)
    log("%d paragraphs: %d train texts, %d val texts; %d train chars"
        % (len(paras), len(train_texts), len(val_texts), sum(map(len, train_texts))))
    if args.check_data:
        chat = [t for t in train_texts if "<|assistant|>" in t]
        log("chat texts: %d; e.g. %r" % (len(chat), chat[0][:300] if chat else None))
        log("plain e.g. %r" % next(t for t in train_texts if "<|assistant|>" not in t)[:200])
        log("generation prompt: %r" % render_chat([{"role": "user", "content": "Hi."}], True))
        return

    import numpy as np
    import torch

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    log("device %s%s, torch %s" % (args.device, " (" + torch.cuda.get_device_name(0) + ")"
                                   if args.device == "cuda" else "", torch.__version__))

    model_dir = os.path.join(args.out, "model")
    tok, bos_id, eos_id = train_tokenizer(paras, args.vocab, model_dir, args.ctx)
    log("tokenizer: vocab %d, bos %d, eos %d, e.g. %s"
        % (tok.get_vocab_size(), bos_id, eos_id, tok.encode("The jury said it did find that.").tokens))
    train_ids = encode_stream(tok, train_texts)
    val_ids = encode_stream(tok, val_texts)
    log("encoded: %d train tokens, %d val tokens (%.2f chars/token)"
        % (len(train_ids), len(val_ids), sum(map(len, train_texts)) / max(1, len(train_ids))))

    model = build_model(args, tok.get_vocab_size(), bos_id, eos_id)
    n_params = sum(p.numel() for p in model.parameters())
    log("model: %d parameters (%.2fM), config %s" % (n_params, n_params / 1e6, model.config.to_json_string()))
    info = {"parameters": n_params, "args": vars(args), "train_tokens": int(len(train_ids)),
            "val_tokens": int(len(val_ids)), "vocab": tok.get_vocab_size()}
    info.update(train(args, model, train_ids, val_ids, args.out))
    save_model(model, model_dir, bos_id, eos_id)
    log("saved", model_dir, sorted(os.listdir(model_dir)))
    with open(os.path.join(args.out, "train_info.json"), "w") as f:
        json.dump(info, f, indent=1)

    for name, fn in (("golden", lambda: golden(model_dir, args.out, eos_id)),
                     ("samples", lambda: samples(model_dir, args.out, eos_id, args.seed)),
                     ("plot", lambda: plot(args.out))):
        try:
            fn()
        except Exception:
            log("stage %s failed:" % name)
            traceback.print_exc()
            sys.stdout.flush()
    info["total_seconds"] = round(time.time() - t_start, 1)
    try:
        import transformers, tokenizers

        info["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__,
                            "tokenizers": tokenizers.__version__}
        if args.device == "cuda":
            info["device"] = torch.cuda.get_device_name(0)
    except Exception:
        pass
    with open(os.path.join(args.out, "train_info.json"), "w") as f:
        json.dump(info, f, indent=1)
    log("done in %.1fs" % info["total_seconds"])


if __name__ == "__main__":
    main()
