#!/usr/bin/env bash
# The seed's scenario on the GPU machine (run from the repo root there): the seed's config.pbtxt verbatim
# (tools/bench/seed/config.pbtxt: KIND_GPU, the KV pool from gpu_memory_utilization 0.9) serving a
# random-weight Llama-2-7B-shaped model (the seed's llama2-7b-chat-v1.0; the real Llama 2 tokenizer),
# then `quire bench serve` over Triton's generate_stream: 1 request at a time, then 100 at the same
# moment, 128 prompt / 128 output tokens each (ignore_eos). Prints the aggregate throughput ratio and the
# p99 latency ratios (E2E, TTFT, TPOT) of 100-at-once over 1-at-a-time.
#   here:  FULL=1 pack of quire-cli.jar + lib/ (server included) under .device/$PACK/cli, small JRE
#   there: tools/bench/gpu-seed-scenario.sh   (env PACK, JRE; writes under $OUT)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT" /tmp/jre
P=.device/${PACK:-s8}
[ -x /tmp/jre/jre/bin/java ] || tar xJf .device/${JRE:-jre-small.tar.xz} -C /tmp/jre || exit 1
export JAVA_HOME=/tmp/jre/jre PATH=/tmp/jre/jre/bin:$PATH QUIRE_CUDA_CACHE=/tmp/quire-kernels
export LD_LIBRARY_PATH=/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
CLI=(java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx16g -Dquire.home="$PWD" -cp "$P/cli/quire-cli.jar:$P/cli/lib/*" io.quire.cli.Main)
M7=/dev/shm/m7b
if [ ! -f $M7/config.json ]; then
  mkdir -p /tmp/tok2 && gunzip -c testdata/tokenizers/llama2/tokenizer.json.gz > /tmp/tok2/tokenizer.json && cp testdata/tokenizers/llama2/tokenizer_config.json /tmp/tok2/
  timeout 120 "${CLI[@]}" dummy-model --shape llama-2-7b --out $M7 --tokenizer /tmp/tok2 2>&1 | grep -v '^WARNING' | tail -1
fi
R=/tmp/seed_repo/llama2-7b-chat-v1.0
rm -rf /tmp/seed_repo && mkdir -p $R/1 && cp tools/bench/seed/config.pbtxt $R/ && ln -s $M7/* $R/1/
"${CLI[@]}" serve --model-repository /tmp/seed_repo > "$OUT/seed-serve.log" 2>&1 &
pid=$!
for i in $(seq 1 180); do curl -sf localhost:8000/v2/health/ready >/dev/null && break; sleep 1; done
curl -sf localhost:8000/v2/health/ready >/dev/null || { echo "server not ready"; tail -30 "$OUT/seed-serve.log"; kill $pid; exit 1; }
grep -iE "KV cache|blocks|CUDA|graph" "$OUT/seed-serve.log" | head -8
echo "--- the seed's curl request, verbatim"
curl -s http://localhost:8000/v2/models/llama2-7b-chat-v1.0/generate \
  -H "Content-Type: application/json" \
  -d '{
    "text_input": [{"name": "input_text", "datatype": "BYTES", "data": ["What is the capital of France?"]}],
    "parameters": {"max_new_tokens": 50}
  }' | head -c 600; echo
B=("${CLI[@]}" bench serve --url http://localhost:8000 --api triton --input-len 128 --output-len 128 --tokenizer $M7)
echo "--- 1 request at a time (10 requests)"
timeout 200 "${B[@]}" --num-prompts 10 --max-concurrency 1 --num-warmups 2 --result-json "$OUT/seed-1.json" 2>&1 | grep -v '^WARNING' | tail -22
echo "--- where the 1-at-a-time TTFT goes (server metrics, sums over the requests so far / counts)"
curl -s localhost:8002/metrics | grep -E "^vllm:(time_to_first_token_seconds|request_queue_time_seconds|request_prefill_time_seconds|request_decode_time_seconds|e2e_request_latency_seconds)_(sum|count)" | head -10
for i in 1 2 3; do curl -s -o /dev/null -w "generate, 1 new token: %{time_total} s\n" localhost:8000/v2/models/llama2-7b-chat-v1.0/generate -d '{"text_input": "What is the capital of France?", "parameters": {"max_tokens": 1}}'; done
echo "--- the same from a raw socket on one kept-alive connection (headers -> first event ~40 ms: Nagle + delayed ACK)"
python3 tools/bench/first-event.py --model llama2-7b-chat-v1.0 --api triton -n 10 | tail -3
echo "--- 100 requests at the same moment"
timeout 200 "${B[@]}" --num-prompts 100 --request-rate inf --num-warmups 2 --result-json "$OUT/seed-100.json" 2>&1 | grep -v '^WARNING' | tail -22
curl -s localhost:8002/metrics | grep -E "^vllm:(num_preemptions_total|cache_config_info|generation_tokens_total)" | head -5
kill $pid; wait $pid 2>/dev/null
python3 - "$OUT" <<'PY'
import json, sys
o = sys.argv[1]
def load(n):
    return json.load(open(f"{o}/seed-{n}.json"))["results"][0]
one, many = load(1), load(100)
print(f"aggregate output throughput: 1 at a time {one['output_throughput']:.1f} tok/s, 100 at once {many['output_throughput']:.1f} tok/s: ratio {many['output_throughput'] / one['output_throughput']:.1f}x")
for k in ("e2el_ms", "ttft_ms", "tpot_ms"):
    print(f"p99 {k}: 1 at a time {one[k]['p99']:.1f}, 100 at once {many[k]['p99']:.1f}: ratio {many[k]['p99'] / one[k]['p99']:.2f}x")
print(f"failed: 1-at-a-time {one['failed']}, 100-at-once {many['failed']}")
PY
