#!/usr/bin/env bash
# Here (no GPU): builds the CUDA module with what its GPU checks need, and collects the jars into
# quire-backend-cuda/target/gpu-lib (small enough to send); packs the Java runtime into .device once.
set -euo pipefail
cd "$(dirname "$0")/../.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64} MAVEN_OPTS=${MAVEN_OPTS:---sun-misc-unsafe-memory-access=allow}
./mvnw -q -pl quire-backend-cuda -am install -DskipTests
# Fresh copies: a jar installed by a concurrent build elsewhere in the tree once came out incomplete.
rm -rf quire-backend-cuda/target/gpu-lib
./mvnw -q -pl quire-backend-cuda test-compile dependency:copy-dependencies \
  -DincludeScope=test -DexcludeGroupIds=org.junit.jupiter,org.junit.platform,org.opentest4j,org.apiguardian \
  -DoutputDirectory=target/gpu-lib
cp quire-backend-cuda/target/quire-backend-cuda-*.jar quire-backend-cuda/target/gpu-lib/
[ -f .device/jre.tar.xz ] || ../shared/tools/device-jre
unzip -l quire-backend-cuda/target/gpu-lib/quire-engine-*.jar | grep -q CompletionDelta.class || { echo 'quire-engine jar incomplete: rebuild' >&2; exit 1; }
du -sh quire-backend-cuda/target/gpu-lib .device
