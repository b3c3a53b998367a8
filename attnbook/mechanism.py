"""Attention written from scratch: softmax, masks, scaled dot-product and multi-head.

Everything here is plain PyTorch arithmetic with no learned state except in
:class:`MultiHeadAttention`. The book teaches these functions step by step and
the tests check them against ``torch.nn.functional.scaled_dot_product_attention``
and ``torch.nn.MultiheadAttention``.

Mask convention: a **boolean** mask is ``True`` where a query *may* look at a
key (the same convention as ``torch.nn.functional.scaled_dot_product_attention``);
a **floating** mask is *added* to the scores (``0`` keeps, ``-inf`` removes).

Fully masked rows: if a query may look at no key at all, softmax has nothing
to normalise. We then define its weights as all zeros and its output as the
zero vector (PyTorch returns NaN there). Nothing is silently renormalised.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = [
    "softmax",
    "causal_mask",
    "padding_mask",
    "scaled_dot_product_attention",
    "MultiHeadAttention",
]


def softmax(x: Tensor, dim: int = -1, temperature: float = 1.0) -> Tensor:
    """Numerically stable softmax of ``x / temperature`` along ``dim``.

    Subtracting the maximum before ``exp`` changes nothing mathematically
    (the factor cancels) but keeps ``exp`` from overflowing on large scores.
    A slice that is entirely ``-inf`` gives zeros, not NaN.

    Args:
        x: scores of any shape.
        dim: the axis that is normalised to sum to 1.
        temperature: > 0; larger values flatten the distribution.

    Returns:
        Tensor of the same shape as ``x``.

    >>> import torch
    >>> softmax(torch.tensor([1.0, 2.0, 3.0])).round(decimals=4)
    tensor([0.0900, 0.2447, 0.6652])
    >>> softmax(torch.tensor([1000.0, 1000.0]))
    tensor([0.5000, 0.5000])
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    x = torch.as_tensor(x)
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    x = x / temperature
    peak = x.amax(dim=dim, keepdim=True)
    # An all -inf slice has peak -inf; shift by 0 there so exp gives 0, not NaN.
    peak = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))
    e = torch.exp(x - peak)
    total = e.sum(dim=dim, keepdim=True)
    return torch.where(total > 0, e / torch.where(total > 0, total, 1), torch.zeros_like(e))


def causal_mask(n: int, *, device: torch.device | str | None = None) -> Tensor:
    """Boolean ``[n, n]`` mask: query ``i`` may look at keys ``0..i`` only.

    >>> causal_mask(3).int()
    tensor([[1, 0, 0],
            [1, 1, 0],
            [1, 1, 1]], dtype=torch.int32)
    """
    if n < 1:
        raise ValueError(f"causal_mask needs n >= 1, got {n}")
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def padding_mask(lengths, n: int, *, device: torch.device | str | None = None) -> Tensor:
    """Boolean ``[B, 1, n]`` mask hiding the padding keys of each sequence.

    Sequence ``b`` has ``lengths[b]`` real tokens followed by padding; its
    queries may look at keys ``0..lengths[b]-1``. The middle axis broadcasts
    over queries, so the mask fits scores of shape ``[B, T, n]``; for
    multi-head scores ``[B, H, T, n]`` use ``mask[:, None]``.

    >>> padding_mask([2, 3], 3).int()
    tensor([[[1, 1, 0]],
    <BLANKLINE>
            [[1, 1, 1]]], dtype=torch.int32)
    """
    lengths = torch.as_tensor(lengths, device=device)
    if lengths.ndim != 1:
        raise ValueError(f"lengths must be 1-D [B], got shape {tuple(lengths.shape)}")
    if ((lengths < 0) | (lengths > n)).any():
        raise ValueError(f"every length must be in 0..{n}, got {lengths.tolist()}")
    keys = torch.arange(n, device=lengths.device)
    return (keys[None, :] < lengths[:, None])[:, None, :]


def _check_shapes(q: Tensor, k: Tensor, v: Tensor) -> None:
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(
            "q, k and v need at least 2 dimensions [..., tokens, features]; got "
            f"q{tuple(q.shape)}, k{tuple(k.shape)}, v{tuple(v.shape)}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must have the same feature size d_k: q{tuple(q.shape)} vs k{tuple(k.shape)}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same number of tokens: k{tuple(k.shape)} vs v{tuple(v.shape)}"
        )
    try:
        torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ValueError(
            "the leading (batch/head) dimensions of q, k and v do not broadcast: "
            f"q{tuple(q.shape)}, k{tuple(k.shape)}, v{tuple(v.shape)}"
        ) from None


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    scale: float | None = None,
) -> tuple[Tensor, Tensor]:
    """Attention(Q, K, V) = softmax(Q Kᵀ · scale + mask) V, in four visible steps.

    Args:
        q: queries ``[..., T, d_k]``.
        k: keys ``[..., S, d_k]``.
        v: values ``[..., S, d_v]``.
        mask: broadcastable to ``[..., T, S]``; boolean (``True`` = may attend)
            or floating (added to the scores).
        scale: multiplies the scores; defaults to ``1 / sqrt(d_k)``.

    Returns:
        ``(output, weights)`` with shapes ``[..., T, d_v]`` and ``[..., T, S]``.
        Each row of ``weights`` sums to 1, except fully masked rows, which
        are all zeros (and whose output is zero).

    >>> import torch
    >>> q = torch.tensor([[1.0, 0.0]])
    >>> k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> v = torch.tensor([[10.0], [20.0]])
    >>> out, w = scaled_dot_product_attention(q, k, v)
    >>> w.round(decimals=4)
    tensor([[0.6698, 0.3302]])
    >>> out.round(decimals=3)
    tensor([[13.3020]])
    """
    q, k, v = (torch.as_tensor(t) for t in (q, k, v))
    _check_shapes(q, k, v)
    d_k = q.shape[-1]
    if scale is None:
        scale = 1.0 / math.sqrt(d_k)

    # Step 1 and 2: how well each query matches each key, scaled.
    scores = (q @ k.transpose(-2, -1)) * scale  # [..., T, S]

    if mask is not None:
        mask = torch.as_tensor(mask, device=scores.device)
        try:
            torch.broadcast_shapes(mask.shape, scores.shape)
        except RuntimeError:
            raise ValueError(
                f"mask of shape {tuple(mask.shape)} does not broadcast to the scores "
                f"[..., T, S] = {tuple(scores.shape)}"
            ) from None
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        elif mask.is_floating_point():
            scores = scores + mask.to(scores.dtype)
        else:
            raise ValueError(f"mask must be boolean or floating, got dtype {mask.dtype}")

    # Step 3: scores -> weights that sum to 1 over the keys.
    weights = softmax(scores, dim=-1)
    # Step 4: the weighted average of the values.
    return weights @ v, weights


class MultiHeadAttention(nn.Module):
    """Multi-head attention from scratch: project, split, attend, concatenate, project.

    Args:
        embed_dim: model width ``E``; must be divisible by ``num_heads``.
        num_heads: number of heads ``H``; each works in ``E / H`` dimensions.
        bias: whether the four projections have a bias.

    Inputs are batch-first: ``[B, T, E]``. :meth:`forward` returns the output
    ``[B, T, E]`` and the per-head weights ``[B, H, T, S]``.

    >>> import torch
    >>> torch.manual_seed(0) and None
    >>> mha = MultiHeadAttention(8, 2)
    >>> out, w = mha(torch.randn(1, 5, 8))
    >>> tuple(out.shape), tuple(w.shape)
    ((1, 5, 8), (1, 2, 5, 5))
    """

    def __init__(self, embed_dim: int, num_heads: int, *, bias: bool = True) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(
                f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})"
            )
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def _split(self, x: Tensor) -> Tensor:
        """``[B, T, E]`` -> ``[B, H, T, E/H]``."""
        b, t, _ = x.shape
        return x.view(b, t, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        query: Tensor,
        key: Tensor | None = None,
        value: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Attend from ``query`` ``[B, T, E]`` to ``key``/``value`` ``[B, S, E]``.

        ``key`` and ``value`` default to ``query`` (self-attention). ``mask``
        broadcasts to ``[B, H, T, S]`` (or ``[T, S]``), same convention as
        :func:`scaled_dot_product_attention`.
        """
        key = query if key is None else key
        value = key if value is None else value
        for name, x in (("query", query), ("key", key), ("value", value)):
            if x.ndim != 3 or x.shape[-1] != self.embed_dim:
                raise ValueError(
                    f"{name} must have shape [B, T, {self.embed_dim}], got {tuple(x.shape)}"
                )
        if key.shape[:2] != value.shape[:2]:
            raise ValueError(
                f"key and value must agree on [B, S]: {tuple(key.shape)} vs {tuple(value.shape)}"
            )
        q = self._split(self.q_proj(query))
        k = self._split(self.k_proj(key))
        v = self._split(self.v_proj(value))
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
            raise ValueError("only MultiheadAttention with kdim == vdim == embed_dim is supported")
        if mha.bias_k is not None or mha.add_zero_attn:
            raise ValueError("add_bias_kv and add_zero_attn are not supported")
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
