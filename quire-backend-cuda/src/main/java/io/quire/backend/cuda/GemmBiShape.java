package io.quire.backend.cuda;

import java.util.List;

/**
 * One launch shape of the batch-invariant matmul (gemm_bi.cu), read from its kernel name
 * {@code gemm_bi_WM_WN_MT_NT_BK_ST}: WM x WN warps, each MT x NT mma tiles of 16 x 8, K slices of BK,
 * ST stages. The shape changes which block computes an output element, never its order of summation.
 *
 * @param kernel the kernel name
 * @param tileM rows of out per block
 * @param tileN columns of out per block
 * @param threads threads per block
 * @param smemBytes dynamic shared memory: ST x (tileM + tileN) rows of BK + 8 bf16
 */
record GemmBiShape(String kernel, int tileM, int tileN, int threads, int smemBytes) {
  /** Every shape gemm_bi.cu instantiates (the same list as its GEMM_BI lines). */
  static final List<String> KERNELS = List.of(
      "gemm_bi_1_2_1_1_128_4", "gemm_bi_1_2_1_1_128_8", "gemm_bi_1_4_1_1_128_6", "gemm_bi_1_1_1_1_256_6",
      "gemm_bi_2_2_2_4_32_4", "gemm_bi_2_2_2_4_64_3", "gemm_bi_2_2_2_4_64_4", "gemm_bi_2_4_2_4_32_4",
      "gemm_bi_2_4_2_4_64_3", "gemm_bi_2_4_4_4_32_3", "gemm_bi_2_4_4_4_32_4", "gemm_bi_2_4_4_4_64_3",
      "gemm_bi_2_4_4_4_64_4", "gemm_bi_4_2_2_8_32_4", "gemm_bi_2_4_4_8_32_4", "gemm_bi_2_4_4_8_64_3");
  /**
   * Defaults: up to 16 rows; where the large tiles alone fill the GPU; otherwise. Chosen on an H200
   * (Llama-3-8B shape, CudaBatchProfile, one call): K slices of 64 made a 256-row decode step 48.0 ->
   * 40.7 ms (64 x 64 tiles) and a 512-token prefill chunk + 200 decode rows 81.5 -> 70.2 ms (128 x 128);
   * for one row, 16 x 16 tiles of 4 stages beat 8 stages, 16 x 32 and 16 x 8 tiles (9.7 against 10.1-12.8
   * ms/token).
   */
  static final String SMALL = "gemm_bi_1_2_1_1_128_4", LARGE = "gemm_bi_2_4_4_4_64_3", MEDIUM = "gemm_bi_2_2_2_4_64_3";

  static GemmBiShape of(String kernel) {
    if (!KERNELS.contains(kernel)) throw new IllegalArgumentException("no batch-invariant matmul kernel " + kernel);
    String[] p = kernel.substring("gemm_bi_".length()).split("_");
    int wm = Integer.parseInt(p[0]), wn = Integer.parseInt(p[1]), mt = Integer.parseInt(p[2]), nt = Integer.parseInt(p[3]);
    int bk = Integer.parseInt(p[4]), st = Integer.parseInt(p[5]);
    int tileM = wm * mt * 16, tileN = wn * nt * 8;
    return new GemmBiShape(kernel, tileM, tileN, wm * wn * 32, st * (tileM + tileN) * (bk + 8) * 2);
  }

  /**
   * The shape for an m x n output on a GPU of {@code smCount} multiprocessors: {@code small} for up to
   * 16 rows, {@code large} where its tiles alone give every multiprocessor a block, else {@code medium}.
   */
  static GemmBiShape choose(int m, int n, int smCount, GemmBiShape small, GemmBiShape medium, GemmBiShape large) {
    if (m <= small.tileM()) return small;
    long largeTiles = (long) ((m + large.tileM() - 1) / large.tileM()) * ((n + large.tileN() - 1) / large.tileN());
    return largeTiles >= smCount ? large : medium;
  }
}
