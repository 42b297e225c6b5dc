#!/usr/bin/env bash
# Runs on the GPU machine (packed as for gpu-proofs.sh): Nsight Compute on one decode attention launch of
# a 256-row decode step (CudaBatchProfile, context ~600; 7B shape unless M=8): speed of light, memory,
# scheduler and warp-state statistics, occupancy, spills. Base clocks: read durations as relative.
set -uo pipefail
P=.device/${PACK:-s8}
export QUIRE_CUDA_CACHE=/tmp/quire-kernels LD_LIBRARY_PATH=/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
mkdir -p /tmp/jre; [ -x /tmp/jre/jre/bin/java ] || tar xJf .device/${JRE:-jre-small.tar.xz} -C /tmp/jre || exit 1
J=/tmp/jre/jre/bin/java
JO=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx24g -cp "$P/cli/lib/*:$P/tc")
m=${M:-7}; S=$([ $m = 7 ] && echo llama-2-7b || echo llama-3-8b)
[ -f /dev/shm/m${m}b/config.json ] || $J "${JO[@]}" io.quire.backend.cuda.CudaDecodeBench /dev/shm/m${m}b 64 8 $S >/dev/null 2>&1
timeout 300 /usr/local/cuda/bin/ncu --kernel-name regex:${KERNEL:-attn_decode_tc128} --launch-skip 40 --launch-count 1 \
  --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats --section Occupancy \
  --section SchedulerStats --section LaunchStats \
  --metrics dram__bytes_read.sum,lts__t_sector_hit_rate.pct,dram__throughput.avg.pct_of_peak_sustained_elapsed \
  $J "${JO[@]}" io.quire.backend.cuda.CudaBatchProfile /dev/shm/m${m}b 600 decode:256 2 2>&1 |
  grep -v "^WARNING\|^==PROF==" | sed -n "/${KERNEL:-attn_decode_tc128}/,\$p" | grep -vE "^\s*-+\s*$|^\s*$" | cut -c1-150 | head -120
