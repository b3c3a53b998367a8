"""Multi-head attention from scratch: project, split, attend, concatenate, project.

With the options a decoder needs: a causal mask, a key/value cache for
generating one token at a time, and fewer key/value heads than query heads
(grouped-query and multi-query attention).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from attnbook.errors import AttentionInputError
from attnbook.mechanism.attention import scaled_dot_product_attention
from attnbook.mechanism.cache import KVCache
from attnbook.mechanism.masks import causal_mask, combine_masks

__all__ = ["MultiHeadAttention"]


class MultiHeadAttention(nn.Module):
    """Multi-head attention from scratch: project, split, attend, concatenate, project.

    Args:
        embed_dim: model width ``E``; must be divisible by ``num_heads``.
        num_heads: number of query heads ``H``; each works in ``E / H`` dimensions.
        bias: whether the four projections have a bias.
        causal: no query may look at a key after it (a decoder's
            self-attention). With a cache, the new queries are the last ones:
            :func:`~attnbook.mechanism.causal_mask` ``(T, S)``.
        num_kv_heads: number of key/value heads ``H_kv`` (default ``H``); it
            must divide ``H``. Each group of ``H / H_kv`` query heads shares
            one key/value head: grouped-query attention, or multi-query
            attention with ``num_kv_heads=1``. The key and value projections
            then map ``E`` to ``H_kv · E / H`` dimensions.

    Inputs are batch-first: ``[B, T, E]``. :meth:`forward` returns the output
    ``[B, T, E]`` and the per-head weights ``[B, H, T, S]``.

    >>> import torch
    >>> torch.manual_seed(0) and None
    >>> mha = MultiHeadAttention(8, 2)
    >>> out, w = mha(torch.randn(1, 5, 8))
    >>> tuple(out.shape), tuple(w.shape)
    ((1, 5, 8), (1, 2, 5, 5))
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        *,
        bias: bool = True,
        causal: bool = False,
        num_kv_heads: int | None = None,
    ) -> None:
        super().__init__()
        if num_heads < 1 or embed_dim % num_heads:
            raise AttentionInputError(
                f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads}); "
                f"choose a number of heads that divides {embed_dim}"
            )
        num_kv_heads = num_heads if num_kv_heads is None else num_kv_heads
        if num_kv_heads < 1 or num_heads % num_kv_heads:
            raise AttentionInputError(
                f"num_heads ({num_heads}) must be a multiple of num_kv_heads ({num_kv_heads}): "
                f"each key/value head serves a group of query heads; choose num_kv_heads "
                f"among the divisors of {num_heads}"
            )
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads
        self.head_dim = embed_dim // num_heads
        self.causal = causal
        kv_dim = num_kv_heads * self.head_dim
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, kv_dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, kv_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def extra_repr(self) -> str:
        """The sizes and options shown in ``repr(module)``."""
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
            f"num_kv_heads={self.num_kv_heads}, causal={self.causal}"
        )

    def _split(self, x: Tensor, heads: int | None = None) -> Tensor:
        """``[B, T, heads · E/H]`` -> ``[B, heads, T, E/H]`` (``heads`` defaults to ``H``)."""
        b, t, _ = x.shape
        return x.view(b, t, heads or self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        query: Tensor,
        key: Tensor | None = None,
        value: Tensor | None = None,
        mask: Tensor | None = None,
        *,
        cache: KVCache | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Attend from ``query`` ``[B, T, E]`` to ``key``/``value`` ``[B, S, E]``.

        ``key`` and ``value`` default to ``query`` (self-attention). ``mask``
        broadcasts to ``[B, H, T, S]`` (or ``[T, S]``), same convention as
        :func:`scaled_dot_product_attention`; with ``causal=True`` it is
        combined with the causal mask.

        ``cache``: a :class:`~attnbook.mechanism.KVCache`. The new keys and
        values (``H_kv`` heads) are appended to it and the queries attend to
        all of them, so ``S`` counts the cached positions too. Feeding a
        sequence one token (or one block) at a time through a causal layer
        with a cache gives the same outputs as one pass over the whole
        sequence.
        """
        key = query if key is None else key
        value = key if value is None else value
        for name, x in (("query", query), ("key", key), ("value", value)):
            if x.ndim != 3 or x.shape[-1] != self.embed_dim:
                raise AttentionInputError(
                    f"{name} must have shape [B, T, {self.embed_dim}] (batch, tokens, "
                    f"embed_dim), got {tuple(x.shape)}; add a batch axis with x[None]"
                )
        if key.shape[:2] != value.shape[:2]:
            raise AttentionInputError(
                f"key and value must agree on [B, S]: {tuple(key.shape)} vs {tuple(value.shape)}"
            )
        q = self._split(self.q_proj(query))
        k = self._split(self.k_proj(key), self.num_kv_heads)
        v = self._split(self.v_proj(value), self.num_kv_heads)
        if cache is not None:
            k, v = cache.append(k, v)  # only the H_kv key/value heads are stored
        if self.causal:
            t, s = q.shape[2], k.shape[2]
            if s < t:
                raise AttentionInputError(
                    f"causal attention with {t} queries and only {s} keys: the queries must "
                    "be the last of the key positions; give at least as many keys as queries"
                )
            mask = combine_masks(mask, causal_mask(t, s, device=q.device))
        heads, weights = scaled_dot_product_attention(q, k, v, mask=mask)  # [B, H, T, E/H]
        b, _, t, _ = heads.shape
        merged = heads.transpose(1, 2).reshape(b, t, self.embed_dim)
        return self.out_proj(merged), weights

    @classmethod
    def from_torch(cls, mha: nn.MultiheadAttention) -> MultiHeadAttention:
        """A copy of a ``torch.nn.MultiheadAttention`` with identical weights.

        Supports the packed in-projection (``kdim == vdim == embed_dim``),
        with or without bias, and keeps the source's dtype.
        """
        if not mha._qkv_same_embed_dim:
            raise AttentionInputError(
                "only MultiheadAttention with kdim == vdim == embed_dim is supported; "
                "copy the separate q/k/v projection weights by hand for other shapes"
            )
        if mha.bias_k is not None or mha.add_zero_attn:
            raise AttentionInputError(
                "add_bias_kv and add_zero_attn are not supported; build the torch module "
                "without them"
            )
        has_bias = mha.in_proj_bias is not None
        ours = cls(mha.embed_dim, mha.num_heads, bias=has_bias)
        ours.to(dtype=mha.in_proj_weight.dtype, device=mha.in_proj_weight.device)
        with torch.no_grad():
            wq, wk, wv = mha.in_proj_weight.chunk(3)
            ours.q_proj.weight.copy_(wq)
            ours.k_proj.weight.copy_(wk)
            ours.v_proj.weight.copy_(wv)
            ours.out_proj.weight.copy_(mha.out_proj.weight)
            if has_bias:
                bq, bk, bv = mha.in_proj_bias.chunk(3)
                ours.q_proj.bias.copy_(bq)
                ours.k_proj.bias.copy_(bk)
                ours.v_proj.bias.copy_(bv)
                ours.out_proj.bias.copy_(mha.out_proj.bias)
        return ours
