// Batch-invariant matmul on the tensor cores: out[M, N] = x[M, K] w[N, K]^T (+ bias[N]), bf16 inputs,
// fp32 accumulation, bf16 or fp32 output. cuBLAS picks a different kernel (tile, split-K, reduction)
// for different M, and the one-token GEMV splits K across warps, so one row's result depends on how many
// rows came with it. Here every output element is one fp32 accumulator that takes the k16 slices of K
// in order, k = 0, 16, 32, ..., one mma.m16n8k16 each, whatever M is and whichever tile shape the launch
// uses; the bias is added once, after the sum. So a row's bits do not depend on the batch around it.
// The launch shapes (tile, K slice, stages; listed at the end) only change which block computes an
// element and how many blocks fill the GPU, never an element's order of summation.
// Requires K % 8 == 0 and 16-byte aligned x and w (cp.async of 8 bf16); rows past M or N and columns
// past K are zero-filled, which adds exact zeros.
#include "common.cuh"
#include "mma.cuh"

// One launch shape. Shared memory (dynamic, sized by GemmBiShape.java): STAGES x (BM + BN) rows of
// BK + 8 bf16; the 16-byte pad puts the 8 rows an ldmatrix reads in distinct banks.
template <int WARPS_M, int WARPS_N, int MT, int NT, int BK, int STAGES>
struct BiShape {
  static constexpr int BM = WARPS_M * MT * 16, BN = WARPS_N * NT * 8, LDS = BK + 8;
  static constexpr int THREADS = WARPS_M * WARPS_N * 32;
};

template <int WARPS_M, int WARPS_N, int MT, int NT, int BK, int STAGES>
__device__ __forceinline__ void gemm_bi_body(const bf16* __restrict__ x, const bf16* __restrict__ w,
                                             const bf16* __restrict__ bias, void* __restrict__ out, int M, int N,
                                             int K, int f32out) {
  using S = BiShape<WARPS_M, WARPS_N, MT, NT, BK, STAGES>;
  constexpr int BM = S::BM, BN = S::BN, LDS = S::LDS, NTHR = S::THREADS, CH = BK / 8;
  static_assert(NT == 1 || NT % 2 == 0, "NT is 1 or even");
  extern __shared__ __align__(16) unsigned char bi_smem[];
  bf16* As = (bf16*)bi_smem;           // [STAGES][BM][LDS]
  bf16* Bs = As + STAGES * BM * LDS;   // [STAGES][BN][LDS]
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = warp / WARPS_N, wn = warp % WARPS_N;
  const int nk = (K + BK - 1) / BK;

  auto load_w = [&](int stage, int kt) {
    const int k0 = kt * BK;
#pragma unroll
    for (int c = tid; c < BN * CH; c += NTHR) {
      const int row = c / CH, kc = (c % CH) * 8;
      const int n = n0 + row, k = k0 + kc;
      const bool ok = n < N && k < K;
      cp_async16(Bs + (stage * BN + row) * LDS + kc, w + (ok ? (size_t)n * K + k : 0), ok);
    }
  };
  // Rows of x past M are zero in every stage: written once below, never loaded (a decode step has 1 of 16).
  const int mrows = min(BM, M - m0);
  auto load_x = [&](int stage, int kt) {
    const int k0 = kt * BK;
    for (int c = tid; c < mrows * CH; c += NTHR) {
      const int row = c / CH, kc = (c % CH) * 8;
      const int k = k0 + kc;
      const bool ok = k < K;
      cp_async16(As + (stage * BM + row) * LDS + kc, x + (ok ? (size_t)(m0 + row) * K + k : 0), ok);
    }
  };
  if (mrows < BM) {
    for (int c = tid; c < STAGES * (BM - mrows) * CH; c += NTHR) {
      const int stage = c / ((BM - mrows) * CH), rc = c % ((BM - mrows) * CH);
      *reinterpret_cast<uint4*>(As + (stage * BM + mrows + rc / CH) * LDS + (rc % CH) * 8) = make_uint4(0, 0, 0, 0);
    }
  }

  // Weights are never written by a kernel: their first stages stream in before waiting for the
  // previous kernel (programmatic dependent launch); x waits for it.
  pdl_trigger();
#pragma unroll
  for (int s = 0; s < STAGES - 1; s++)
    if (s < nk) load_w(s, s);
  pdl_wait();
#pragma unroll
  for (int s = 0; s < STAGES - 1; s++) {
    if (s < nk) load_x(s, s);
    cp_async_commit();
  }

  float acc[MT][NT][4];
#pragma unroll
  for (int i = 0; i < MT; i++)
#pragma unroll
    for (int j = 0; j < NT; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) acc[i][j][e] = 0.f;

  for (int kt = 0; kt < nk; kt++) {
    cp_async_wait<STAGES - 2>();
    __syncthreads();  // stage kt landed for every thread; stage kt - 1 is free again
    const int pf = kt + STAGES - 1;
    if (pf < nk) {
      load_w(pf % STAGES, pf);
      load_x(pf % STAGES, pf);
    }
    cp_async_commit();
    const bf16* a_s = As + (kt % STAGES) * BM * LDS + (wm * MT * 16) * LDS;
    const bf16* b_s = Bs + (kt % STAGES) * BN * LDS + (wn * NT * 8) * LDS;
#pragma unroll
    for (int kk = 0; kk < BK; kk += 16) {
      unsigned af[MT][4], bfr[NT][2];
#pragma unroll
      for (int i = 0; i < MT; i++) ldsm_x4(af[i], a_s + (i * 16 + (lane & 15)) * LDS + kk + (lane >> 4) * 8);
      if constexpr (NT == 1) {
        ldsm_x2(bfr[0], b_s + (lane & 7) * LDS + kk + ((lane >> 3) & 1) * 8);
      } else {
#pragma unroll
        for (int j = 0; j < NT; j += 2) {
          unsigned r[4];
          ldsm_x4(r, b_s + (j * 8 + (lane & 7) + ((lane >> 4) << 3)) * LDS + kk + ((lane >> 3) & 1) * 8);
          bfr[j][0] = r[0];
          bfr[j][1] = r[1];
          bfr[j + 1][0] = r[2];
          bfr[j + 1][1] = r[3];
        }
      }
#pragma unroll
      for (int i = 0; i < MT; i++)
#pragma unroll
        for (int j = 0; j < NT; j++) mma16816(acc[i][j], af[i], bfr[j][0], bfr[j][1]);
    }
  }
  cp_async_wait<0>();

#pragma unroll
  for (int i = 0; i < MT; i++) {
#pragma unroll
    for (int j = 0; j < NT; j++) {
      const int c0 = n0 + wn * NT * 8 + j * 8 + 2 * (lane & 3);
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int r = m0 + wm * MT * 16 + i * 16 + (lane >> 2) + (e >> 1) * 8, c = c0 + (e & 1);
        if (r < M && c < N) {
          float v = acc[i][j][e];
          if (bias) v += bf2f(bias[c]);
          if (f32out) ((float*)out)[(size_t)r * N + c] = v;
          else ((bf16*)out)[(size_t)r * N + c] = f2bf(v);
        }
      }
    }
  }
}

// gemm_bi_WM_WN_MT_NT_BK_ST: WM x WN warps, each MT x NT mma tiles (16 x 8), K slices of BK, ST stages.
// CudaBackend derives the tile, threads and shared memory from the name.
#define GEMM_BI(WM, WN, MT, NT, BK, ST)                                                                           \
  extern "C" __global__ void __launch_bounds__(WM * WN * 32) gemm_bi_##WM##_##WN##_##MT##_##NT##_##BK##_##ST(    \
      const bf16* __restrict__ x, const bf16* __restrict__ w, const bf16* __restrict__ bias,                     \
      void* __restrict__ out, int M, int N, int K, int f32out) {                                                  \
    gemm_bi_body<WM, WN, MT, NT, BK, ST>(x, w, bias, out, M, N, K, f32out);                                       \
  }

// Up to 16 rows (decode): 16 x 16, 16 x 32 and 16 x 8 tiles.
GEMM_BI(1, 2, 1, 1, 128, 4)
GEMM_BI(1, 2, 1, 1, 128, 8)
GEMM_BI(1, 4, 1, 1, 128, 6)
GEMM_BI(1, 1, 1, 1, 256, 6)
// 64 x 64 and 64 x 128 tiles.
GEMM_BI(2, 2, 2, 4, 32, 4)
GEMM_BI(2, 2, 2, 4, 64, 3)
GEMM_BI(2, 2, 2, 4, 64, 4)
GEMM_BI(2, 4, 2, 4, 32, 4)
GEMM_BI(2, 4, 2, 4, 64, 3)
// 128 x 128 tiles.
GEMM_BI(2, 4, 4, 4, 32, 3)
GEMM_BI(2, 4, 4, 4, 32, 4)
GEMM_BI(2, 4, 4, 4, 64, 3)
GEMM_BI(2, 4, 4, 4, 64, 4)
GEMM_BI(4, 2, 2, 8, 32, 4)
// 128 x 256 tiles.
GEMM_BI(2, 4, 4, 8, 32, 4)
GEMM_BI(2, 4, 4, 8, 64, 3)
