# Sourced by gpu-ab.sh and gpu-batch-ab.sh (GPU machine, packed as for gpu-proofs.sh): the JRE, the
# random-weight models and the variants NAME=SPEC that both alternate within one call:
#   base                    the packed build
#   jar:PATH                PATH (e.g. an older quire-backend-cuda jar) ahead of the packed classpath
#   env:VAR=VALUE           an environment switch (e.g. env:QUIRE_CUDA_PDL=0)
#   prop:NAME=VALUE         a system property (e.g. prop:quire.bench.sync=true)
P=.device/${PACK:-s8}
export QUIRE_CUDA_CACHE=/tmp/quire-kernels LD_LIBRARY_PATH=/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
mkdir -p /tmp/jre; [ -x /tmp/jre/jre/bin/java ] || tar xJf .device/${JRE:-jre-small.tar.xz} -C /tmp/jre || exit 1
J=${J:-/tmp/jre/jre/bin/java}
JO=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx24g)

# The 2-layer Llama-3-8B-shaped model (random bf16 weights, the demo tokenizer) at $M2, written when missing.
M2=/dev/shm/m2l
ab_m2() {
  [ -f $M2/config.json ] || timeout 60 $J "${JO[@]}" -cp "$P/cli/lib/*:$P/tc" io.quire.backend.cuda.DummyModelVariant $M2 \
    llama-3-8b num_hidden_layers=2 tokenizer=models/quire-demo/1 2>&1 | grep -v '^WARNING' | tail -1
}

# Writes /dev/shm/m7b and /dev/shm/m8b (random bf16 weights) where missing.
ab_models() {
  for m in ${SHAPES:-7 8}; do
    [ -f /dev/shm/m${m}b/config.json ] || $J "${JO[@]}" -cp "$P/cli/lib/*:$P/tc" io.quire.backend.cuda.CudaDecodeBench \
      /dev/shm/m${m}b 64 8 $([ $m = 7 ] && echo llama-2-7b || echo llama-3-8b) >/dev/null 2>&1
  done
}

# Sets name, cp, env and props for variant $1 (NAME=SPEC).
ab_variant() {
  name=${1%%=*} spec=${1#*=} cp="$P/cli/lib/*:$P/tc" env=() props=()
  case $spec in
    jar:*) cp="${spec#jar:}:$cp" ;;
    env:*) env=("${spec#env:}") ;;
    prop:*) props=("-D${spec#prop:}") ;;
  esac
}
