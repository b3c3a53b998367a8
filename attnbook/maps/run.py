""":func:`attend`: run a text through a model and keep every attention weight.

>>> from attnbook import attend
>>> maps = attend("The dog chased the cat.")
>>> maps.tokens
['[CLS]', 'the', 'dog', 'chased', 'the', 'cat', '.', '[SEP]']
>>> tuple(maps.attentions.shape)  # [layers, heads, queries, keys]
(6, 12, 8, 8)
>>> maps.head(0, 0).sum(dim=-1)  # every query's weights sum to 1
tensor([1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000])
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from attnbook.adapters import Encoded, capture, encode
from attnbook.errors import InvalidOptionError
from attnbook.maps.encode import check_text, special_roles
from attnbook.maps.types import AttentionMaps, Segments, TokenAxis
from attnbook.models import is_causal_model, load_model, model_id


def attend(
    text: str,
    model: str | tuple | None = None,
    *,
    pair: str | None = None,
    max_length: int | None = None,
    truncation: bool = False,
) -> AttentionMaps:
    """Run ``text`` (and ``pair``) through a model and keep every attention weight.

    Encoders (BERT, RoBERTa, DistilBERT, ELECTRA, ...) and decoders (GPT-2,
    GPT-NeoX, Llama, Mistral, Qwen, ...) go through the same code path; a
    decoder's maps have ``causal=True`` and are 0 above the diagonal. For a
    model with fewer key/value heads than query heads (grouped-query
    attention) there is one map per *query* head, as transformers returns them.

    Args:
        text: the sentence.
        model: ``None`` (``$ATTNBOOK_MODEL`` or the embedded default), a hub id
            or local directory, or a ``(tokenizer, model)`` pair; see
            :func:`attnbook.models.load_model`.
        pair: an optional second sentence; the maps keep the boundary
            (``segment_ids``, :attr:`AttentionMaps.sep_positions`). Encoders only.
        max_length: token limit to enforce (special tokens included); defaults
            to, and may not exceed, the model's own limit.
        truncation: cut the input to the limit instead of raising
            :class:`~attnbook.errors.TextTooLongError`.

    Returns:
        :class:`AttentionMaps` with ``attentions`` of shape ``[L, H, T, T]``.

    Raises:
        NotTextError, EmptyTextError, TextTooLongError, ModelNotAvailableError,
        NoAttentionError, EncoderDecoderModelError (BART, T5, ...),
        InvalidOptionError (``pair`` with a decoder).

    Warns :class:`~attnbook.errors.UnknownTokenWarning` when more than
    :data:`UNKNOWN_TOKEN_THRESHOLD` of the tokens are unknown.

    >>> maps = attend("The dog barks.", pair="It is loud.")
    >>> maps.tokens
    ['[CLS]', 'the', 'dog', 'bark', '##s', '.', '[SEP]', 'it', 'is', 'loud', '.', '[SEP]']
    >>> maps.segment_ids
    [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    >>> maps.words
    ['The', 'dog', 'barks', '.', 'It', 'is', 'loud', '.']
    """
    # Checked before the model loads, so a typo costs no waiting.
    check_text(text, "text")
    if pair is not None:
        check_text(pair, "pair")
    tokenizer, loaded = load_model(model)
    causal = is_causal_model(loaded)
    if causal and pair is not None:
        raise InvalidOptionError(
            f"{model_id(loaded)!r} is a decoder: it reads one text left to right and has no "
            "sentence-pair input. Join the two sentences into one text instead of pair=."
        )
    encoded = encode(
        tokenizer, loaded, text, pair, max_length=max_length, truncation=truncation, warn=True
    )
    attentions = capture(loaded, encoded.inputs).weights()  # [L, H, T, T]
    return maps_from(encoded, attentions, tokenizer, loaded, text=text, pair=pair, causal=causal)


def maps_from(
    encoded: Encoded,
    attentions: Tensor,
    tokenizer: Any,
    loaded: Any,
    *,
    text: str,
    pair: str | None,
    causal: bool,
) -> AttentionMaps:
    """Self-attention :class:`AttentionMaps` of an encoded text and its weights ``[L, H, T, T]``."""
    special = torch.tensor(encoded.special, dtype=torch.bool)
    input_ids = encoded.inputs["input_ids"][0].tolist()
    axis = TokenAxis(
        tokens=encoded.tokens,
        word_ids=encoded.word_ids,
        words=encoded.words,
        special=special,
        roles=special_roles(tokenizer, input_ids, encoded.special),
    )
    return AttentionMaps(
        attentions=attentions,
        query=axis,
        key=axis,
        model_id=model_id(loaded),
        text=text,
        causal=causal,
        segments=Segments.of(encoded.segment_ids, special, pair),
    )
