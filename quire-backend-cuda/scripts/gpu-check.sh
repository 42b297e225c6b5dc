#!/usr/bin/env bash
# Runs on the GPU machine from the repo root, with the built jars and the packed JRE carried along:
#   here:  quire-backend-cuda/scripts/gpu-pack.sh   (builds, collects the jars, packs the JRE once)
#   carry: .device quire-backend-cuda/target/gpu-lib quire-backend-cuda/target/test-classes
#   there: quire-backend-cuda/scripts/gpu-check.sh [bench|kv|sampling]
# Prints the op checks and the fixture checks (CudaSelfCheck); with "bench", also writes a
# Llama-3-8B-shaped random model to /dev/shm and times batch-1 decode (CudaDecodeBench). With "kv"
# instead of the self-check: writes that model if missing and checks the KV pool sized from
# gpu_memory_utilization 0.9, and the startup error of 0.05 (CudaKvSizingCheck). With "sampling" instead:
# the device sampler against the host sampler (CudaSamplingCheck).
set -uo pipefail
OUT=${OUT:-/tmp/quire-out}
mkdir -p /tmp/jre "$OUT"
[ -x /tmp/jre/jre/bin/java ] || tar xJf .device/jre.tar.xz -C /tmp/jre
export JAVA_HOME=/tmp/jre/jre PATH=/tmp/jre/jre/bin:$PATH
export LD_LIBRARY_PATH=/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
export QUIRE_CUDA_CACHE=/tmp/quire-kernels
CP="quire-backend-cuda/target/gpu-lib/*:quire-backend-cuda/target/test-classes"
J=(java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx24g -cp "$CP")
nvidia-smi --query-gpu=name,memory.total,clocks.max.memory --format=csv,noheader | tee "$OUT/gpu.txt"
if [ "${1:-}" = kv ]; then
  [ -f /dev/shm/llama-3-8b/config.json ] || timeout 200 "${J[@]}" io.quire.backend.cuda.DummyModelVariant /dev/shm/llama-3-8b \
    llama-3-8b tokenizer=models/quire-demo/1 2>&1 | grep -v '^WARNING'
  timeout 300 "${J[@]}" io.quire.backend.cuda.CudaKvSizingCheck /dev/shm/llama-3-8b 0.9 0.05 2>&1 | grep -v '^WARNING' |
    tee "$OUT/kvsizing.txt"
  exit "${PIPESTATUS[0]}"
fi
if [ "${1:-}" = sampling ]; then
  timeout 540 "${J[@]}" io.quire.backend.cuda.CudaSamplingCheck 2>&1 | grep -v '^WARNING' | tee "$OUT/sampling.txt"
  exit "${PIPESTATUS[0]}"
fi
timeout 300 "${J[@]}" io.quire.backend.cuda.CudaSelfCheck /tmp/quire-fixtures 2>&1 | grep -v '^WARNING' | tee "$OUT/selfcheck.txt"
rc=$?
if [ "${1:-}" = bench ]; then
  timeout 400 "${J[@]}" io.quire.backend.cuda.CudaDecodeBench /dev/shm/llama-3-8b 512 128 llama-3-8b 2>&1 |
    grep -v '^WARNING' | tee "$OUT/bench.txt"
fi
exit $rc
