#!/usr/bin/env python3
"""torch's bf16 matmul rate at the model's shapes, for CudaGemmTune's figures on the same card:
out[t, n] = x[t, k] @ w[n, k]^T (torch.nn.functional.linear), 4 weight copies in turn, CUDA events over
reps calls after 3 warm-up calls. Usage: torch_gemm_shapes.py [7b|8b|N:K,...] [rows=512,2048,8192] [reps=20]"""
import sys
import torch

SHAPES = {"7b": [(12288, 4096), (4096, 4096), (22016, 4096), (4096, 11008)],
          "8b": [(6144, 4096), (4096, 4096), (28672, 4096), (4096, 14336)]}


def main():
    spec = sys.argv[1] if len(sys.argv) > 1 else "7b"
    shapes = SHAPES.get(spec) or [tuple(int(v) for v in p.split(":")) for p in spec.split(",")]
    rows = [int(v) for v in (sys.argv[2] if len(sys.argv) > 2 else "512,2048,8192").split(",")]
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    dev = torch.device("cuda")
    print("device", torch.cuda.get_device_name(0), "torch", torch.__version__, "cublas", torch.backends.cuda.preferred_blas_library())
    for n, k in shapes:
        ws = [(torch.rand(n, k, device=dev, dtype=torch.bfloat16) * 2 - 1) / k ** 0.5 for _ in range(4)]
        for t in rows:
            x = torch.rand(t, k, device=dev, dtype=torch.bfloat16) * 2 - 1
            for i in range(3):
                torch.nn.functional.linear(x, ws[i % 4])
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            for i in range(reps):
                torch.nn.functional.linear(x, ws[i % 4])
            b.record()
            torch.cuda.synchronize()
            us = a.elapsed_time(b) * 1000 / reps
            print(f"{n}x{k} t={t}: torch {us:.1f} us ({2.0 * n * k * t / us / 1e6:.0f} TFLOP/s)")


if __name__ == "__main__":
    main()
