"""Position encodings from scratch: sinusoidal (Vaswani et al. 2017) and rotary (RoPE).

Self-attention alone cannot tell word order: permute the tokens and its
outputs permute the same way. Position has to be put in.

* :func:`sinusoidal` *adds* a fixed vector to each token's embedding. The
  vectors are sines and cosines of the position at geometrically spaced
  frequencies, so the dot product of two of them depends only on the offset
  between the positions.
* :func:`rotary` (Su et al. 2021, RoPE) *rotates* queries and keys, pair of
  dimensions by pair, by an angle proportional to the position. A rotated
  query at position ``m`` dotted with a rotated key at position ``n`` then
  depends on the content and on ``m - n`` only: attention scores see
  relative position.
"""

from __future__ import annotations

import operator

import torch
from torch import Tensor

from attnbook.errors import AttentionInputError

__all__ = ["sinusoidal", "rotary", "rotary_frequencies", "rotate_half"]


def _positive_int(name: str, value) -> int:
    try:
        n = operator.index(value)
    except TypeError:
        raise AttentionInputError(f"{name} must be a whole number, got {value!r}") from None
    if n < 1:
        raise AttentionInputError(f"{name} must be >= 1, got {n}")
    return n


def _even_dim(name: str, value) -> int:
    dim = _positive_int(name, value)
    if dim % 2:
        raise AttentionInputError(
            f"{name} must be even, got {dim}: each frequency uses a pair of dimensions "
            f"(a sine and a cosine, or the two coordinates of a rotation); use {dim + 1}"
        )
    return dim


def sinusoidal(
    num_positions: int, dim: int, *, base: float = 10000.0, dtype: torch.dtype | None = None
) -> Tensor:
    """The sinusoidal position encodings of Vaswani et al. (2017), ``[num_positions, dim]``.

    ``PE[p, 2i] = sin(p / base^(2i/dim))`` and ``PE[p, 2i+1] = cos(p / base^(2i/dim))``:
    even dimensions hold sines, odd dimensions cosines, and the pair
    ``(2i, 2i+1)`` turns at frequency ``base^(-2i/dim)``. Because
    ``sin a sin b + cos a cos b = cos(a - b)``, the dot product of two
    encodings depends only on the offset between the positions.

    Args:
        num_positions: positions ``0 .. num_positions - 1``.
        dim: the model width; must be even.
        base: the longest wavelength is ``2π · base``.
        dtype: defaults to the default floating dtype (computed in float64).

    >>> pe = sinusoidal(4, 6)
    >>> tuple(pe.shape)
    (4, 6)
    >>> pe[0]  # position 0: every sine is 0, every cosine 1
    tensor([0., 1., 0., 1., 0., 1.])
    """
    n = _positive_int("num_positions", num_positions)
    dim = _even_dim("dim", dim)
    positions = torch.arange(n, dtype=torch.float64)[:, None]  # [P, 1]
    angles = positions * rotary_frequencies(dim, base=base)  # [P, dim/2]
    pe = torch.empty(n, dim, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles)
    return pe.to(dtype or torch.get_default_dtype())


def rotary_frequencies(dim: int, *, base: float = 10000.0) -> Tensor:
    """The ``dim / 2`` angular frequencies ``base^(-2i/dim)``, ``i = 0 .. dim/2 - 1`` (float64).

    >>> rotary_frequencies(4, base=100.0)
    tensor([1.0000, 0.1000], dtype=torch.float64)
    """
    dim = _even_dim("dim", dim)
    if not base > 1:
        raise AttentionInputError(f"base must be > 1, got {base!r}; the usual value is 10000.0")
    return base ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)


def rotate_half(x: Tensor) -> Tensor:
    """``[x1, x2] -> [-x2, x1]`` on the last axis split in two halves (Llama's layout)."""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rotary(x: Tensor, positions, *, base: float = 10000.0) -> Tensor:
    """Rotary position embedding (RoPE) of queries or keys ``x``.

    In the **rotate-half** layout of transformers' Llama
    (``modeling_llama.apply_rotary_pos_emb``): dimension ``i`` and dimension
    ``i + d/2`` form a pair, rotated by the angle ``position · base^(-2i/d)``:

        out = x · cos + rotate_half(x) · sin,   rotate_half([x1, x2]) = [-x2, x1]

    The paper (Su et al. 2021) pairs neighbouring dimensions ``(2i, 2i+1)``
    instead (the "interleaved" form). It is the same rotation up to a
    permutation of dimensions: put dimension ``2i`` at ``i`` and ``2i+1`` at
    ``i + d/2``, rotate here, and put them back. Since a permutation of the
    dimensions of both queries and keys leaves every dot product unchanged,
    the attention scores are identical; only checkpoints must agree on which
    layout their weights were trained with.

    Args:
        x: ``[..., T, d]`` with ``d`` even (e.g. ``[B, H, T, d]``).
        positions: ``[T]`` (or broadcastable to ``x.shape[:-1]``) positions,
            integers or floats; ``torch.arange(T)`` for a sequence from 0.
        base: the frequency base (Llama 1/2: 10000; some models use more).

    Returns:
        Tensor like ``x``. The angles are computed in float64 and the result
        cast to ``x``'s dtype.

    >>> import torch
    >>> x = torch.tensor([[1.0, 0.0]])  # one position, d = 2: one pair
    >>> rotary(x, torch.tensor([1]), base=10.0).round(decimals=4)  # rotated by 1 radian
    tensor([[0.5403, 0.8415]])
    """
    x = torch.as_tensor(x)
    if x.ndim < 2:
        raise AttentionInputError(
            f"rotary takes x of shape [..., T, d], got {tuple(x.shape)}; add a token axis"
        )
    if not x.is_floating_point():
        raise AttentionInputError(f"rotary needs floating-point x, got dtype {x.dtype}")
    d = _even_dim("the last dimension of x", x.shape[-1])
    positions = torch.as_tensor(positions, device=x.device).to(torch.float64)
    try:
        torch.broadcast_shapes(positions.shape, x.shape[:-1])
    except RuntimeError:
        raise AttentionInputError(
            f"positions of shape {tuple(positions.shape)} do not fit x {tuple(x.shape)}: give "
            f"one position per token, e.g. torch.arange({x.shape[-2]})"
        ) from None
    angles = positions[..., None] * rotary_frequencies(d, base=base).to(x.device)  # [..., d/2]
    angles = torch.cat((angles, angles), dim=-1)  # pair i with i + d/2
    cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)
    return x * cos + rotate_half(x) * sin
