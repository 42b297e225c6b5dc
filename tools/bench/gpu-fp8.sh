#!/usr/bin/env bash
# Runs on the GPU machine (packed as for gpu-proofs.sh): kv_cache_dtype fp8 (e4m3 K/V cache).
#   check: the op checks (CudaShortCheck: every op against the CPU backend, the fp8 attention against the CPU
#          over e4m3-rounded K/V, and the cache's bytes against the host's e4m3 rounding), in the default and
#          batch-invariant modes; a 2-layer Llama-3-8B-shaped model's last-position logits with an fp8
#          cache against HF transformers with its keys and values rounded to e4m3 (hf_logits_compare.py
#          --fp8-kv) and against plain HF; engine batch invariance with an fp8 cache; SAN=1 adds
#          compute-sanitizer on the op checks with fp8.
#   perf:  batch-1 decode (CudaDecodeBench) and a 256-row decode step's per-launch profile
#          (CudaBatchProfile), bf16 and fp8 caches alternated, Llama-2-7B and Llama-3-8B shapes.
#   offline: quire bench offline, 1000 x (512 + 256), bf16 and fp8 caches, 7B then 8B; torch's GEMM rate.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/bench/ab-common.sh
OUT=${OUT:-/tmp/quire-out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
T0=$SECONDS
run() { timeout "$1" $J "${JO[@]}" -cp "$P/cli/lib/*:$P/tc" "${@:2}" 2>&1 | grep -v '^WARNING'; }
CLI=($J "${JO[@]}" -Dquire.home="$PWD" -cp "$P/cli/quire-cli.jar:$P/cli/lib/*" io.quire.cli.Main)
for part in ${PARTS:-check perf}; do
if [ $part = check ]; then
  if [ "${SAN:-0}" = 1 ]; then
    ( SANB=/usr/local/cuda/bin/compute-sanitizer; command -v compute-sanitizer >/dev/null && SANB=compute-sanitizer
      timeout 300 $SANB --tool memcheck --leak-check no --print-limit 20 --error-exitcode 9 \
        $J "${JO[@]}" -cp "$P/cli/lib/*:$P/tc" io.quire.backend.cuda.CudaShortCheck /tmp/quire-fixtures 2>&1 | grep -v '^WARNING' | tail -3
      echo "sanitizer rc ${PIPESTATUS[0]}" ) > "$OUT/san.txt" 2>&1 &
    SP=$!
  fi
  ab_m2
  for bi in 0 1; do
    echo "=== [$((SECONDS-T0))s] op checks, QUIRE_BATCH_INVARIANT=$bi"
    QUIRE_BATCH_INVARIANT=$bi run 200 io.quire.backend.cuda.CudaShortCheck /tmp/quire-fixtures > "$OUT/short$bi.txt"
    grep -E "fp8|FAIL" "$OUT/short$bi.txt" | cut -c1-230; tail -4 "$OUT/short$bi.txt"
  done
  echo "=== [$((SECONDS-T0))s] 2-layer logits with an fp8 cache vs HF (keys and values rounded to e4m3), then vs plain HF"
  python3 -c "
import random
r = random.Random(1)
for n in (97, 101, 113, 128): print(' '.join(str(r.randrange(128256)) for _ in range(n)))" > /tmp/ids.txt
  QUIRE_KV_CACHE_DTYPE=fp8 run 60 io.quire.backend.cuda.CudaLogits $M2 /tmp/ids.txt /tmp/q8.f32
  timeout 150 python3 tools/bench/hf_logits_compare.py $M2 /tmp/ids.txt /tmp/q8.f32 --fp8-kv --json "$OUT/logits-fp8.json" 2>&1 | grep -E "^quire|^hf|max \|logit"
  timeout 150 python3 tools/bench/hf_logits_compare.py $M2 /tmp/ids.txt /tmp/q8.f32 --json "$OUT/logits-fp8-vs-plain.json" 2>&1 | grep -E "^quire|^hf"
  for bi in 1 0; do
    echo "=== [$((SECONDS-T0))s] engine batch invariance, fp8 cache, QUIRE_BATCH_INVARIANT=$bi"
    QUIRE_KV_CACHE_DTYPE=fp8 QUIRE_BATCH_INVARIANT=$bi run 150 io.quire.backend.cuda.CudaBatchInvariance $M2 cuda 64 | grep -E "mode|vs|device|rror|xception"
  done
  [ "${SAN:-0}" = 1 ] && { wait $SP; echo "=== sanitizer"; cat "$OUT/san.txt"; }
fi
if [ $part = perf ]; then
  ab_models
  for m in ${SHAPES:-7 8}; do
    for rep in ${REPS:-1 2}; do
      for kv in auto fp8; do
        echo "=== [$((SECONDS-T0))s] ${m}B batch-1 decode, kv $kv, run $rep"
        QUIRE_KV_CACHE_DTYPE=$kv run 200 -Dquire.bench.quick=true io.quire.backend.cuda.CudaDecodeBench /dev/shm/m${m}b 512 128 | grep -E "tokens/s" | cut -c1-250
      done
    done
    for kv in auto fp8; do
      echo "=== [$((SECONDS-T0))s] ${m}B 256-row decode step, kv $kv"
      QUIRE_KV_CACHE_DTYPE=$kv run 150 io.quire.backend.cuda.CudaBatchProfile /dev/shm/m${m}b 600 decode:256 6 > "$OUT/profile$m-$kv.txt"
      grep -E "^===|^wall|^GEMMs" "$OUT/profile$m-$kv.txt"; grep -iE "attn" "$OUT/profile$m-$kv.txt" | head -3
    done
  done
fi
if [ $part = offline ]; then
  for m in ${SHAPES:-7 8}; do
    [ $m = none ] && continue
    [ -f /dev/shm/m${m}b/tokenizer.json ] || [ -f /dev/shm/m${m}b/tokenizer.json.gz ] || rm -rf /dev/shm/m${m}b
    if [ ! -f /dev/shm/m${m}b/config.json ]; then
      if [ $m = 7 ]; then
        mkdir -p /tmp/tok2 && gunzip -c testdata/tokenizers/llama2/tokenizer.json.gz > /tmp/tok2/tokenizer.json && cp testdata/tokenizers/llama2/tokenizer_config.json /tmp/tok2/
        timeout 200 "${CLI[@]}" dummy-model --shape llama-2-7b --out /dev/shm/m7b --tokenizer /tmp/tok2 2>&1 | grep -v '^WARNING' | tail -1
      else
        timeout 200 "${CLI[@]}" dummy-model --shape llama-3-8b --out /dev/shm/m8b --tokenizer models/quire-demo/1 2>&1 | grep -v '^WARNING' | tail -1
      fi
    fi
    for kv in ${KVS:-auto fp8}; do
      echo "=== [$((SECONDS-T0))s] quire bench offline, ${m}B shape, kv_cache_dtype $kv: 1000 x (512 + 256), max-num-seqs ${SEQS:-256}"
      timeout 200 "${CLI[@]}" bench offline --model /dev/shm/m${m}b --device cuda --num-prompts 1000 --input-len 512 --output-len 256 \
        --max-num-seqs ${SEQS:-256} --max-num-batched-tokens 8192 --kv-cache-dtype $kv --result-json "$OUT/offline-$m-$kv.json" 2>&1 |
        grep -v '^WARNING' | grep -E "KV cache|Duration|Output token|Peak KV|Preempt|Engine steps|rror|xception"
    done
  done
  echo "=== [$((SECONDS-T0))s] torch GEMM rate"
  timeout 120 python3 tools/bench/hf_throughput.py /dev/shm/m8b --modes gemm --json "$OUT/hf.json" 2>&1 | grep -v -i warn | tail -2
  python3 - "$OUT" <<'PY'
import json, sys, glob
o = sys.argv[1]
g = json.load(open(f"{o}/hf.json")).get("gemm_tflops")
for f in sorted(glob.glob(f"{o}/offline-*.json")):
    m, kv = f.split("offline-")[1][:-5].split("-")
    r = json.load(open(f))["result"]; n = 6.74e9 if m == "7" else 8.03e9
    tok = r["total_input_tokens"] + r["total_output_tokens"]
    t = 2 * n * tok / r["duration_s"] / 1e12
    print(f"{m}B kv {kv}: {r['output_throughput']:.0f} out tok/s, {t:.0f} TFLOP/s = {100 * t / g:.1f}% of {g:.0f}")
PY
fi
done
echo "=== [$((SECONDS-T0))s] done"
