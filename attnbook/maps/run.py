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

import torch

from attnbook.errors import InvalidOptionError, NoAttentionError
from attnbook.maps.encode import (
    check_text,
    encode_text,
    model_max_tokens,
    special_roles,
    warn_unknown,
)
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
    check_text(text, "text")
    if pair is not None:
        check_text(pair, "pair")
    tokenizer, net = load_model(model)
    causal = is_causal_model(net)
    if causal and pair is not None:
        raise InvalidOptionError(
            f"{model_id(net)!r} is a decoder: it reads one text left to right and has no "
            "sentence-pair input. Join the two sentences into one text instead of pair=."
        )
    limit = model_max_tokens(tokenizer, net)
    if max_length is not None:
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            raise InvalidOptionError(
                "max_length must be a positive int (tokens, special tokens included), "
                f"got {max_length!r}."
            )
        limit = min(limit, max_length)

    tensors, word_ids, words, segment_ids, special = encode_text(
        tokenizer, text, pair, limit, truncation
    )
    input_ids = tensors["input_ids"][0].tolist()
    warn_unknown(tokenizer, input_ids, special)
    if "token_type_ids" in tensors and "token_type_ids" not in forward_args(net):
        del tensors["token_type_ids"]  # DistilBERT has no segment embeddings

    device = next(net.parameters(), torch.empty(0)).device
    with torch.inference_mode():
        out = net(**{k: v.to(device) for k, v in tensors.items()}, output_attentions=True)
    per_layer = getattr(out, "attentions", None)
    if not per_layer or any(a is None for a in per_layer):
        raise NoAttentionError(
            f"{model_id(net)!r} returned no attention weights. attnbook loads models with "
            "attn_implementation='eager'; if you passed a (tokenizer, model) pair, load the "
            "model with AutoModel.from_pretrained(..., attn_implementation='eager')."
        )
    # Outside inference mode, so the result is an ordinary tensor callers may modify.
    attentions = torch.cat(per_layer, dim=0).float().cpu()  # L x [1, H, T, T] -> [L, H, T, T]

    special_mask = torch.tensor(special, dtype=torch.bool)
    axis = TokenAxis(
        tokens=tokenizer.convert_ids_to_tokens(input_ids),
        word_ids=word_ids,
        words=words,
        special=special_mask,
        roles=special_roles(tokenizer, input_ids, special),
    )
    return AttentionMaps(
        attentions=attentions,
        query=axis,
        key=axis,
        model_id=model_id(net),
        text=text,
        causal=causal,
        segments=Segments.of(segment_ids, special_mask, pair),
    )


def forward_args(net) -> set[str]:
    """The keyword arguments the model's ``forward`` takes."""
    import inspect

    return set(inspect.signature(net.forward).parameters)
