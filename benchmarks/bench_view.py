"""Benchmark: size and build time of the interactive views.

Prints, for the default model on real text cut to several lengths (and for a
synthetic 6 x 12-head map of 300 and 512 tokens), the HTML size of
``head_view`` and ``model_view``, the layout used, the build time and the
size of the same weights as full-precision JSON (what BertViz embeds;
estimated from one head). Exits 1
if the 64-token view is over 250 KB, the goal of issue 4.

    python benchmarks/bench_view.py
"""

from __future__ import annotations

import json
import os
import sys
import time

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from attnbook.maps import AttentionMaps, attend  # noqa: E402
from attnbook.view import head_view, model_view  # noqa: E402

LIMIT_64 = 250_000
TEXT = (
    "Attention lets every token look at every other token, and the weights it learns tell us "
    "which words the model connects when it reads a sentence about a dog that chased a cat "
    "across the quiet garden at night while the owner slept soundly upstairs, unbelievably "
    "unaware of the commotion in the dark kitchen below and of the neighbours' complaints, "
    "which grew louder every evening until the whole street knew the names of both animals."
)


def synthetic(n: int) -> AttentionMaps:
    gen = torch.Generator().manual_seed(0)
    att = torch.softmax(3 * torch.randn(6, 12, n, n, generator=gen), dim=-1)
    tokens = [f"w{i}" for i in range(n)]
    return AttentionMaps(
        tokens=tokens,
        word_ids=list(range(n)),
        words=tokens,
        special=torch.zeros(n, dtype=torch.bool),
        attentions=att,
        model_id="synthetic",
        segment_ids=[0] * n,
        text=" ".join(tokens),
    )


def main() -> int:
    cases = [
        (f"default model, {n} tokens", attend(TEXT, max_length=n, truncation=True))
        for n in (16, 64, 100)
    ]
    cases += [(f"synthetic, {n} tokens", synthetic(n)) for n in (300, 512)]
    print(
        f"{'input':32} {'layout':7} {'head view':>11} {'model view':>11} {'build s':>8} {'float JSON':>12}"
    )
    ok = True
    for name, maps in cases:
        start = time.perf_counter()
        head = head_view(maps)
        seconds = time.perf_counter() - start
        model = model_view(maps)
        layout = head.payload["parts"][0]["levels"][0]["layout"]
        # One head's JSON times the number of heads: dumping 500 MB would dominate the run.
        full = len(json.dumps(maps.attentions[0, 0].tolist())) * maps.num_layers * maps.num_heads
        print(
            f"{name:32} {layout:7} {len(head):>11,} {len(model):>11,} {seconds:>8.2f} {full:>12,}"
        )
        if maps.num_tokens == 64 and max(len(head), len(model)) > LIMIT_64:
            ok = False
    if not ok:
        print(f"FAIL: the 64-token view is over {LIMIT_64:,} bytes", file=sys.stderr)
    ok = seq2seq_budget() and ok
    return 0 if ok else 1


def _payload_bytes(view) -> int:
    return len(view.payload["data"])


def seq2seq_budget() -> bool:
    """Bytes of weights per query-key pair: an encoder-decoder view (three parts) against a
    self-attention view of the same sizes. Fails if the seq2seq view needs more per pair."""
    from attnbook.maps import AttentionMaps, TokenAxis
    from attnbook.seq2seq import Seq2SeqMaps

    gen = torch.Generator().manual_seed(0)
    s, t, layers, heads = 40, 48, 6, 8

    def axis(n, name):
        tokens = [f"{name}{i}" for i in range(n)]
        return TokenAxis(tokens, list(range(n)), tokens, torch.zeros(n, dtype=torch.bool))

    def weights(q, k, causal=False):
        scores = 3 * torch.randn(layers, heads, q, k, generator=gen)
        if causal:
            scores = scores.masked_fill(torch.ones(q, k, dtype=torch.bool).triu(1), -torch.inf)
        return torch.softmax(scores, dim=-1)

    src, tgt = axis(s, "s"), axis(t, "t")
    enc = AttentionMaps(attentions=weights(s, s), query=src, key=src, model_id="synthetic")
    dec = AttentionMaps(
        attentions=weights(t, t, True), query=tgt, key=tgt, model_id="synthetic", causal=True
    )
    cross = AttentionMaps(attentions=weights(t, s), query=tgt, key=src, model_id="synthetic")
    both = head_view(Seq2SeqMaps(enc, dec, cross), words=False)
    pairs = layers * heads * (s * s + t * t + t * s)
    alone = head_view(enc, words=False)
    per_pair, per_pair_self = (
        _payload_bytes(both) / pairs,
        _payload_bytes(alone) / (layers * heads * s * s),
    )
    print(
        f"seq2seq view ({s} source, {t} target tokens, {layers}x{heads}): {len(both):,} bytes, "
        f"{per_pair:.3f} payload bytes per token pair (self-attention view: {per_pair_self:.3f})"
    )
    if per_pair > per_pair_self * 1.05:
        print("FAIL: the seq2seq view stores more per token pair than a self-attention view")
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
