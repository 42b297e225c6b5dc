// Row-wise argmax of fp32 logits: dst[r] = the lowest index of row r's largest value (the sampler's
// greedy rule); NaN never wins; a row of only NaN gives 0. Only the ids go back to the host.
// Launch: grid (rows), block 1024 (any multiple of 32 up to 1024).
#include "common.cuh"


extern "C" __global__ void argmax_rows(const float* __restrict__ x, int* __restrict__ dst, int cols) {
  PDL_ENTER();
  const float* row = x + (size_t)blockIdx.x * cols;
  float bv;
  int bi;
  warp_argmax(row, cols, blockDim.x, bv, bi);
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

// Async scheduling: a step's pending tokens take the ids the step before sampled, on the device.
// ids[map[2i]] = src[map[2i + 1] * stride] for i < n (stride 1 after argmax_rows, the results' row
// width after sample_rows). Launch: grid (ceil(n / 256)), block 256.
extern "C" __global__ void feed_ids(int* __restrict__ ids, const int* __restrict__ src, int stride,
                                    const int* __restrict__ map, int n) {
  PDL_ENTER();
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) ids[map[2 * i]] = src[(size_t)map[2 * i + 1] * stride];
}
