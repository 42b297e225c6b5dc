// Gathers rows: out[i, :] = x[idx[i], :] (the rows whose logits are needed).
// Launch: grid (rows), block 256. Indices checked on the host.
#include "common.cuh"

extern "C" __global__ void gather_rows(const bf16* __restrict__ x, const int* __restrict__ idx,
                                       bf16* __restrict__ out, int cols) {
  PDL_ENTER();
  const bf16* src = x + (size_t)idx[blockIdx.x] * cols;
  bf16* dst = out + (size_t)blockIdx.x * cols;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) dst[i] = src[i];
}
