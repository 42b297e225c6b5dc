// RMSNorm of each row, and the fused pre-norm of a decoder layer (residual += x, then norm).
// out = x * rsqrt(mean(x^2) + eps) * w, computed in fp32, rounded once to bf16.
// Launch: grid (T), block 256 (any multiple of 32). Rows of n bf16; w bf16 [n]. out must not alias x.
#include "common.cuh"

extern "C" __global__ void rms_norm(const bf16* __restrict__ x, const bf16* __restrict__ w,
                                    bf16* __restrict__ out, int n, float eps) {
  const bf16* xr = x + (size_t)blockIdx.x * n;
  bf16* o = out + (size_t)blockIdx.x * n;
  float ss = 0.f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    float v = bf2f(xr[i]);
    ss += v * v;
  }
  float inv = rsqrtf(block_sum(ss) / n + eps);
  for (int i = threadIdx.x; i < n; i += blockDim.x) o[i] = f2bf(bf2f(xr[i]) * inv * bf2f(w[i]));
}

// The residual stream is bf16 (as in a bf16 HF model): residual = bf16(x + residual), then the
// norm reads the rounded sum. Each thread re-reads only the elements it wrote.
extern "C" __global__ void add_rms_norm(const bf16* __restrict__ x, bf16* __restrict__ residual,
                                        const bf16* __restrict__ w, bf16* __restrict__ out, int n,
                                        float eps) {
  const bf16* xr = x + (size_t)blockIdx.x * n;
  bf16* r = residual + (size_t)blockIdx.x * n;
  bf16* o = out + (size_t)blockIdx.x * n;
  float ss = 0.f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    bf16 s = f2bf(bf2f(xr[i]) + bf2f(r[i]));
    r[i] = s;
    float v = bf2f(s);
    ss += v * v;
  }
  float inv = rsqrtf(block_sum(ss) / n + eps);
  for (int i = threadIdx.x; i < n; i += blockDim.x) o[i] = f2bf(bf2f(r[i]) * inv * bf2f(w[i]));
}
