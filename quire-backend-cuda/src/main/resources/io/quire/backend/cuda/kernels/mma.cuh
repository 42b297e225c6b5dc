// Tensor-core building blocks shared by attention_tc.cu and gemm_bi.cu (sm_80+): shared-memory
// addresses, cp.async copies, ldmatrix loads and mma.sync bf16 (and f16) -> fp32 products.
#pragma once
#include "common.cuh"

__device__ __forceinline__ unsigned smem_addr(const void* p) {
  unsigned r;
  asm("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }" : "=r"(r) : "l"(p));
  return r;
}

// 16 bytes global -> shared, zero-filled when !valid (src is then not read; the attention relies on the
// zeros: V past the context must be finite).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(smem_addr(dst)), "l"(src), "r"(valid ? 16 : 0)
               : "memory");
}
// The same with the destination as a shared-space address (smem_addr), for loops that add offsets to one.
__device__ __forceinline__ void cp_async16s(unsigned dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory"); }

// mma16816 / mma1688: bf16 operands; mma16816h / mma1688h: f16 (the fp8 KV cache's keys and values widen to
// f16 exactly). fp32 accumulators in and out.
#define MMA_PRODUCTS(SUF, T)                                                                                    \
  __device__ __forceinline__ void mma16816##SUF(float* c, const unsigned* a, unsigned b0, unsigned b1) {       \
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32." T "." T ".f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, " \
                 "{%0,%1,%2,%3};"                                                                               \
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])                                               \
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));                               \
  }                                                                                                             \
  __device__ __forceinline__ void mma1688##SUF(float* c, unsigned a0, unsigned a1, unsigned b0) {              \
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32." T "." T ".f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, "         \
                 "{%0,%1,%2,%3};"                                                                               \
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])                                               \
                 : "r"(a0), "r"(a1), "r"(b0));                                                                  \
  }
MMA_PRODUCTS(, "bf16")
MMA_PRODUCTS(h, "f16")
#undef MMA_PRODUCTS

// H: f16 operands, else bf16.
template <bool H>
__device__ __forceinline__ void mma16816x(float* c, const unsigned* a, unsigned b0, unsigned b1) {
  if constexpr (H) mma16816h(c, a, b0, b1); else mma16816(c, a, b0, b1);
}
template <bool H>
__device__ __forceinline__ void mma1688x(float* c, unsigned a0, unsigned a1, unsigned b0) {
  if constexpr (H) mma1688h(c, a0, a1, b0); else mma1688(c, a0, a1, b0);
}

__device__ __forceinline__ void ldsm_x4_t(unsigned* r, const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

__device__ __forceinline__ void ldsm_x2_t(unsigned* r, const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(smem_addr(p)));
}

__device__ __forceinline__ void ldsm_x4(unsigned* r, const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

__device__ __forceinline__ void ldsm_x2(unsigned* r, const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];" : "=r"(r[0]), "=r"(r[1]) : "r"(smem_addr(p)));
}

// ---- operand packing shared by the attention kernels ----

// Two floats x0, x1 as bf16 pairs hi + lo (x ~ hi + lo to ~16 bits), x0 in the low halves (the lower
// k index of an mma operand).
__device__ __forceinline__ void split2(float x0, float x1, unsigned& hi, unsigned& lo) {
  const bf16 h0 = f2bf(x0), h1 = f2bf(x1);
  hi = (unsigned)h0 | ((unsigned)h1 << 16);
  lo = (unsigned)f2bf(x0 - bf2f(h0)) | ((unsigned)f2bf(x1 - bf2f(h1)) << 16);
}

template <bool F8> struct KvType { typedef bf16 T; };
template <> struct KvType<true> { typedef fp8 T; };

// An f16 pair from two floats, x0 in the low half.
__device__ __forceinline__ unsigned f2h2(float x0, float x1) {
  unsigned r;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(x1), "f"(x0));
  return r;
}

// A bf16 pair as an f16 pair, saturating at +-65504 (queries that large do not occur in practice).
__device__ __forceinline__ unsigned bf2h2(unsigned w) {
  unsigned r;
  asm("cvt.rn.satfinite.f16x2.f32 %0, %1, %2;"
      : "=r"(r)
      : "f"(__uint_as_float(w & 0xffff0000u)), "f"(__uint_as_float(w << 16)));
  return r;
}
