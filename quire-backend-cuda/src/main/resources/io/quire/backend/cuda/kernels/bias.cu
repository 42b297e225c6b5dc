// Broadcasts a bias vector into every row of a matmul output before the GEMM accumulates onto it
// (beta = 1), so out = x w^T + b is rounded once. bias bf16 [cols]; out bf16 or fp32 [rows, cols].
// Launch: grid (rows), block 256.
#include "common.cuh"

extern "C" __global__ void broadcast_bias_bf16(const bf16* __restrict__ bias, bf16* __restrict__ out, int cols) {
  PDL_ENTER();
  bf16* dst = out + (size_t)blockIdx.x * cols;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) dst[i] = bias[i];
}

extern "C" __global__ void broadcast_bias_f32(const bf16* __restrict__ bias, float* __restrict__ out, int cols) {
  PDL_ENTER();
  float* dst = out + (size_t)blockIdx.x * cols;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) dst[i] = bf2f(bias[i]);
}
