#!/usr/bin/env python3
"""numpy side-by-side reference for `npm run bench` (not part of the product).

Reads safetensors itself (8-byte header length + JSON header, np.memmap of the data; BF16 is
uint16 << 16 viewed as float32) and computes, for every pair of experts, the task-vector cosine,
L2 distance and sign agreement over all tensors, streaming tensor by tensor with float64 sums.
Optionally times randomised SVD (same algorithm as src/numerics/linalg/rsvd.ts: Gaussian sketch with
oversampling p, q power iterations re-orthonormalised each half step, SVD of the small
projection) and a full np.linalg.svd on a float32 matrix stored in a safetensors file.

Prints one JSON object on stdout.
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np

CHUNK = 1 << 22
DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "BF16": np.uint16}


def open_file(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return {"path": path, "start": 8 + n, "header": header}


def open_checkpoint(path):
    """Tensor name -> (file dict) for a .safetensors file or an HF folder (single or sharded)."""
    if path.endswith(".safetensors"):
        f = open_file(path)
        return {name: f for name in f["header"]}
    index = os.path.join(path, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as fh:
            weight_map = json.load(fh)["weight_map"]
        files = {shard: open_file(os.path.join(path, shard)) for shard in set(weight_map.values())}
        return {name: files[shard] for name, shard in weight_map.items()}
    f = open_file(os.path.join(path, "model.safetensors"))
    return {name: f for name in f["header"]}


def numel(ckpt, name):
    shape = ckpt[name]["header"][name]["shape"]
    return int(np.prod(shape)) if shape else 1


def read(ckpt, name, start=0, count=None):
    f = ckpt[name]
    e = f["header"][name]
    begin, _ = e["data_offsets"]
    count = numel(ckpt, name) - start if count is None else count
    size = np.dtype(DTYPES[e["dtype"]]).itemsize
    raw = np.memmap(f["path"], dtype=DTYPES[e["dtype"]], mode="r", offset=f["start"] + begin + start * size, shape=(count,))
    if e["dtype"] == "BF16":
        return (raw.astype(np.uint32) << 16).view(np.float32)
    return np.asarray(raw, dtype=np.float32)


def pair_metrics(base_path, expert_paths):
    base = open_checkpoint(base_path)
    experts = [open_checkpoint(p) for p in expert_paths]
    n = len(experts)
    gram = np.zeros((n, n))
    agree = np.zeros((n, n))
    nonzero = np.zeros((n, n))
    params = 0
    for name in sorted(base):
        if base[name]["header"][name]["dtype"] not in DTYPES:
            continue
        total = numel(base, name)
        params += total
        # Chunks of 4M elements keep memory bounded on the embedding.
        for start in range(0, total, CHUNK):
            count = min(CHUNK, total - start)
            b = read(base, name, start, count)
            # tau_i = fround(theta_i - theta_0), as the engine forms it (float32 subtraction).
            taus = np.stack([read(e, name, start, count) - b for e in experts])
            t64 = taus.astype(np.float64)
            gram += t64 @ t64.T
            s = np.sign(taus)
            a = np.abs(s)
            both = a @ a.T  # both non-zero
            agree += (s @ s.T + both) / 2  # both non-zero with equal signs
            nonzero += both
    pairs = []
    for i in range(n):
        for j in range(i + 1, n):
            l2 = float(np.sqrt(max(gram[i, i] + gram[j, j] - 2 * gram[i, j], 0.0)))
            pairs.append({
                "i": i, "j": j,
                "cosine": float(gram[i, j] / np.sqrt(gram[i, i] * gram[j, j])),
                "l2": l2,
                "sign_agreement": float(agree[i, j] / nonzero[i, j]) if nonzero[i, j] else None,
            })
    return pairs, params


def checkpoint_bytes(path):
    ck = open_checkpoint(path)
    total = 0
    for name, f in ck.items():
        begin, end = f["header"][name]["data_offsets"]
        total += end - begin
    return total


def rsvd(A, k, p, q, seed=0):
    m, n = A.shape
    l = min(k + p, m, n)
    rng = np.random.default_rng(seed)
    omega = rng.standard_normal((n, l))
    Y = A @ omega
    Q, _ = np.linalg.qr(Y)
    for _ in range(q):
        Z, _ = np.linalg.qr(A.T @ Q)
        Q, _ = np.linalg.qr(A @ Z)
    B = Q.T @ A
    Ub, s, Vt = np.linalg.svd(B, full_matrices=False)
    return (Q @ Ub)[:, :k], s[:k], Vt[:k]


def best_of(reps, fn):
    t = float("inf")
    out = None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        t = min(t, time.perf_counter() - t0)
    return t, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base")
    ap.add_argument("--experts", nargs="*", default=[])
    ap.add_argument("--rsvd", help="safetensors file with one float32 matrix named 'A'")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--oversample", type=int, default=10)
    ap.add_argument("--power", type=int, default=1)
    ap.add_argument("--spectrum-k", type=int, default=100)
    ap.add_argument("--no-full-svd", action="store_true")
    a = ap.parse_args()
    out = {"numpy": np.__version__, "threads_env": {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}}
    if a.base and a.experts:
        t0 = time.perf_counter()
        pairs, params = pair_metrics(a.base, a.experts)
        seconds = time.perf_counter() - t0
        out["metrics"] = {
            "seconds": seconds,
            "params": params,
            "bytes": sum(checkpoint_bytes(p) for p in [a.base, *a.experts]),
            "pairs": pairs,
        }
    if a.rsvd:
        ck = open_checkpoint(a.rsvd)
        shape = ck["A"]["header"]["A"]["shape"]
        A = read(ck, "A").reshape(shape)
        A64 = A.astype(np.float64)
        r = {"shape": shape, "k": a.k, "oversample": a.oversample, "power": a.power}
        r["rsvd_f64_seconds"], (_, s, _) = best_of(3, lambda: rsvd(A64, a.k, a.oversample, a.power))
        r["rsvd_f32_seconds"], _ = best_of(3, lambda: rsvd(A, a.k, a.oversample, a.power))
        r["rsvd_spectrum_seconds"], _ = best_of(3, lambda: rsvd(A64, a.spectrum_k, a.oversample, a.power))
        r["sigma"] = [float(x) for x in s]
        if not a.no_full_svd:
            r["full_svd_seconds"], sv = best_of(1, lambda: np.linalg.svd(A64, compute_uv=True, full_matrices=False))
            r["full_sigma"] = [float(x) for x in sv[1][: a.k]]
        out["rsvd"] = r
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
