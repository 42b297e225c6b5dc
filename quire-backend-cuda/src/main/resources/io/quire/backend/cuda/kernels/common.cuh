// Shared by every kernel: bf16 stored as raw 16-bit words (no cuda_bf16.h, so NVRTC needs no include
// path), converted with round-to-nearest-even; warp and block sums. All arithmetic is fp32.
#pragma once

typedef unsigned short bf16;

// Programmatic dependent launch (sm_90+): a kernel launched with programmatic stream serialization may
// start while the previous kernel on the stream drains. pdl_wait() blocks until that kernel has
// completed and its writes are visible; every kernel calls it in every block before it reads or writes
// anything an earlier kernel touches (only reads of data no kernel writes, like weights, may come
// before). pdl_trigger() lets the next kernel launch. Both are no-ops without PDL or below sm_90.
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void pdl_trigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Start of a kernel with nothing to prefetch: let the next kernel launch (it fires once every block of
// this one has started, so the next one's blocks only take what is left over), then wait for the
// previous kernel. A GEMV that follows starts streaming its weights while this one still waits.
#define PDL_ENTER() do { pdl_trigger(); pdl_wait(); } while (0)

__device__ __forceinline__ float bf2f(bf16 v) { return __uint_as_float(((unsigned int)v) << 16); }

__device__ __forceinline__ bf16 f2bf(float f) {
  unsigned int u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (bf16)((u >> 16) | 0x40u);  // NaN stays a quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return (bf16)(u >> 16);
}

// The fp8 KV cache (kv_cache_dtype fp8): OCP FP8 E4M3 bytes (bias 7, largest finite 448, no
// infinities), scale 1, as vLLM stores K and V without calibrated scales. Conversions need sm_89+.
typedef unsigned char fp8;

// Two e4m3 values (the low byte first) in the low 16 bits of v widened exactly to an f16 pair (the low half
// first); v's high 16 bits are ignored.
__device__ __forceinline__ unsigned e4m3x2_to_f16x2(unsigned v) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  unsigned r;
  asm("{ .reg .b16 lo, hi; mov.b32 {lo, hi}, %1; cvt.rn.f16x2.e4m3x2 %0, lo; }" : "=r"(r) : "r"(v));
  return r;
#else
  __trap();
  return 0;
#endif
}

// The e4m3 pair in the high 16 bits of v (the low pair: e4m3x2_to_f16x2, which ignores the high bits), so
// that neither needs a mask or a shift of its own in C (ptxas takes the halves of the register).
__device__ __forceinline__ unsigned e4m3x2_hi_to_f16x2(unsigned v) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  unsigned r;
  asm("{ .reg .b16 lo, hi; mov.b32 {lo, hi}, %1; cvt.rn.f16x2.e4m3x2 %0, hi; }" : "=r"(r) : "r"(v));
  return r;
#else
  __trap();
  return 0;
#endif
}

// x0 into the low byte, x1 into the high byte: round to nearest even, saturating to +-448 (NaN stays NaN).
__device__ __forceinline__ unsigned short f32x2_to_e4m3x2(float x0, float x1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  unsigned short r;
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(r) : "f"(x1), "f"(x0));
  return r;
#else
  __trap();
  return 0;
#endif
}

__device__ __forceinline__ fp8 f2e4m3(float x) { return (fp8)(f32x2_to_e4m3x2(x, 0.f) & 0xffu); }

// Stores a bf16 value into a KV cache of element type C: bf16 as is, fp8 rounded to e4m3.
__device__ __forceinline__ void store_kv(bf16* p, size_t i, bf16 v) { p[i] = v; }
__device__ __forceinline__ void store_kv(fp8* p, size_t i, bf16 v) { p[i] = f2e4m3(bf2f(v)); }

// Eight values of a bf16 row (u, the low half first) into a KV cache row: bf16 16 bytes, fp8 8 bytes, each
// value rounded as store_kv does. p is 16-byte (bf16) or 8-byte (fp8) aligned.
__device__ __forceinline__ void store_kv8(bf16* p, uint4 u) { *reinterpret_cast<uint4*>(p) = u; }
__device__ __forceinline__ void store_kv8(fp8* p, uint4 u) {
  uint2 r;
  r.x = f32x2_to_e4m3x2(bf2f(u.x & 0xffffu), bf2f(u.x >> 16)) | ((unsigned)f32x2_to_e4m3x2(bf2f(u.y & 0xffffu), bf2f(u.y >> 16)) << 16);
  r.y = f32x2_to_e4m3x2(bf2f(u.z & 0xffffu), bf2f(u.z >> 16)) | ((unsigned)f32x2_to_e4m3x2(bf2f(u.w & 0xffffu), bf2f(u.w >> 16)) << 16);
  *reinterpret_cast<uint2*>(p) = r;
}

__device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000); }

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum over the block; every thread gets the total. blockDim.x is a multiple of 32, at most 1024.
__device__ __forceinline__ float block_sum(float v) {
  __shared__ float part[32];
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // a previous call's readers are done with part[]
  if (lane == 0) part[warp] = v;
  __syncthreads();
  return warp_sum(lane < nw ? part[lane] : 0.f);
}

// 16-byte read-only load (8 bf16), for data that no thread of the kernel writes.
__device__ __forceinline__ uint4 ld16(const void* p) {
  uint4 v;
  asm volatile("ld.global.nc.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
  return v;
}

__device__ __forceinline__ void unpack_bf16x8(uint4 u, float* f) {
  f[0] = __uint_as_float(u.x << 16); f[1] = __uint_as_float(u.x & 0xffff0000u);
  f[2] = __uint_as_float(u.y << 16); f[3] = __uint_as_float(u.y & 0xffff0000u);
  f[4] = __uint_as_float(u.z << 16); f[5] = __uint_as_float(u.z & 0xffff0000u);
  f[6] = __uint_as_float(u.w << 16); f[7] = __uint_as_float(u.w & 0xffff0000u);
}

__device__ __forceinline__ uint4 pack_bf16x8(const float* f) {
  uint4 u;
  u.x = (unsigned int)f2bf(f[0]) | ((unsigned int)f2bf(f[1]) << 16);
  u.y = (unsigned int)f2bf(f[2]) | ((unsigned int)f2bf(f[3]) << 16);
  u.z = (unsigned int)f2bf(f[4]) | ((unsigned int)f2bf(f[5]) << 16);
  u.w = (unsigned int)f2bf(f[6]) | ((unsigned int)f2bf(f[7]) << 16);
  return u;
}

// Byte offset of position pos's K (or V) row in a layer's cache, through a request's block table: the
// slot times row_bytes. bs_shift = log2(block_size) when that is a power of two (always, in practice:
// a shift and a mask, the slot in 32 bits since slots < 2^31, and one wide multiply), else -1 (an integer
// division).
__device__ __forceinline__ size_t kv_row_offset(const int* __restrict__ table, int pos, int block_size, int bs_shift,
                                                unsigned row_bytes) {
  if (bs_shift >= 0) {
    const unsigned slot = ((unsigned)table[pos >> bs_shift] << bs_shift) | (unsigned)(pos & ((1 << bs_shift) - 1));
    return (size_t)slot * row_bytes;
  }
  return ((size_t)table[pos / block_size] * block_size + pos % block_size) * row_bytes;
}

// Keys per split when a context of ctx keys is cut into num_splits chunks of whole 32-key tiles (the
// tensor-core attention's tile): the later splits of a short context are empty. (A floor of 128 keys
// per chunk was tried: no faster at batch 1 on an H200, 14.4 + 5.8 us per layer against 12.1 + 8.2,
// and it moved where the reduction order changes, flipping a near-tie in the batch-invariance check.)
__device__ __forceinline__ int split_chunk(int ctx, int num_splits) {
  return ((ctx + num_splits - 1) / num_splits + 31) & ~31;
}

// Argmax order: (v, i) beats (bv, bi) with a larger value, or an equal value and a lower index; NaN
// loses to anything (the sampler's greedy rule).
__device__ __forceinline__ bool am_better(float v, int i, float bv, int bi) {
  if (v != v) return false;
  if (bv != bv) return true;
  return v > bv || (v == bv && i < bi);
}

// This thread's scan of row[threadIdx.x], row[threadIdx.x + stride], ... below n, then its warp's: every
// lane ends with the warp's best (value, index); (NaN, INT_MAX) when the warp saw only NaN.
__device__ __forceinline__ void warp_argmax(const float* row, int n, int stride, float& bv, int& bi) {
  bv = __int_as_float(0x7fc00000);  // NaN: nothing yet
  bi = 0x7fffffff;
  // Each thread walks increasing indices, so strictly greater keeps its lowest index on ties.
  for (int i = threadIdx.x; i < n; i += stride) {
    float v = row[i];
    if (am_better(v, i, bv, bi)) { bv = v; bi = i; }
  }
  for (int o = 16; o > 0; o >>= 1) {
    float v = __shfl_xor_sync(0xffffffffu, bv, o);
    int i = __shfl_xor_sync(0xffffffffu, bi, o);
    if (am_better(v, i, bv, bi)) { bv = v; bi = i; }
  }
}
