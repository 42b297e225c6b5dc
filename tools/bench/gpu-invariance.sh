#!/usr/bin/env bash
# Runs on the GPU machine (packed as for gpu-proofs.sh): batch-invariant mode (QUIRE_BATCH_INVARIANT=1).
#   - CudaShortCheck in that mode: every op against the CPU backend, every matmul on gemm_bi.cu, and the
#     llama3-tiny fixture against HF transformers' greedy tokens;
#   - CudaGemmInvariance: matmul rows of M = 1 .. 600 against the same rows among 1024, default paths
#     (gemv, cuBLAS) and batch-invariant, and how far batch-invariant results are from cuBLAS's;
#   - CudaBatchInvariance on a 2-layer Llama-3-8B-shaped model (and the 32-layer one with FULL=1): one
#     greedy request alone, again (prefix-cache hit) and among 64 others (chunked, preempted), tokens and
#     logprob bits, both modes, CUDA graphs on and off;
#   - with SAN=1, compute-sanitizer memcheck on CudaShortCheck in batch-invariant mode.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/bench/ab-common.sh
OUT=${OUT:-/tmp/quire-out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
# run ENV TIMEOUT MAIN ARGS...: one test main with one environment switch
run() { local e=$1 t=$2; shift 2; env "$e" timeout "$t" $J "${JO[@]}" -cp "$P/cli/lib/*:$P/tc" "$@" 2>&1 | grep -v '^WARNING'; }
ab_m2
echo "=== op checks and llama3-tiny vs HF, batch-invariant"
run QUIRE_BATCH_INVARIANT=1 150 io.quire.backend.cuda.CudaShortCheck /tmp/quire-fixtures | tail -6
echo "=== matmul rows against the batch around them"
run X=0 300 io.quire.backend.cuda.CudaGemmInvariance
MODELS=$M2
if [ "${FULL:-0}" = 1 ]; then  # the 32-layer shape, with a tokenizer (the engine needs one)
  [ -f /dev/shm/m8b/tokenizer.json ] || [ -f /dev/shm/m8b/tokenizer.json.gz ] || { rm -rf /dev/shm/m8b; run X=0 200 io.quire.backend.cuda.DummyModelVariant /dev/shm/m8b llama-3-8b tokenizer=models/quire-demo/1 | tail -1 | cut -c1-60; }
  MODELS="$M2 /dev/shm/m8b"
fi
for m in $MODELS; do
  for g in 1 0; do
    for bi in 0 1; do
      echo "=== engine batch invariance, $m, QUIRE_BATCH_INVARIANT=$bi, graphs $g"
      QUIRE_CUDA_GRAPHS=$g run QUIRE_BATCH_INVARIANT=$bi 150 io.quire.backend.cuda.CudaBatchInvariance $m cuda 64 | grep -E "mode|vs|graphs|device|rror|xception"
    done
  done
done
if [ "${SAN:-0}" = 1 ]; then  # compute-sanitizer memcheck on the op checks and a fixture, batch-invariant mode
  SANB=/usr/local/cuda/bin/compute-sanitizer; command -v compute-sanitizer >/dev/null && SANB=compute-sanitizer
  echo "=== compute-sanitizer, batch-invariant"
  env QUIRE_BATCH_INVARIANT=1 timeout 300 $SANB --tool memcheck --leak-check no --print-limit 20 --error-exitcode 9 \
    $J "${JO[@]}" -cp "$P/cli/lib/*:$P/tc" io.quire.backend.cuda.CudaShortCheck /tmp/quire-fixtures 2>&1 | grep -v '^WARNING' | tail -4
  echo "sanitizer rc ${PIPESTATUS[0]}"
fi
