"""Benchmark: decoding 512 tokens one at a time with a KV cache vs recomputing the prefix.

Goal (issue 13): with a small stack of causal ``attnbook.MultiHeadAttention``
layers, producing the outputs of 512 positions one position at a time is at
least 5× faster with a :class:`attnbook.KVCache` per layer than recomputing
the whole prefix at every step. Exits 1 on a miss, or if the two ways give
different outputs.

The stack: ``--layers`` pre-LN residual blocks ``x + attn(LN(x))`` of width
``--width`` with ``--heads`` heads (``--kv-heads`` key/value heads), float32.
Both ways see the same 512 input vectors (teacher forcing: the work per step
is what generation does, without a sampler in the way). Without the cache,
step ``t`` runs positions ``0 .. t`` through the stack and keeps the last
row; with it, step ``t`` runs position ``t`` alone. The two are timed
alternately (``--runs`` each, best time compared; one run of the recomputation
already spans tens of seconds), with the same torch thread
count (1 by default, stable on a shared machine). The time per step at a few
positions is printed too: flat with the cache, growing without.

    python benchmarks/bench_kvcache.py [--tokens 512] [--layers 2] [--width 64] [--heads 4]
                                       [--kv-heads 4] [--runs 1] [--threads 1] [--limit 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch
from torch import nn

from attnbook import KVCache, MultiHeadAttention


class Stack(nn.Module):
    """Pre-LN residual blocks of causal attention (no feed-forward: attention is measured)."""

    def __init__(self, layers: int, width: int, heads: int, kv_heads: int) -> None:
        super().__init__()
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(layers))
        self.attns = nn.ModuleList(
            MultiHeadAttention(width, heads, num_kv_heads=kv_heads, causal=True)
            for _ in range(layers)
        )

    def forward(self, x: torch.Tensor, caches: list[KVCache] | None = None) -> torch.Tensor:
        for i, (norm, attn) in enumerate(zip(self.norms, self.attns, strict=True)):
            x = x + attn(norm(x), cache=None if caches is None else caches[i])[0]
        return x


def decode_cached(stack: Stack, x: torch.Tensor, step_times: list[float]) -> torch.Tensor:
    caches = [KVCache() for _ in stack.attns]
    outs = []
    for t in range(x.shape[1]):
        start = time.perf_counter()
        outs.append(stack(x[:, t : t + 1], caches))
        step_times.append(time.perf_counter() - start)
    return torch.cat(outs, dim=1)


def decode_recomputed(stack: Stack, x: torch.Tensor, step_times: list[float]) -> torch.Tensor:
    outs = []
    for t in range(x.shape[1]):
        start = time.perf_counter()
        outs.append(stack(x[:, : t + 1])[:, -1:])
        step_times.append(time.perf_counter() - start)
    return torch.cat(outs, dim=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=4)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch threads; 0 = torch's default")
    parser.add_argument("--limit", type=float, default=5.0, help="least speed-up accepted")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    stack = Stack(args.layers, args.width, args.heads, args.kv_heads).eval()
    x = torch.randn(1, args.tokens, args.width)
    print(
        f"{args.layers} causal layers, width {args.width}, {args.heads} heads "
        f"({args.kv_heads} key/value), float32, {args.tokens} positions one at a time, "
        f"{args.threads or 'default'} thread(s)"
    )
    ways = {"cached": decode_cached, "recomputed": decode_recomputed}
    best: dict[str, float] = {}
    steps: dict[str, list[float]] = {}
    outputs: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        stack(x[:, :8])  # warm-up
        for run in range(args.runs):
            for name, decode in ways.items():
                step_times: list[float] = []
                start = time.perf_counter()
                outputs[name] = decode(stack, x, step_times)
                seconds = time.perf_counter() - start
                print(f"  run {run + 1} {name:>10}: {seconds:.3f} s", flush=True)
                if seconds < best.get(name, float("inf")):
                    best[name], steps[name] = seconds, step_times
        full = stack(x)  # one causal pass: what both must reproduce
    diffs = {name: (out - full).abs().max().item() for name, out in outputs.items()}
    ratio = best["recomputed"] / best["cached"]
    for name in ways:
        # median over the 8 steps up to each position: one step is too noisy on a shared machine
        at = {
            p: statistics.median(steps[name][max(0, p - 8) : p]) * 1e3
            for p in (8, 64, 128, 256, args.tokens)
        }
        per_step = ", ".join(f"{p}: {ms:.2f}" for p, ms in at.items())
        print(
            f"{name:>10}: {best[name]:.3f} s in all; median ms per step up to position {per_step}; "
            f"max |difference| from one causal pass {diffs[name]:.2e}"
        )
    print(f"speed-up with the cache: {ratio:.1f}x (goal >= {args.limit:g}x)")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    failed = False
    if max(diffs.values()) > 1e-4:
        print("MISS: decoding one position at a time does not reproduce one causal pass")
        failed = True
    if ratio < args.limit:
        print("MISS: the KV cache speed-up is below the goal")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
