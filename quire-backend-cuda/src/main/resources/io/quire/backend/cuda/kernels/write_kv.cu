// Writes each token's K and V rows into the paged cache at its slot (block * block_size + offset).
// Cache per layer: [num_blocks * block_size, width] with width = num_kv_heads * head_dim, bf16.
// Launch: grid (T), block 128. Slots < 0 are skipped (padding); the host checked the upper bound.
#include "common.cuh"

extern "C" __global__ void write_kv(const bf16* __restrict__ k, const bf16* __restrict__ v,
                                    bf16* __restrict__ k_cache, bf16* __restrict__ v_cache,
                                    const int* __restrict__ slots, int width) {
  PDL_ENTER();
  int t = blockIdx.x;
  long long slot = slots[t];
  if (slot < 0) return;
  const bf16* ks = k + (size_t)t * width;
  const bf16* vs = v + (size_t)t * width;
  bf16* kd = k_cache + (size_t)slot * width;
  bf16* vd = v_cache + (size_t)slot * width;
  for (int i = threadIdx.x; i < width; i += blockDim.x) {
    kd[i] = ks[i];
    vd[i] = vs[i];
  }
}
