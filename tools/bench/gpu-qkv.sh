#!/usr/bin/env bash
# Branch qkv-fuse, on the GPU machine (packed as for gpu-proofs.sh): op checks (the stacked q/k/v cases
# included) under compute-sanitizer, then the 7B shape's 512-row decode step and 16 x 512-token prefill
# step with the q/k/v GEMM fused and not (QUIRE_CUDA_FUSE_QKV=0), alternated, then offline 7B fp8 512.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/bench/ab-common.sh
OUT=${OUT:-/tmp/quire-out}; mkdir -p "$OUT"
T0=$SECONDS
run() { timeout "$1" $J "${JO[@]}" -cp "$P/cli/lib/*:$P/tc" "${@:2}" 2>&1 | grep -v '^WARNING'; }
CLI=($J "${JO[@]}" -Dquire.home="$PWD" -cp "$P/cli/quire-cli.jar:$P/cli/lib/*" io.quire.cli.Main)
nvidia-smi --query-gpu=name --format=csv,noheader
mkdir -p /tmp/tok2 && gunzip -c testdata/tokenizers/llama2/tokenizer.json.gz > /tmp/tok2/tokenizer.json && cp testdata/tokenizers/llama2/tokenizer_config.json /tmp/tok2/
( timeout 200 "${CLI[@]}" dummy-model --shape llama-2-7b --out /dev/shm/m7b --tokenizer /tmp/tok2 2>&1 | grep -v '^WARNING' | tail -1 ) > $OUT/model.txt &
echo "=== [$((SECONDS-T0))s] op checks under compute-sanitizer"
timeout 230 /usr/local/cuda/bin/compute-sanitizer --tool memcheck --leak-check no --print-limit 20 --error-exitcode 9 \
  $J "${JO[@]}" -cp "$P/cli/lib/*:$P/tc" io.quire.backend.cuda.CudaShortCheck /tmp/quire-fixtures > $OUT/san.txt 2>&1
echo "sanitizer rc $?"; grep -E "FAIL|q/k/v" $OUT/san.txt | cut -c1-200; grep -E "ERROR SUMMARY|ALL PASS|checks:" $OUT/san.txt | head -3
wait; cat $OUT/model.txt
for rep in 1 2; do for f in 1 0; do
  echo "=== [$((SECONDS-T0))s] 7B fp8, QUIRE_CUDA_FUSE_QKV=$f"
  QUIRE_CUDA_FUSE_QKV=$f QUIRE_KV_CACHE_DTYPE=fp8 run 100 io.quire.backend.cuda.CudaBatchProfile /dev/shm/m7b 600 decode:512,prefill:16:512 3 |
    grep -E "^wall|^GEMMs|cublas|rope"
done; done
for f in 1 0; do
  echo "=== [$((SECONDS-T0))s] offline 7B fp8 512, QUIRE_CUDA_FUSE_QKV=$f"
  QUIRE_CUDA_FUSE_QKV=$f timeout 200 "${CLI[@]}" bench offline --model /dev/shm/m7b --device cuda --num-prompts 1000 --input-len 512 \
    --output-len 256 --max-num-seqs 512 --max-num-batched-tokens 8192 --kv-cache-dtype fp8 --result-json "$OUT/offline-qkv$f.json" 2>&1 |
    grep -E "Duration|Output token|Preempt|rror|xception"
done
timeout 60 python3 tools/bench/hf_throughput.py /dev/shm/m7b --modes gemm --json "$OUT/hf.json" 2>&1 | grep -v -i warn | tail -1
echo "=== [$((SECONDS-T0))s] done"
