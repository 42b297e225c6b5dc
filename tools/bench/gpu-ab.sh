#!/usr/bin/env bash
# Runs on the GPU machine (packed as for gpu-proofs.sh): batch-1 decode of the 7B and 8B shapes
# (CudaDecodeBench, first configuration only: graphs + all speed paths), alternating variants within one
# call, because H200s differ by up to ~3% from call to call. Variants NAME=SPEC as in ab-common.sh.
#   tools/bench/gpu-ab.sh [REPS] new=base old=jar:.device/old/quire-backend-cuda-0.1.0-SNAPSHOT.jar
set -uo pipefail
REPS=3; [[ "${1:-}" =~ ^[0-9]+$ ]] && { REPS=$1; shift; }
source "$(dirname "$0")/ab-common.sh"
JO+=(-Dquire.bench.quick=true)
ab_models
for m in ${SHAPES:-7 8}; do
  for rep in $(seq 1 $REPS); do
    for v in "$@"; do
      ab_variant "$v"
      r=$(env "${env[@]}" timeout 100 $J "${JO[@]}" "${props[@]}" -cp "$cp" io.quire.backend.cuda.CudaDecodeBench /dev/shm/m${m}b 512 128 2>&1 |
        grep "tokens/s" | head -2 | sed -E 's/^(no host round trip)?.*context ([0-9.]+), .*: ([0-9.]+) ms\/token, ([0-9.]+) tokens\/s.*\(([0-9.]+)% of.*/\1 context \2: \3 ms\/token, \4 tok\/s, \5%/' | paste -sd'|')
      echo "${m}B $name (run $rep): $r"
    done
  done
done
