#!/usr/bin/env python3
"""One-token GEMV kernels (gemv.cu, built as sm_90 cubins) timed alone on the GPU, per Llama shape and per
ks (warps that share one row's K), next to torch's F.linear (cuBLAS) and a plain streaming read of the same
bytes. Each timing is the mean over a CUDA graph of 40 launches that cycle through enough copies of the
weights (>= 400 MB) that nothing is served from L2.

  python3 tools/bench/gemv_sweep.py main=quire-backend-cuda/src/main/resources/io/quire/backend/cuda/kernels/gemv.cu \
      --read tools/bench/readbw.cu [--shapes 7b,8b] [--ks auto,1,2,4,8]
A .cu is compiled with nvcc (CUDA_HOME/bin or PATH) for the device's architecture, with the kernels'
directory on the include path; a .cubin is loaded as it is.
"""
import argparse
import ctypes as C
import os
import shutil
import subprocess
import tempfile

import torch

cu = C.CDLL("libcuda.so.1")


def check(r, what):
    if r != 0:
        raise RuntimeError(f"{what}: CUresult {r}")


KERNELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../quire-backend-cuda/src/main/resources/io/quire/backend/cuda/kernels")


def cubin(path):
    if path.endswith(".cubin"):
        return open(path, "rb").read()
    nvcc = shutil.which("nvcc") or os.path.join(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin/nvcc")
    cc = torch.cuda.get_device_capability()
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "k.cubin")
        subprocess.run([nvcc, "-cubin", f"-arch=sm_{cc[0]}{cc[1]}", "-std=c++17", "-I", KERNELS, "-o", out, path], check=True)
        return open(out, "rb").read()


def load(path, name):
    mod, fn = C.c_void_p(), C.c_void_p()
    data = cubin(path)
    check(cu.cuModuleLoadData(C.byref(mod), C.c_char_p(data)), "cuModuleLoadData " + path)
    check(cu.cuModuleGetFunction(C.byref(fn), mod, name.encode()), "cuModuleGetFunction " + name)
    return fn


def launch(fn, grid, block, args):
    vals = [C.c_void_p(a.p) if isinstance(a, P) else C.c_longlong(a.v) if isinstance(a, L) else C.c_int(a)
            for a in args]
    arr = (C.c_void_p * len(vals))(*[C.cast(C.byref(v), C.c_void_p) for v in vals])
    s = torch.cuda.current_stream().cuda_stream
    check(cu.cuLaunchKernel(fn, grid, 1, 1, block, 1, 1, 0, C.c_void_p(s), arr, None), "cuLaunchKernel")


class P:  # a device pointer argument
    def __init__(self, p): self.p = p


class L:  # a 64-bit integer argument
    def __init__(self, v): self.v = v


def timed(body, reps=40):
    """Mean microseconds of body(i) over a graph of reps calls (eager fallback when capture fails)."""
    torch.cuda.synchronize()
    for i in range(3): body(i)
    torch.cuda.synchronize()
    try:
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            for i in range(reps): body(i)
        run = g.replay
    except Exception as e:  # noqa: BLE001
        print("  (graph capture failed, eager:", e, ")")
        def run():
            for i in range(reps): body(i)
    run(); torch.cuda.synchronize()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    best = 1e30
    for _ in range(5):
        a.record(); run(); b.record(); torch.cuda.synchronize()
        best = min(best, a.elapsed_time(b) * 1e3 / reps)
    return best


SHAPES = {
    "7b": [("qkv", [4096, 4096, 4096], 4096, 0, False), ("o", [4096], 4096, 0, False),
           ("gate_up", [22016], 4096, 11008, False), ("down", [4096], 11008, 0, False),
           ("lm_head", [32000], 4096, 0, True)],
    "8b": [("qkv", [4096, 1024, 1024], 4096, 0, False), ("o", [4096], 4096, 0, False),
           ("gate_up", [28672], 4096, 14336, False), ("down", [4096], 14336, 0, False),
           ("lm_head", [128256], 4096, 0, True)],
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kernels", nargs="+")
    ap.add_argument("--read")
    ap.add_argument("--shapes", default="7b,8b")
    ap.add_argument("--ks", default="auto,1,2,4,8")
    a = ap.parse_args()
    torch.zeros(1, device="cuda")
    props = torch.cuda.get_device_properties(0)
    sms = props.multi_processor_count
    print(f"{props.name}, {sms} SMs")
    fns = {k.split("=")[0]: load(k.split("=", 1)[1], "gemv3") for k in a.kernels}
    rd = load(a.read, "readbw") if a.read else None
    sink = torch.zeros(4, dtype=torch.int32, device="cuda")
    for shp in a.shapes.split(","):
        for name, ns, K, glu, f32 in SHAPES[shp]:
            total = sum(ns)
            nbytes = total * K * 2
            copies = max(2, -(-400_000_000 // nbytes))
            ws = [[torch.randn(n, K, device="cuda", dtype=torch.bfloat16) for n in ns] for _ in range(copies)]
            x = torch.randn(K, device="cuda", dtype=torch.bfloat16)
            outs = [torch.empty(n, device="cuda", dtype=torch.float32 if f32 else torch.bfloat16) for n in ns]
            gl = torch.empty(max(glu, 1), device="cuda", dtype=torch.bfloat16)
            line = f"{shp} {name:8s} {total:6d}x{K:5d} {nbytes / 1e6:6.1f} MB:"
            auto_ks = 1
            if K >= 8192 or (total + 1) // 2 < 8 * sms:
                while auto_ks < 8 and K // 8 // (2 * auto_ks) >= 128: auto_ks *= 2
            for kname, fn in fns.items():
                res = []
                for kss in a.ks.split(","):
                    ks = auto_ks if kss == "auto" else int(kss)
                    grid = -(-total // (2 * (8 // ks)))
                    def body(i, ks=ks, grid=grid):
                        w = ws[i % copies]
                        args = [P(x.data_ptr()), K] + [P(w[j].data_ptr()) if j < len(w) else P(0) for j in range(3)] \
                            + [P(outs[j].data_ptr()) if j < len(outs) else P(0) for j in range(3)] + [P(0)] * 3 \
                            + [ns[0], ns[1] if len(ns) > 1 else 0, ns[2] if len(ns) > 2 else 0, 1 if f32 else 0, ks,
                               P(gl.data_ptr() if glu else 0), glu]
                        launch(fn, grid, 256, args)
                    us = timed(body)
                    res.append(f"{kss}{'=' + str(ks) if kss == 'auto' else ''} {us:6.1f}us {nbytes / us / 1e6:4.2f}TB/s")
                # correctness against torch for the default ks
                line += f"\n   {kname:6s} " + " | ".join(res)
            ok = []
            for j, n in enumerate(ns):
                r = (ws[(40 - 1) % copies][j].float() @ x.float())
                got = outs[j].float()
                if glu:
                    got = outs[0].float()
                ok.append(f"{(got - r).abs().max().item():.3g}")
            line += f"\n   check max|out - fp32 ref| (last kernel, last ks): {' '.join(ok)}"
            def tb(i):
                w = ws[i % copies]
                for j in range(len(w)): torch.nn.functional.linear(x.view(1, K), w[j])
            us = timed(tb)
            line += f"\n   torch F.linear (cuBLAS): {us:6.1f}us {nbytes / us / 1e6:4.2f}TB/s"
            if rd is not None:
                def rb(i):
                    w = ws[i % copies]
                    for j in range(len(w)):
                        launch(rd, sms * 8, 256, [P(w[j].data_ptr()), L(w[j].numel() // 8), P(sink.data_ptr())])
                us = timed(rb)
                line += f"\n   plain read (132x8 blocks): {us:6.1f}us {nbytes / us / 1e6:4.2f}TB/s"
            print(line, flush=True)
            del ws


if __name__ == "__main__":
    main()
