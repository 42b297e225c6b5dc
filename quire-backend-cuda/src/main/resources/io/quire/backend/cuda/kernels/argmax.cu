// Row-wise argmax of fp32 logits: dst[r] = the lowest index of row r's largest value (the sampler's
// greedy rule); NaN never wins; a row of only NaN gives 0. Only the ids go back to the host.
// Launch: grid (rows), block 1024 (any multiple of 32 up to 1024).
#include "common.cuh"

// (v, i) beats (bv, bi): larger value, or equal value and lower index; NaN loses to anything.
__device__ __forceinline__ bool am_better(float v, int i, float bv, int bi) {
  if (v != v) return false;
  if (bv != bv) return true;
  return v > bv || (v == bv && i < bi);
}

extern "C" __global__ void argmax_rows(const float* __restrict__ x, int* __restrict__ dst, int cols) {
  PDL_ENTER();
  const float* row = x + (size_t)blockIdx.x * cols;
  float bv = __int_as_float(0x7fc00000);  // NaN: nothing yet
  int bi = 0x7fffffff;
  // Each thread walks increasing indices, so strictly greater keeps its lowest index on ties.
  for (int i = threadIdx.x; i < cols; i += blockDim.x) {
    float v = row[i];
    if (am_better(v, i, bv, bi)) { bv = v; bi = i; }
  }
  for (int o = 16; o > 0; o >>= 1) {
    float v = __shfl_xor_sync(0xffffffffu, bv, o);
    int i = __shfl_xor_sync(0xffffffffu, bi, o);
    if (am_better(v, i, bv, bi)) { bv = v; bi = i; }
  }
  __shared__ float sv[32];
  __shared__ int si[32];
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  if (lane == 0) { sv[warp] = bv; si[warp] = bi; }
  __syncthreads();
  if (warp == 0) {
    bv = lane < warps ? sv[lane] : __int_as_float(0x7fc00000);
    bi = lane < warps ? si[lane] : 0x7fffffff;
    for (int o = 16; o > 0; o >>= 1) {
      float v = __shfl_xor_sync(0xffffffffu, bv, o);
      int i = __shfl_xor_sync(0xffffffffu, bi, o);
      if (am_better(v, i, bv, bi)) { bv = v; bi = i; }
    }
    if (lane == 0) dst[blockIdx.x] = bi == 0x7fffffff ? 0 : bi;
  }
}
