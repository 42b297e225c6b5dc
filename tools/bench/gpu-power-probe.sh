#!/usr/bin/env bash
# On the GPU machine (packed as for gpu-proofs.sh; carry .device/s8 and .device/jre-small.tar.xz): whether
# long GEMM runs hold their clocks. nvidia-smi logs SM clock, power and throttle reasons every 100 ms
# ($OUT/smi.txt) while CudaGemmTune runs the 7B gate/up GEMM (M = 8192) for 20 and for 300 calls and the
# o-projection for 1000, and CudaBatchProfile profiles a 7B prefill step and a 512-row decode step.
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/quire-out}; mkdir -p "$OUT"
set -uo pipefail
source tools/bench/ab-common.sh
CLI=($J "${JO[@]}" -Dquire.home="$PWD" -cp "$P/cli/quire-cli.jar:$P/cli/lib/*" io.quire.cli.Main)
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv -lms 100 > $OUT/smi.txt &
SMI=$!
mkdir -p /tmp/tok2 && gunzip -c testdata/tokenizers/llama2/tokenizer.json.gz > /tmp/tok2/tokenizer.json && cp testdata/tokenizers/llama2/tokenizer_config.json /tmp/tok2/
( timeout 200 "${CLI[@]}" dummy-model --shape llama-2-7b --out /dev/shm/m7b --tokenizer /tmp/tok2 2>&1 | grep -v '^WARNING' | tail -1 ) > $OUT/model.txt &
MPID=$!
TUNE=($J "${JO[@]}" -cp "$P/cli/lib/*:$P/tc" io.quire.backend.cuda.CudaGemmTune)
for args in "22016:4096 8192 20 1" "22016:4096 8192 300 1" "22016:4096 8192 20 1 134217728" "22016:4096 8192 300 1 134217728" "4096:4096 8192 1000 1 134217728"; do
  echo "=== $(date +%T.%N | cut -c1-12) tune $args"; "${TUNE[@]}" $args 2>&1 | grep -v WARN | grep t=; echo "=== $(date +%T.%N | cut -c1-12) end"
done
wait $MPID; cat $OUT/model.txt
for c in prefill:16:512 decode:512; do
echo "=== $(date +%T.%N | cut -c1-12) profile $c"
QUIRE_KV_CACHE_DTYPE=fp8 timeout 100 $J "${JO[@]}" -cp "$P/cli/lib/*:$P/tc" io.quire.backend.cuda.CudaBatchProfile /dev/shm/m7b 600 $c 10 2>&1 | grep -E "^wall|^GEMMs|cublas"
echo "=== $(date +%T.%N | cut -c1-12) end"
done
kill $SMI
