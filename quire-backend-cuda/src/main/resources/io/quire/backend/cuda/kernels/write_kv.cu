// Writes each token's K and V rows into the paged cache at its slot (block * block_size + offset).
// Cache per layer: [num_blocks * block_size, width] with width = num_kv_heads * head_dim, bf16
// (write_kv) or e4m3 bytes (write_kv_fp8, kv_cache_dtype fp8; see store_kv in common.cuh).
// Launch: grid (T), block 128. Slots < 0 are skipped (padding); the host checked the upper bound.
#include "common.cuh"

template <typename C>
__device__ __forceinline__ void write_kv_body(const bf16* __restrict__ k, const bf16* __restrict__ v,
                                              C* __restrict__ k_cache, C* __restrict__ v_cache,
                                              const int* __restrict__ slots, int width) {
  PDL_ENTER();
  int t = blockIdx.x;
  long long slot = slots[t];
  if (slot < 0) return;
  const bf16* ks = k + (size_t)t * width;
  const bf16* vs = v + (size_t)t * width;
  C* kd = k_cache + (size_t)slot * width;
  C* vd = v_cache + (size_t)slot * width;
  for (int i = threadIdx.x; i < width; i += blockDim.x) {
    store_kv(kd, i, ks[i]);
    store_kv(vd, i, vs[i]);
  }
}

extern "C" __global__ void write_kv(const bf16* __restrict__ k, const bf16* __restrict__ v, bf16* __restrict__ k_cache,
                                    bf16* __restrict__ v_cache, const int* __restrict__ slots, int width) {
  write_kv_body(k, v, k_cache, v_cache, slots, width);
}

extern "C" __global__ void write_kv_fp8(const bf16* __restrict__ k, const bf16* __restrict__ v, fp8* __restrict__ k_cache,
                                        fp8* __restrict__ v_cache, const int* __restrict__ slots, int width) {
  write_kv_body(k, v, k_cache, v_cache, slots, width);
}
