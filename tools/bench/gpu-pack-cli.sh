#!/usr/bin/env bash
# Here (no GPU): packs what tools/bench/gpu-proofs.sh and gpu-seed-scenario.sh run on the GPU machine, from
# an installed build (./mvnw -q -Dmaven.test.skip=true install): quire-cli.jar and its lib/ under
# .device/$PACK/cli (FULL=1 keeps the server's libraries: needed by the seed scenario), the CUDA module's
# test mains and quire-testkit under .device/$PACK/tc, and a Java runtime at .device/jre-small.tar.xz
# (jlink'd uncompressed, then xz: ~16 MB). The working tree plus what is carried must stay under 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/../.."
JDK=${JDK:-/usr/lib/jvm/temurin-25-jdk-amd64}
D=.device/${PACK:-s8}
grep -qxF '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
rm -rf "$D/cli" "$D/tc" && mkdir -p "$D/cli/lib" "$D/tc"
cp quire-cli/target/quire-cli.jar "$D/cli/quire-cli.jar"
cp quire-cli/target/lib/*.jar "$D/cli/lib/"
[ "${FULL:-0}" = 1 ] || rm -f "$D"/cli/lib/{helidon,prometheus,protobuf}*
"$JDK/bin/javac" -nowarn --add-modules jdk.incubator.vector -cp "quire-cli/target/lib/*:quire-testkit/target/classes" -d "$D/tc" \
  $(ls quire-backend-cuda/src/test/java/io/quire/backend/cuda/*.java | grep -v -E "Test\.java$") 2>&1 | grep -v -i "warning\|note:" || true
cp -r quire-testkit/target/classes/* "$D/tc/"
if [ ! -f .device/jre-small.tar.xz ]; then
  tmp=$(mktemp -d)
  "$JDK/bin/jlink" --add-modules java.base,java.logging,java.management,java.naming,java.net.http,java.sql,java.xml,jdk.httpserver,jdk.incubator.vector,jdk.unsupported,jdk.zipfs \
    --strip-debug --no-man-pages --no-header-files --compress=zip-0 --output "$tmp/jre" 2>&1 | grep -v incubator || true
  tar cf - -C "$tmp" jre | xz -9e -T2 > .device/jre-small.tar.xz
  rm -rf "$tmp"
fi
du -sh "$D" .device/jre-small.tar.xz
