// Rotary embedding, rotate-half layout (HF Llama/Mistral/Qwen), in place on q and k.
// For pairs (i, i + d/2) of each head: x1' = x1 cos - x2 sin, x2' = x2 cos + x1 sin.
// cos/sin tables [max_pos, d/2] fp32 from the host (angle = fp32(pos * inv_freq[i])); positions at or
// beyond max_pos are computed here from inv_freq.
// Launch: grid (T), block 128; threads stride over (q_heads + k_heads) * d/2 pairs.
#include "common.cuh"

extern "C" __global__ void rope(bf16* q, bf16* k, const int* __restrict__ positions,
                                const float* __restrict__ cos_t, const float* __restrict__ sin_t,
                                const float* __restrict__ inv_freq, int max_pos, int q_heads,
                                int k_heads, int head_dim) {
  int t = blockIdx.x;
  int p = positions[t];
  int half = head_dim >> 1;
  int pairs = (q_heads + k_heads) * half;
  for (int idx = threadIdx.x; idx < pairs; idx += blockDim.x) {
    int h = idx / half, i = idx - h * half;
    bf16* base = h < q_heads ? q + ((size_t)t * q_heads + h) * head_dim
                             : k + ((size_t)t * k_heads + (h - q_heads)) * head_dim;
    float c, s;
    if (p < max_pos) {
      c = cos_t[(size_t)p * half + i];
      s = sin_t[(size_t)p * half + i];
    } else {
      float a = (float)p * inv_freq[i];
      c = cosf(a);
      s = sinf(a);
    }
    float x1 = bf2f(base[i]), x2 = bf2f(base[i + half]);
    base[i] = f2bf(x1 * c - x2 * s);
    base[i + half] = f2bf(x2 * c + x1 * s);
  }
}
