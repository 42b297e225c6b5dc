#!/usr/bin/env bash
# On the GPU machine (packed as for gpu-proofs.sh; carry .device/s8 and .device/jre-small.tar.xz): cuBLAS's
# default algorithm against cuBLASLt's heuristic candidates at the 7B and 8B shapes (CudaGemmTune), and
# torch's rate at the same shapes; with CHECKS=1 first the op checks under compute-sanitizer memcheck.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/bench/ab-common.sh
OUT=${OUT:-/tmp/quire-out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,clocks.max.sm,power.limit --format=csv,noheader
if [ "${CHECKS:-0}" = 1 ]; then
  timeout 230 /usr/local/cuda/bin/compute-sanitizer --tool memcheck --leak-check no --print-limit 20 --error-exitcode 9 \
    $J "${JO[@]}" -cp "$P/cli/lib/*:$P/tc" io.quire.backend.cuda.CudaShortCheck /tmp/quire-fixtures > $OUT/san.txt 2>&1
  echo "sanitizer rc $?"; grep -E "FAIL|q/k/v" $OUT/san.txt | cut -c1-220; grep -E "ERROR SUMMARY|ALL PASS|checks:" $OUT/san.txt | head -3
fi
for s in ${SHAPES:-7b 8b}; do
  timeout 200 $J "${JO[@]}" -cp "$P/cli/lib/*:$P/tc" io.quire.backend.cuda.CudaGemmTune $s ${ROWS:-512,2048,8192} 20 16 2>&1 |
    grep -v WARNING | tee -a $OUT/tune.txt
  timeout 100 python3 tools/bench/torch_gemm_shapes.py $s ${ROWS:-512,2048,8192} 20 2>&1 | grep -v -i warn | tee -a $OUT/tune.txt
done
