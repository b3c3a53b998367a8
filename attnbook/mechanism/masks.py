"""Boolean masks: causal (a query block against as many or more keys) and padding.

``True`` means *may attend*, the convention of
``torch.nn.functional.scaled_dot_product_attention``.
"""

from __future__ import annotations

import operator

import torch
from torch import Tensor

from attnbook.errors import AttentionInputError

__all__ = ["causal_mask", "padding_mask", "combine_masks"]


def causal_mask(
    t: int, s: int | None = None, *, device: torch.device | str | None = None
) -> Tensor:
    """Boolean ``[t, s]`` mask: no query may look at a key that comes after it.

    The ``t`` queries are the **last** ``t`` of ``s`` positions (``s``
    defaults to ``t``): query ``i`` sits at position ``s - t + i`` and may
    look at keys ``0 .. s - t + i``, itself included. This is what a decoder
    needs when a block of new tokens attends to a longer cached key sequence
    (:class:`~attnbook.mechanism.KVCache`), and equals
    ``torch.nn.attention.bias.causal_lower_right(t, s)``. (``is_causal=True``
    in ``torch.nn.functional.scaled_dot_product_attention`` aligns the
    diagonal top-left instead, which differs when ``t < s``.)

    >>> causal_mask(3).int()
    tensor([[1, 0, 0],
            [1, 1, 0],
            [1, 1, 1]], dtype=torch.int32)
    >>> causal_mask(2, 4).int()  # 2 new queries after 2 cached positions
    tensor([[1, 1, 1, 0],
            [1, 1, 1, 1]], dtype=torch.int32)
    """
    s = t if s is None else s
    try:
        t, s = operator.index(t), operator.index(s)
    except TypeError:
        raise AttentionInputError(
            f"causal_mask(t, s) takes whole numbers of positions, got t={t!r}, s={s!r}"
        ) from None
    if t < 1:
        raise AttentionInputError(
            f"causal_mask needs at least one query, got t={t}; use t >= 1 (the number of queries)"
        )
    if s < t:
        raise AttentionInputError(
            f"causal_mask(t={t}, s={s}): the t queries are the last t of the s key positions, "
            f"so s must be >= t; pass s = the total number of keys (cached + new)"
        )
    return torch.ones(t, s, dtype=torch.bool, device=device).tril(diagonal=s - t)


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
        raise AttentionInputError(
            f"lengths must be 1-D [B] (one length per sequence), got shape {tuple(lengths.shape)}"
        )
    if ((lengths < 0) | (lengths > n)).any():
        raise AttentionInputError(
            f"every length must be in 0..{n} (the padded length n), got {lengths.tolist()}"
        )
    keys = torch.arange(n, device=lengths.device)
    return (keys[None, :] < lengths[:, None])[:, None, :]


def combine_masks(mask: Tensor | None, allowed: Tensor) -> Tensor:
    """A mask that keeps only what both ``mask`` and the boolean ``allowed`` keep.

    A boolean ``mask`` is and-ed with ``allowed``; a floating (additive) mask
    gets ``-inf`` where ``allowed`` is ``False``. ``None`` gives ``allowed``.
    """
    if mask is None:
        return allowed
    mask = torch.as_tensor(mask, device=allowed.device)
    if mask.dtype == torch.bool:
        return mask & allowed
    if mask.is_floating_point():
        return torch.where(allowed, mask, torch.full((), float("-inf"), dtype=mask.dtype))
    raise AttentionInputError(
        f"mask must be boolean (True = may attend) or floating (added to the scores), "
        f"got dtype {mask.dtype}; convert it with mask.bool() or mask.float()"
    )
