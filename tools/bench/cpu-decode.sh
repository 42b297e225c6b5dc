#!/usr/bin/env bash
# CPU decode benchmark: memory bandwidth, Quire (1 and 16 streams) and Jlama 0.8.4 on the same
# random-weight Llama-3.2-1B-shaped bf16 folder, one table (docs/benchmarks.md).
# Usage: tools/bench/cpu-decode.sh [CpuDecodeBench options, e.g. --repeats 3 --no-jlama]
# MODEL_DIR (default /tmp/quire-bench/llama-3.2-1b) is written once; BENCH_JAVA_OPTS adds JVM flags;
# BENCH_NO_BUILD=1 runs the jars already built (while others rebuild the same tree).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
MODEL_DIR=${MODEL_DIR:-/tmp/quire-bench/llama-3.2-1b}
cd "$ROOT"
if [ -z "${BENCH_NO_BUILD:-}" ]; then
  MAVEN_OPTS="${MAVEN_OPTS:---sun-misc-unsafe-memory-access=allow}" ./mvnw -q -o -pl quire-bench -am package -Dmaven.test.skip=true
fi
if [ ! -f "$MODEL_DIR/config.json" ]; then
  bin/quire dummy-model --shape llama-3.2-1b --out "$MODEL_DIR" --tokenizer testdata/tokenizers/llama3
fi
# Jlama reads only an uncompressed tokenizer.json; Quire reads either.
[ -f "$MODEL_DIR/tokenizer.json" ] || gunzip -k "$MODEL_DIR/tokenizer.json.gz"
exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED ${BENCH_JAVA_OPTS:-} \
  -cp "quire-bench/target/quire-bench.jar:quire-bench/target/lib/*" io.quire.bench.CpuDecodeBench --model "$MODEL_DIR" "$@"
