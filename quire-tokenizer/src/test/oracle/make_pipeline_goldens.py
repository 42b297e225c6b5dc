#!/usr/bin/env python3
"""Goldens for pipeline pieces that the real tokenizers in testdata/ do not use.

Trains tiny BPE tokenizers (deterministic) with other normalizers, pre-tokenizers, decoders and
added-token flags, and records what tokenizers (the Rust library, pip package `tokenizers`)
does with them. Also records raw encodings of random strings for the real tokenizers, to fuzz
the regex and byte-level paths. Needs only `pip install tokenizers==0.23.2`.

With transformers installed (5.17), also records AutoTokenizer on random strings for the real
tokenizers and for variants of their tokenizer_config.json (legacy, add_prefix_space,
add_bos/eos_token), the settings TransformersCompat reads.

Writes quire-tokenizer/src/test/resources/pipelines/<name>/tokenizer.json and
pipelines/goldens.json. Usage: python3 make_pipeline_goldens.py (from anywhere).
"""
import gzip, json, os, random

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
ROOT = os.path.dirname(MODULE)
OUT = os.path.join(MODULE, "src", "test", "resources", "pipelines")
CORPUS = json.load(open(os.path.join(ROOT, "tools", "oracle", "corpus.json"), encoding="utf-8"))
EXTRA = [
    "Hello   World!! It's 2024-06-01, ok?", "ＦＵＬＬＷＩＤＴＨ ｶﾀｶﾅ ① ½ ﬁ", "ΣΊΣΥΦΟΣ İstanbul ǅ", "  \t lead and trail \n ",
    "hello world said hello worldwide", "x<mask>y <mask> z  <mask>  end", "[SEP]a [SEP] b[SEP]", "1234567890 ١٢٣ ४२", "a\u00a0b\u3000c\u2009d",
    "don't stop-believing... (really)?!", "é\u0301 e\u0301 Å", "emoji 🤖🤖 and \U0001F9D1\u200d\U0001F4BB", "",
]
TEXTS = CORPUS + EXTRA


def train(tok, vocab_size=400, **kw):
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False, **kw)
    tok.train_from_iterator(TEXTS * 3, trainer=trainer)
    return tok


def pipelines():
    p = {}
    # NFKC + Lowercase + Strip + regex Replace; WhitespaceSplit / Punctuation / Digits; unk fused; subword prefix/suffix
    t = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    t.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(), normalizers.Strip(), normalizers.Replace(Regex(r"\s+"), " ")])
    t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation(), pre_tokenizers.Digits(individual_digits=True)])
    train(t, continuing_subword_prefix="##", end_of_word_suffix="</w>", limit_alphabet=60)
    t.decoder = decoders.Sequence([decoders.Replace("</w>", " "), decoders.Replace("##", ""), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    t.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> $B:1 </s>:1", special_tokens=[("<s>", 1), ("</s>", 2)])
    p["nfkc-lower-punct-digits"] = t

    # NFD, Whitespace pre-tokenizer, contiguous digits, lstrip/rstrip/single_word/normalized added tokens
    t = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=False))
    t.normalizer = normalizers.NFD()
    t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=False)])
    train(t, limit_alphabet=80)
    t.add_special_tokens([AddedToken("<mask>", lstrip=True, rstrip=True, normalized=False, special=True)])
    t.add_tokens([AddedToken("hello world", single_word=True, normalized=True), AddedToken("[SEP]", rstrip=True, normalized=False)])
    t.decoder = decoders.Sequence([decoders.Fuse()])
    t.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 1))
    p["nfd-whitespace-added"] = t

    # Split behaviours and invert, on one Sequence
    for behavior in ["removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous"]:
        for invert in [False, True]:
            t = Tokenizer(models.BPE(unk_token="<unk>"))
            t.pre_tokenizer = pre_tokenizers.Sequence([
                pre_tokenizers.Split(Regex(r"\s+|[.,!?;:'\-]"), behavior=behavior, invert=invert),
                pre_tokenizers.Split("o", behavior=behavior, invert=False)])
            train(t, vocab_size=300)
            t.decoder = decoders.Fuse()
            p[f"split-{behavior}{'-invert' if invert else ''}"] = t

    # Metaspace with split and each prepend scheme; Metaspace decoder
    for scheme in ["always", "first", "never"]:
        t = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
        t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme, split=True)
        train(t, vocab_size=500, initial_alphabet=[f"<0x{b:02X}>" for b in range(256)], limit_alphabet=60)
        t.add_special_tokens(["<mask>"])
        t.decoder = decoders.Sequence([decoders.Metaspace(replacement="▁", prepend_scheme=scheme, split=True), decoders.ByteFallback(), decoders.Fuse()])
        p[f"metaspace-{scheme}"] = t

    # GPT-2 byte level: prefix space, regex, ignore_merges, ByteLevel processor
    t = Tokenizer(models.BPE(ignore_merges=True))
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    train(t, vocab_size=600, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    t.add_tokens([AddedToken(" spaced", normalized=True), AddedToken("<|tool|>", special=False, normalized=False)])
    t.decoder = decoders.ByteLevel()
    t.post_processor = processors.Sequence([processors.ByteLevel(trim_offsets=True), processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 2)])])
    p["gpt2-bytelevel"] = t

    # Prepend + Replace normalizers with byte fallback (sentencepiece style), Strip decoder stop
    t = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    t.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁"), normalizers.NFC()])
    train(t, vocab_size=500, initial_alphabet=[f"<0x{b:02X}>" for b in range(256)], limit_alphabet=50)
    t.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 2, 0)])
    p["sentencepiece-style"] = t
    return p


def random_texts(seed, n):
    rnd = random.Random(seed)
    alphabet = list("abcXYZ019 \t\n\r.,'!?-_") + ["é", "e\u0301", "ß", "日本", "😀", "\u00a0", "\u3000", "\u2009", "'s", "'LL", "\u200d", "ﬁ", "١", "Σ", "İ", "▁", "Ġ", "<s>", "</s>", "<|im_end|>", "<|begin_of_text|>", "\x00", "\ufeff"]
    return ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 40))) for _ in range(n)]


def record(tok, texts):
    cases = []
    for text in texts:
        e0 = tok.encode(text, add_special_tokens=False)
        e1 = tok.encode(text, add_special_tokens=True)
        cases.append({"text": text, "ids": e0.ids, "tokens": e0.tokens, "ids_special": e1.ids,
                      "decode": tok.decode(e1.ids, skip_special_tokens=False), "decode_skip": tok.decode(e1.ids, skip_special_tokens=True)})
    return cases


VARIANTS = {
    "llama2": [{}, {"legacy": False}, {"add_prefix_space": False}, {"add_eos_token": True}, {"add_bos_token": False, "legacy": False}],
    "llama3": [{}, {"add_bos_token": True}, {"add_bos_token": True, "add_eos_token": True}],
    "qwen3": [{}, {"add_eos_token": True}],
}


def auto_goldens(goldens):
    import shutil, tempfile
    import transformers
    from transformers import AutoTokenizer
    goldens["transformers_version"] = transformers.__version__
    goldens["auto"] = []
    for name, variants in VARIANTS.items():
        texts = random_texts(7 + sum(map(ord, name)), 150) + EXTRA
        for overrides in variants:
            d = tempfile.mkdtemp()
            with gzip.open(os.path.join(ROOT, "testdata", "tokenizers", name, "tokenizer.json.gz"), "rb") as f, open(os.path.join(d, "tokenizer.json"), "wb") as g:
                shutil.copyfileobj(f, g)
            config = json.load(open(os.path.join(ROOT, "testdata", "tokenizers", name, "tokenizer_config.json"), encoding="utf-8"))
            config.update(overrides)
            json.dump(config, open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8"))
            tok = AutoTokenizer.from_pretrained(d)
            cases = []
            for text in texts:
                ids = tok.encode(text, add_special_tokens=False)
                ids_special = tok.encode(text, add_special_tokens=True)
                cases.append({"text": text, "ids": ids, "ids_special": ids_special,
                              "decode": tok.decode(ids_special, skip_special_tokens=False),
                              "decode_skip": tok.decode(ids_special, skip_special_tokens=True)})
            goldens["auto"].append({"tokenizer": name, "config_overrides": overrides, "cases": cases})
            shutil.rmtree(d)


def main():
    goldens = {"tokenizers_version": tokenizers.__version__, "pipelines": {}, "fuzz": {}}
    for name, tok in pipelines().items():
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        tok.save(os.path.join(d, "tokenizer.json"))
        goldens["pipelines"][name] = record(Tokenizer.from_file(os.path.join(d, "tokenizer.json")), TEXTS + random_texts(1, 40))
    for name in ["llama2", "llama3", "qwen3"]:
        with gzip.open(os.path.join(ROOT, "testdata", "tokenizers", name, "tokenizer.json.gz"), "rt", encoding="utf-8") as f:
            tok = Tokenizer.from_str(f.read())
        goldens["fuzz"][name] = record(tok, random_texts(sum(map(ord, name)), 300) + EXTRA)
    auto_goldens(goldens)
    with open(os.path.join(OUT, "goldens.json"), "w", encoding="utf-8") as f:
        json.dump(goldens, f, ensure_ascii=False, indent=0)
    print("pipelines", len(goldens["pipelines"]), "fuzz", {k: len(v) for k, v in goldens["fuzz"].items()})


if __name__ == "__main__":
    main()
