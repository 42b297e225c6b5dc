// A plain streaming read (16-byte non-caching loads, grid-stride), the yardstick gemv_sweep.py puts next
// to each GEMV: the rate one kernel reaches reading the same bytes with no arithmetic.
#include "common.cuh"
extern "C" __global__ void __launch_bounds__(256) readbw(const uint4* __restrict__ p, long n, unsigned* out) {
  unsigned acc = 0;
  for (long i = blockIdx.x * 256L + threadIdx.x; i < n; i += (long)gridDim.x * 256) {
    uint4 v;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p + i));
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x12345678u) out[0] = acc;  // keeps the loads
}
