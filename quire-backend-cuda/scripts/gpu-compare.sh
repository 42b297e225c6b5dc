#!/usr/bin/env bash
# Runs on the GPU machine from the repo root: the self-check and the decode bench of a new build, then
# the decode bench of a baseline build, in one call (same card, same weights).
#   here:  build both (see gpu-pack.sh), put them under .device/new and .device/base as lib/*.jar plus
#          tc/ (test classes); carry .device
#   there: quire-backend-cuda/scripts/gpu-compare.sh [nocheck]
# NEW / BASE name other folders under .device (default new, base). A failed self-check is repeated
# with programmatic dependent launch off (QUIRE_CUDA_PDL=0), to tell its faults from the kernels'.
set -uo pipefail
NEW=${NEW:-new} BASE=${BASE:-base}
OUT=${OUT:-/tmp/quire-out}
mkdir -p /tmp/jre "$OUT"
[ -x /tmp/jre/jre/bin/java ] || tar xJf .device/jre.tar.xz -C /tmp/jre
export JAVA_HOME=/tmp/jre/jre PATH=/tmp/jre/jre/bin:$PATH
export LD_LIBRARY_PATH=/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
export QUIRE_CUDA_CACHE=/tmp/quire-kernels
j() { local d=$1; shift; java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx24g \
  -cp ".device/$d/lib/*:.device/$d/tc:.device/$NEW/lib/*" "$@" 2>&1 | grep -v '^WARNING'; }
nvidia-smi --query-gpu=name,memory.total,clocks.max.memory --format=csv,noheader | tee "$OUT/gpu.txt"
rc=0
if [ "${1:-}" != nocheck ]; then
  timeout 300 bash -c "$(declare -f j); NEW=$NEW j $NEW io.quire.backend.cuda.CudaSelfCheck /tmp/quire-fixtures" | tee "$OUT/selfcheck.txt"
  rc=${PIPESTATUS[0]}
  if [ "$rc" != 0 ]; then
    echo "=== self-check failed ($rc): again with QUIRE_CUDA_PDL=0"
    QUIRE_CUDA_PDL=0 timeout 240 bash -c "$(declare -f j); NEW=$NEW j $NEW io.quire.backend.cuda.CudaSelfCheck /tmp/quire-fixtures" | grep -v "^PASS " | tee "$OUT/selfcheck-nopdl.txt"
  fi
fi
echo "=== new build: decode bench"
timeout 300 bash -c "$(declare -f j); NEW=$NEW j $NEW io.quire.backend.cuda.CudaDecodeBench /dev/shm/llama-3-8b 512 128 llama-3-8b" | tee "$OUT/bench-new.txt"
echo "=== baseline build: decode bench"
timeout 200 bash -c "$(declare -f j); NEW=$NEW j $BASE io.quire.backend.cuda.CudaDecodeBench /dev/shm/llama-3-8b 512 128 llama-3-8b" | tee "$OUT/bench-base.txt"
grep -E "tokens/s|relative L2|^(PASS|FAIL|ALL|SOME)" "$OUT"/bench-*.txt "$OUT/selfcheck.txt" 2>/dev/null | grep -v "^.*PASS " | tail -30
exit $rc
