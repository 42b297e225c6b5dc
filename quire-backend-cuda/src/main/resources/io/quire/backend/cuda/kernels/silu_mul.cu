// SwiGLU activation: out[t, i] = silu(gate[t, i]) * up[t, i], with gate_up[t] = [gate (n) | up (n)].
// Launch: grid (ceil(n / 256), T), block 256.
#include "common.cuh"

extern "C" __global__ void silu_mul(const bf16* __restrict__ gate_up, bf16* __restrict__ out, int n) {
  PDL_ENTER();
  int t = blockIdx.y;
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const bf16* row = gate_up + (size_t)t * 2 * n;
  float g = bf2f(row[i]), u = bf2f(row[n + i]);
  out[(size_t)t * n + i] = f2bf(g / (1.f + expf(-g)) * u);
}
