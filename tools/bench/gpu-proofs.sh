#!/usr/bin/env bash
# Runs on the GPU machine from the repo root: the proofs of issue 4, in two parts that each fit one call.
#   here:  ./mvnw -q -Dmaven.test.skip=true install; then pack (tools/bench/gpu-pack-cli.sh): quire-cli.jar +
#          its lib/ under .device/$PACK/cli, the CUDA test mains (+ quire-testkit) under .device/$PACK/tc, a
#          small JRE at .device/jre-small.tar.xz; carry .device/$PACK .device/jre-small.tar.xz
#   there: tools/bench/gpu-proofs.sh correctness|throughput     (env PACK=s8, JRE; output under $OUT)
# correctness: compute-sanitizer memcheck on CudaShortCheck (ops vs the CPU backend, the tiny fixtures vs HF);
#   a 2-layer Llama-3-8B-shaped model: last-position logits vs HF bf16 and fp32 (hf_logits_compare.py), batch
#   invariance (default and QUIRE_BATCH_INVARIANT=1; tools/bench/gpu-invariance.sh checks that mode fully); the device sampler against the host sampler (CudaSamplingCheck); batch-1 decode of the 8B and
#   7B shapes (CudaDecodeBench: CUDA graphs on/off, PDL on/off); the per-launch profile of batched steps.
# throughput: quire bench offline --device cuda, 1000 x (512 in / 256 out), all at once, KV pool from
#   gpu_memory_utilization 0.9: the 8B shape at two scheduler settings, the 7B shape, then both with
#   kv_cache_dtype fp8 (FP8_RUNS="" skips those); then torch's bf16 GEMM rate, HF generate() in
#   static batches of 256 and HF generate_batch on the same model (fewer requests, to fit the call).
set -uo pipefail
PART=${1:-correctness}
OUT=${OUT:-/tmp/quire-out}; mkdir -p "$OUT" /tmp/jre
P=.device/${PACK:-s8}
export PYTHONUNBUFFERED=1 QUIRE_CUDA_CACHE=/tmp/quire-kernels
export LD_LIBRARY_PATH=/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
[ -x /tmp/jre/jre/bin/java ] || tar xJf .device/${JRE:-jre-small.tar.xz} -C /tmp/jre || exit 1
export JAVA_HOME=/tmp/jre/jre PATH=/tmp/jre/jre/bin:$PATH
JO=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx24g)
TP=(-cp "$P/cli/lib/*:$P/tc")
CLI=(java "${JO[@]}" -Dquire.home="$PWD" -cp "$P/cli/quire-cli.jar:$P/cli/lib/*" io.quire.cli.Main)
T0=$SECONDS
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.memory --format=csv,noheader | tee "$OUT/gpu.txt"
M8=/dev/shm/m8b M7=/dev/shm/m7b M2=/dev/shm/m2l
# A model folder written by a bench main (CudaDecodeBench) has no tokenizer: the CLI needs one.
for m in $M8 $M7; do [ -f $m/config.json ] && [ ! -f $m/tokenizer.json ] && [ ! -f $m/tokenizer.json.gz ] && rm -rf $m; done
w8() { [ -f $M8/config.json ] || timeout 200 "${CLI[@]}" dummy-model --shape llama-3-8b --out $M8 --tokenizer models/quire-demo/1 2>&1 | grep -v '^WARNING' | tail -1; }
# The Llama-2-7B shape with the real Llama 2 tokenizer (testdata).
w7() {
  [ -f $M7/config.json ] && return
  mkdir -p /tmp/tok2 && gunzip -c testdata/tokenizers/llama2/tokenizer.json.gz > /tmp/tok2/tokenizer.json && cp testdata/tokenizers/llama2/tokenizer_config.json /tmp/tok2/
  timeout 200 "${CLI[@]}" dummy-model --shape llama-2-7b --out $M7 --tokenizer /tmp/tok2 2>&1 | grep -v '^WARNING' | tail -1
}

if [ "$PART" = correctness ]; then
  ( w8; w7 ) > "$OUT/write8b.txt" 2>&1 &
  W8=$!
  ( SAN=/usr/local/cuda/bin/compute-sanitizer; command -v compute-sanitizer >/dev/null && SAN=compute-sanitizer
    echo "sanitizer: $($SAN --version 2>&1 | tail -1)"
    timeout 200 $SAN --tool memcheck --leak-check no --print-limit 20 --error-exitcode 9 \
      java "${JO[@]}" "${TP[@]}" io.quire.backend.cuda.CudaShortCheck /tmp/quire-fixtures 2>&1 | grep -v '^WARNING'
    echo "sanitizer rc ${PIPESTATUS[0]}" ) > "$OUT/sanitizer.txt" 2>&1 &
  SP=$!
  ( [ -f $M2/config.json ] || timeout 60 java "${JO[@]}" "${TP[@]}" io.quire.backend.cuda.DummyModelVariant $M2 llama-3-8b num_hidden_layers=2 tokenizer=models/quire-demo/1 2>&1 | grep -v '^WARNING' | tail -1
    python3 -c "
import random
r = random.Random(1)
for n in (97, 101, 113, 128): print(' '.join(str(r.randrange(128256)) for _ in range(n)))" > /tmp/ids.txt
    timeout 60 java "${JO[@]}" "${TP[@]}" io.quire.backend.cuda.CudaLogits $M2 /tmp/ids.txt /tmp/q2l.f32 2>&1 | grep -v '^WARNING'
    timeout 150 python3 tools/bench/hf_logits_compare.py $M2 /tmp/ids.txt /tmp/q2l.f32 --json "$OUT/logits.json" 2>&1 | grep -v Warning
    for bi in 0 1; do
      echo "=== batch invariance, QUIRE_BATCH_INVARIANT=$bi"
      QUIRE_BATCH_INVARIANT=$bi timeout 90 java "${JO[@]}" "${TP[@]}" io.quire.backend.cuda.CudaBatchInvariance $M2 cuda 64 2>&1 | grep -v "^WARNING" | tail -5
    done ) > "$OUT/twolayer.txt" 2>&1 &
  TL=$!
  wait $TL; echo "=== [$((SECONDS-T0))s] 2-layer logits and invariance"; cat "$OUT/twolayer.txt"
  echo "=== [$((SECONDS-T0))s] device sampler"
  timeout 200 java "${JO[@]}" "${TP[@]}" io.quire.backend.cuda.CudaSamplingCheck 2>&1 | grep -v '^WARNING' > "$OUT/sampling.txt"
  grep -E "PASS|FAIL|INFO|ALL|SOME" "$OUT/sampling.txt" | cut -c1-220
  wait $W8; cat "$OUT/write8b.txt"
  for m in 8 7; do
    echo "=== [$((SECONDS-T0))s] batch-1 decode, ${m}B shape"
    timeout 200 java "${JO[@]}" "${TP[@]}" io.quire.backend.cuda.CudaDecodeBench /dev/shm/m${m}b 512 128 2>&1 | grep -v '^WARNING' > "$OUT/decode$m.txt"
    grep -E "tokens/s|graph replay|logits fast|async vs step" "$OUT/decode$m.txt"
  done
  wait $SP; echo "=== [$((SECONDS-T0))s] sanitizer"; grep -E "ERROR SUMMARY|sanitizer|ALL PASS|FAIL|op checks" "$OUT/sanitizer.txt" | head -20
  echo "=== [$((SECONDS-T0))s] per-launch profile of batched steps"
  timeout 150 java "${JO[@]}" "${TP[@]}" io.quire.backend.cuda.CudaBatchProfile $M8 600 decode:256,mixed:512:200,decode:64 6 2>&1 | grep -v '^WARNING' > "$OUT/profile.txt"
  grep -E "^===|^wall|^GEMMs" "$OUT/profile.txt"
fi

if [ "$PART" = throughput ]; then
  w8; w7
  # The fourth field is kv_cache_dtype (fp8: the e4m3 cache, twice the tokens per byte).
  for cfg in "8 256 8192 auto" "8 1024 16384 auto" "7 256 8192 auto" ${FP8_RUNS-"7 512 8192 fp8" "8 1024 8192 fp8"}; do
    set -- $cfg
    echo "=== [$((SECONDS-T0))s] quire bench offline, ${1}B shape: 1000 requests, max-num-seqs $2, max-num-batched-tokens $3, kv_cache_dtype $4"
    timeout 200 "${CLI[@]}" bench offline --model /dev/shm/m${1}b --device cuda --num-prompts 1000 --input-len 512 --output-len 256 \
      --max-num-seqs $2 --max-num-batched-tokens $3 --kv-cache-dtype $4 --result-json "$OUT/offline-$1b-$2-$4.json" 2>&1 | grep -v '^WARNING' |
      grep -E "KV cache|Duration|Output token|Peak KV|Preempt|Engine steps|outside"
  done
  echo "=== [$((SECONDS-T0))s] torch GEMM rate, HF generate() static 256, generate_batch"
  HM="gemm,static:256:256,batch:64"; [ -n "${NO_HF:-}" ] && HM=gemm
  timeout 240 python3 tools/bench/hf_throughput.py $M8 --modes "$HM" --json "$OUT/hf.json" 2>&1 |
    grep -v -i "warn" | tail -8
  if [ -z "${NO_HF:-}" ]; then
  # The 7B shape's KV (no GQA) for 256 x 768 tokens in HF's cache did not fit the H200's 140 GB at
  # batch 256 (out of memory, 2026-11-27); batches of 128 follow.
  echo "=== [$((SECONDS-T0))s] HF generate() static 256 and 128, 7B shape"
  PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True timeout 240 python3 tools/bench/hf_throughput.py $M7 \
    --modes "static:256:256,static:128:128" --json "$OUT/hf7.json" 2>&1 | grep -E "^static|^loaded|failed" | cut -c1-200
  echo "=== [$((SECONDS-T0))s] per-launch profile of a 256-row decode step, 7B shape"
  timeout 100 java "${JO[@]}" "${TP[@]}" io.quire.backend.cuda.CudaBatchProfile $M7 600 decode:256 6 2>&1 | grep -v '^WARNING' > "$OUT/profile7.txt"
  grep -E "^===|^wall|^GEMMs" "$OUT/profile7.txt"; grep -iE "attn|attention" "$OUT/profile7.txt" | head -6
  fi
  python3 - "$OUT" <<'PY'
import json, sys
o = sys.argv[1]
h = json.load(open(f"{o}/hf.json")); g = h.get("gemm_tflops")
import glob
for f in sorted(glob.glob(f"{o}/offline-*.json")):
    m, s, kv = f.split("offline-")[1][:-5].split("-")
    n = 8.03e9 if m == "8b" else 6.74e9
    r = json.load(open(f))["result"]
    tok = r["total_input_tokens"] + r["total_output_tokens"]
    frac = 2 * n * tok / r["duration_s"] / (g * 1e12) if g else float("nan")
    print(f"quire {m} shape, max_num_seqs {s}, kv_cache_dtype {kv}: {r['output_throughput']:.0f} out tok/s, {2 * n * tok / r['duration_s'] / 1e12:.0f} TFLOP/s "
          f"= {100 * frac:.1f}% of the {g:.0f} TFLOP/s torch GEMM rate")
PY
fi
echo "=== [$((SECONDS-T0))s] done"
