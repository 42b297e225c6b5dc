#!/usr/bin/env bash
# Runs on the GPU machine (packed as for gpu-proofs.sh): batch-1 decode of the 7B and 8B shapes
# (CudaDecodeBench, first configuration only: graphs + all speed paths), alternating variants within one
# call, because H200s differ by up to ~3% from call to call. A variant is NAME=SPEC, SPEC one of
#   base                    the packed build
#   jar:PATH                PATH (e.g. an older quire-backend-cuda jar) ahead of the packed classpath
#   env:VAR=VALUE           an environment switch (e.g. env:QUIRE_CUDA_PDL=0)
#   prop:NAME=VALUE         a system property (e.g. prop:quire.bench.noRopeFold=true)
#   tools/bench/gpu-ab.sh [REPS] new=base old=jar:.device/old/quire-backend-cuda-0.1.0-SNAPSHOT.jar
set -uo pipefail
REPS=3; [[ "${1:-}" =~ ^[0-9]+$ ]] && { REPS=$1; shift; }
P=.device/${PACK:-s8}
export QUIRE_CUDA_CACHE=/tmp/quire-kernels LD_LIBRARY_PATH=/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
mkdir -p /tmp/jre; [ -x /tmp/jre/jre/bin/java ] || tar xJf .device/${JRE:-jre-small.tar.xz} -C /tmp/jre || exit 1
J=/tmp/jre/jre/bin/java
JO=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx24g -Dquire.bench.quick=true)
for m in ${SHAPES:-7 8}; do
  S=$([ $m = 7 ] && echo llama-2-7b || echo llama-3-8b)
  [ -f /dev/shm/m${m}b/config.json ] || $J "${JO[@]}" -cp "$P/cli/lib/*:$P/tc" io.quire.backend.cuda.CudaDecodeBench /dev/shm/m${m}b 64 8 $S >/dev/null 2>&1
  for rep in $(seq 1 $REPS); do
    for v in "$@"; do
      name=${v%%=*} spec=${v#*=} cp="$P/cli/lib/*:$P/tc" env=() props=()
      case $spec in
        jar:*) cp="${spec#jar:}:$cp" ;;
        env:*) env=("${spec#env:}") ;;
        prop:*) props=("-D${spec#prop:}") ;;
      esac
      r=$(env "${env[@]}" timeout 100 $J "${JO[@]}" "${props[@]}" -cp "$cp" io.quire.backend.cuda.CudaDecodeBench /dev/shm/m${m}b 512 128 2>&1 |
        grep "tokens/s" | head -2 | sed -E 's/^(no host round trip)?.*context ([0-9.]+), .*: ([0-9.]+) ms\/token, ([0-9.]+) tokens\/s.*\(([0-9.]+)% of.*/\1 context \2: \3 ms\/token, \4 tok\/s, \5%/' | paste -sd'|')
      echo "${m}B $name (run $rep): $r"
    done
  done
done
