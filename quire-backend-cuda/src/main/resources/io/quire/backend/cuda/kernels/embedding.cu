// Embedding lookup: out[t, :] = table[ids[t], :].
// Launch: grid (T), block 256. table and out bf16, ids int32 already checked against the vocabulary.
#include "common.cuh"

extern "C" __global__ void embedding(const bf16* __restrict__ table, const int* __restrict__ ids,
                                     bf16* __restrict__ out, int dim) {
  PDL_ENTER();
  const bf16* src = table + (size_t)ids[blockIdx.x] * dim;
  bf16* dst = out + (size_t)blockIdx.x * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) dst[i] = src[i];
}
