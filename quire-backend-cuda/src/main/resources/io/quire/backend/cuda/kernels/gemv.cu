// Matrix-vector products for one token (batch-1 decode): out_s[n] = x . w_s[n, :] (+ bias_s[n]) for up
// to three weights w_s [n_s, K] that share the input x [K] (q, k and v in one launch). Rows of the
// three are numbered one after another; each group of ks warps (ks = 1, 2, 4 or 8, so that short
// matrices still fill the chip) computes ROWS consecutive rows, each warp a 1/ks share of K, reading
// them as 16-byte pieces with U pieces per lane in flight per row, and x (L1-resident) alongside.
// fp32 accumulation, one rounding at the end; out bf16, or fp32 when out_f32 != 0.
// With glu > 0 (one weight, n0 = 2 * glu: gate rows then up rows, no bias, bf16 out), a row group
// takes gate row i and up row glu + i, writes both to out0 and also glu_out[i] = silu(gate) * up,
// rounded as silu_mul rounds (the SwiGLU activation without a launch of its own).
// Requires K % 8 == 0 and 16-byte aligned x and w. Launch: grid ceil((n0+n1+n2) / (8 / ks * ROWS)),
// block 256.
#include "common.cuh"

#define ROWS 2
#define U 4

__device__ __forceinline__ float dot8(uint4 a, uint4 b) {
  float s = __uint_as_float(a.x << 16) * __uint_as_float(b.x << 16);
  s += __uint_as_float(a.x & 0xffff0000u) * __uint_as_float(b.x & 0xffff0000u);
  s += __uint_as_float(a.y << 16) * __uint_as_float(b.y << 16);
  s += __uint_as_float(a.y & 0xffff0000u) * __uint_as_float(b.y & 0xffff0000u);
  s += __uint_as_float(a.z << 16) * __uint_as_float(b.z << 16);
  s += __uint_as_float(a.z & 0xffff0000u) * __uint_as_float(b.z & 0xffff0000u);
  s += __uint_as_float(a.w << 16) * __uint_as_float(b.w << 16);
  s += __uint_as_float(a.w & 0xffff0000u) * __uint_as_float(b.w & 0xffff0000u);
  return s;
}

__device__ __forceinline__ uint4 ld_stream(const uint4* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
  return v;
}

extern "C" __global__ void __launch_bounds__(256) gemv3(
    const bf16* __restrict__ x, int K,
    const bf16* __restrict__ w0, const bf16* __restrict__ w1, const bf16* __restrict__ w2,
    void* out0, void* out1, void* out2,
    const bf16* __restrict__ b0, const bf16* __restrict__ b1, const bf16* __restrict__ b2,
    int n0, int n1, int n2, int out_f32, int ks, bf16* __restrict__ glu_out, int glu) {
  static_assert(ROWS == 2, "glu pairs one gate and one up row per row group");
  __shared__ float red[8][ROWS];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int total = n0 + n1 + n2;
  const int rg = warp / ks, kp = warp - rg * ks;
  const int grp = blockIdx.x * (8 / ks) + rg;
  const int row0 = glu ? grp : grp * ROWS, rstep = glu ? glu : 1;
  const bool active = glu ? grp < glu : row0 < total;
  const int nc = K >> 3;
  const uint4* xr = reinterpret_cast<const uint4*>(x);
  const uint4* wr[ROWS];
#pragma unroll
  for (int r = 0; r < ROWS; r++) {
    int n = min(row0 + r * rstep, total - 1);
    const bf16* w = n < n0 ? w0 + (size_t)n * K
                  : n < n0 + n1 ? w1 + (size_t)(n - n0) * K
                  : w2 + (size_t)(n - n0 - n1) * K;
    wr[r] = reinterpret_cast<const uint4*>(w);
  }
  float acc[ROWS];
#pragma unroll
  for (int r = 0; r < ROWS; r++) acc[r] = 0.f;
  const int stride = 32 * ks;
  int c = lane + 32 * kp;
  // The first U pieces of the weight rows are loaded before waiting for the previous kernel (weights
  // are never written by a kernel), so with programmatic dependent launch the weight stream starts
  // while that kernel drains; x and the outputs are touched only after the wait.
  uint4 wv[ROWS][U];
  bool pre = active && c + stride * (U - 1) < nc;
  if (pre) {
#pragma unroll
    for (int u = 0; u < U; u++)
#pragma unroll
      for (int r = 0; r < ROWS; r++) wv[r][u] = ld_stream(wr[r] + c + stride * u);
  }
  pdl_wait();
  pdl_trigger();
  if (active) {
    for (; c + stride * (U - 1) < nc; c += stride * U) {
      uint4 xv[U];
      if (!pre) {
#pragma unroll
        for (int u = 0; u < U; u++)
#pragma unroll
          for (int r = 0; r < ROWS; r++) wv[r][u] = ld_stream(wr[r] + c + stride * u);
      }
      pre = false;
#pragma unroll
      for (int u = 0; u < U; u++) xv[u] = ld16(xr + c + stride * u);
#pragma unroll
      for (int u = 0; u < U; u++)
#pragma unroll
        for (int r = 0; r < ROWS; r++) acc[r] += dot8(wv[r][u], xv[u]);
    }
    // Fewer than U pieces left (K not a multiple of U x 32 x ks): issue all their loads at once rather
    // than one dependent load per piece, then add them in the same order as before.
    if (c < nc) {
      uint4 tw[ROWS][U - 1], tx[U - 1];
#pragma unroll
      for (int u = 0; u < U - 1; u++) {
        const int cc = c + stride * u;
        if (cc < nc) {
          tx[u] = ld16(xr + cc);
#pragma unroll
          for (int r = 0; r < ROWS; r++) tw[r][u] = ld_stream(wr[r] + cc);
        }
      }
#pragma unroll
      for (int u = 0; u < U - 1; u++) {
        if (c + stride * u < nc) {
#pragma unroll
          for (int r = 0; r < ROWS; r++) acc[r] += dot8(tw[r][u], tx[u]);
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < ROWS; r++) acc[r] = warp_sum(acc[r]);
  if (ks > 1) {  // the ks warps of a row group each summed a share of K
    if (lane == 0) {
#pragma unroll
      for (int r = 0; r < ROWS; r++) red[warp][r] = acc[r];
    }
    __syncthreads();
    if (kp == 0 && lane == 0) {
#pragma unroll
      for (int r = 0; r < ROWS; r++) {
        float v = 0.f;
        for (int j = 0; j < ks; j++) v += red[warp + j][r];
        acc[r] = v;
      }
    }
  }
  if (active && kp == 0 && lane == 0) {
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
      int n = row0 + r * rstep;
      if (n >= total) break;
      void* o;
      const bf16* b;
      int i;
      if (n < n0) { o = out0; b = b0; i = n; }
      else if (n < n0 + n1) { o = out1; b = b1; i = n - n0; }
      else { o = out2; b = b2; i = n - n0 - n1; }
      float v = acc[r];
      if (b != nullptr) v += bf2f(b[i]);
      if (out_f32) reinterpret_cast<float*>(o)[i] = v;
      else reinterpret_cast<bf16*>(o)[i] = f2bf(v);
    }
    if (glu) {
      float g = bf2f(f2bf(acc[0])), u = bf2f(f2bf(acc[1]));
      glu_out[row0] = f2bf(g / (1.f + expf(-g)) * u);
    }
  }
}
