#!/usr/bin/env bash
# Runs on the GPU machine (packed as for gpu-proofs.sh): batched steps of the 7B and 8B shapes
# (CudaBatchProfile: wall time and attention share of a 256-row decode step and a 512-token prefill chunk
# + 200 decode rows, context ~600), alternating variants within one call. Variants as in gpu-ab.sh:
# NAME=base | NAME=jar:PATH | NAME=env:VAR=VALUE | NAME=prop:NAME=VALUE.
#   tools/bench/gpu-batch-ab.sh [REPS] new=base old=jar:.device/old/quire-backend-cuda-0.1.0-SNAPSHOT.jar
set -uo pipefail
REPS=2; [[ "${1:-}" =~ ^[0-9]+$ ]] && { REPS=$1; shift; }
P=.device/${PACK:-s8}
export QUIRE_CUDA_CACHE=/tmp/quire-kernels LD_LIBRARY_PATH=/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
mkdir -p /tmp/jre; [ -x /tmp/jre/jre/bin/java ] || tar xJf .device/${JRE:-jre-small.tar.xz} -C /tmp/jre || exit 1
J=/tmp/jre/jre/bin/java
JO=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx24g)
for m in ${SHAPES:-7 8}; do
  S=$([ $m = 7 ] && echo llama-2-7b || echo llama-3-8b)
  [ -f /dev/shm/m${m}b/config.json ] || $J "${JO[@]}" -cp "$P/cli/lib/*:$P/tc" io.quire.backend.cuda.CudaDecodeBench /dev/shm/m${m}b 64 8 $S >/dev/null 2>&1
done
for rep in $(seq 1 $REPS); do
  for v in "$@"; do
    name=${v%%=*} spec=${v#*=} cp="$P/cli/lib/*:$P/tc" env=() props=()
    case $spec in
      jar:*) cp="${spec#jar:}:$cp" ;;
      env:*) env=("${spec#env:}") ;;
      prop:*) props=("-D${spec#prop:}") ;;
    esac
    for m in ${SHAPES:-7 8}; do
      r=$(env "${env[@]}" timeout 100 $J "${JO[@]}" "${props[@]}" -cp "$cp" io.quire.backend.cuda.CudaBatchProfile /dev/shm/m${m}b 600 \
        ${CASES:-decode:256,mixed:512:200} 4 2>&1 | grep -E "^wall|attention [0-9.]+ ms" |
        sed -E 's/GEMMs.*attention/attention/; s/ unprofiled \(mean of 5\)//; s/, [0-9.]+ ms\/step while profiling.*//' | paste -sd' ')
      echo "${m}B $name (run $rep): $r"
    done
  done
done
