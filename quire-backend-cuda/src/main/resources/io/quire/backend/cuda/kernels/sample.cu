// Samples one token per row of fp32 logits with the host sampler's rules and arithmetic (SamplingBatch,
// SamplingMath in quire-spi): the raw row's logprobs (top N <= 20, and the sampled token's), then min_tokens
// masks and penalties written into the row, then the argmax (greedy) or temperature, min_p, top_k, top_p
// and a draw with the row's 53-bit uniform number. Weights are one fixed sequence of fp32 ops (no FMA);
// masses are exact integers, so a row's result depends only on its logits, parameters and uniform number,
// never on the other rows or on summation order.
// Launch: grid (rows), block SAMPLE_THREADS. A selection ("the first token in rank order whose running
// mass exceeds t") is a radix select over 32-bit rank keys: three passes with mass histograms in shared
// memory (11, 11, 10 bits), then a walk in id order among the tokens of the selected key. top_k <= SORT_CAP
// instead gathers its candidates and sorts them in shared memory (bitonic), and cuts and draws by a scan.
#include "common.cuh"

#define SAMPLE_THREADS 512
#define NW (SAMPLE_THREADS / 32)
#define SORT_CAP 1024
#define MAX_TOP 20
#define OUT_STRIDE (2 + 2 * MAX_TOP)
#define ROW_GREEDY 1
#define ROW_NO_SORT 2  // checks: the radix path even where the sorted one applies
#define E_PROMPT 1
#define E_MASKED 2

typedef unsigned long long u64;

// One row's parameters, 64 bytes, packed by CudaSampler in this order.
struct RowParams {
  double minp_offset;  // temperature * ln(min_p); -inf for none
  u64 ubits;           // the uniform number times 2^53
  float inv_t;
  float top_p;
  float rep;
  float freq;
  float pres;
  int top_k;           // 0: none
  int flags;
  int top_logprobs;    // -1: none
  int entry_start, entry_end;
  u64 pfrac;           // floor(top_p * 2^64); used when top_p < 1
};

// SamplingMath.weight: exp(a) for a <= 0 as fixed fp32 steps (constants as bit patterns).
__device__ __forceinline__ float sample_weight(float a) {
  if (!(a >= __int_as_float(0xc2ae0000))) return 0.f;  // -87
  const float LOG2E = __int_as_float(0x3fb8aa3b), ROUND = __int_as_float(0x4b400000);
  const float LN2_HI = __int_as_float(0x3f318000), LN2_LO = __int_as_float(0xb95e8083);
  const float P0 = __int_as_float(0x39506967), P1 = __int_as_float(0x3ab743ce), P2 = __int_as_float(0x3c088908);
  const float P3 = __int_as_float(0x3d2aa9c1), P4 = __int_as_float(0x3e2aaaaa), P5 = __int_as_float(0x3f000000);
  float n = __fsub_rn(__fadd_rn(__fmul_rn(a, LOG2E), ROUND), ROUND);
  float r = __fsub_rn(__fsub_rn(a, __fmul_rn(n, LN2_HI)), __fmul_rn(n, LN2_LO));
  float z = __fmul_rn(r, r);
  float p = __fadd_rn(__fmul_rn(r, P0), P1);
  p = __fadd_rn(__fmul_rn(p, r), P2);
  p = __fadd_rn(__fmul_rn(p, r), P3);
  p = __fadd_rn(__fmul_rn(p, r), P4);
  p = __fadd_rn(__fmul_rn(p, r), P5);
  float e = __fadd_rn(__fadd_rn(__fmul_rn(p, z), r), 1.f);
  return __fmul_rn(e, __int_as_float(((int)n + 127) << 23));
}

// SamplingMath.orderedKey as an unsigned key: ascending with the value, -0.0 equal to 0.0.
__device__ __forceinline__ unsigned logit_key(float x) {
  int b = __float_as_int(__fadd_rn(x, 0.f));
  b ^= (b >> 31) & 0x7fffffff;
  return (unsigned)b ^ 0x80000000u;
}

__device__ __forceinline__ u64 mass_of(float w, float scale) { return __float2ull_rz(__fmul_rn(w, scale)); }

// Rank order: larger key first, then lower id. True when (key, id) ranks at or before (k, kid).
__device__ __forceinline__ bool rank_le(unsigned key, int id, unsigned k, int kid) {
  return key > k || (key == k && id <= kid);
}

__device__ __forceinline__ u64 warp_sum_u64(u64 v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ u64 warp_scan_u64(u64 v) {  // inclusive
  int lane = threadIdx.x & 31;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    u64 n = __shfl_up_sync(0xffffffffu, v, o);
    if (lane >= o) v += n;
  }
  return v;
}

struct Shared {
  u64 hist[2048];  // radix histograms; the sorted path keeps candidates in [0, 1024) and running masses after
  u64 red[NW];
  u64 seg[NW];
  u64 above, seg_acc, r_before, r_w;
  unsigned r_key;
  int digit, found, seg_sel, r_id, count;
  float fval;
  int top_id[MAX_TOP];
  u64 top_c[MAX_TOP];
};

// Every thread gets the block's total (exact: integers).
__device__ u64 block_sum_u64(u64 v, Shared& sh) {
  v = warp_sum_u64(v);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) sh.red[threadIdx.x >> 5] = v;
  __syncthreads();
  u64 t = 0;
  for (int w = 0; w < NW; w++) t += sh.red[w];
  return t;
}

// Sum of v over the threads before this one.
__device__ u64 block_excl_scan_u64(u64 v, Shared& sh) {
  u64 inc = warp_scan_u64(v);
  __syncthreads();
  if ((threadIdx.x & 31) == 31) sh.red[threadIdx.x >> 5] = inc;
  __syncthreads();
  u64 off = 0;
  for (int w = 0; w < (int)(threadIdx.x >> 5); w++) off += sh.red[w];
  return off + inc - v;
}

// Largest non-NaN value of the row (-inf if none).
__device__ float block_max(const float* row, int n, Shared& sh) {
  float m = neg_inf();
  for (int i = threadIdx.x; i < n; i += SAMPLE_THREADS) m = fmaxf(m, row[i]);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  __syncthreads();
  if ((threadIdx.x & 31) == 0) sh.red[threadIdx.x >> 5] = __float_as_uint(m);
  __syncthreads();
  float r = neg_inf();
  for (int w = 0; w < NW; w++) r = fmaxf(r, __uint_as_float((unsigned)sh.red[w]));
  return r;
}


// Lowest id of the largest value; NaN never wins; 0 if every value is NaN.
__device__ int block_argmax(const float* row, int n, Shared& sh) {
  float bv;
  int bi;
  warp_argmax(row, n, SAMPLE_THREADS, bv, bi);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) sh.red[threadIdx.x >> 5] = ((u64)__float_as_uint(bv) << 32) | (unsigned)bi;
  __syncthreads();
  bv = __int_as_float(0x7fc00000);
  bi = 0x7fffffff;
  for (int w = 0; w < NW; w++) {
    float v = __uint_as_float((unsigned)(sh.red[w] >> 32));
    int i = (int)(unsigned)sh.red[w];
    if (am_better(v, i, bv, bi)) { bv = v; bi = i; }
  }
  return bi == 0x7fffffff ? 0 : bi;
}

struct Sel {
  int found;
  int id;
  unsigned key;
  u64 before;  // mass of the items ranked (or, for an id walk, placed) before it
  u64 w;
};

// An item source: at(i, key, w) says whether token i takes part, with its rank key and mass (w = 0 when not).
template <class S>
struct TieSource {
  const S& src;
  unsigned k;
  __device__ bool at(int i, unsigned& key, u64& w) const {
    if (!src.at(i, key, w) || key != k) {
      w = 0;
      return false;
    }
    return true;
  }
};

// In id order, the first item whose running mass (from start) exceeds t.
template <class S>
__device__ Sel id_walk(const S& src, int n, u64 start, u64 t, Shared& sh) {
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int seg = (((n + NW - 1) / NW) + 31) & ~31;
  int lo = warp * seg, hi = min(n, lo + seg);
  u64 s = 0;
  for (int i = lo + lane; i < hi; i += 32) {
    unsigned key;
    u64 w;
    if (src.at(i, key, w)) s += w;
  }
  s = warp_sum_u64(s);
  __syncthreads();
  if (lane == 0) sh.seg[warp] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    u64 acc = start;
    int sel = -1;
    for (int w = 0; w < NW; w++) {
      if (acc + sh.seg[w] > t) { sel = w; break; }
      acc += sh.seg[w];
    }
    sh.seg_sel = sel;
    sh.seg_acc = acc;
  }
  __syncthreads();
  int sel = sh.seg_sel;
  if (warp == sel) {
    u64 acc = sh.seg_acc;
    int slo = sel * seg, shi = min(n, slo + seg);
    for (int base = slo; base < shi; base += 32) {
      int i = base + lane;
      unsigned key = 0;
      u64 w = 0;
      if (i >= shi || !src.at(i, key, w)) w = 0;
      u64 inc = warp_scan_u64(w);
      unsigned hit = __ballot_sync(0xffffffffu, acc + inc > t);
      if (hit) {
        if (lane == __ffs(hit) - 1) {
          sh.r_id = i;
          sh.r_key = key;
          sh.r_before = acc + inc - w;
          sh.r_w = w;
        }
        break;
      }
      acc += __shfl_sync(0xffffffffu, inc, 31);
    }
  }
  __syncthreads();
  Sel r;
  r.found = sel >= 0;
  r.id = sel >= 0 ? sh.r_id : 0;
  r.key = sh.r_key;
  r.before = sh.r_before;
  r.w = sh.r_w;
  __syncthreads();
  return r;
}

// In rank order, the first item whose running mass exceeds t (not found when the total is at most t).
template <class S>
__device__ Sel rank_select(const S& src, int n, u64 t, Shared& sh) {
  unsigned prefix = 0;
  u64 above = 0;
#pragma unroll 1
  for (int level = 0; level < 3; level++) {
    int width = level < 2 ? 11 : 10, shift = level == 0 ? 21 : level == 1 ? 10 : 0;
    int bins = 1 << width, hi = shift + width;
    __syncthreads();
    for (int b = threadIdx.x; b < bins; b += SAMPLE_THREADS) sh.hist[b] = 0;
    if (threadIdx.x == 0) sh.found = 0;
    __syncthreads();
    // Consecutive items of a thread often share a bin (flat rows): add runs, not items.
    int cur = -1;
    u64 acc = 0;
    for (int i = threadIdx.x; i < n; i += SAMPLE_THREADS) {
      unsigned key;
      u64 w;
      if (!src.at(i, key, w) || w == 0) continue;
      if (hi < 32 && (key >> hi) != prefix) continue;
      int d = (key >> shift) & (bins - 1);
      if (d != cur) {
        if (acc) atomicAdd(&sh.hist[cur], acc);
        cur = d;
        acc = 0;
      }
      acc += w;
    }
    if (acc) atomicAdd(&sh.hist[cur], acc);
    __syncthreads();
    // Thread j holds bins top_j, top_j - 1, ... (thread 0 the highest): a scan gives the mass above each.
    int per = bins / SAMPLE_THREADS;
    int top = bins - 1 - (int)threadIdx.x * per;
    u64 local = 0;
    for (int j = 0; j < per; j++) local += sh.hist[top - j];
    u64 run = above + block_excl_scan_u64(local, sh);
    for (int j = 0; j < per; j++) {
      u64 h = sh.hist[top - j];
      if (run <= t && run + h > t) {
        sh.digit = top - j;
        sh.above = run;
        sh.found = 1;
      }
      run += h;
    }
    __syncthreads();
    if (!sh.found) {
      Sel r;
      r.found = 0;
      r.id = 0;
      r.key = 0;
      r.before = 0;
      r.w = 0;
      return r;
    }
    prefix = level == 0 ? (unsigned)sh.digit : (prefix << width) | (unsigned)sh.digit;
    above = sh.above;
  }
  TieSource<S> ties{src, prefix};
  return id_walk(ties, n, above, t, sh);
}

// ---- item sources over one row ----

struct Valid {  // raw row, counts: every non-NaN token
  const float* x;
  __device__ bool at(int i, unsigned& key, u64& w) const {
    float v = x[i];
    key = logit_key(v);
    w = v == v ? 1 : 0;
    return w != 0;
  }
};

struct Eligible {  // processed row, counts: tokens at or above the min_p threshold
  const float* x;
  float thr;
  __device__ bool at(int i, unsigned& key, u64& w) const {
    float v = x[i];
    key = logit_key(v);
    w = v >= thr ? 1 : 0;
    return w != 0;
  }
};

// The mass a row keeps after top_p: the sum of src's masses; with top_p < 1, cut in rank order after
// the token holding mass offset floor(total x top_p) - 1 (src.pk, src.pid set to that token's rank;
// pfrac = floor(top_p x 2^64)). Every thread returns the same value.
template <class S>
__device__ u64 kept_mass(S& src, int vocab, float top_p, u64 pfrac, Shared& sh) {
  u64 total = 0;
  for (int i = threadIdx.x; i < vocab; i += SAMPLE_THREADS) {
    unsigned key;
    u64 w;
    if (src.at(i, key, w)) total += w;
  }
  total = block_sum_u64(total, sh);
  if (!(top_p < 1.f)) return total;
  u64 t = __umul64hi(total, pfrac);
  Sel c = rank_select(src, vocab, t > 0 ? t - 1 : 0, sh);
  src.pk = c.key;
  src.pid = c.id;
  return c.before + c.w;
}

struct ByLogit {  // top_k radix path: candidates ranked by logit, with their masses; optionally cut
  const float* x;
  float thr, m, inv_t, scale;
  unsigned kk;  // top_k cut (key, id)
  int kid;
  unsigned pk;  // top_p cut; (0, INT_MAX) keeps all
  int pid;
  __device__ bool at(int i, unsigned& key, u64& w) const {
    float v = x[i];
    key = logit_key(v);
    w = 0;
    if (!(v >= thr) || !rank_le(key, i, kk, kid) || !rank_le(key, i, pk, pid)) return false;
    w = mass_of(sample_weight(__fmul_rn(__fsub_rn(v, m), inv_t)), scale);
    return true;
  }
};

struct ByWeight {  // no top_k: tokens ranked by weight bits, with their masses; optionally cut
  const float* x;
  float thr, m, inv_t, scale;
  unsigned pk;
  int pid;
  __device__ bool at(int i, unsigned& key, u64& w) const {
    float v = x[i];
    w = 0;
    key = 0;
    if (!(v >= thr)) return false;
    float e = sample_weight(__fmul_rn(__fsub_rn(v, m), inv_t));
    key = __float_as_uint(e);
    if (!rank_le(key, i, pk, pid)) return false;
    w = mass_of(e, scale);
    return true;
  }
};

// Sorts sh.hist[0, n) ascending (bitonic; n a power of two, at most SORT_CAP).
__device__ void bitonic_sort(u64* a, int n) {
  for (int k = 2; k <= n; k <<= 1) {
    for (int j = k >> 1; j > 0; j >>= 1) {
      __syncthreads();
      for (int i = threadIdx.x; i < n; i += SAMPLE_THREADS) {
        int p = i ^ j;
        if (p > i) {
          bool up = (i & k) == 0;
          u64 x = a[i], y = a[p];
          if ((x > y) == up) { a[i] = y; a[p] = x; }
        }
      }
    }
  }
  __syncthreads();
}

// Writes the row's top n raw logprobs (n <= MAX_TOP, at most the valid tokens), most likely first.
__device__ void top_logprobs(const float* x, int vocab, int n, int n_valid, double lse, int* out, Shared& sh) {
  unsigned k = 0;
  int kid = 0x7fffffff;
  if (n < n_valid) {
    Sel s = rank_select(Valid{x}, vocab, (u64)(n - 1), sh);
    k = s.key;
    kid = s.id;
  }
  __syncthreads();
  if (threadIdx.x == 0) sh.count = 0;
  __syncthreads();
  for (int i = threadIdx.x; i < vocab; i += SAMPLE_THREADS) {
    float v = x[i];
    unsigned key = logit_key(v);
    if (v == v && rank_le(key, i, k, kid)) {
      int j = atomicAdd(&sh.count, 1);
      if (j < MAX_TOP) sh.top_c[j] = ((u64)(~key) << 32) | (unsigned)i;
    }
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int a = 1; a < n; a++) {  // insertion sort: rank order
      u64 c = sh.top_c[a];
      int b = a - 1;
      for (; b >= 0 && sh.top_c[b] > c; b--) sh.top_c[b + 1] = sh.top_c[b];
      sh.top_c[b + 1] = c;
    }
    for (int j = 0; j < n; j++) {
      int id = (int)(unsigned)sh.top_c[j];
      out[2 + j] = id;
      out[2 + MAX_TOP + j] = __float_as_int(__double2float_rn((double)x[id] - lse));
    }
  }
  __syncthreads();
}

extern "C" __global__ void __launch_bounds__(SAMPLE_THREADS)
sample_rows(float* __restrict__ logits, int vocab, int mass_shift, const RowParams* __restrict__ params,
            const int2* __restrict__ entries, float* __restrict__ saved, int* __restrict__ out,
            unsigned char* __restrict__ kept_mask) {
  PDL_ENTER();
  __shared__ Shared sh;
  const RowParams p = params[blockIdx.x];
  float* x = logits + (size_t)blockIdx.x * vocab;
  int* o = out + (size_t)blockIdx.x * OUT_STRIDE;
  const float scale = __int_as_float((127 + mass_shift) << 23);

  // 1. Logprobs of the raw row: logZ = max + log(mass / 2^shift), as the host sampler computes it.
  double lse = 0;
  if (p.top_logprobs >= 0) {
    float mr = block_max(x, vocab, sh);
    u64 m = 0, valid = 0;
    for (int i = threadIdx.x; i < vocab; i += SAMPLE_THREADS) {
      float v = x[i];
      if (v == v) {
        valid++;
        m += mass_of(sample_weight(__fsub_rn(v, mr)), scale);
      }
    }
    m = block_sum_u64(m, sh);
    valid = block_sum_u64(valid, sh);
    lse = (double)mr + log((double)m / (double)scale);
    int n = min(p.top_logprobs, (int)valid);
    if (n > 0) top_logprobs(x, vocab, n, (int)valid, lse, o, sh);
  }

  // 2. min_tokens masks and penalties, in place; the raw values are kept for the sampled token's logprob.
  for (int e = p.entry_start + threadIdx.x; e < p.entry_end; e += SAMPLE_THREADS) {
    int t = entries[e].x, info = entries[e].y, count = info >> 2;
    float v = x[t];
    saved[e] = v;
    if (info & E_MASKED) v = neg_inf();
    if ((info & E_PROMPT) || count > 0) v = v > 0.f ? __fdiv_rn(v, p.rep) : __fmul_rn(v, p.rep);
    if (count > 0) {
      v = __fsub_rn(v, __fmul_rn(p.freq, __int2float_rn(count)));
      v = __fsub_rn(v, p.pres);
    }
    x[t] = v;
  }
  __syncthreads();

  // 3. The token.
  int token = -1;
  int mode = 0;  // for the kept mask: 0 only the token, 1 sorted list [0, keep), 2 ByLogit, 3 ByWeight
  float m = 0.f, thr = 0.f;
  ByLogit bl{};
  ByWeight bw{};
  int keep = 0;
  if (!(p.flags & ROW_GREEDY)) {
    m = block_max(x, vocab, sh);
    if (!(m > neg_inf() && m < __int_as_float(0x7f800000))) m = __int_as_float(0x7fc00000);
  }
  if ((p.flags & ROW_GREEDY) || m != m) {
    token = block_argmax(x, vocab, sh);
  } else {
    thr = p.minp_offset > -__longlong_as_double(0x7ff0000000000000LL) ? __double2float_rn((double)m + p.minp_offset) : neg_inf();
    u64 ubits = p.ubits << 11;
    if (p.top_k > 0) {
      // top_k: the k-th eligible token in rank order, unless fewer are eligible.
      u64 elig = 0;
      for (int i = threadIdx.x; i < vocab; i += SAMPLE_THREADS) elig += x[i] >= thr;
      elig = block_sum_u64(elig, sh);
      unsigned kk = 0;
      int kid = 0x7fffffff;
      if ((u64)p.top_k < elig) {
        Sel s = rank_select(Eligible{x, thr}, vocab, (u64)(p.top_k - 1), sh);
        kk = s.key;
        kid = s.id;
      }
      int count = (u64)p.top_k < elig ? p.top_k : (int)elig;
      if (count <= SORT_CAP && !(p.flags & ROW_NO_SORT)) {
        // Gather the candidates, sort them in rank order, then cut and draw by running masses.
        int n2 = 1;
        while (n2 < count) n2 <<= 1;
        __syncthreads();
        if (threadIdx.x == 0) sh.count = 0;
        for (int j = threadIdx.x; j < n2; j += SAMPLE_THREADS) sh.hist[j] = ~0ULL;
        __syncthreads();
        for (int i = threadIdx.x; i < vocab; i += SAMPLE_THREADS) {
          float v = x[i];
          unsigned key = logit_key(v);
          if (v >= thr && rank_le(key, i, kk, kid)) {
            int j = atomicAdd(&sh.count, 1);
            if (j < n2) sh.hist[j] = ((u64)(~key) << 32) | (unsigned)i;
          }
        }
        bitonic_sort(sh.hist, n2);
        u64* cum = sh.hist + SORT_CAP;
        // Two consecutive candidates per thread (SORT_CAP = 2 * SAMPLE_THREADS).
        int j0 = 2 * threadIdx.x;
        u64 w0 = 0, w1 = 0;
        if (j0 < count) w0 = mass_of(sample_weight(__fmul_rn(__fsub_rn(x[(unsigned)sh.hist[j0]], m), p.inv_t)), scale);
        if (j0 + 1 < count) w1 = mass_of(sample_weight(__fmul_rn(__fsub_rn(x[(unsigned)sh.hist[j0 + 1]], m), p.inv_t)), scale);
        u64 before = block_excl_scan_u64(w0 + w1, sh);
        if (j0 < SORT_CAP) {
          cum[j0] = before + w0;
          cum[j0 + 1] = before + w0 + w1;
        }
        __syncthreads();
        keep = count;
        if (p.top_p < 1.f) {
          u64 t = __umul64hi(cum[count - 1], p.pfrac);
          t = t > 0 ? t - 1 : 0;  // "the first whose running mass reaches t" = "exceeds t - 1"
          if (threadIdx.x == 0) sh.found = count;
          __syncthreads();
          for (int j = threadIdx.x; j < count; j += SAMPLE_THREADS) {
            if ((j == 0 ? 0 : cum[j - 1]) <= t && cum[j] > t) sh.found = j + 1;
          }
          __syncthreads();
          keep = sh.found;
        }
        u64 d = __umul64hi(cum[keep - 1], ubits);
        __syncthreads();
        if (threadIdx.x == 0) sh.r_id = (int)(unsigned)sh.hist[keep - 1];
        __syncthreads();
        for (int j = threadIdx.x; j < keep; j += SAMPLE_THREADS) {
          if ((j == 0 ? 0 : cum[j - 1]) <= d && cum[j] > d) sh.r_id = (int)(unsigned)sh.hist[j];
        }
        __syncthreads();
        token = sh.r_id;
        mode = 1;
      } else {
        bl = ByLogit{x, thr, m, p.inv_t, scale, kk, kid, 0u, 0x7fffffff};
        const u64 kept = kept_mass(bl, vocab, p.top_p, p.pfrac, sh);
        Sel s = rank_select(bl, vocab, __umul64hi(kept, ubits), sh);
        token = s.id;
        mode = 2;
      }
    } else {
      bw = ByWeight{x, thr, m, p.inv_t, scale, 0u, 0x7fffffff};
      const u64 kept = kept_mass(bw, vocab, p.top_p, p.pfrac, sh);
      Sel s = id_walk(bw, vocab, 0, __umul64hi(kept, ubits), sh);
      token = s.id;
      mode = 3;
    }
  }

  // 4. Results: the token and, when asked, its raw logprob (from the saved value if an entry changed it).
  __syncthreads();
  if (threadIdx.x == 0) sh.fval = x[token];
  __syncthreads();
  for (int e = p.entry_start + threadIdx.x; e < p.entry_end; e += SAMPLE_THREADS) {
    if (entries[e].x == token) sh.fval = saved[e];
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    o[0] = token;
    o[1] = p.top_logprobs >= 0 ? __float_as_int(__double2float_rn((double)sh.fval - lse)) : 0;
  }

  // 5. For checks: which tokens could have been drawn (kept, with mass > 0).
  if (kept_mask != 0) {
    unsigned char* km = kept_mask + (size_t)blockIdx.x * vocab;
    for (int i = threadIdx.x; i < vocab; i += SAMPLE_THREADS) {
      unsigned key;
      u64 w = 0;
      if (mode == 2) bl.at(i, key, w);
      else if (mode == 3) bw.at(i, key, w);
      km[i] = mode == 0 ? i == token : mode == 1 ? 0 : w > 0;
    }
    if (mode == 1) {
      __syncthreads();
      for (int j = threadIdx.x; j < keep; j += SAMPLE_THREADS) {
        u64 prev = j == 0 ? 0 : sh.hist[SORT_CAP + j - 1];
        if (sh.hist[SORT_CAP + j] > prev) km[(unsigned)sh.hist[j]] = 1;
      }
    }
  }
}
