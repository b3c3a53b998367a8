"""Attention written from scratch: softmax, masks, scaled dot-product, tiled and multi-head.

Everything here is plain PyTorch arithmetic with no learned state except in
:class:`MultiHeadAttention`. The book teaches these functions step by step and
the tests check them against ``torch.nn.functional.scaled_dot_product_attention``,
``torch.nn.MultiheadAttention`` and transformers.

Mask convention: a **boolean** mask is ``True`` where a query *may* look at a
key (the same convention as ``torch.nn.functional.scaled_dot_product_attention``);
a **floating** mask is *added* to the scores (``0`` keeps, ``-inf`` removes).

Fully masked rows: if a query may look at no key at all, softmax has nothing
to normalise (``0 / 0``). We define its weights as all zeros and its output
as the zero vector. ``torch.nn.functional.scaled_dot_product_attention`` does
the same since PyTorch 2.5 (its output is zeros there); a plain
``torch.softmax`` over a row of ``-inf`` gives NaN. Nothing is silently
renormalised. :func:`tiled_attention` follows the same rule.

Modules (everything is importable from here and from :mod:`attnbook`):

* :mod:`~attnbook.mechanism.attention` -- :func:`softmax`, :func:`scaled_dot_product_attention`
* :mod:`~attnbook.mechanism.masks` -- :func:`causal_mask`, :func:`padding_mask`
* :mod:`~attnbook.mechanism.tiled` -- :func:`tiled_attention` (online softmax, no ``T × S`` matrix)
* :mod:`~attnbook.mechanism.multihead` -- :class:`MultiHeadAttention`
* :mod:`~attnbook.mechanism.cache` -- :class:`KVCache`
"""

from attnbook.mechanism.attention import scaled_dot_product_attention, softmax
from attnbook.mechanism.cache import KVCache
from attnbook.mechanism.masks import causal_mask, padding_mask
from attnbook.mechanism.multihead import MultiHeadAttention
from attnbook.mechanism.tiled import tiled_attention

__all__ = [
    "softmax",
    "causal_mask",
    "padding_mask",
    "scaled_dot_product_attention",
    "tiled_attention",
    "MultiHeadAttention",
    "KVCache",
]
