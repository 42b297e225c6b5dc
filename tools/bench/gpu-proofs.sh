#!/usr/bin/env bash
# Runs on the GPU machine from the repo root: the remaining proofs of issue 4 in one call.
#   here:  build (quire-cli package; quire-backend-cuda test-compile + gpu-lib, see gpu-pack.sh), then put
#          quire-cli.jar + its lib/ (helidon, prometheus, protobuf left out: not needed) under .device/tp/cli and the
#          cuda test classes under .device/tp/tc; the JRE at .device/jre.tar.xz; carry .device/tp .device/jre.tar.xz
#   there: tools/bench/gpu-proofs.sh [budget-seconds=480] [num-prompts=1000]
# Steps (each under its own timeout inside the budget), every output under $OUT:
#   A (in parallel) write the Llama-3-8B-shaped random model (dummy-model) and a 2-layer variant;
#     compute-sanitizer memcheck on CudaShortCheck; on the 2-layer model: CudaLogits vs HF bf16/fp32
#     (hf_logits_compare.py), then CudaBatchInvariance
#   B quire bench offline --device cuda, N x (512 in / 256 out), all at once (GPU otherwise idle)
#   C hf_throughput.py: torch bf16 GEMM rate, HF generate() static batches of 256, generate_batch
set -uo pipefail
BUDGET=${1:-480} N=${2:-1000}
OUT=${OUT:-/tmp/quire-out}; mkdir -p "$OUT" /tmp/jre
export PYTHONUNBUFFERED=1 QUIRE_CUDA_CACHE=/tmp/quire-kernels
export LD_LIBRARY_PATH=/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
T0=$SECONDS
left() { echo $(( BUDGET - (SECONDS - T0) )); }
cap() { local l; l=$(left); [ "$1" -lt "$l" ] && echo "$1" || echo $(( l > 5 ? l - 5 : 1 )); }
[ -x /tmp/jre/jre/bin/java ] || tar xJf .device/jre.tar.xz -C /tmp/jre || exit 1
export JAVA_HOME=/tmp/jre/jre PATH=/tmp/jre/jre/bin:$PATH
JO=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx24g)
TP=(-cp ".device/tp/cli/lib/*:.device/tp/tc")
CLI=(java "${JO[@]}" -Dquire.home="$PWD" -cp ".device/tp/cli/quire-cli.jar:.device/tp/cli/lib/*" io.quire.cli.Main)
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.memory --format=csv,noheader | tee "$OUT/gpu.txt"
M8=/dev/shm/m8b M2=/dev/shm/m2l
echo "=== [$((SECONDS-T0))s] A: write models, sanitizer, 2-layer logits and batch invariance"
( timeout 200 "${CLI[@]}" dummy-model --shape llama-3-8b --out $M8 --tokenizer models/quire-demo/1 2>&1 | grep -v '^WARNING' ) > "$OUT/write8b.txt" 2>&1 &
W8=$!
( SAN=/usr/local/cuda/bin/compute-sanitizer; command -v compute-sanitizer >/dev/null && SAN=compute-sanitizer
  echo "sanitizer: $SAN"; $SAN --version 2>&1 | tail -1
  timeout 150 $SAN --tool memcheck --leak-check no --print-limit 20 --error-exitcode 9 \
    java "${JO[@]}" "${TP[@]}" io.quire.backend.cuda.CudaShortCheck /tmp/quire-fixtures 2>&1 | grep -v '^WARNING'
  echo "sanitizer rc ${PIPESTATUS[0]}" ) > "$OUT/sanitizer.txt" 2>&1 &
SP=$!
( timeout 60 java "${JO[@]}" "${TP[@]}" io.quire.backend.cuda.DummyModelVariant $M2 llama-3-8b num_hidden_layers=2 tokenizer=models/quire-demo/1 2>&1 | grep -v '^WARNING'
  python3 -c "
import random
r = random.Random(1)
for n in (97, 101, 113, 128): print(' '.join(str(r.randrange(128256)) for _ in range(n)))" > /tmp/ids.txt
  timeout 60 java "${JO[@]}" "${TP[@]}" io.quire.backend.cuda.CudaLogits $M2 /tmp/ids.txt /tmp/q2l.f32 2>&1 | grep -v '^WARNING'
  timeout 120 python3 tools/bench/hf_logits_compare.py $M2 /tmp/ids.txt /tmp/q2l.f32 --json "$OUT/logits.json" 2>&1 | grep -v Warning
  echo "=== batch invariance"
  timeout 90 java "${JO[@]}" "${TP[@]}" io.quire.backend.cuda.CudaBatchInvariance $M2 2>&1 | grep -v '^WARNING' ) > "$OUT/twolayer.txt" 2>&1 &
TL=$!
wait $W8; echo "write8b rc $?"; cat "$OUT/write8b.txt"
wait $TL; echo "twolayer done"; cat "$OUT/twolayer.txt"
wait $SP; tail -25 "$OUT/sanitizer.txt"
rm -rf $M2
echo "=== [$((SECONDS-T0))s] B: quire bench offline, $N requests"
nvidia-smi --query-gpu=memory.used --format=csv,noheader
timeout "$(cap 240)" "${CLI[@]}" bench offline --model $M8 --device cuda --num-prompts "$N" --input-len 512 --output-len 256 \
  --kv-cache-space 40 --max-num-seqs 256 --max-num-batched-tokens 4096 --result-json "$OUT/offline.json" 2>&1 | grep -v '^WARNING' | tee "$OUT/offline.txt"
echo "offline rc ${PIPESTATUS[0]}"
echo "=== [$((SECONDS-T0))s] C: torch GEMM rate, HF generate() static 256, generate_batch"
timeout "$(cap 200)" python3 tools/bench/hf_throughput.py $M8 --modes "gemm,static:256:256,batch:64" --json "$OUT/hf.json" 2>&1 |
  grep -v -i "warn" | tee "$OUT/hf.txt"
echo "=== [$((SECONDS-T0))s] done"
python3 - "$OUT" <<'PY'
import json, sys, os
o = sys.argv[1]
try:
    q = json.load(open(f"{o}/offline.json"))["result"]; h = json.load(open(f"{o}/hf.json"))
    print("offline json:", json.dumps(q)[:600])
    params = h.get("params"); g = h.get("gemm_tflops")
    print(f"params {params}, gemm {g}")
except Exception as e:
    print("summary failed:", e)
PY
