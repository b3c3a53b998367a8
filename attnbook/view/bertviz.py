"""Hand attnbook's maps to BertViz, for readers who already use it."""

from __future__ import annotations

from typing import Any

import torch

from attnbook.view.payload import ViewInputError

__all__ = ["to_bertviz"]


def to_bertviz(maps: Any) -> tuple[tuple[torch.Tensor, ...], list[str]]:
    """``(attention, tokens)`` in the form ``bertviz.head_view(attention, tokens)`` takes.

    ``attention`` is a tuple with one tensor per layer, each ``[1, H, T, T]``
    (batch of one), like ``model(..., output_attentions=True).attentions``;
    ``tokens`` is the list of ``T`` token strings. Nothing is downloaded; note
    that BertViz's own views load JavaScript from a CDN.

    >>> from attnbook.maps import attend
    >>> attention, tokens = to_bertviz(attend("The dog chased the cat."))
    >>> len(attention), tuple(attention[0].shape), tokens[:3]
    (6, (1, 12, 8, 8), ['[CLS]', 'the', 'dog'])
    """
    att = getattr(maps, "attentions", None)
    if not isinstance(att, torch.Tensor) or att.dim() != 4:
        raise ViewInputError(
            f"expected an AttentionMaps with attentions [L, H, T, T], got {type(maps).__name__}"
        )
    tokens = [str(t) for t in maps.tokens]
    if att.shape[-1] != len(tokens) or att.shape[-2] != len(tokens):
        raise ViewInputError(f"attentions {tuple(att.shape)} do not match {len(tokens)} tokens")
    return tuple(att[layer].unsqueeze(0) for layer in range(att.shape[0])), tokens
