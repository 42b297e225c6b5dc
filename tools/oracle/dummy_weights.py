"""Deterministic dummy weights, bit-identical to io.quire.models.DummyWeights (Java).

Element i (row-major) of the tensor called `name`:
  h = fnv1a64(utf8(name)) ^ seed
  z = splitmix64 finaliser of h + (i + 1) * 0x9E3779B97F4A7C15
  u = z >> 56                       (0..255)
  norm weights (name ends with "norm.weight"): (128 + (u >> 1)) * 2^-8      in [0.5, 1)
  biases:                                       (u - 128) * 2^-10
  embeddings (embed_tokens):                    (u - 128) * 2^-8
  other weights [out, in]:                      (u - 128) * 2^-k, k = 6 + (L + 1) // 2,
                                                L = bit_length(in - 1)   (std about 1/sqrt(in))
Every value is an integer below 256 times a power of two, so it is exact in bf16, fp16 and fp32.
"""
import numpy as np

M64 = (1 << 64) - 1


def fnv1a64(s: str) -> int:
    h = 0xCBF29CE484222325
    for b in s.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001B3) & M64
    return h


def values(name: str, shape, seed: int = 0) -> np.ndarray:
    n = int(np.prod(shape))
    h = np.uint64(fnv1a64(name) ^ seed)
    with np.errstate(over="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        z = h + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(56)).astype(np.int64)
    if name.endswith("norm.weight"):
        v = (128 + (u >> 1)).astype(np.float64) * 2.0 ** -8
    elif name.endswith(".bias"):
        v = (u - 128).astype(np.float64) * 2.0 ** -10
    elif "embed_tokens" in name:
        v = (u - 128).astype(np.float64) * 2.0 ** -8
    else:
        fan_in = int(shape[-1])
        k = 6 + ((fan_in - 1).bit_length() + 1) // 2
        v = (u - 128).astype(np.float64) * 2.0 ** -k
    return v.astype(np.float32).reshape(shape)
