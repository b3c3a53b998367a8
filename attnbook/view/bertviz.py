"""Hand attnbook's maps to BertViz, for readers who already use it."""

from __future__ import annotations

from typing import Any

import torch

from attnbook.maps.types import AttentionMaps
from attnbook.view.payload import ViewInputError

__all__ = ["seq2seq_to_bertviz", "to_bertviz"]


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
    tokens = [str(t) for t in maps.tokens]  # one shared axis (AxesDifferError otherwise)
    # An AttentionMaps was checked when it was built; a stand-in is checked here.
    if not isinstance(maps, AttentionMaps) and att.shape[-2:] != (len(tokens), len(tokens)):
        raise ViewInputError(f"attentions {tuple(att.shape)} do not match {len(tokens)} tokens")
    return tuple(att[layer].unsqueeze(0) for layer in range(att.shape[0])), tokens


def _per_layer(att: torch.Tensor) -> tuple[torch.Tensor, ...]:
    # [L, H, Q, K] -> L x [1, H, Q, K], as transformers returns them with output_attentions=True.
    return tuple(att[layer].unsqueeze(0) for layer in range(att.shape[0]))


def seq2seq_to_bertviz(maps: Any) -> dict[str, Any]:
    """An encoder-decoder's maps as the keyword arguments of ``bertviz.head_view`` / ``model_view``.

    ``bertviz.head_view(**seq2seq_to_bertviz(maps))``: ``encoder_attention``
    (one ``[1, H, S, S]`` tensor per encoder layer), ``decoder_attention``
    (``[1, H, T, T]`` per decoder layer), ``cross_attention`` (``[1, H, T, S]``
    per decoder layer: rows are the decoder's tokens, columns the source's),
    ``encoder_tokens`` (``S`` strings) and ``decoder_tokens`` (``T`` strings,
    the decoder's input under teacher forcing).

    Args:
        maps: a :class:`~attnbook.seq2seq.Seq2SeqMaps` (token or word level).
    """
    parts: list[Any] = [getattr(maps, name, None) for name in ("encoder", "decoder", "cross")]
    if any(getattr(p, "attentions", None) is None for p in parts):
        raise ViewInputError(
            "expected a Seq2SeqMaps (from attnbook.attend_seq2seq(source, target)), "
            f"got {type(maps).__name__}"
        )
    encoder, decoder, cross = parts
    return {
        "encoder_attention": _per_layer(encoder.attentions),
        "decoder_attention": _per_layer(decoder.attentions),
        "cross_attention": _per_layer(cross.attentions),
        "encoder_tokens": [str(t) for t in encoder.tokens],
        "decoder_tokens": [str(t) for t in decoder.tokens],
    }
