#!/usr/bin/env python3
"""Merge reference for `npm run bench`: the way mergekit's own loop merges, tensor by tensor.

Each tensor of every input is read (memory-mapped safetensors, BF16/F16/F32), converted to
torch float32 on the CPU, merged with the method's float32 torch rule as mergekit implements it
(linear, task_arithmetic, ties and dare via generalized task arithmetic, slerp), cast to BF16
(round to nearest even) and written to one safetensors file. Prints one JSON line: the merge
time (reading, merging and writing; interpreter and torch start-up excluded), bytes read, and —
with --compare <our merged folder> — the largest |Δ| against our output and the fraction of
elements that differ. DARE draws its own random masks (torch's generator), so its Δ is not a
like-for-like comparison.

Parameters are mergelens's defaults (the bench runs our merges with them): task_arithmetic
λ = 0.3; ties density 0.2, λ 1, normalize (disjoint mean); dare density 0.1, inverse rescale,
λ 1; dare_ties the same with sign consensus; slerp t = 0.5 between the first two experts.
"""
import argparse
import json
import mmap
import os
import struct
import sys
import time
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore")


class Checkpoint:
    """A safetensors file or HF folder (single file or sharded with an index)."""

    def __init__(self, path):
        files = []
        if os.path.isdir(path):
            index = os.path.join(path, "model.safetensors.index.json")
            if os.path.exists(index):
                with open(index) as f:
                    files = sorted(set(json.load(f)["weight_map"].values()))
                files = [os.path.join(path, x) for x in files]
            else:
                files = [os.path.join(path, "model.safetensors")]
        else:
            files = [path]
        self.where = {}
        self.maps = []
        for fn in files:
            with open(fn, "rb") as f:
                n = struct.unpack("<Q", f.read(8))[0]
                header = json.loads(f.read(n))
                mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            self.maps.append(mm)
            for name, e in header.items():
                if name != "__metadata__":
                    self.where[name] = (mm, 8 + n + e["data_offsets"][0], e["dtype"], e["shape"])
        self.bytes = sum(os.path.getsize(fn) for fn in files)

    def names(self):
        return sorted(self.where)

    def f32(self, name):
        mm, off, dtype, shape = self.where[name]
        count = int(np.prod(shape)) if shape else 1
        if dtype == "BF16":
            raw = np.frombuffer(mm, dtype=np.int16, count=count, offset=off)
            t = torch.from_numpy(raw.copy()).view(torch.bfloat16).to(torch.float32)
        elif dtype == "F16":
            t = torch.from_numpy(np.frombuffer(mm, dtype=np.float16, count=count, offset=off).astype(np.float32))
        else:
            t = torch.from_numpy(np.frombuffer(mm, dtype=np.float32, count=count, offset=off).copy())
        return t.reshape(shape)


def magnitude(tau, density):
    """mergekit sparsify.magnitude: keep the top k = int(density·numel) |τ|."""
    if density >= 1:
        return tau
    k = max(1, int(density * tau.numel()))
    w = tau.abs().view(-1)
    keep = torch.zeros_like(w, dtype=torch.bool)
    keep[torch.topk(w, k, sorted=False).indices] = True
    return tau * keep.view(tau.shape)


def bernoulli(tau, density, gen):
    """mergekit sparsify.bernoulli with rescale: keep each entry with probability density, ÷ density."""
    if density >= 1:
        return tau
    mask = torch.bernoulli(torch.full_like(tau, density), generator=gen)
    return tau * mask / density


def gta(base, experts, sparsify, consensus, normalize, lam):
    """mergekit generalized_task_arithmetic (weights 1), float32."""
    taus = torch.stack([sparsify(x - base) for x in experts])
    weights = torch.ones(len(experts)).view(-1, *([1] * base.dim()))
    wt = taus * weights
    if consensus:
        sign = torch.sign(wt.sum(dim=0))
        sign[sign == 0] = 1
        mask = torch.sign(wt) == sign
    else:
        mask = torch.ones_like(wt, dtype=torch.bool)
    mixed = (wt * mask).sum(dim=0)
    if normalize:
        div = (weights * mask).sum(dim=0)
        div[div == 0] = 1
        mixed = mixed / div
    return base + lam * mixed


def slerp(t, a, b, eps=1e-8):
    """mergekit slerp on flattened tensors (normalised copies for the angle, raw tensors mixed)."""
    a0 = a / a.norm() if a.norm() > eps else a
    b0 = b / b.norm() if b.norm() > eps else b
    dot = torch.sum(a0 * b0)
    if dot.abs() > 0.9995:
        return (1 - t) * a + t * b
    omega = torch.arccos(dot)
    so = torch.sin(omega)
    return torch.sin((1 - t) * omega) / so * a + torch.sin(t * omega) / so * b


def svd_merge(method, base, experts):
    """tsv / iso_c as src/merge/methods/{tsv,iso-c}.ts (weights 1, α 1), torch.linalg.svd in float32;
    1-D tensors: the mean task vector."""
    taus = [x - base for x in experts]
    if base.dim() < 2:
        return base + torch.stack(taus).sum(dim=0) / len(taus)
    m = base.shape[0]
    mats = [t.reshape(m, -1) for t in taus]
    if method == "iso_c":
        M = torch.stack(mats).sum(dim=0)
        U, S, Vh = torch.linalg.svd(M, full_matrices=False)
        delta = (S.sum() / min(M.shape)) * (U @ Vh)
    else:
        k = max(1, min(mats[0].shape) // len(mats))
        parts = [torch.linalg.svd(t, full_matrices=False) for t in mats]
        U = torch.cat([p[0][:, :k] for p in parts], dim=1)
        S = torch.cat([p[1][:k] for p in parts])
        V = torch.cat([p[2][:k].T for p in parts], dim=1)

        def procrustes(X):
            P, _, Qh = torch.linalg.svd(X, full_matrices=False)
            return P @ Qh

        delta = procrustes(U) @ torch.diag(S) @ procrustes(V).T
    return base + delta.reshape(base.shape)


def merge_tensor(method, base, experts, gen):
    if method in ("tsv", "iso_c"):
        return svd_merge(method, base, experts)
    if method == "weight_avg":
        return torch.stack(experts).sum(dim=0) / len(experts)
    if method == "task_arithmetic":
        return gta(base, experts, lambda x: x, False, False, 0.3)
    if method == "ties":
        return gta(base, experts, lambda x: magnitude(x, 0.2), True, True, 1.0)
    if method == "dare":
        return gta(base, experts, lambda x: bernoulli(x, 0.1, gen), False, False, 1.0)
    if method == "dare_ties":
        return gta(base, experts, lambda x: bernoulli(x, 0.1, gen), True, False, 1.0)
    if method == "slerp":
        return slerp(0.5, experts[0], experts[1])
    raise SystemExit(f"unknown method {method}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--experts", nargs="+", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--compare", help="our merged folder or file: report max |Δ|")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch intra-op threads (default: all cores)")
    ap.add_argument("--prefix", default="", help="only tensors whose name starts with this (as our --include 'PREFIX*')")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    t0, c0 = time.perf_counter(), time.process_time()
    base = Checkpoint(a.base)
    experts = [Checkpoint(p) for p in a.experts]
    needs_base = a.method not in ("weight_avg", "slerp")
    gen = torch.Generator().manual_seed(0)
    # the output layout comes from the base's shapes, so tensors are written as they are merged
    header, offset = {}, 0
    names = [n for n in base.names() if n.startswith(a.prefix)]
    for name in names:
        shape = base.where[name][3]
        size = 2 * (int(np.prod(shape)) if shape else 1)
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    head = json.dumps(header).encode()
    head += b" " * ((8 - len(head) % 8) % 8)
    with open(a.out, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for name in names:
            b = base.f32(name) if needs_base else None
            out = merge_tensor(a.method, b, [e.f32(name) for e in experts], gen)
            f.write(out.to(torch.bfloat16).contiguous().view(torch.int16).numpy().tobytes())
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    read = sum(e.bytes for e in experts) + (base.bytes if needs_base else 0)
    if a.prefix:  # the selected tensors' bytes only
        size = {"BF16": 2, "F16": 2, "F32": 4}
        def sel(c):
            return sum(size[c.where[n][2]] * (int(np.prod(c.where[n][3])) if c.where[n][3] else 1) for n in names)
        read = sum(sel(e) for e in experts) + (sel(base) if needs_base else 0)
    result = {"method": a.method, "seconds": seconds, "cpuSeconds": cpu, "bytesIn": read, "threads": torch.get_num_threads(), "torch": torch.__version__}
    if a.compare:
        ref, ours = Checkpoint(a.out), Checkpoint(a.compare)
        worst, differ, total = 0.0, 0, 0
        for name in ref.names():
            d = (ref.f32(name) - ours.f32(name)).abs()
            worst = max(worst, float(d.max()))
            differ += int((d > 0).sum())
            total += d.numel()
        result.update({"maxAbsDiff": worst, "fractionDiffering": differ / max(total, 1)})
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
