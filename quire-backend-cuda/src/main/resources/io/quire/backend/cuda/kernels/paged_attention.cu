// Causal paged attention for the mixed batch (prefill chunks, prefix-cache hits and decode alike).
// Query token t of request r sees keys 0 .. ctx-1 with ctx = seq_lens[r] - (query_start[r+1] - 1 - t),
// read through block_tables[r] from the cache [num_blocks, block_size, num_kv_heads, head_dim].
// GQA: head h reads kv head h / (num_heads / num_kv_heads).
// Launch: grid (T, num_heads), block 128 = 4 warps. Each warp walks keys warp, warp+4, ... with its
// own online softmax (lane owns dims lane + 32j); the four partial states merge at the end.
// This is the simple, correct version: no tiling across query tokens, one key per warp step.
// Assumes head_dim <= 256; scores and the softmax in fp32.
#include "common.cuh"

#define WARPS 4
#define MAXJ 8

extern "C" __global__ void __launch_bounds__(128) paged_attention(
    const bf16* __restrict__ q, const bf16* __restrict__ k_cache, const bf16* __restrict__ v_cache,
    bf16* __restrict__ out, const int* __restrict__ token_req, const int* __restrict__ query_start,
    const int* __restrict__ seq_lens, const int* __restrict__ block_tables, int max_blocks,
    int block_size, int num_heads, int num_kv_heads, int head_dim, float scale) {
  PDL_ENTER();
  int t = blockIdx.x, h = blockIdx.y;
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int r = token_req[t];
  int ctx = seq_lens[r] - (query_start[r + 1] - 1 - t);
  int kvh = h / (num_heads / num_kv_heads);
  const bf16* qrow = q + ((size_t)t * num_heads + h) * head_dim;
  float qv[MAXJ], acc[MAXJ];
#pragma unroll
  for (int j = 0; j < MAXJ; j++) {
    int d = lane + 32 * j;
    qv[j] = d < head_dim ? bf2f(qrow[d]) * scale : 0.f;
    acc[j] = 0.f;
  }
  float m = neg_inf(), l = 0.f;
  const int* table = block_tables + (size_t)r * max_blocks;
  size_t slot_stride = (size_t)num_kv_heads * head_dim;
  for (int pos = warp; pos < ctx; pos += WARPS) {
    size_t slot = (size_t)table[pos / block_size] * block_size + pos % block_size;
    const bf16* krow = k_cache + slot * slot_stride + (size_t)kvh * head_dim;
    const bf16* vrow = v_cache + slot * slot_stride + (size_t)kvh * head_dim;
    float s = 0.f;
#pragma unroll
    for (int j = 0; j < MAXJ; j++) {
      int d = lane + 32 * j;
      if (d < head_dim) s += qv[j] * bf2f(krow[d]);
    }
    s = warp_sum(s);
    float m2 = fmaxf(m, s);
    float corr = expf(m - m2);
    float p = expf(s - m2);
    l = l * corr + p;
#pragma unroll
    for (int j = 0; j < MAXJ; j++) {
      int d = lane + 32 * j;
      if (d < head_dim) acc[j] = acc[j] * corr + p * bf2f(vrow[d]);
    }
    m = m2;
  }
  __shared__ float sm[WARPS], sl[WARPS];
  __shared__ float sacc[WARPS][256];
  if (lane == 0) {
    sm[warp] = m;
    sl[warp] = l;
  }
#pragma unroll
  for (int j = 0; j < MAXJ; j++) {
    int d = lane + 32 * j;
    if (d < head_dim) sacc[warp][d] = acc[j];
  }
  __syncthreads();
  float mx = neg_inf();
#pragma unroll
  for (int w = 0; w < WARPS; w++) mx = fmaxf(mx, sm[w]);
  float f[WARPS], total = 0.f;
#pragma unroll
  for (int w = 0; w < WARPS; w++) {
    f[w] = sl[w] > 0.f ? expf(sm[w] - mx) : 0.f;
    total += sl[w] * f[w];
  }
  float inv = 1.f / total;
  bf16* orow = out + ((size_t)t * num_heads + h) * head_dim;
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float o = 0.f;
#pragma unroll
    for (int w = 0; w < WARPS; w++) o += sacc[w][d] * f[w];
    orow[d] = f2bf(o * inv);
  }
}
