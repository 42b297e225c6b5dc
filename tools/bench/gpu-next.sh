#!/usr/bin/env bash
# On the GPU machine: this build against an older quire-backend-cuda jar (stop 14: the fused q/k/v GEMM and
# the e4m3 halves against the stop-13 jar). Pack here (./mvnw -q -o -Dmaven.test.skip=true install &&
# tools/bench/gpu-pack-cli.sh) with the older jar copied to .device/old/ first (OLD=path to name another);
# carry .device/s8, .device/old, .device/jre-small.tar.xz.
#   1. op checks under compute-sanitizer memcheck (the stacked q/k/v cases included);
#   2. 7B shape, fp8 cache: a 512-row decode step and a 16 x 512-token prefill step, alternated between
#      new (this build), noqkv (QUIRE_CUDA_FUSE_QKV=0) and old (the older jar);
#   3. offline 7B fp8 512 with new and old, and torch's GEMM rate.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/bench/ab-common.sh
OUT=${OUT:-/tmp/quire-out}; mkdir -p "$OUT"
T0=$SECONDS
OLD=${OLD:-.device/old/quire-backend-cuda-0.1.0-SNAPSHOT.jar}
CLI=($J "${JO[@]}" -Dquire.home="$PWD" -cp "$P/cli/quire-cli.jar:$P/cli/lib/*" io.quire.cli.Main)
nvidia-smi --query-gpu=name --format=csv,noheader
mkdir -p /tmp/tok2 && gunzip -c testdata/tokenizers/llama2/tokenizer.json.gz > /tmp/tok2/tokenizer.json && cp testdata/tokenizers/llama2/tokenizer_config.json /tmp/tok2/
( timeout 200 "${CLI[@]}" dummy-model --shape llama-2-7b --out /dev/shm/m7b --tokenizer /tmp/tok2 2>&1 | grep -v '^WARNING' | tail -1 ) > $OUT/model.txt &
echo "=== [$((SECONDS-T0))s] op checks under compute-sanitizer"
timeout 230 /usr/local/cuda/bin/compute-sanitizer --tool memcheck --leak-check no --print-limit 20 --error-exitcode 9 \
  $J "${JO[@]}" -cp "$P/cli/lib/*:$P/tc" io.quire.backend.cuda.CudaShortCheck /tmp/quire-fixtures > $OUT/san.txt 2>&1
echo "sanitizer rc $?"; grep -E "FAIL|q/k/v" $OUT/san.txt | cut -c1-200; grep -E "ERROR SUMMARY|ALL PASS|checks:" $OUT/san.txt | head -3
wait; cat $OUT/model.txt
for rep in 1 2; do
  for v in new=base noqkv=env:QUIRE_CUDA_FUSE_QKV=0 old=jar:$OLD; do
    ab_variant "$v"
    echo "=== [$((SECONDS-T0))s] 7B fp8 decode:512 + prefill:16:512, $name"
    env "${env[@]}" QUIRE_KV_CACHE_DTYPE=fp8 timeout 100 $J "${JO[@]}" -cp "$cp" io.quire.backend.cuda.CudaBatchProfile \
      /dev/shm/m7b 600 decode:512,prefill:16:512 3 2>&1 | grep -E "^wall|^GEMMs|cublas|attn_dec |rope"
  done
done
for v in new=base old=jar:$OLD; do
  ab_variant "$v"
  echo "=== [$((SECONDS-T0))s] offline 7B fp8 512, $name"
  timeout 200 $J "${JO[@]}" -Dquire.home="$PWD" -cp "${cp%%:*}:$P/cli/quire-cli.jar:$P/cli/lib/*" io.quire.cli.Main bench offline \
    --model /dev/shm/m7b --device cuda --num-prompts 1000 --input-len 512 --output-len 256 --max-num-seqs 512 \
    --max-num-batched-tokens 8192 --kv-cache-dtype fp8 --result-json "$OUT/offline-$name.json" 2>&1 |
    grep -E "Duration|Output token|Preempt|rror|xception"
done
timeout 60 python3 tools/bench/hf_throughput.py /dev/shm/m7b --modes gemm --json "$OUT/hf.json" 2>&1 | grep -v -i warn | tail -1
echo "=== [$((SECONDS-T0))s] done"
