"""AttentionMaps built by hand (random softmax rows), for tests that need no model.

Used by test_view.py, test_view_browser.py and test_plot.py.
"""

from __future__ import annotations

import torch

from attnbook.maps import AttentionMaps

SPECIAL_TOKENS = ("[CLS]", "[SEP]")


def synthetic_maps(
    tokens,
    layers=2,
    heads=3,
    seed=0,
    sharpness=3.0,
    model_id="synthetic",
    joiner=" ",
) -> AttentionMaps:
    """AttentionMaps over ``tokens``: [CLS]/[SEP] are special, every other token is its own word.

    ``attentions`` is [layers, heads, n, n], each row softmax(sharpness * N(0, 1)) from
    ``seed``; larger ``sharpness`` gives peakier rows. ``text`` is the words joined by ``joiner``.
    """
    n = len(tokens)
    special = [t in SPECIAL_TOKENS for t in tokens]
    words = [t for t, s in zip(tokens, special, strict=True) if not s]
    word_ids, w = [], 0
    for s in special:
        word_ids.append(None if s else w)
        w += not s
    gen = torch.Generator().manual_seed(seed)
    att = torch.softmax(sharpness * torch.randn(layers, heads, n, n, generator=gen), dim=-1)
    return AttentionMaps(
        tokens=list(tokens),
        word_ids=word_ids,
        words=words,
        special=torch.tensor(special),
        attentions=att,
        model_id=model_id,
        segment_ids=[0] * n,
        text=joiner.join(words),
    )
