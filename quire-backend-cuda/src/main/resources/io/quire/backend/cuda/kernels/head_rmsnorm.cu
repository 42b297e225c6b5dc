// In-place RMSNorm of each head_dim slice of each row (Qwen3's q_norm / k_norm), weight w [head_dim].
// Launch: grid (T, heads), block 32 (one warp per head slice). Any head_dim.
#include "common.cuh"

extern "C" __global__ void head_rms_norm(bf16* x, const bf16* __restrict__ w, int cols, int head_dim,
                                         float eps) {
  PDL_ENTER();
  bf16* h = x + (size_t)blockIdx.x * cols + (size_t)blockIdx.y * head_dim;
  float ss = 0.f;
  for (int i = threadIdx.x; i < head_dim; i += 32) {
    float v = bf2f(h[i]);
    ss += v * v;
  }
  float inv = rsqrtf(warp_sum(ss) / head_dim + eps);
  for (int i = threadIdx.x; i < head_dim; i += 32) h[i] = f2bf(bf2f(h[i]) * inv * bf2f(w[i]));
}
