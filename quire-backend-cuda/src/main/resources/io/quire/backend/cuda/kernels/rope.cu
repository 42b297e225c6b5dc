// Rotary embedding, rotate-half layout (HF Llama/Mistral/Qwen), in place on q and k.
// For pairs (i, i + d/2) of each head: x1' = x1 cos - x2 sin, x2' = x2 cos + x1 sin.
// cos/sin tables [max_pos, d/2] fp32 from the host (angle = fp32(pos * inv_freq[i])); positions at or
// beyond max_pos are computed here from inv_freq.
// Launch: grid (T, Y), block 128; the Y * 128 threads of a token stride over its (q_heads + k_heads) * d/2 pairs.
#include "common.cuh"

// cos and sin of pair i at position p. Positions, tables and inv_freq come from the host (no kernel
// writes them), so both kernels read them and the first pair's angle before waiting for the previous
// kernel (programmatic dependent launch): only q, k and v wait for it.
__device__ __forceinline__ void angle(int i, int p, const float* __restrict__ cos_t, const float* __restrict__ sin_t,
                                      const float* __restrict__ inv_freq, int max_pos, int half, float& c, float& s) {
  if (p < max_pos) {
    c = cos_t[(size_t)p * half + i];
    s = sin_t[(size_t)p * half + i];
  } else {
    float a = (float)p * inv_freq[i];
    c = cosf(a);
    s = sinf(a);
  }
}

extern "C" __global__ void rope(bf16* q, bf16* k, const int* __restrict__ positions,
                                const float* __restrict__ cos_t, const float* __restrict__ sin_t,
                                const float* __restrict__ inv_freq, int max_pos, int q_heads,
                                int k_heads, int head_dim) {
  pdl_trigger();
  int t = blockIdx.x;
  int p = positions[t];
  int half = head_dim >> 1;
  int pairs = (q_heads + k_heads) * half;
  float c0, s0;
  const int idx0 = blockIdx.y * blockDim.x + threadIdx.x;
  angle(idx0 % half, p, cos_t, sin_t, inv_freq, max_pos, half, c0, s0);
  pdl_wait();
  for (int idx = idx0; idx < pairs; idx += gridDim.y * blockDim.x) {
    int h = idx / half, i = idx - h * half;
    bf16* base = h < q_heads ? q + ((size_t)t * q_heads + h) * head_dim
                             : k + ((size_t)t * k_heads + (h - q_heads)) * head_dim;
    float c = c0, s = s0;
    if (idx != idx0) angle(i, p, cos_t, sin_t, inv_freq, max_pos, half, c, s);
    float x1 = bf2f(base[i]), x2 = bf2f(base[i + half]);
    base[i] = f2bf(x1 * c - x2 * s);
    base[i + half] = f2bf(x2 * c + x1 * s);
  }
}

// rope followed by write_kv in one launch: q and k rotated in place as above, the rotated k and the
// untouched v also stored into the paged cache at slots[t] (skipped when < 0; width = k_heads *
// head_dim), bf16 (rope_write_kv) or e4m3 (rope_write_kv_fp8: the rotated bf16 k rounded once more).
// Launch: grid (T, Y), block 128.
template <typename C>
__device__ __forceinline__ void rope_write_kv_body(bf16* q, bf16* k, const bf16* __restrict__ v,
                                                   const int* __restrict__ positions,
                                                   const float* __restrict__ cos_t, const float* __restrict__ sin_t,
                                                   const float* __restrict__ inv_freq, int max_pos, int q_heads,
                                                   int k_heads, int head_dim, C* __restrict__ k_cache,
                                                   C* __restrict__ v_cache, const int* __restrict__ slots) {
  pdl_trigger();
  int t = blockIdx.x;
  int p = positions[t];
  int half = head_dim >> 1;
  int pairs = (q_heads + k_heads) * half;
  int width = k_heads * head_dim;
  long long slot = slots[t];
  C* kd = k_cache + (size_t)(slot < 0 ? 0 : slot) * width;
  float c0, s0;
  const int idx0 = blockIdx.y * blockDim.x + threadIdx.x;
  angle(idx0 % half, p, cos_t, sin_t, inv_freq, max_pos, half, c0, s0);
  pdl_wait();
  for (int idx = idx0; idx < pairs; idx += gridDim.y * blockDim.x) {
    int h = idx / half, i = idx - h * half;
    bool isq = h < q_heads;
    bf16* base = isq ? q + ((size_t)t * q_heads + h) * head_dim
                     : k + ((size_t)t * k_heads + (h - q_heads)) * head_dim;
    float c = c0, s = s0;
    if (idx != idx0) angle(i, p, cos_t, sin_t, inv_freq, max_pos, half, c, s);
    float x1 = bf2f(base[i]), x2 = bf2f(base[i + half]);
    bf16 y1 = f2bf(x1 * c - x2 * s), y2 = f2bf(x2 * c + x1 * s);
    base[i] = y1;
    base[i + half] = y2;
    if (!isq && slot >= 0) {
      int off = (h - q_heads) * head_dim;
      store_kv(kd, off + i, y1);
      store_kv(kd, off + i + half, y2);
    }
  }
  if (slot >= 0) {
    const bf16* vs = v + (size_t)t * width;
    C* vd = v_cache + (size_t)slot * width;
    for (int i = blockIdx.y * blockDim.x + threadIdx.x; i < width; i += gridDim.y * blockDim.x) store_kv(vd, i, vs[i]);
  }
}

// The kernels' common signature; BODY is rope_write_kv_body or rope_write_kv8_body (below).
#define ROPE_WRITE_KV(NAME, BODY, C)                                                                              \
  extern "C" __global__ void NAME(bf16* q, bf16* k, const bf16* __restrict__ v, const int* __restrict__ positions, \
                                  const float* __restrict__ cos_t, const float* __restrict__ sin_t,               \
                                  const float* __restrict__ inv_freq, int max_pos, int q_heads, int k_heads,      \
                                  int head_dim, C* __restrict__ k_cache, C* __restrict__ v_cache,                 \
                                  const int* __restrict__ slots) {                                                \
    BODY(q, k, v, positions, cos_t, sin_t, inv_freq, max_pos, q_heads, k_heads, head_dim, k_cache, v_cache, slots); \
  }

ROPE_WRITE_KV(rope_write_kv, rope_write_kv_body, bf16)
ROPE_WRITE_KV(rope_write_kv_fp8, rope_write_kv_body, fp8)

// rope_write_kv in 16-byte pieces (rope_write_kv8, rope_write_kv8_fp8): a thread rotates 8 pairs (i .. i+7,
// i + d/2 ..) of one head, or copies 8 values of v into the cache. Needs head_dim % 16 == 0 and 16-byte
// aligned q, k, v and caches (the host checks). Same arithmetic per value as rope_write_kv. (That kernel,
// one pair a thread in 2-byte accesses, took 376 us for a 8192-token Llama-2-7B prefill step on an
// H200, ~0.9 TB/s.) Launch: grid (T, Y), block 128; the threads of a token stride over its
// (q_heads + k_heads) * d/16 rotations and then k_heads * d/8 copies.
//
// QKV (rope_write_kv8_qkv[_fp8]): q, k and v are read from one row of qkv (row stride qkv_stride: q, then
// k, then v, as one GEMM of the stacked weights writes them), and the rotated q and k and the v go to
// their own buffers as well as the K/V to the cache.
template <typename C, bool QKV>
__device__ __forceinline__ void rope_write_kv8_body(const bf16* __restrict__ qkv, int qkv_stride, bf16* q, bf16* k,
                                                    const bf16* __restrict__ v, bf16* v_out,
                                                    const int* __restrict__ positions,
                                                    const float* __restrict__ cos_t, const float* __restrict__ sin_t,
                                                    const float* __restrict__ inv_freq, int max_pos, int q_heads,
                                                    int k_heads, int head_dim, C* __restrict__ k_cache,
                                                    C* __restrict__ v_cache, const int* __restrict__ slots) {
  pdl_trigger();
  const int t = blockIdx.x;
  const int p = positions[t];
  const long long slot = slots[t];
  const int half = head_dim >> 1, hu = half >> 3;
  const int units = (q_heads + k_heads) * hu;
  const int width = k_heads * head_dim;
  const int all = units + (QKV || slot >= 0 ? width >> 3 : 0);
  const bf16* row = QKV ? qkv + (size_t)t * qkv_stride : nullptr;
  pdl_wait();
  for (int u = blockIdx.y * blockDim.x + threadIdx.x; u < all; u += gridDim.y * blockDim.x) {
    if (u < units) {
      const int h = u / hu, i = (u - h * hu) * 8;
      const bool isq = h < q_heads;
      bf16* base = isq ? q + ((size_t)t * q_heads + h) * head_dim
                       : k + ((size_t)t * k_heads + (h - q_heads)) * head_dim;
      const bf16* from = QKV ? row + (size_t)h * head_dim : base;  // k's heads follow q's in the row
      float c[8], s[8], x1[8], x2[8];
      if (p < max_pos) {
        const float4* cp = reinterpret_cast<const float4*>(cos_t + (size_t)p * half + i);
        const float4* sp = reinterpret_cast<const float4*>(sin_t + (size_t)p * half + i);
        const float4 c0 = cp[0], c1 = cp[1], s0 = sp[0], s1 = sp[1];
        c[0] = c0.x; c[1] = c0.y; c[2] = c0.z; c[3] = c0.w; c[4] = c1.x; c[5] = c1.y; c[6] = c1.z; c[7] = c1.w;
        s[0] = s0.x; s[1] = s0.y; s[2] = s0.z; s[3] = s0.w; s[4] = s1.x; s[5] = s1.y; s[6] = s1.z; s[7] = s1.w;
      } else {
#pragma unroll
        for (int j = 0; j < 8; j++) {
          const float a = (float)p * inv_freq[i + j];
          c[j] = cosf(a);
          s[j] = sinf(a);
        }
      }
      unpack_bf16x8(*reinterpret_cast<const uint4*>(from + i), x1);
      unpack_bf16x8(*reinterpret_cast<const uint4*>(from + i + half), x2);
      float y1[8], y2[8];
#pragma unroll
      for (int j = 0; j < 8; j++) {
        y1[j] = x1[j] * c[j] - x2[j] * s[j];
        y2[j] = x2[j] * c[j] + x1[j] * s[j];
      }
      const uint4 a = pack_bf16x8(y1), b = pack_bf16x8(y2);
      *reinterpret_cast<uint4*>(base + i) = a;
      *reinterpret_cast<uint4*>(base + i + half) = b;
      if (!isq && slot >= 0) {
        C* kd = k_cache + (size_t)slot * width + (h - q_heads) * head_dim;
        store_kv8(kd + i, a);
        store_kv8(kd + i + half, b);
      }
    } else {
      const int i = (u - units) * 8;
      const uint4 x = *reinterpret_cast<const uint4*>(QKV ? row + (size_t)(q_heads + k_heads) * head_dim + i
                                                          : v + (size_t)t * width + i);
      if (QKV) *reinterpret_cast<uint4*>(v_out + (size_t)t * width + i) = x;
      if (slot >= 0) store_kv8(v_cache + (size_t)slot * width + i, x);
    }
  }
}

// The in-place kernels through ROPE_WRITE_KV (above).
template <typename C>
__device__ __forceinline__ void rope_write_kv8_inplace(bf16* q, bf16* k, const bf16* __restrict__ v,
                                                       const int* __restrict__ positions,
                                                       const float* __restrict__ cos_t, const float* __restrict__ sin_t,
                                                       const float* __restrict__ inv_freq, int max_pos, int q_heads,
                                                       int k_heads, int head_dim, C* __restrict__ k_cache,
                                                       C* __restrict__ v_cache, const int* __restrict__ slots) {
  rope_write_kv8_body<C, false>(nullptr, 0, q, k, v, nullptr, positions, cos_t, sin_t, inv_freq, max_pos, q_heads,
                                k_heads, head_dim, k_cache, v_cache, slots);
}

#define ROPE_WRITE_KV8_QKV(NAME, C)                                                                               \
  extern "C" __global__ void NAME(const bf16* __restrict__ qkv, int qkv_stride, bf16* q, bf16* k, bf16* v,        \
                                  const int* __restrict__ positions, const float* __restrict__ cos_t,             \
                                  const float* __restrict__ sin_t, const float* __restrict__ inv_freq,            \
                                  int max_pos, int q_heads, int k_heads, int head_dim, C* __restrict__ k_cache,   \
                                  C* __restrict__ v_cache, const int* __restrict__ slots) {                       \
    rope_write_kv8_body<C, true>(qkv, qkv_stride, q, k, nullptr, v, positions, cos_t, sin_t, inv_freq, max_pos,   \
                                 q_heads, k_heads, head_dim, k_cache, v_cache, slots);                            \
  }

ROPE_WRITE_KV(rope_write_kv8, rope_write_kv8_inplace, bf16)
ROPE_WRITE_KV(rope_write_kv8_fp8, rope_write_kv8_inplace, fp8)
ROPE_WRITE_KV8_QKV(rope_write_kv8_qkv, bf16)
ROPE_WRITE_KV8_QKV(rope_write_kv8_qkv_fp8, fp8)
