"""The encode step: text -> the model's input tensors and the token bookkeeping, in one place.

Every forward pass attnbook runs starts here, so the inputs are built one way:
``token_type_ids`` are passed only to models whose ``forward`` takes them
(DistilBERT and the decoders have no segment embeddings), special tokens come
from the tokenizer's own mask, and the limit is the model's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor

from attnbook.errors import InvalidOptionError

__all__ = ["Encoded", "encode", "forward_args"]


@dataclass(frozen=True, eq=False)
class Encoded:
    """One text (or sentence pair) ready for the model.

    Attributes:
        inputs: ``input_ids``, ``attention_mask`` and, where the model takes
            them, ``token_type_ids``; each ``[1, T]`` int64 on the CPU
            (:func:`attnbook.adapters.capture` moves them to the model's device).
        tokens: the ``T`` token strings.
        word_ids: ``T``; the word each token belongs to, ``None`` for special tokens.
        words: ``W`` words as written in the text.
        segment_ids: ``T``; 0 for the first text, 1 for the pair.
        special: ``T`` bools from the tokenizer's special-tokens mask.
    """

    inputs: dict[str, Tensor]
    tokens: list[str]
    word_ids: list[int | None]
    words: list[str]
    segment_ids: list[int]
    special: list[bool]

    @property
    def num_tokens(self) -> int:
        return len(self.tokens)


def forward_args(model: Any) -> set[str]:
    """The names of ``model.forward``'s parameters."""
    import inspect

    return set(inspect.signature(model.forward).parameters)


def encode(
    tokenizer: Any,
    model: Any,
    text: str,
    pair: str | None = None,
    *,
    max_length: int | None = None,
    truncation: bool = False,
    warn: bool = False,
) -> Encoded:
    """Tokenise ``text`` (and ``pair``) for ``model``, with every token's word and role.

    Args:
        tokenizer, model: as returned by :func:`attnbook.load_model`.
        text: the sentence.
        pair: an optional second sentence.
        max_length: token limit (special tokens included); defaults to, and
            may not exceed, the model's own limit.
        truncation: cut to the limit instead of raising ``TextTooLongError``.
        warn: warn (:class:`~attnbook.errors.UnknownTokenWarning`, attributed to
            the caller's caller, e.g. the reader's ``attend`` line) when many
            tokens are unknown to the model's vocabulary.

    Raises:
        NotTextError, EmptyTextError, TextTooLongError, InvalidOptionError.
    """
    # The tokenising helpers live with the maps (they also make the maps' token axes).
    from attnbook.maps.encode import check_text, encode_text, model_max_tokens, warn_unknown

    check_text(text, "text")
    if pair is not None:
        check_text(pair, "pair")
    limit = model_max_tokens(tokenizer, model)
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
    if "token_type_ids" in tensors and "token_type_ids" not in forward_args(model):
        del tensors["token_type_ids"]  # DistilBERT, GPT-style decoders: no segment embeddings
    input_ids = tensors["input_ids"][0].tolist()
    if warn:
        warn_unknown(tokenizer, input_ids, special, stacklevel=4)
    return Encoded(
        inputs=tensors,
        tokens=list(tokenizer.convert_ids_to_tokens(input_ids)),
        word_ids=word_ids,
        words=words,
        segment_ids=segment_ids,
        special=special,
    )
