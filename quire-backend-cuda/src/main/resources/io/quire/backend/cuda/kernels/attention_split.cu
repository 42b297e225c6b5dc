// Split-K paged attention (flash-decoding) for the mixed batch, grouped-query aware.
// One block per (query token, kv head, group of up to MAXG q heads of that kv head, context chunk):
// the block reads each K/V row of its chunk once for all its q heads. Query token t of request r
// sees keys 0 .. ctx-1 with ctx = seq_lens[r] - (query_start[r+1] - 1 - t). With num_splits == 1
// the block normalises and writes out directly; otherwise it writes an unnormalised partial
// (acc, max, sum) per (token, head, split) and attn_reduce merges the splits.
// Layout: a key row is head_dim bf16 read as 16-byte pieces by L = pow2ceil(head_dim / 8) lanes,
// so a warp covers 32 / L keys at once and the block NG = 128 / L keys; a tile is NG * KU keys whose
// K and V loads are all issued before any is used. Scores of a tile go through shared memory; the
// running max / sum (online softmax) are kept per head across tiles.
// Requires head_dim % 8 == 0, head_dim <= 256. Launch: grid (T, num_kv_heads * hgroups, num_splits),
// block 128, chunk a multiple of the tile (NG * KU keys).
#include "common.cuh"

#define THREADS 128
#define NWARPS 4
#define MAXG 8
#define KU 4

extern "C" __global__ void __launch_bounds__(THREADS) attn_split(
    const bf16* __restrict__ q, const bf16* __restrict__ k_cache, const bf16* __restrict__ v_cache,
    bf16* __restrict__ out, float* __restrict__ part_o, float* __restrict__ part_ml,
    const int* __restrict__ token_req, const int* __restrict__ query_start,
    const int* __restrict__ seq_lens, const int* __restrict__ block_tables, int max_blocks,
    int block_size, int num_heads, int num_kv_heads, int head_dim, int hgroups, int lanes_per_key,
    int chunk, int num_splits, float scale) {
  PDL_ENTER();
  __shared__ __align__(16) float sbuf[NWARPS * MAXG * 256];
  __shared__ float s_m[MAXG], s_l[MAXG], s_corr[MAXG];
  const int t = blockIdx.x;
  const int kvh = blockIdx.y / hgroups, hg = blockIdx.y - kvh * hgroups;
  const int G = num_heads / num_kv_heads;
  const int h0 = kvh * G + hg * MAXG;
  const int gcount = min(MAXG, G - hg * MAXG);
  const int split = blockIdx.z;
  const int r = token_req[t];
  const int ctx = seq_lens[r] - (query_start[r + 1] - 1 - t);
  const int start = split * chunk;
  const int end = min(ctx, start + chunk);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int L = lanes_per_key;
  const int NG = THREADS / L;
  const int grp = tid / L, sub = tid - grp * L;
  const int tile = NG * KU;
  const bool dim_ok = sub * 8 < head_dim;

  if (start >= end) {  // an empty chunk (a shorter context in the batch): contributes nothing
    if (num_splits > 1 && tid < gcount) {
      size_t pi = ((size_t)t * num_heads + h0 + tid) * num_splits + split;
      part_ml[2 * pi] = neg_inf();
      part_ml[2 * pi + 1] = 0.f;
    }
    return;
  }

  float* ss = sbuf;  // [MAXG][tile] scores, then probabilities
  if (tid < MAXG) {
    s_m[tid] = neg_inf();
    s_l[tid] = 0.f;
  }
  // q straight into registers: lane sub holds dims sub*8 .. sub*8+7 of each head, pre-scaled.
  float qf[MAXG][8];
#pragma unroll
  for (int g = 0; g < MAXG; g++) {
    if (g < gcount && dim_ok) {
      unpack_bf16x8(ld16(q + ((size_t)t * num_heads + h0 + g) * head_dim + sub * 8), qf[g]);
#pragma unroll
      for (int e = 0; e < 8; e++) qf[g][e] *= scale;
    } else {
#pragma unroll
      for (int e = 0; e < 8; e++) qf[g][e] = 0.f;
    }
  }

  float acc[MAXG][8];
#pragma unroll
  for (int g = 0; g < MAXG; g++)
#pragma unroll
    for (int e = 0; e < 8; e++) acc[g][e] = 0.f;

  const int* table = block_tables + (size_t)r * max_blocks;
  const size_t row_stride = (size_t)num_kv_heads * head_dim;
  const size_t head_off = (size_t)kvh * head_dim + sub * 8;

  for (int t0 = start; t0 < end; t0 += tile) {
    uint4 kv[KU], vv[KU];
#pragma unroll
    for (int u = 0; u < KU; u++) {
      int pos = t0 + u * NG + grp;
      if (pos < end && dim_ok) {
        size_t slot = (size_t)table[pos / block_size] * block_size + pos % block_size;
        kv[u] = ld16(k_cache + slot * row_stride + head_off);
        vv[u] = ld16(v_cache + slot * row_stride + head_off);
      } else {
        kv[u].x = kv[u].y = kv[u].z = kv[u].w = 0u;
        vv[u].x = vv[u].y = vv[u].z = vv[u].w = 0u;
      }
    }
    // Scores: each group of L lanes dots its key with every q head.
#pragma unroll
    for (int u = 0; u < KU; u++) {
      float kf[8];
      unpack_bf16x8(kv[u], kf);
      int pos = t0 + u * NG + grp;
#pragma unroll
      for (int g = 0; g < MAXG; g++) {
        if (g < gcount) {
          float s = 0.f;
#pragma unroll
          for (int e = 0; e < 8; e++) s += qf[g][e] * kf[e];
          for (int o = L >> 1; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
          if (sub == 0) ss[g * tile + u * NG + grp] = pos < end ? s : neg_inf();
        }
      }
    }
    __syncthreads();
    // Online softmax per head: warp w takes heads w, w + NWARPS, ...
    for (int g = warp; g < gcount; g += NWARPS) {
      float mt = neg_inf();
      for (int i = lane; i < tile; i += 32) mt = fmaxf(mt, ss[g * tile + i]);
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, o));
      float mo = s_m[g];
      float mn = fmaxf(mo, mt);
      float sum = 0.f;
      for (int i = lane; i < tile; i += 32) {
        float p = __expf(ss[g * tile + i] - mn);
        ss[g * tile + i] = p;
        sum += p;
      }
      sum = warp_sum(sum);
      if (lane == 0) {
        float c = __expf(mo - mn);  // 0 on the first tile (mo = -inf)
        s_corr[g] = c;
        s_l[g] = s_l[g] * c + sum;
        s_m[g] = mn;
      }
    }
    __syncthreads();
    // Accumulate V weighted by the probabilities.
#pragma unroll
    for (int g = 0; g < MAXG; g++) {
      if (g < gcount) {
        float c = s_corr[g];
#pragma unroll
        for (int e = 0; e < 8; e++) acc[g][e] *= c;
      }
    }
#pragma unroll
    for (int u = 0; u < KU; u++) {
      float vf[8];
      unpack_bf16x8(vv[u], vf);
#pragma unroll
      for (int g = 0; g < MAXG; g++) {
        if (g < gcount) {
          float p = ss[g * tile + u * NG + grp];
#pragma unroll
          for (int e = 0; e < 8; e++) acc[g][e] += p * vf[e];
        }
      }
    }
    __syncthreads();  // ss is rewritten by the next tile
  }

  // Sum the groups: first across the groups of a warp (lanes with the same sub), then across warps.
#pragma unroll
  for (int g = 0; g < MAXG; g++)
#pragma unroll
    for (int e = 0; e < 8; e++)
      for (int o = L; o < 32; o <<= 1) acc[g][e] += __shfl_xor_sync(0xffffffffu, acc[g][e], o);
  float* red = sbuf;  // [NWARPS][MAXG * head_dim]; ss is no longer read
  if (lane < L && dim_ok) {
#pragma unroll
    for (int g = 0; g < MAXG; g++)
      if (g < gcount)
#pragma unroll
        for (int e = 0; e < 8; e++) red[(warp * MAXG + g) * head_dim + sub * 8 + e] = acc[g][e];
  }
  __syncthreads();
  for (int i = tid; i < gcount * head_dim; i += THREADS) {
    int g = i / head_dim, d = i - g * head_dim;
    float o = 0.f;
#pragma unroll
    for (int w = 0; w < NWARPS; w++) o += red[(w * MAXG + g) * head_dim + d];
    size_t hrow = (size_t)t * num_heads + h0 + g;
    if (num_splits == 1) {
      out[hrow * head_dim + d] = f2bf(o / s_l[g]);
    } else {
      part_o[(hrow * num_splits + split) * head_dim + d] = o;
    }
  }
  if (num_splits > 1 && tid < gcount) {
    size_t pi = ((size_t)t * num_heads + h0 + tid) * num_splits + split;
    part_ml[2 * pi] = s_m[tid];
    part_ml[2 * pi + 1] = s_l[tid];
  }
}

// Merges the splits of each (token, head): out = sum_s e^(m_s - M) acc_s / sum_s e^(m_s - M) l_s.
// Launch: grid (T, num_heads), block 128 (threads stride over head_dim); num_splits <= 1024. With
// tokens non-null, block x merges token tokens[x] (a list of the batch's tokens; partials of item x),
// else token x;
// chunk <= 0: each token's split_chunk(ctx, num_splits) (common.cuh).
extern "C" __global__ void __launch_bounds__(128) attn_reduce(
    const float* __restrict__ part_o, const float* __restrict__ part_ml, bf16* __restrict__ out,
    const int* __restrict__ tokens, const int* __restrict__ token_req, const int* __restrict__ query_start,
    const int* __restrict__ seq_lens, int num_heads, int head_dim, int chunk, int num_splits) {
  pdl_trigger();
  __shared__ float wts[1024];
  __shared__ float red[4];
  // The batch's metadata comes from the host (no kernel writes it): read before waiting for the
  // attention kernel, so only the partials wait for it.
  const int t = tokens ? tokens[blockIdx.x] : blockIdx.x, h = blockIdx.y;
  const int r = token_req[t];
  const int ctx = seq_lens[r] - (query_start[r + 1] - 1 - t);
  if (chunk <= 0) chunk = split_chunk(ctx, num_splits);
  const int ns = min(num_splits, (ctx + chunk - 1) / chunk);
  pdl_wait();
  const size_t hrow = (size_t)t * num_heads + h;
  const size_t prow = (size_t)blockIdx.x * num_heads + h;  // partials are indexed by the launch's item
  const float* ml = part_ml + 2 * prow * num_splits;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  float mx = neg_inf();
  for (int s = tid; s < ns; s += blockDim.x) mx = fmaxf(mx, ml[2 * s]);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
  if (lane == 0) red[warp] = mx;
  __syncthreads();
  mx = fmaxf(fmaxf(red[0], red[1]), fmaxf(red[2], red[3]));
  float den = 0.f;
  for (int s = tid; s < ns; s += blockDim.x) {
    float wgt = __expf(ml[2 * s] - mx);
    wts[s] = wgt;
    den += wgt * ml[2 * s + 1];
  }
  float inv = 1.f / block_sum(den);  // block_sum's barriers also publish wts[]
  const float* po = part_o + prow * num_splits * head_dim;
  for (int d = tid; d < head_dim; d += blockDim.x) {
    float o0 = 0.f, o1 = 0.f, o2 = 0.f, o3 = 0.f;
    int s = 0;
    for (; s + 3 < ns; s += 4) {
      o0 += wts[s] * po[(size_t)s * head_dim + d];
      o1 += wts[s + 1] * po[(size_t)(s + 1) * head_dim + d];
      o2 += wts[s + 2] * po[(size_t)(s + 2) * head_dim + d];
      o3 += wts[s + 3] * po[(size_t)(s + 3) * head_dim + d];
    }
    for (; s < ns; s++) o0 += wts[s] * po[(size_t)s * head_dim + d];
    out[hrow * head_dim + d] = f2bf(((o0 + o1) + (o2 + o3)) * inv);
  }
}
