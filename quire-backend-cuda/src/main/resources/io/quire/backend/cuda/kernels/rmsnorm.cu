// RMSNorm of each row, and the fused pre-norm of a decoder layer (residual += x, then norm).
// out = x * rsqrt(mean(x^2) + eps) * w, computed in fp32, rounded once to bf16.
// Launch: grid (T), block 256 (any multiple of 32). Rows of n bf16; w bf16 [n]. out must not alias x.
#include "common.cuh"

extern "C" __global__ void rms_norm(const bf16* __restrict__ x, const bf16* __restrict__ w,
                                    bf16* __restrict__ out, int n, float eps) {
  PDL_ENTER();
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
  PDL_ENTER();
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

// The same two kernels for rows of n % 8 == 0, n <= 8 * 8 * blockDim.x: 16-byte accesses, each thread
// holding up to 8 pieces in registers, every load of the row issued before the reduction.
#define VPT 8

// With ADD (add_rms_norm_v) the residual is updated first, as add_rms_norm does; every load of the
// row is issued before the reduction.
template <bool ADD>
__device__ __forceinline__ void norm_v(const bf16* __restrict__ x, bf16* __restrict__ residual,
                                       const bf16* __restrict__ w, bf16* __restrict__ out, int n, float eps) {
  pdl_trigger();
  const uint4* xr = reinterpret_cast<const uint4*>(x + (size_t)blockIdx.x * n);
  uint4* r = ADD ? reinterpret_cast<uint4*>(residual + (size_t)blockIdx.x * n) : nullptr;
  uint4* o = reinterpret_cast<uint4*>(out + (size_t)blockIdx.x * n);
  const uint4* wr = reinterpret_cast<const uint4*>(w);
  int nc = n >> 3;
  uint4 xv[VPT], rv[VPT], wv[VPT];
#pragma unroll
  for (int k = 0; k < VPT; k++) {  // the norm weight (no kernel writes it) before waiting
    int c = threadIdx.x + k * blockDim.x;
    if (c < nc) wv[k] = ld16(wr + c);
  }
  pdl_wait();
#pragma unroll
  for (int k = 0; k < VPT; k++) {
    int c = threadIdx.x + k * blockDim.x;
    if (c < nc) {
      xv[k] = ld16(xr + c);
      if constexpr (ADD) rv[k] = r[c];
    }
  }
  float ss = 0.f;
#pragma unroll
  for (int k = 0; k < VPT; k++) {
    int c = threadIdx.x + k * blockDim.x;
    if (c < nc) {
      float a[8];
      unpack_bf16x8(xv[k], a);
      if constexpr (ADD) {
        float b[8];
        unpack_bf16x8(rv[k], b);
#pragma unroll
        for (int e = 0; e < 8; e++) a[e] = a[e] + b[e];
        xv[k] = pack_bf16x8(a);  // the residual stream is rounded to bf16, and the norm reads it rounded
        r[c] = xv[k];
        unpack_bf16x8(xv[k], a);
      }
#pragma unroll
      for (int e = 0; e < 8; e++) ss += a[e] * a[e];
    }
  }
  float inv = rsqrtf(block_sum(ss) / n + eps);
#pragma unroll
  for (int k = 0; k < VPT; k++) {
    int c = threadIdx.x + k * blockDim.x;
    if (c < nc) {
      float f[8], g[8];
      unpack_bf16x8(xv[k], f);
      unpack_bf16x8(wv[k], g);
#pragma unroll
      for (int e = 0; e < 8; e++) f[e] = f[e] * inv * g[e];
      o[c] = pack_bf16x8(f);
    }
  }
}

extern "C" __global__ void rms_norm_v(const bf16* __restrict__ x, const bf16* __restrict__ w,
                                      bf16* __restrict__ out, int n, float eps) {
  norm_v<false>(x, nullptr, w, out, n, eps);
}

extern "C" __global__ void add_rms_norm_v(const bf16* __restrict__ x, bf16* __restrict__ residual,
                                          const bf16* __restrict__ w, bf16* __restrict__ out, int n,
                                          float eps) {
  norm_v<true>(x, residual, w, out, n, eps);
}
