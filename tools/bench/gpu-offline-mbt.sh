#!/usr/bin/env bash
# On the GPU machine (packed as for gpu-proofs.sh; carry .device/s8 and .device/jre-small.tar.xz): the 7B
# offline benchmark (1000 x 512/256, fp8 KV cache, 512 sequences) at several max_num_batched_tokens
# (MBT, default "8192 4096 2048 8192"), torch's GEMM rate before and after, the GPU's clocks and power
# every 100 ms into $OUT/smi.txt.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/bench/ab-common.sh
OUT=${OUT:-/tmp/quire-out}; mkdir -p "$OUT"
T0=$SECONDS
CLI=($J "${JO[@]}" -Dquire.home="$PWD" -cp "$P/cli/quire-cli.jar:$P/cli/lib/*" io.quire.cli.Main)
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv -lms 100 > $OUT/smi.txt &
SMI=$!
mkdir -p /tmp/tok2 && gunzip -c testdata/tokenizers/llama2/tokenizer.json.gz > /tmp/tok2/tokenizer.json && cp testdata/tokenizers/llama2/tokenizer_config.json /tmp/tok2/
timeout 200 "${CLI[@]}" dummy-model --shape llama-2-7b --out /dev/shm/m7b --tokenizer /tmp/tok2 2>&1 | grep -v '^WARNING' | tail -1
timeout 60 python3 tools/bench/hf_throughput.py /dev/shm/m7b --modes gemm --json "$OUT/hf0.json" 2>&1 | grep -v -i warn | tail -1
i=0
for mbt in ${MBT:-8192 4096 2048 8192}; do
  i=$((i+1))
  echo "=== [$((SECONDS-T0))s] $(date +%T) offline 7B fp8 512, max_num_batched_tokens $mbt"
  timeout 200 "${CLI[@]}" bench offline --model /dev/shm/m7b --device cuda --num-prompts 1000 --input-len 512 --output-len 256 \
    --max-num-seqs 512 --max-num-batched-tokens $mbt --kv-cache-dtype fp8 --result-json "$OUT/offline-$i-$mbt.json" 2>&1 |
    grep -E "Duration|Output token|Preempt|steps|rror|xception"
done
timeout 60 python3 tools/bench/hf_throughput.py /dev/shm/m7b --modes gemm --json "$OUT/hf1.json" 2>&1 | grep -v -i warn | tail -1
kill $SMI
echo "=== [$((SECONDS-T0))s] done"
