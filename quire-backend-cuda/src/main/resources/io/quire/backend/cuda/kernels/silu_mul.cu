// SwiGLU activation: out[t, i] = silu(gate[t, i]) * up[t, i], with gate_up[t] = [gate (n) | up (n)].
// silu_mul: grid (ceil(n / 256), T), block 256. silu_mul8 (n % 8 == 0, 16-byte aligned rows): 8 columns a
// thread in 16-byte loads and stores, over all T * n / 8 of them: grid ceil(T * n8 / 256), block 256. (The
// one-column kernel moved a 8192 x 11008 prefill step's 541 MB at 1.26 TB/s on an H200.)
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

extern "C" __global__ void silu_mul8(const bf16* __restrict__ gate_up, bf16* __restrict__ out, int n8, long long total) {
  PDL_ENTER();
  const long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= total) return;
  const long long t = idx / n8;
  const int j = (int)(idx - t * n8);
  const bf16* row = gate_up + (size_t)t * 16 * n8 + 8 * j;
  float g[8], u[8];
  unpack_bf16x8(*reinterpret_cast<const uint4*>(row), g);
  unpack_bf16x8(*reinterpret_cast<const uint4*>(row + 8 * (size_t)n8), u);
#pragma unroll
  for (int i = 0; i < 8; i++) g[i] = g[i] / (1.f + expf(-g[i])) * u[i];
  *reinterpret_cast<uint4*>(out + (size_t)t * 8 * n8 + 8 * j) = pack_bf16x8(g);
}
