// Decode attention for grouped-query groups of G <= 8 q heads per kv head (Llama-2-7B's G = 1, Llama-3's 4),
// on the tensor cores in the transposed orientation: S^T = K Q^T and O^T = V^T P^T, so the keys fill the
// 16 rows of an mma and the G heads its 8 columns. attn_decode_tc (attention_tc.cu) puts the heads in the
// rows instead: at G = 1 fifteen of its sixteen rows are padding, and a warp's fixed per-tile work (softmax
// bookkeeping, barriers, the loop) covers only 8 keys. Here a warp takes 16 keys of every 64-key tile.
//
// One block per (decode token, kv head, context split), 4 warps. The tile's K and V rows are gathered by
// slot (block table) into shared memory with cp.async, STAGES deep. Per warp and tile:
//   S^T (16 keys x 8 heads) = K (16 x D) Q^T (D x 8): K as the A operand, q as B (loaded once);
//   online softmax per head over the warp's keys (a lane holds heads 2c, 2c+1 of keys g, g + 8);
//   P^T (16 keys x 8 heads) moved from the C layout to the B layout with four shuffles;
//   O^T (D x 8) += V^T (D x 16) P^T: V as the A operand through ldmatrix.trans.
// The four warps' (max, sum, O) are merged at the end; with num_splits > 1 the block writes the same
// unnormalised partials as attn_decode_tc for attn_reduce (attention_split.cu).
//
// bf16 cache: P goes in as bf16 hi + lo (two products), as in attention_tc.cu. fp8 cache (e4m3, *_fp8): no
// widening pass; a lane converts the bytes it needs straight into f16 fragments (exact), with the head
// dimension of K (and the q fragments) permuted within 32-wide chunks so that each lane's bytes are
// contiguous, and the V fragments assembled from four 4-byte rows with byte permutes (their output rows
// come out permuted the same way and are put back in the epilogue). q is rounded to f16 (saturating), P is
// one f16 term.
//
// Grid (tokens, num_kv_heads, num_splits); tokens[i] = batch token index (null: token i); split s covers
// keys [s * chunk, (s + 1) * chunk), chunk <= 0: split_chunk(ctx, num_splits) of the token's own context.
#include "common.cuh"
#include "mma.cuh"

#define DEC_WARPS 4
#define DEC_KW 16                     // keys per warp per tile
#define DEC_BN (DEC_WARPS * DEC_KW)   // keys per tile

template <int D, bool F8>
struct DecRow {
  static constexpr int BYTES = F8 ? D + 16 : (D + 8) * 2;  // a padded key row in shared memory
};

template <int D, int STAGES, bool F8>
__device__ __forceinline__ void attn_dec_body(
    const bf16* __restrict__ q, const void* __restrict__ k_cache, const void* __restrict__ v_cache,
    bf16* __restrict__ out, float* __restrict__ part_o, float* __restrict__ part_ml, const int* __restrict__ tokens,
    const int* __restrict__ token_req, const int* __restrict__ query_start, const int* __restrict__ seq_lens,
    const int* __restrict__ block_tables, int max_blocks, int block_size, int num_heads, int num_kv_heads, int chunk,
    int num_splits, float scale) {
  typedef typename KvType<F8>::T KV;
  constexpr int ESZ = sizeof(KV);
  constexpr int ROW = DecRow<D, F8>::BYTES;
  constexpr int KS = D / 16;        // k-steps of S^T over the head dimension
  constexpr int MT = D / 16;        // m-tiles of O^T
  constexpr int CH = D * ESZ / 16;  // 16-byte chunks of a key row
  // Loads: each warp copies its own 16 keys of a tile and waits for them alone (no block barrier in the
  // loop). (The whole block copying each tile, with a barrier per tile, ran at the same speed: 512 rows of
  // the Llama-2-7B shape, fp8, 21.45 against 21.46-21.47 ms/step on an H200.)
  constexpr int KP = 32 / CH;           // keys per pass of a warp
  constexpr int NPASS = DEC_KW / KP;    // passes per tile
  extern __shared__ __align__(16) unsigned char smem[];
  typedef unsigned char Tile[DEC_BN][ROW];
  Tile* sk = reinterpret_cast<Tile*>(smem);
  Tile* sv = reinterpret_cast<Tile*>(smem + (size_t)STAGES * DEC_BN * ROW);
  __shared__ float s_m[DEC_WARPS][8], s_l[DEC_WARPS][8];

  pdl_trigger();
  const int t = tokens ? tokens[blockIdx.x] : blockIdx.x;
  const int r = token_req[t];
  const int G = num_heads / num_kv_heads;
  const int kvh = blockIdx.y, split = blockIdx.z;
  const int ctx = seq_lens[r] - (query_start[r + 1] - 1 - t);
  if (chunk <= 0) chunk = split_chunk(ctx, num_splits);
  const int kbeg = split * chunk, kend = min(ctx, kbeg + chunk);
  const int ntiles = kend > kbeg ? (kend - kbeg + DEC_BN - 1) / DEC_BN : 0;
  const int* table = block_tables + (size_t)r * max_blocks;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, c = lane & 3;
  const size_t row_stride = (size_t)num_kv_heads * D;
  const int ch = lane % CH, key0 = warp * DEC_KW + lane / CH;
  const size_t col = (size_t)kvh * D + ch * (16 / ESZ);
  const int bs_shift = (block_size & (block_size - 1)) == 0 ? __ffs(block_size) - 1 : -1;
  pdl_wait();  // q and this token's own key come from the kernels before

  // A thread copies 16-byte chunk ch of keys key0, key0 + KP, ... of each tile. The shared addresses, the
  // column's pointers and the row stride in bytes are set up once: with a power-of-two block size a key
  // costs a table read, a 32-bit slot and one wide multiply. (Computed per key in 64 bits, with generic to
  // shared conversions, the loads were ~40 instructions a key; Nsight Compute had this kernel's ALU pipe
  // the busiest, 69% at base clocks. 512 rows of the Llama-2-7B shape, fp8: 20.64-20.67 against
  // 20.90-20.91 ms/step on an H200.)
  const unsigned sk0 = smem_addr(&sk[0][key0][ch * 16]), sv0 = smem_addr(&sv[0][key0][ch * 16]);
  const unsigned char* kcol = static_cast<const unsigned char*>(k_cache) + col * ESZ;
  const unsigned char* vcol = static_cast<const unsigned char*>(v_cache) + col * ESZ;
  const unsigned rs_bytes = (unsigned)(row_stride * ESZ);
  auto load_tile = [&](int tile, int buf) {
    const int p0 = kbeg + tile * DEC_BN;
#pragma unroll
    for (int j = 0; j < NPASS; j++) {
      const int pos = p0 + key0 + j * KP;
      const bool ok = pos < kend;
      const int pc = ok ? pos : kbeg;  // a valid position for the (unused) address of a zero-fill
      const size_t off = kv_row_offset(table, pc, block_size, bs_shift, rs_bytes);
      const unsigned so = (unsigned)(buf * DEC_BN + j * KP) * ROW;
      cp_async16s(sk0 + so, kcol + off, ok);
      cp_async16s(sv0 + so, vcol + off, ok);
    }
  };

  // q as the B operand (D x 8 heads, column = head g), once; heads g >= G are zero columns.
  unsigned qb[KS][2];
  {
    const bf16* qrow = g < G ? q + ((size_t)t * num_heads + kvh * G + g) * D : nullptr;
    if constexpr (F8) {
      // Chunk s of 32 dims: k-step 2s takes dims 8c, 8c+1 | 8c+2, 8c+3 and k-step 2s+1 dims 8c+4.. | 8c+6..
      // (offsets within the chunk), matching the K bytes a lane reads below.
#pragma unroll
      for (int s = 0; s < D / 32; s++) {
        uint4 w = qrow ? *reinterpret_cast<const uint4*>(qrow + 32 * s + 8 * c) : make_uint4(0, 0, 0, 0);
        qb[2 * s][0] = bf2h2(w.x);
        qb[2 * s][1] = bf2h2(w.y);
        qb[2 * s + 1][0] = bf2h2(w.z);
        qb[2 * s + 1][1] = bf2h2(w.w);
      }
    } else {
#pragma unroll
      for (int ks = 0; ks < KS; ks++) {
        qb[ks][0] = qrow ? *reinterpret_cast<const unsigned*>(qrow + 16 * ks + 2 * c) : 0u;
        qb[ks][1] = qrow ? *reinterpret_cast<const unsigned*>(qrow + 16 * ks + 2 * c + 8) : 0u;
      }
    }
  }

  float o[MT][4];
#pragma unroll
  for (int i = 0; i < MT; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  float m0 = neg_inf(), m1 = neg_inf(), l0 = 0.f, l1 = 0.f;  // heads 2c and 2c + 1
  const float sl2 = scale * 1.4426950408889634f;

#pragma unroll
  for (int st = 0; st < STAGES - 1; st++) {
    if (st < ntiles) load_tile(st, st);
    cp_async_commit();
  }
  for (int tile = 0; tile < ntiles; tile++) {
    const int buf = tile % STAGES;
    if (tile + STAGES - 1 < ntiles) load_tile(tile + STAGES - 1, (tile + STAGES - 1) % STAGES);
    cp_async_commit();
    cp_async_wait<STAGES - 1>();
    __syncwarp();
    const int kw = warp * DEC_KW;
    const int pbase = kbeg + tile * DEC_BN + kw;
    if (pbase < kend) {  // warp-uniform: a warp whose keys are all past the end only helped load
      const unsigned char* kt = &sk[buf][kw][0];
      const unsigned char* vt = &sv[buf][kw][0];
      // S^T = K Q^T
      float s[4] = {0.f, 0.f, 0.f, 0.f};
      if constexpr (F8) {
#pragma unroll
        for (int cs = 0; cs < D / 32; cs++) {
          const uint2 ra = *reinterpret_cast<const uint2*>(kt + g * ROW + 32 * cs + 8 * c);
          const uint2 rb = *reinterpret_cast<const uint2*>(kt + (g + 8) * ROW + 32 * cs + 8 * c);
          unsigned a[4];
          a[0] = e4m3x2_to_f16x2(ra.x);
          a[1] = e4m3x2_to_f16x2(rb.x);
          a[2] = e4m3x2_hi_to_f16x2(ra.x);
          a[3] = e4m3x2_hi_to_f16x2(rb.x);
          mma16816h(s, a, qb[2 * cs][0], qb[2 * cs][1]);
          a[0] = e4m3x2_to_f16x2(ra.y);
          a[1] = e4m3x2_to_f16x2(rb.y);
          a[2] = e4m3x2_hi_to_f16x2(ra.y);
          a[3] = e4m3x2_hi_to_f16x2(rb.y);
          mma16816h(s, a, qb[2 * cs + 1][0], qb[2 * cs + 1][1]);
        }
      } else {
        const unsigned char* krow = kt + (lane & 15) * ROW + (lane >> 4) * 16;
#pragma unroll
        for (int ks = 0; ks < KS; ks++) {
          unsigned a[4];
          ldsm_x4(a, krow + ks * 32);
          mma16816(s, a, qb[ks][0], qb[ks][1]);
        }
      }
      // s[0] = (key g, head 2c), s[1] = (g, 2c+1), s[2] = (g+8, 2c), s[3] = (g+8, 2c+1). Mask and scale.
      const bool va = pbase + g < kend, vb = pbase + g + 8 < kend;
      s[0] = va ? s[0] * sl2 : neg_inf();
      s[1] = va ? s[1] * sl2 : neg_inf();
      s[2] = vb ? s[2] * sl2 : neg_inf();
      s[3] = vb ? s[3] * sl2 : neg_inf();
      float x0 = fmaxf(s[0], s[2]), x1 = fmaxf(s[1], s[3]);
#pragma unroll
      for (int sh = 4; sh < 32; sh <<= 1) {
        x0 = fmaxf(x0, __shfl_xor_sync(0xffffffffu, x0, sh));
        x1 = fmaxf(x1, __shfl_xor_sync(0xffffffffu, x1, sh));
      }
      const float n0 = fmaxf(m0, x0), n1 = fmaxf(m1, x1);
      const float b0 = n0 == neg_inf() ? 0.f : n0, b1 = n1 == neg_inf() ? 0.f : n1;
      const float c0 = m0 == n0 ? 1.f : exp2f(m0 - b0), c1 = m1 == n1 ? 1.f : exp2f(m1 - b1);
      m0 = n0;
      m1 = n1;
      s[0] = exp2f(s[0] - b0);
      s[2] = exp2f(s[2] - b0);
      s[1] = exp2f(s[1] - b1);
      s[3] = exp2f(s[3] - b1);
      l0 = l0 * c0 + s[0] + s[2];
      l1 = l1 * c1 + s[1] + s[3];
      if (__any_sync(0xffffffffu, c0 != 1.f || c1 != 1.f)) {
#pragma unroll
        for (int i = 0; i < MT; i++) {
          o[i][0] *= c0;
          o[i][1] *= c1;
          o[i][2] *= c0;
          o[i][3] *= c1;
        }
      }
      // P^T as the B operand: lane (g, c) needs P[key 2c, 2c+1 | 2c+8, 2c+9][head g], which lanes
      // 8c + g/2 (keys 2c, 2c+8) and 8c + 4 + g/2 (keys 2c+1, 2c+9) hold for head g in s[g & 1], s[2 + (g & 1)].
      const int srca = 8 * c + (g >> 1), srcb = srca + 4;
      auto to_b = [&](unsigned x, unsigned y, unsigned& bb0, unsigned& bb1) {
        const unsigned xa = __shfl_sync(0xffffffffu, x, srca), ya = __shfl_sync(0xffffffffu, y, srca);
        const unsigned xb = __shfl_sync(0xffffffffu, x, srcb), yb = __shfl_sync(0xffffffffu, y, srcb);
        const unsigned pa = (g & 1) ? ya : xa, pb = (g & 1) ? yb : xb;  // (key 2c | 2c+8), (key 2c+1 | 2c+9)
        bb0 = __byte_perm(pa, pb, 0x5410);
        bb1 = __byte_perm(pa, pb, 0x7632);
      };
      unsigned ph0, ph1;
      if constexpr (F8) {
        to_b(f2h2(s[0], s[2]), f2h2(s[1], s[3]), ph0, ph1);
#pragma unroll
        for (int p = 0; p < D / 32; p++) {
          // Rows of this pair of m-tiles: tile 2p rows g, g+8 = dims 32p + 4g, +1; tile 2p+1: +2, +3.
          const unsigned char* vp = vt + 32 * p + 4 * g;
          const unsigned k0 = *reinterpret_cast<const unsigned*>(vp + (2 * c) * ROW);
          const unsigned k1 = *reinterpret_cast<const unsigned*>(vp + (2 * c + 1) * ROW);
          const unsigned k8 = *reinterpret_cast<const unsigned*>(vp + (2 * c + 8) * ROW);
          const unsigned k9 = *reinterpret_cast<const unsigned*>(vp + (2 * c + 9) * ROW);
          const unsigned x0p = __byte_perm(k0, k1, 0x5140), x1p = __byte_perm(k0, k1, 0x7362);
          const unsigned y0p = __byte_perm(k8, k9, 0x5140), y1p = __byte_perm(k8, k9, 0x7362);
          unsigned a[4];
          a[0] = e4m3x2_to_f16x2(x0p);
          a[1] = e4m3x2_hi_to_f16x2(x0p);
          a[2] = e4m3x2_to_f16x2(y0p);
          a[3] = e4m3x2_hi_to_f16x2(y0p);
          mma16816h(o[2 * p], a, ph0, ph1);
          a[0] = e4m3x2_to_f16x2(x1p);
          a[1] = e4m3x2_hi_to_f16x2(x1p);
          a[2] = e4m3x2_to_f16x2(y1p);
          a[3] = e4m3x2_hi_to_f16x2(y1p);
          mma16816h(o[2 * p + 1], a, ph0, ph1);
        }
      } else {
        unsigned hx, lx, hy, ly, pl0, pl1;
        split2(s[0], s[2], hx, lx);
        split2(s[1], s[3], hy, ly);
        to_b(hx, hy, ph0, ph1);
        to_b(lx, ly, pl0, pl1);
        const unsigned char* vrow = vt + ((lane & 7) + ((lane >> 4) & 1) * 8) * ROW + ((lane >> 3) & 1) * 16;
#pragma unroll
        for (int mt = 0; mt < MT; mt++) {
          unsigned a[4];
          ldsm_x4_t(a, vrow + mt * 32);
          mma16816(o[mt], a, ph0, ph1);
          mma16816(o[mt], a, pl0, pl1);
        }
      }
    }
    __syncwarp();  // the warp's next loads overwrite this stage
  }
  __syncthreads();  // the epilogue below reuses every warp's stages

  // Row sums over the 8 lanes (g) sharing c.
#pragma unroll
  for (int sh = 4; sh < 32; sh <<= 1) {
    l0 += __shfl_xor_sync(0xffffffffu, l0, sh);
    l1 += __shfl_xor_sync(0xffffffffu, l1, sh);
  }
  // Epilogue: so[warp][head][d] in the stage buffers (every copy has landed: the loop ended on a barrier
  // after waiting for all but empty groups).
  float* so = reinterpret_cast<float*>(smem);
  static_assert((size_t)2 * STAGES * DEC_BN * ROW >= (size_t)DEC_WARPS * 8 * D * sizeof(float), "epilogue does not fit");
  {
    float* base = so + (size_t)warp * 8 * D;
#pragma unroll
    for (int i = 0; i < MT; i++) {
      // The dims of o[i][0..1] (row g) and o[i][2..3] (row g + 8); columns are heads 2c, 2c + 1.
      int da, db;
      if constexpr (F8) {
        da = 32 * (i >> 1) + 4 * g + 2 * (i & 1);
        db = da + 1;
      } else {
        da = 16 * i + g;
        db = da + 8;
      }
      base[(2 * c) * D + da] = o[i][0];
      base[(2 * c + 1) * D + da] = o[i][1];
      base[(2 * c) * D + db] = o[i][2];
      base[(2 * c + 1) * D + db] = o[i][3];
    }
    if (g == 0) {
      s_m[warp][2 * c] = m0;
      s_m[warp][2 * c + 1] = m1;
      s_l[warp][2 * c] = l0;
      s_l[warp][2 * c + 1] = l1;
    }
  }
  __syncthreads();
  const float ln2 = 0.6931471805599453f;
  for (int i = tid; i < G * D; i += 128) {
    const int h = i / D, d = i - h * D;
    float M = neg_inf();
#pragma unroll
    for (int w = 0; w < DEC_WARPS; w++) M = fmaxf(M, s_m[w][h]);
    const float base = M == neg_inf() ? 0.f : M;
    float acc = 0.f, L = 0.f;
#pragma unroll
    for (int w = 0; w < DEC_WARPS; w++) {
      const float f = exp2f(s_m[w][h] - base);
      acc += f * so[((size_t)w * 8 + h) * D + d];
      L += f * s_l[w][h];
    }
    const int hg = kvh * G + h;
    if (num_splits == 1) {
      out[((size_t)t * num_heads + hg) * D + d] = f2bf(L > 0.f ? acc / L : 0.f);
    } else {
      const size_t prow = (size_t)blockIdx.x * num_heads + hg;
      part_o[(prow * num_splits + split) * D + d] = acc;
      if (d == 0) {
        const size_t pi = prow * num_splits + split;
        part_ml[2 * pi] = M == neg_inf() ? M : M * ln2;
        part_ml[2 * pi + 1] = L;
      }
    }
  }
}

#define ATTN_DEC(NAME, D, STAGES, F8, MINB)                                                                        \
  extern "C" __global__ void __launch_bounds__(128, MINB) NAME(                                                   \
      const bf16* __restrict__ q, const void* __restrict__ k_cache, const void* __restrict__ v_cache,              \
      bf16* __restrict__ out, float* __restrict__ part_o, float* __restrict__ part_ml,                             \
      const int* __restrict__ tokens, const int* __restrict__ token_req, const int* __restrict__ query_start,      \
      const int* __restrict__ seq_lens, const int* __restrict__ block_tables, int max_blocks, int block_size,      \
      int num_heads, int num_kv_heads, int chunk, int num_splits, float scale) {                                   \
    attn_dec_body<D, STAGES, F8>(q, k_cache, v_cache, out, part_o, part_ml, tokens, token_req, query_start,       \
                                 seq_lens, block_tables, max_blocks, block_size, num_heads, num_kv_heads, chunk,   \
                                 num_splits, scale);                                                               \
  }

// attn_dec<D>: bf16 cache, two stages, 4 blocks per multiprocessor by registers (3 fit by shared memory at
// D = 128); attn_dec<D>_fp8: e4m3 cache, two stages, 6 blocks (registers capped at 80 at D = 128, no
// spills; shared memory 2 x STAGES x 64 x DecRow<D, F8>::BYTES, dynamic). Measured on an H200, Llama-2-7B
// shape, 256 decode rows at context ~600: bf16 2 stages 20.26 ms/step of attention, 3 stages 22.27; fp8
// at 4 blocks 2 stages 11.47-11.53, 3 stages 11.54-11.65, 4 stages 12.91-12.93, 5 stages 16.39-16.42;
// fp8 2 stages at 6 blocks 10.81-10.82 against 11.40-11.43 (3 stages, 4 blocks), 512 rows 20.98-20.99
// against 22.59-22.65. Tried: two S accumulators (halving the k-steps' mma chain), no change (11.43); the
// e4m3 bytes moved into f16 fields with integer ops (prmt, shifts; values scaled by 2^-8) instead of
// cvt.f16x2.e4m3x2, slower (512 rows 22.85 against 20.92 ms).
ATTN_DEC(attn_dec64, 64, 2, false, 4)
ATTN_DEC(attn_dec128, 128, 2, false, 4)
ATTN_DEC(attn_dec64_fp8, 64, 2, true, 6)
ATTN_DEC(attn_dec128_fp8, 128, 2, true, 6)
