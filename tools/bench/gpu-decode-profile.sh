#!/usr/bin/env bash
# Runs on the GPU machine from the repo root (packed as for gpu-proofs.sh): the batch-1 decode of the
# Llama-2-7B and Llama-3-8B shapes (CudaDecodeBench), then Nsight Compute's duration of every kernel of
# about two decode steps of the 7B shape (each kernel timed alone, so no overlap between kernels:
# programmatic dependent launch hides part of each kernel's start in a real step). Output under $OUT.
#   tools/bench/gpu-decode-profile.sh [short]     (short: also the op checks and tiny fixtures first)
set -uo pipefail
OUT=${OUT:-/tmp/quire-out}; mkdir -p "$OUT" /tmp/jre
P=.device/${PACK:-s8}
export QUIRE_CUDA_CACHE=/tmp/quire-kernels LD_LIBRARY_PATH=/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
[ -x /tmp/jre/jre/bin/java ] || tar xJf .device/${JRE:-jre-small.tar.xz} -C /tmp/jre || exit 1
export JAVA_HOME=/tmp/jre/jre PATH=/tmp/jre/jre/bin:$PATH
JO=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx24g)
TP=(-cp "$P/cli/lib/*:$P/tc")
T0=$SECONDS
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"
if [ "${1:-}" = short ]; then
  timeout 120 java "${JO[@]}" "${TP[@]}" io.quire.backend.cuda.CudaShortCheck /tmp/quire-fixtures 2>&1 | grep -v '^WARNING' > "$OUT/short.txt"
  echo "=== [$((SECONDS-T0))s] op checks and fixtures"; grep -E "ALL PASS|FAIL|op checks" "$OUT/short.txt" | head
fi
for m in 7 8; do
  S=$([ $m = 7 ] && echo llama-2-7b || echo llama-3-8b)
  echo "=== [$((SECONDS-T0))s] batch-1 decode, ${m}B shape"
  timeout 200 java "${JO[@]}" "${TP[@]}" io.quire.backend.cuda.CudaDecodeBench /dev/shm/m${m}b 512 128 $S 2>&1 | grep -v '^WARNING' > "$OUT/decode$m.txt"
  grep -E "tokens/s|graph replay|logits fast|pre-norm folded|wrote" "$OUT/decode$m.txt"
done
NCU=/usr/local/cuda/bin/ncu
echo "=== [$((SECONDS-T0))s] ncu: kernel durations of 7B decode steps (graphs off)"
QUIRE_CUDA_GRAPHS=0 timeout 240 $NCU --metrics gpu__time_duration.sum --graph-profiling node --launch-skip ${SKIP:-1400} \
  --launch-count ${COUNT:-540} --csv java "${JO[@]}" "${TP[@]}" io.quire.backend.cuda.CudaDecodeBench /dev/shm/m7b 512 16 \
  > "$OUT/ncu7.csv" 2> "$OUT/ncu7.err"
python3 tools/bench/ncu_parse.py "$OUT/ncu7.csv" | tee "$OUT/ncu7.txt" | head -30
echo "=== [$((SECONDS-T0))s] done"
