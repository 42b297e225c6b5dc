#!/usr/bin/env bash
# Runs on the GPU machine (packed as for gpu-proofs.sh): batched steps of the 7B and 8B shapes
# (CudaBatchProfile: wall time and attention share of a 256-row decode step and a 512-token prefill chunk
# + 200 decode rows, context ~600), alternating variants within one call. Variants NAME=SPEC as in
# ab-common.sh.
#   tools/bench/gpu-batch-ab.sh [REPS] new=base old=jar:.device/old/quire-backend-cuda-0.1.0-SNAPSHOT.jar
set -uo pipefail
REPS=2; [[ "${1:-}" =~ ^[0-9]+$ ]] && { REPS=$1; shift; }
source "$(dirname "$0")/ab-common.sh"
ab_models
for rep in $(seq 1 $REPS); do
  for v in "$@"; do
    ab_variant "$v"
    for m in ${SHAPES:-7 8}; do
      r=$(env "${env[@]}" timeout 100 $J "${JO[@]}" "${props[@]}" -cp "$cp" io.quire.backend.cuda.CudaBatchProfile /dev/shm/m${m}b 600 \
        ${CASES:-decode:256,mixed:512:200} 4 2>&1 | grep -E "^wall|attention [0-9.]+ ms" |
        sed -E 's/GEMMs.*attention/attention/; s/ unprofiled \(mean of 5\)//; s/, [0-9.]+ ms\/step while profiling.*//' | paste -sd' ')
      echo "${m}B $name (run $rep): $r"
    done
  done
done
