// Paged attention on the tensor cores (mma.sync bf16 -> fp32), FlashAttention-2 style, for the mixed
// batch. The query rows of one block are (query token, q head) pairs of one request and one kv head,
// token-major: row i is token tok0 + i / nh, head h0 + i % nh. So the G q heads that share a kv head
// (grouped-query attention) form the rows of one matrix product against each K/V tile, and a decode
// token with G = 4 fills 4 of the 16 rows an mma takes.
//
// K/V tiles of 32 keys are gathered from the paged cache by slot (block table) into shared memory with
// cp.async, two stages, so the next tile streams in while this one is used. S = Q K^T and O += P V run
// on mma.m16n8k16 (m16n8k8 for an 8-key slice); the running max and sum are kept per row (online
// softmax), the scores in fp32 registers; P goes into P V as two bf16 terms (see split2).
//
// Two shapes of block (4 warps, 128 threads):
//   WM = 4 (prefill): the warps own 16 rows each (64 rows: 64 / G tokens of one request's chunk) and
//     every warp walks every key tile; causal masking per row.
//   WM = 1 (decode): one token, its G <= 16 heads in 16 rows; the 4 warps take 8 keys each of every
//     32-key tile and their partial results are merged at the end. With num_splits > 1 a block covers
//     one chunk of the context and writes an unnormalised partial (acc, max, sum) for attn_reduce
//     (attention_split.cu), rows indexed by the launch's decode item (blockIdx.x).
// A row of token t sees keys 0 .. ctx-1, ctx = seq_lens[r] - (query_start[r + 1] - 1 - t).
// Requires head_dim D in {16, 32, 64, 128}.
//
// fp8 KV cache (kernels *_fp8, kv_cache_dtype fp8, sm_89+): the tiles stream in as e4m3 bytes (half the
// bytes of bf16) into their own stages and are widened to f16 in shared memory (exactly: e4m3 is a subset
// of f16) before use, so the products run on f16 mma with q rounded to f16 (saturating) and P as one f16
// term (its rounding, 2^-12 of |v|, is far below the e4m3 rounding of v itself). A decode warp widens only
// its own 8 keys of a tile (no barrier); prefill blocks widen the whole tile.
#include "common.cuh"
#include "mma.cuh"

#define BN 32        // keys per tile
// K/V stages of a decode block: 3 (dynamic shared memory, 3 x 2 x 32 x (D + 8) x 2 bytes, > 48 KB at
// D = 128) for batches that fill the GPU; 2 (static, 35 KB) for small, split launches. Measured on an
// H200, Llama-3-8B shape: 3 stages read a 256-row step's KV at 2.93 TB/s against 2.84, but batch-1
// decode took 4.71 ms/token with them against 4.48 with 2 (same kernels otherwise).
#define NTHREADS 128

template <int D, int STAGES, bool F8>
struct Smem {
  static constexpr int LD = D + 8;  // padded row: 8 consecutive keys fall in different banks
  bf16 k[STAGES][BN][LD];
  bf16 v[STAGES][BN][LD];
};

// fp8 cache: the e4m3 stages (rows padded to keep 16-byte chunks aligned) and one f16 tile widened from
// the stage in use.
template <int D, int STAGES>
struct Smem<D, STAGES, true> {
  static constexpr int LD = D + 8;
  static constexpr int L8 = D + 16;
  bf16 k[1][BN][LD];
  bf16 v[1][BN][LD];
  fp8 k8[STAGES][BN][L8];
  fp8 v8[STAGES][BN][L8];
};

// One block's work: request r, query tokens [tok0, tok0 + ntok), q heads [h0, h0 + nh) of kv head kvh,
// keys [kbeg, kend). Writes out (num_splits == 1) or the partials of split `split`.
template <int D, int WM, int STAGES, bool F8>
__device__ __forceinline__ void attn_block(
    unsigned char* smem_raw, const bf16* __restrict__ q, const void* __restrict__ k_cache, const void* __restrict__ v_cache,
    bf16* __restrict__ out, float* __restrict__ part_o, float* __restrict__ part_ml, int r, int tok0, int ntok,
    int h0, int nh, int kvh, int kbeg, int kend_split, const int* __restrict__ query_start,
    const int* __restrict__ seq_lens, const int* __restrict__ block_tables, int max_blocks, int block_size,
    int num_heads, int num_kv_heads, int split, int num_splits, int pitem, float scale) {
  constexpr int WK = 4 / WM;           // warps sharing the rows, splitting each tile's keys
  constexpr int KW = BN / WK;          // keys per warp per tile: 32 (prefill) or 8 (decode)
  constexpr int NT = KW / 8;           // score n-tiles per warp
  constexpr int KS = D / 16;           // k-steps over the head dimension
  constexpr int DT = D / 8;            // output n-tiles
  typedef typename KvType<F8>::T KV;   // cached element
  constexpr int ESZ = sizeof(KV);
  constexpr int CH = D * ESZ / 16;     // 16-byte chunks per key row
  Smem<D, STAGES, F8>& sm = *reinterpret_cast<Smem<D, STAGES, F8>*>(smem_raw);
  __shared__ float s_m[4][16], s_l[4][16];

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = WM == 1 ? 0 : warp, wk = WM == 1 ? warp : 0;
  const int qend = query_start[r + 1];
  const int seq = seq_lens[r];
  const int rows = ntok * nh;
  // The two rows this lane holds in the accumulators: g = lane / 4 and g + 8 of the warp's 16.
  const int ra = wm * 16 + (lane >> 2), rb = ra + 8;
  const int ctx_a = ra < rows ? seq - (qend - 1 - (tok0 + ra / nh)) : 0;
  const int ctx_b = rb < rows ? seq - (qend - 1 - (tok0 + rb / nh)) : 0;
  // Keys this block needs: up to the longest context among its rows (the last token's).
  const int kend = min(kend_split, seq - (qend - 1 - (tok0 + ntok - 1)));
  const int ntiles = kend > kbeg ? (kend - kbeg + BN - 1) / BN : 0;
  const int* table = block_tables + (size_t)r * max_blocks;
  const size_t row_stride = (size_t)num_kv_heads * D;
  // PRE (two-stage decode blocks): the previous kernel (rope_write_kv) wrote only this token's own key,
  // at position seq - 1; every other key came from earlier steps. So the first tile goes out before
  // waiting for that kernel, all but that key, and q and that key follow the wait.
  constexpr bool PRE = WM == 1 && STAGES == 2;
  const int newpos = seq - 1;
  // part 0: every key of the tile; 1: all but newpos; 2: newpos only (nothing else is touched, since a
  // copy that is not valid zero-fills its destination).
  // A thread copies one 16-byte chunk (ch) of keys key0, key0 + KPI, ...; block tables are indexed by
  // shift and mask when block_size is a power of two (always, in practice), not by integer division,
  // which made up much of this loop (the decode launch of a large batch is bound by instruction issue).
  constexpr int KPI = NTHREADS / CH;   // keys per pass of the 128 threads
  const int ch = tid % CH, key0 = tid / CH;
  const size_t col = (size_t)kvh * D + ch * (16 / ESZ);
  const int bs_shift = (block_size & (block_size - 1)) == 0 ? __ffs(block_size) - 1 : -1;
  // Shared addresses, the column's pointers and the row stride in bytes are set up once; with a
  // power-of-two block size a key's address is a table read, a 32-bit slot and one wide multiply.
  constexpr unsigned SROW = F8 ? D + 16 : (D + 8) * 2;  // bytes per key row of a stage (Smem's L8, LD)
  unsigned sk0, sv0;
  if constexpr (F8) {
    sk0 = smem_addr(&sm.k8[0][key0][ch * 16]);
    sv0 = smem_addr(&sm.v8[0][key0][ch * 16]);
  } else {
    sk0 = smem_addr(&sm.k[0][key0][ch * 8]);
    sv0 = smem_addr(&sm.v[0][key0][ch * 8]);
  }
  const unsigned char* kcol = static_cast<const unsigned char*>(k_cache) + col * ESZ;
  const unsigned char* vcol = static_cast<const unsigned char*>(v_cache) + col * ESZ;
  const unsigned rs_bytes = (unsigned)(row_stride * ESZ);
  auto load_tile = [&](int tile, int buf, int part) {
    const int p0 = kbeg + tile * BN;
#pragma unroll
    for (int key = key0; key < BN; key += KPI) {
      const int pos = p0 + key;
      if (part != 0 && (pos == newpos) != (part == 2)) continue;
      const bool ok = pos < kend;
      const int pc = ok ? pos : 0;  // a valid position for the (unused) address of a zero-fill
      const size_t off = kv_row_offset(table, pc, block_size, bs_shift, rs_bytes);
      const unsigned so = (unsigned)(buf * BN + key - key0) * SROW;
      cp_async16s(sk0 + so, kcol + off, ok);
      cp_async16s(sv0 + so, vcol + off, ok);
    }
  };
  if constexpr (PRE) {
    if (ntiles > 0) load_tile(0, 0, 1);
    pdl_wait();
  }

  // Q fragments (A operand, row-major 16 x D per warp), pre-scaled by nothing: scale goes on the scores.
  unsigned qa[KS][4];
  {
    const int c0 = (lane & 3) * 2;
#pragma unroll
    for (int half = 0; half < 2; half++) {
      const int row = half ? rb : ra;
      const bf16* qrow = row < rows ? q + ((size_t)(tok0 + row / nh) * num_heads + h0 + row % nh) * D : nullptr;
#pragma unroll
      for (int ks = 0; ks < KS; ks++) {
        qa[ks][half] = qrow ? *reinterpret_cast<const unsigned*>(qrow + ks * 16 + c0) : 0u;
        qa[ks][half + 2] = qrow ? *reinterpret_cast<const unsigned*>(qrow + ks * 16 + 8 + c0) : 0u;
        if constexpr (F8) {
          qa[ks][half] = bf2h2(qa[ks][half]);
          qa[ks][half + 2] = bf2h2(qa[ks][half + 2]);
        }
      }
    }
  }

  float o[DT][4];
#pragma unroll
  for (int i = 0; i < DT; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  float m_a = neg_inf(), m_b = neg_inf(), l_a = 0.f, l_b = 0.f;
  const float sl2 = scale * 1.4426950408889634f;  // scores in log2 units: exp2 below

  // STAGES - 1 tiles in flight ahead of the one in use; one commit group per tile (empty past the end),
  // so waiting for all but the newest STAGES - 1 groups means this tile has landed.
#pragma unroll
  for (int st = 0; st < STAGES - 1; st++) {
    if (st < ntiles) load_tile(st, st, PRE ? 2 : 0);
    cp_async_commit();
  }
  for (int tile = 0; tile < ntiles; tile++) {
    const int buf = tile % STAGES;
    if (tile + STAGES - 1 < ntiles) load_tile(tile + STAGES - 1, (tile + STAGES - 1) % STAGES, 0);
    cp_async_commit();
    cp_async_wait<STAGES - 1>();
    __syncthreads();
    if constexpr (F8) {  // widen the e4m3 stage to the f16 tile: a decode warp its own keys, else the block all
      constexpr int C8 = D / 16, NK = WM == 1 ? KW : BN, TN = WM == 1 ? 32 : NTHREADS;
      const int kfirst = WM == 1 ? wk * KW : 0;
#pragma unroll
      for (int i = WM == 1 ? lane : tid; i < 2 * NK * C8; i += TN) {
        const bool isv = i >= NK * C8;
        const int j = isv ? i - NK * C8 : i, key = kfirst + j / C8, c = j % C8;
        const uint4 x = *reinterpret_cast<const uint4*>(isv ? &sm.v8[buf][key][c * 16] : &sm.k8[buf][key][c * 16]);
        uint4 y0, y1;
        y0.x = e4m3x2_to_f16x2(x.x & 0xffffu);
        y0.y = e4m3x2_to_f16x2(x.x >> 16);
        y0.z = e4m3x2_to_f16x2(x.y & 0xffffu);
        y0.w = e4m3x2_to_f16x2(x.y >> 16);
        y1.x = e4m3x2_to_f16x2(x.z & 0xffffu);
        y1.y = e4m3x2_to_f16x2(x.z >> 16);
        y1.z = e4m3x2_to_f16x2(x.w & 0xffffu);
        y1.w = e4m3x2_to_f16x2(x.w >> 16);
        bf16* dst = isv ? &sm.v[0][key][c * 16] : &sm.k[0][key][c * 16];
        *reinterpret_cast<uint4*>(dst) = y0;
        *reinterpret_cast<uint4*>(dst + 8) = y1;
      }
      if constexpr (WM == 1) __syncwarp(); else __syncthreads();
    }
    const int cb = F8 ? 0 : buf;  // the tile the products read
    // A prefill warp whose 16 rows are all past the tile's rows (a short tile: in batch-invariant mode a
    // decode token is a tile of G rows) only helps load.
    if (WM > 1 && wm * 16 >= rows) {
      __syncthreads();
      continue;
    }

    const int key0 = wk * KW;              // this warp's first key within the tile
    const int pbase = kbeg + tile * BN + key0;
    // S = Q K^T for this warp's KW keys: NT n-tiles of 8 keys.
    float s[NT][4];
#pragma unroll
    for (int nt = 0; nt < NT; nt++) {
      s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
      if constexpr (KS % 2 == 0 && WM > 1) {  // (decode blocks keep 32-bit loads: ldmatrix made decode2_tc128 spill)
        // ldmatrix: matrices (keys nt*8.., dims 16ks + 0 | 8 | 16 | 24) are the B fragments of k-steps ks, ks+1.
        const bf16* krow = &sm.k[cb][key0 + nt * 8 + (lane & 7)][(lane >> 3) * 8];
#pragma unroll
        for (int ks = 0; ks < KS; ks += 2) {
          unsigned b[4];
          ldsm_x4(b, krow + ks * 16);
          mma16816x<F8>(s[nt], qa[ks], b[0], b[1]);
          mma16816x<F8>(s[nt], qa[ks + 1], b[2], b[3]);
        }
      } else {
        const bf16* krow = &sm.k[cb][key0 + nt * 8 + (lane >> 2)][(lane & 3) * 2];
#pragma unroll
        for (int ks = 0; ks < KS; ks++) {
          unsigned b0 = *reinterpret_cast<const unsigned*>(krow + ks * 16);
          unsigned b1 = *reinterpret_cast<const unsigned*>(krow + ks * 16 + 8);
          mma16816x<F8>(s[nt], qa[ks], b0, b1);
        }
      }
    }
    // Mask, scale, running max.
    float tmax_a = neg_inf(), tmax_b = neg_inf();
#pragma unroll
    for (int nt = 0; nt < NT; nt++) {
      const int pos = pbase + nt * 8 + (lane & 3) * 2;
      s[nt][0] = pos < ctx_a ? s[nt][0] * sl2 : neg_inf();
      s[nt][1] = pos + 1 < ctx_a ? s[nt][1] * sl2 : neg_inf();
      s[nt][2] = pos < ctx_b ? s[nt][2] * sl2 : neg_inf();
      s[nt][3] = pos + 1 < ctx_b ? s[nt][3] * sl2 : neg_inf();
      tmax_a = fmaxf(tmax_a, fmaxf(s[nt][0], s[nt][1]));
      tmax_b = fmaxf(tmax_b, fmaxf(s[nt][2], s[nt][3]));
    }
    tmax_a = fmaxf(tmax_a, __shfl_xor_sync(0xffffffffu, tmax_a, 1));
    tmax_a = fmaxf(tmax_a, __shfl_xor_sync(0xffffffffu, tmax_a, 2));
    tmax_b = fmaxf(tmax_b, __shfl_xor_sync(0xffffffffu, tmax_b, 1));
    tmax_b = fmaxf(tmax_b, __shfl_xor_sync(0xffffffffu, tmax_b, 2));
    const float mn_a = fmaxf(m_a, tmax_a), mn_b = fmaxf(m_b, tmax_b);
    // A row that has seen no key yet keeps max -inf: use 0 as the base so exp2 gives 0, not NaN.
    const float base_a = mn_a == neg_inf() ? 0.f : mn_a, base_b = mn_b == neg_inf() ? 0.f : mn_b;
    // An unchanged max (also -inf, a row that has seen no key) keeps corr exactly 1, as exp2f(0) does;
    // then the rescale below is skipped when no row of the warp changed (the common case once the
    // first tiles are in): the same bits, fewer instructions.
    const float corr_a = m_a == mn_a ? 1.f : exp2f(m_a - base_a), corr_b = m_b == mn_b ? 1.f : exp2f(m_b - base_b);
    m_a = mn_a;
    m_b = mn_b;
    float sum_a = 0.f, sum_b = 0.f;
#pragma unroll
    for (int nt = 0; nt < NT; nt++) {
      s[nt][0] = exp2f(s[nt][0] - base_a);
      s[nt][1] = exp2f(s[nt][1] - base_a);
      s[nt][2] = exp2f(s[nt][2] - base_b);
      s[nt][3] = exp2f(s[nt][3] - base_b);
      sum_a += s[nt][0] + s[nt][1];
      sum_b += s[nt][2] + s[nt][3];
    }
    l_a = l_a * corr_a + sum_a;  // this lane's part of the row sum; the 4 lanes of a row add up at the end
    l_b = l_b * corr_b + sum_b;
    if (__any_sync(0xffffffffu, corr_a != 1.f || corr_b != 1.f)) {
#pragma unroll
      for (int i = 0; i < DT; i++) {
        o[i][0] *= corr_a;
        o[i][1] *= corr_a;
        o[i][2] *= corr_b;
        o[i][3] *= corr_b;
      }
    }
    // O += P V: P from the score registers (C layout of two n-tiles = A layout of one k16 step), as a
    // bf16 pair hi + lo (lo = p - hi), two products per step, so the weights keep ~16 bits and the result
    // stays within fp32 noise of an fp32 softmax (one bf16 P alone is off by up to 2^-9 of |v|).
    if constexpr (NT >= 2) {
#pragma unroll
      for (int kk = 0; kk < NT / 2; kk++) {
        unsigned ph[4], pl[4];
        if constexpr (F8) {
          ph[0] = f2h2(s[2 * kk][0], s[2 * kk][1]);
          ph[1] = f2h2(s[2 * kk][2], s[2 * kk][3]);
          ph[2] = f2h2(s[2 * kk + 1][0], s[2 * kk + 1][1]);
          ph[3] = f2h2(s[2 * kk + 1][2], s[2 * kk + 1][3]);
        } else {
          split2(s[2 * kk][0], s[2 * kk][1], ph[0], pl[0]);
          split2(s[2 * kk][2], s[2 * kk][3], ph[1], pl[1]);
          split2(s[2 * kk + 1][0], s[2 * kk + 1][1], ph[2], pl[2]);
          split2(s[2 * kk + 1][2], s[2 * kk + 1][3], ph[3], pl[3]);
        }
        // ldmatrix.trans: lane supplies row key0 + 16kk + (lane & 7) + 8 * ((lane >> 3) & 1), dims + 8 * (lane >> 4)
        const bf16* vrow = &sm.v[cb][key0 + kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8][(lane >> 4) * 8];
#pragma unroll
        for (int dp = 0; dp < DT / 2; dp++) {
          unsigned b[4];
          ldsm_x4_t(b, vrow + dp * 16);
          mma16816x<F8>(o[2 * dp], ph, b[0], b[1]);
          if constexpr (!F8) mma16816(o[2 * dp], pl, b[0], b[1]);
          mma16816x<F8>(o[2 * dp + 1], ph, b[2], b[3]);
          if constexpr (!F8) mma16816(o[2 * dp + 1], pl, b[2], b[3]);
        }
      }
    } else {
      unsigned a0h, a0l = 0, a1h, a1l = 0;
      if constexpr (F8) {
        a0h = f2h2(s[0][0], s[0][1]);
        a1h = f2h2(s[0][2], s[0][3]);
      } else {
        split2(s[0][0], s[0][1], a0h, a0l);
        split2(s[0][2], s[0][3], a1h, a1l);
      }
      const bf16* vrow = &sm.v[cb][key0 + (lane & 7)][((lane >> 3) & 1) * 8];
#pragma unroll
      for (int dp = 0; dp < DT / 2; dp++) {
        unsigned b[2];
        ldsm_x2_t(b, vrow + dp * 16);
        mma1688x<F8>(o[2 * dp], a0h, a1h, b[0]);
        if constexpr (!F8) mma1688(o[2 * dp], a0l, a1l, b[0]);
        mma1688x<F8>(o[2 * dp + 1], a0h, a1h, b[1]);
        if constexpr (!F8) mma1688(o[2 * dp + 1], a0l, a1l, b[1]);
      }
    }
    __syncthreads();  // the next iteration's loads overwrite this buffer
  }

  // Row sums: the 4 lanes of a row.
  l_a += __shfl_xor_sync(0xffffffffu, l_a, 1);
  l_a += __shfl_xor_sync(0xffffffffu, l_a, 2);
  l_b += __shfl_xor_sync(0xffffffffu, l_b, 1);
  l_b += __shfl_xor_sync(0xffffffffu, l_b, 2);

  // Prefill (WM = 4): a warp's rows are all its own, so its lanes write them straight from the
  // accumulators, two dims (one bf16 pair) a store.
  if constexpr (WM > 1) {
    const int c0 = (lane & 3) * 2;
#pragma unroll
    for (int half = 0; half < 2; half++) {
      const int row = half ? rb : ra;
      if (row >= rows) continue;
      const float l = half ? l_b : l_a;
      bf16* orow = out + ((size_t)(tok0 + row / nh) * num_heads + h0 + row % nh) * D + c0;
#pragma unroll
      for (int i = 0; i < DT; i++) {
        const float x0 = l > 0.f ? o[i][2 * half] / l : 0.f, x1 = l > 0.f ? o[i][2 * half + 1] / l : 0.f;
        *reinterpret_cast<unsigned*>(orow + i * 8) = (unsigned)f2bf(x0) | ((unsigned)f2bf(x1) << 16);
      }
    }
    return;
  }

  // Epilogue through shared memory (the K/V buffers are free: every cp.async group has been waited on
  // and the loop ended on a barrier). so[wk][row][d], rows of this warp at wm * 16.
  float* so = reinterpret_cast<float*>(smem_raw);
  constexpr int OROWS = WM * 16;
  static_assert(sizeof(Smem<D, STAGES, F8>) >= (size_t)WK * OROWS * D * sizeof(float), "epilogue does not fit");
  {
    const int la = lane >> 2, c0 = (lane & 3) * 2;
    float* base = so + ((size_t)wk * OROWS + wm * 16) * D;
#pragma unroll
    for (int i = 0; i < DT; i++) {
      base[la * D + i * 8 + c0] = o[i][0];
      base[la * D + i * 8 + c0 + 1] = o[i][1];
      base[(la + 8) * D + i * 8 + c0] = o[i][2];
      base[(la + 8) * D + i * 8 + c0 + 1] = o[i][3];
    }
    if ((lane & 3) == 0) {
      s_m[warp][la] = m_a;
      s_m[warp][la + 8] = m_b;
      s_l[warp][la] = l_a;
      s_l[warp][la + 8] = l_b;
    }
  }
  __syncthreads();
  const float ln2 = 0.6931471805599453f;
  for (int i = tid; i < rows * D; i += NTHREADS) {
    const int row = i / D, d = i - row * D;
    // Stats of this row: warp (wm = row / 16) for WM = 4, warps 0..3 for WM = 1.
    float M = neg_inf();
#pragma unroll
    for (int w = 0; w < WK; w++) M = fmaxf(M, s_m[WM == 1 ? w : row >> 4][row & 15]);
    const float base = M == neg_inf() ? 0.f : M;
    float acc = 0.f, L = 0.f;
#pragma unroll
    for (int w = 0; w < WK; w++) {
      const int sw = WM == 1 ? w : row >> 4;
      const float f = exp2f(s_m[sw][row & 15] - base);
      acc += f * so[((size_t)w * OROWS + row) * D + d];
      L += f * s_l[sw][row & 15];
    }
    const size_t hrow = (size_t)(tok0 + row / nh) * num_heads + h0 + row % nh;
    if (num_splits == 1) {
      out[hrow * D + d] = f2bf(L > 0.f ? acc / L : 0.f);
    } else {
      // Partials by (decode item, head, split): the buffer scales with the decode rows, not the batch.
      const size_t prow = (size_t)pitem * num_heads + h0 + row % nh;
      part_o[(prow * num_splits + split) * D + d] = acc;
      if (d == 0) {
        const size_t pi = prow * num_splits + split;
        part_ml[2 * pi] = M == neg_inf() ? M : M * ln2;  // attn_reduce works in natural-log units
        part_ml[2 * pi + 1] = L;
      }
    }
  }
}

// Prefill tiles. items[2i] = request, items[2i + 1] = its first query token in the tile (a batch token
// index); the tile runs to min(tok0 + 64 / G, the request's end). Grid (items, num_kv_heads), 128 threads.
template <int D, bool F8>
__device__ __forceinline__ void attn_prefill_body(
    const bf16* q, const void* k_cache, const void* v_cache, bf16* out, const int* items, const int* query_start,
    const int* seq_lens, const int* block_tables, int max_blocks, int block_size, int num_heads, int num_kv_heads,
    float scale) {
  PDL_ENTER();
  const int r = items[2 * blockIdx.x], tok0 = items[2 * blockIdx.x + 1];
  const int G = num_heads / num_kv_heads;
  const int kvh = blockIdx.y;
  const int ntok = min(64 / G, query_start[r + 1] - tok0);
  __shared__ __align__(16) unsigned char smem[sizeof(Smem<D, 2, F8>)];
  attn_block<D, 4, 2, F8>(smem, q, k_cache, v_cache, out, nullptr, nullptr, r, tok0, ntok, kvh * G, G, kvh, 0, 1 << 30, query_start,
                   seq_lens, block_tables, max_blocks, block_size, num_heads, num_kv_heads, 0, 1, 0, scale);
}

// Batch-invariant mode (QUIRE_BATCH_INVARIANT): every query row, prefill or decode, in a decode-shaped
// block (16 rows, the 4 warps taking 8 keys each of every 32-key tile from key 0, no context split), so a
// row's order of summation is the same whichever tokens share its block. items[2i] = request,
// items[2i + 1] = its first token in the tile of min(max(1, 16 / G), rest of the request) tokens. Grid
// (items, num_kv_heads * hgroups), 128 threads, three K/V stages (dynamic shared memory).
template <int D, bool F8>
__device__ __forceinline__ void attn_rows_body(
    const bf16* q, const void* k_cache, const void* v_cache, bf16* out, const int* items, const int* query_start,
    const int* seq_lens, const int* block_tables, int max_blocks, int block_size, int num_heads, int num_kv_heads,
    int hgroups, float scale) {
  PDL_ENTER();
  const int r = items[2 * blockIdx.x], tok0 = items[2 * blockIdx.x + 1];
  const int G = num_heads / num_kv_heads;
  const int kvh = blockIdx.y / hgroups, hg = blockIdx.y - kvh * hgroups;
  const int h0 = kvh * G + hg * 16, nh = min(16, G - hg * 16);
  const int ntok = min(max(1, 16 / G), query_start[r + 1] - tok0);
  extern __shared__ __align__(16) unsigned char dyn_smem[];
  attn_block<D, 1, 3, F8>(dyn_smem, q, k_cache, v_cache, out, nullptr, nullptr, r, tok0, ntok, h0, nh, kvh, 0, 1 << 30,
                      query_start, seq_lens, block_tables, max_blocks, block_size, num_heads, num_kv_heads, 0, 1, 0,
                      scale);
}

// Decode tokens (one query token each). tokens[i] = batch token index (tokens null: token i). Grid
// (tokens, num_kv_heads * hgroups, num_splits): hgroups = ceil(G / 16) head groups of up to 16; split s
// covers keys [s * chunk, (s + 1) * chunk), chunk <= 0: split_chunk(ctx, num_splits) of the token's own
// context (so the launch's arguments do not depend on the contexts, and a CUDA graph can replay it).
// With num_splits > 1, attn_reduce (attention_split.cu) merges the partials. (Merging them in the last
// block to finish, through an arrival counter, was tried: at batch 1 on an H200 it took 24.5 us per layer
// against 12.1 + 8.2 for this kernel and attn_reduce, the merge's dependent loads landing on the tail.)
template <int D, int STAGES, bool F8>
__device__ __forceinline__ void attn_decode_body(
    const bf16* q, const void* k_cache, const void* v_cache, bf16* out, float* part_o, float* part_ml,
    const int* tokens, const int* token_req, const int* query_start, const int* seq_lens,
    const int* block_tables, int max_blocks, int block_size, int num_heads, int num_kv_heads, int hgroups,
    int chunk, int num_splits, float scale) {
  // The batch's metadata (token lists, lengths, block tables) comes from the host, not from a kernel:
  // it is read, and the block-table entries of the first tiles pulled into L1, before waiting for the
  // previous kernel (programmatic dependent launch); q and the K/V cache wait for it.
  pdl_trigger();
  const int t = tokens ? tokens[blockIdx.x] : blockIdx.x;
  const int r = token_req[t];
  const int G = num_heads / num_kv_heads;
  const int kvh = blockIdx.y / hgroups, hg = blockIdx.y - kvh * hgroups;
  const int h0 = kvh * G + hg * 16, nh = min(16, G - hg * 16);
  const int split = blockIdx.z;
  if (chunk <= 0) chunk = split_chunk(seq_lens[r] - (query_start[r + 1] - 1 - t), num_splits);
  const int kbeg = split * chunk;
  {
    const int* table = block_tables + (size_t)r * max_blocks;
    const int b0 = kbeg / block_size, nb = (STAGES * BN + block_size - 1) / block_size;
    if ((int)threadIdx.x < nb && b0 + (int)threadIdx.x < max_blocks)
      asm volatile("prefetch.global.L1 [%0];" ::"l"(table + b0 + threadIdx.x));
  }
  if constexpr (STAGES != 2) pdl_wait();  // two-stage blocks wait inside attn_block (PRE)
  unsigned char* smem;
  if constexpr (STAGES == 2) {
    __shared__ __align__(16) unsigned char static_smem[sizeof(Smem<D, 2, F8>)];
    smem = static_smem;
  } else {
    extern __shared__ __align__(16) unsigned char dyn_smem[];
    smem = dyn_smem;
  }
  attn_block<D, 1, STAGES, F8>(smem, q, k_cache, v_cache, out, part_o, part_ml, r, t, 1, h0, nh, kvh, kbeg, kbeg + chunk, query_start,
                   seq_lens, block_tables, max_blocks, block_size, num_heads, num_kv_heads, split, num_splits, blockIdx.x,
                   scale);
}

#define ATTN_DECODE(NAME, D, STAGES, F8)                                                                           \
  extern "C" __global__ void __launch_bounds__(NTHREADS, 4) NAME(                                                  \
      const bf16* __restrict__ q, const void* __restrict__ k_cache, const void* __restrict__ v_cache,              \
      bf16* __restrict__ out, float* __restrict__ part_o, float* __restrict__ part_ml,                             \
      const int* __restrict__ tokens, const int* __restrict__ token_req, const int* __restrict__ query_start,      \
      const int* __restrict__ seq_lens, const int* __restrict__ block_tables, int max_blocks, int block_size,      \
      int num_heads, int num_kv_heads, int hgroups, int chunk, int num_splits, float scale) {                      \
    attn_decode_body<D, STAGES, F8>(q, k_cache, v_cache, out, part_o, part_ml, tokens, token_req, query_start,    \
                                    seq_lens, block_tables, max_blocks, block_size, num_heads, num_kv_heads,       \
                                    hgroups, chunk, num_splits, scale);                                            \
  }

// attn_decode_tc<D>: 3 stages (dynamic shared memory); attn_decode2_tc<D>: 2 stages (static). SUF _fp8:
// the e4m3 cache.
#define ATTN_TC(D, F8, SUF)                                                                                        \
  extern "C" __global__ void __launch_bounds__(NTHREADS, 3) attn_prefill_tc##D##SUF(                                \
      const bf16* __restrict__ q, const void* __restrict__ k_cache, const void* __restrict__ v_cache,              \
      bf16* __restrict__ out, const int* __restrict__ items, const int* __restrict__ query_start,                  \
      const int* __restrict__ seq_lens, const int* __restrict__ block_tables, int max_blocks, int block_size,      \
      int num_heads, int num_kv_heads, float scale) {                                                              \
    attn_prefill_body<D, F8>(q, k_cache, v_cache, out, items, query_start, seq_lens, block_tables, max_blocks,     \
                             block_size, num_heads, num_kv_heads, scale);                                          \
  }                                                                                                                \
  ATTN_DECODE(attn_decode_tc##D##SUF, D, 3, F8)                                                                    \
  ATTN_DECODE(attn_decode2_tc##D##SUF, D, 2, F8)                                                                   \
  extern "C" __global__ void __launch_bounds__(NTHREADS, 4) attn_rows_tc##D##SUF(                                  \
      const bf16* __restrict__ q, const void* __restrict__ k_cache, const void* __restrict__ v_cache,              \
      bf16* __restrict__ out, const int* __restrict__ items, const int* __restrict__ query_start,                  \
      const int* __restrict__ seq_lens, const int* __restrict__ block_tables, int max_blocks, int block_size,      \
      int num_heads, int num_kv_heads, int hgroups, float scale) {                                                 \
    attn_rows_body<D, F8>(q, k_cache, v_cache, out, items, query_start, seq_lens, block_tables, max_blocks,        \
                          block_size, num_heads, num_kv_heads, hgroups, scale);                                    \
  }

ATTN_TC(16, false, )
ATTN_TC(32, false, )
ATTN_TC(64, false, )
ATTN_TC(128, false, )
ATTN_TC(16, true, _fp8)
ATTN_TC(32, true, _fp8)
ATTN_TC(64, true, _fp8)
ATTN_TC(128, true, _fp8)
