#!/usr/bin/env python3
"""Checks Quire's Java engine against transformers: for each prompt of results/golden.json, runs
`bin/quire generate --model models/quire-demo/1 --prompt P --max-tokens 40 --temperature 0 --json`
and compares prompt ids, output ids and text with transformers' greedy output. Run from the repo root
(after a build: QUIRE_NO_BUILD=1 is set so that it uses the built jar). Exit 1 on any difference."""
import json, os, subprocess, sys
g = json.load(open("tools/demo-model/results/golden.json", encoding="utf-8"))
ok = True
for c in g["cases"]:
    r = subprocess.run(["bin/quire", "generate", "--model", "models/quire-demo/1", "--prompt", c["prompt"],
                        "--max-tokens", str(g["max_new_tokens"]), "--temperature", "0", "--json"],
                       capture_output=True, text=True, env={**os.environ, "QUIRE_NO_BUILD": "1"})
    j = json.loads(r.stdout.strip().splitlines()[-1])
    same_p = j["prompt_token_ids"] == c["prompt_token_ids"]
    same_t = j["token_ids"] == c["token_ids"]
    same_x = j["text"] == c["text"]
    print(repr(c["prompt"]), "prompt ids equal:", same_p, "output ids equal:", same_t, "text equal:", same_x)
    if not (same_p and same_t):
        ok = False
        print(" java:", j["prompt_token_ids"], j["token_ids"]); print(" hf:  ", c["prompt_token_ids"], c["token_ids"])
print("ALL EQUAL" if ok else "MISMATCH")
sys.exit(0 if ok else 1)
