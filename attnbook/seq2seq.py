"""Encoder-decoder attention: :func:`attend_seq2seq` -> :class:`Seq2SeqMaps`.

An encoder-decoder (BART, T5, Marian, mBART) reads two texts and has three
kinds of attention: the encoder's self-attention over the source, the
decoder's causal self-attention over its own input, and the decoder's
*cross*-attention, whose queries come from the decoder and whose keys come
from the encoder's output. Under teacher forcing the decoder's input is the
target shifted one place to the right behind a start token, so query ``i`` of
the cross map is the decoder reading target token ``i - 1`` while it predicts
token ``i``.

A real translation model works the same way (``model="Helsinki-NLP/opus-mt-en-jap"``
from your Hugging Face cache, or a saved directory). Here a tiny random Marian
built on the spot (a word-level tokenizer marking each text ``... </s>``):

>>> import torch, transformers as tf
>>> from tokenizers import Tokenizer, models, pre_tokenizers, processors
>>> vocab = ["<pad>", "</s>", "<unk>", "the", "dog", "barks", "犬", "が", "吠える", "."]
>>> tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(vocab)}, unk_token="<unk>"))
>>> tok.pre_tokenizer = pre_tokenizers.Whitespace()
>>> tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
>>> tokenizer = tf.PreTrainedTokenizerFast(
...     tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
>>> _ = torch.manual_seed(0)
>>> marian = tf.MarianModel(tf.MarianConfig(
...     vocab_size=len(vocab), d_model=8, encoder_layers=1, decoder_layers=2,
...     encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=8,
...     decoder_ffn_dim=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0))
>>> maps = attend_seq2seq("the dog barks .", "犬 が 吠える .", model=(tokenizer, marian))
>>> maps.source_tokens  # the cross map's columns
['the', 'dog', 'barks', '.', '</s>']
>>> maps.target_tokens  # its rows: the start token, then the target shifted right
['<pad>', '犬', 'が', '吠える', '.']
>>> tuple(maps.cross.attentions.shape)  # [decoder layers, heads, target, source]
(2, 2, 5, 5)
>>> maps.decoder.causal, bool((maps.cross.head(1, 0).sum(-1) - 1).abs().max() < 1e-5)
(True, True)
>>> list(maps.top_heads("犬", "dog", k=2).columns)
['layer', 'head', 'dog', 'weight']
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from attnbook.adapters import capture, encode, forward_args
from attnbook.errors import (
    EmptyTextError,
    MapsShapeError,
    NotTextError,
    TextTooLongError,
    UnsupportedModelError,
)
from attnbook.maps import AttentionMaps, TokenAxis
from attnbook.maps.encode import special_roles, warn_unknown
from attnbook.maps.types import KeySpec
from attnbook.models import load_model, model_id

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Seq2SeqMaps", "attend_seq2seq"]


@dataclass(frozen=True, eq=False, repr=False)
class Seq2SeqMaps:
    """Every attention weight of one encoder-decoder forward pass (teacher forcing).

    Attributes:
        encoder: the encoder's self-attention, ``[L_enc, H_enc, S, S]`` over the
            ``S`` source tokens.
        decoder: the decoder's causal self-attention, ``[L_dec, H_dec, T, T]``
            over the ``T`` decoder input tokens (``causal=True``).
        cross: the decoder's cross-attention, ``[L_dec, H_dec, T, S]``: query
            axis = the decoder input tokens, key axis = the source tokens.
        model_id: the model's hub id or directory.

    Built by :func:`attend_seq2seq`, or by hand (a toy translator) from three
    :class:`~attnbook.maps.AttentionMaps` whose axes fit together (checked
    here).
    """

    encoder: AttentionMaps
    decoder: AttentionMaps
    cross: AttentionMaps
    model_id: str = ""

    def __post_init__(self) -> None:
        for name in ("encoder", "decoder", "cross"):
            if not isinstance(getattr(self, name), AttentionMaps):
                raise MapsShapeError(
                    f"{name} must be an AttentionMaps, got {type(getattr(self, name)).__name__}."
                )
        enc, dec, cross = self.encoder, self.decoder, self.cross
        if len({enc.level, dec.level, cross.level}) != 1:
            raise MapsShapeError("encoder, decoder and cross maps must be at the same level.")
        if not enc.is_self_attention or not dec.is_self_attention:
            raise MapsShapeError("encoder and decoder maps must be self-attention (one axis).")
        if not dec.causal:
            raise MapsShapeError(
                "the decoder's self-attention must be causal (causal=True): each target "
                "position sees only itself and the positions before it."
            )
        if cross.causal:
            raise MapsShapeError("cross-attention sees the whole source: build it causal=False.")
        if not cross.query.same_as(dec.query):
            raise MapsShapeError(
                "cross.query (the cross map's rows) must be the decoder's tokens "
                f"{dec.tokens!r}, got {cross.query_tokens!r}."
            )
        if not cross.key.same_as(enc.key):
            raise MapsShapeError(
                "cross.key (the cross map's columns) must be the encoder's tokens "
                f"{enc.tokens!r}, got {cross.key_tokens!r}."
            )
        if cross.attentions.shape[:2] != dec.attentions.shape[:2]:
            raise MapsShapeError(
                f"cross-attention has {tuple(cross.attentions.shape[:2])} layers x heads, the "
                f"decoder {tuple(dec.attentions.shape[:2])}: both come from the decoder's layers."
            )
        if not self.model_id:
            object.__setattr__(self, "model_id", cross.model_id)

    # ----- tokens and texts ----------------------------------------------------

    @property
    def source_tokens(self) -> list[str]:
        """The ``S`` source tokens the encoder read (the cross map's columns)."""
        return self.encoder.tokens

    @property
    def target_tokens(self) -> list[str]:
        """The ``T`` decoder input tokens: the start token, then the target shifted right.

        These are the cross map's rows.
        """
        return self.decoder.tokens

    @property
    def source(self) -> str:
        return self.encoder.text

    @property
    def target(self) -> str:
        return self.decoder.text

    @property
    def level(self) -> str:
        """``"token"`` or ``"word"`` (see :meth:`to_words`)."""
        return self.cross.level

    def __repr__(self) -> str:
        return (
            f"Seq2SeqMaps(model_id={self.model_id!r}, level={self.level!r}, "
            f"encoder={self.encoder.num_layers}x{self.encoder.num_heads}, "
            f"decoder={self.decoder.num_layers}x{self.decoder.num_heads}, "
            f"source_tokens={self.source_tokens!r}, target_tokens={self.target_tokens!r})"
        )

    # ----- views ---------------------------------------------------------------

    def to_words(self) -> Seq2SeqMaps:
        """Word-level maps on every axis (Clark et al.'s rule, as :meth:`AttentionMaps.to_words`).

        The cross map's rows become target words (mean over their pieces) and
        its columns source words (sum over their pieces).
        """
        return Seq2SeqMaps(
            self.encoder.to_words(), self.decoder.to_words(), self.cross.to_words(), self.model_id
        )

    def top_heads(
        self, query: str, keys: KeySpec | Sequence[KeySpec], k: int = 5, *, occurrence: int = 0
    ) -> pd.DataFrame:
        """The ``k`` cross-attention heads that send a target word's attention to source words.

        ``query`` is looked up among the decoder input tokens (the target),
        ``keys`` among the source tokens; see :meth:`AttentionMaps.top_heads`.
        """
        return self.cross.top_heads(query, keys, k, occurrence=occurrence)

    def to_bertviz(self) -> dict[str, Any]:
        """The keyword arguments of ``bertviz.head_view`` / ``model_view`` for encoder-decoders.

        ``bertviz.head_view(**maps.to_bertviz())``; see
        :func:`attnbook.view.seq2seq_to_bertviz`.
        """
        from attnbook.view.bertviz import seq2seq_to_bertviz

        return seq2seq_to_bertviz(self)


# ----- attend_seq2seq ----------------------------------------------------------


@contextlib.contextmanager
def _target_mode(tokenizer: Any) -> Iterator[None]:
    """Tokenize as ``tokenizer(text_target=...)`` does (Marian's target vocabulary, mBART's
    target language code), so the target can go through the same encode step as the source."""
    switch = getattr(tokenizer, "_switch_to_target_mode", None)
    back = getattr(tokenizer, "_switch_to_input_mode", None)
    # While this flag is set, tokenizer(text) does not switch back to the source mode.
    flag = getattr(tokenizer, "_in_target_context_manager", None)
    if callable(switch):
        switch()
    if flag is not None:
        tokenizer._in_target_context_manager = True
    try:
        yield
    finally:
        if flag is not None:
            tokenizer._in_target_context_manager = flag
        if callable(back):
            back()


def _check_text(text: Any, what: str) -> None:
    if not isinstance(text, str):
        raise NotTextError(f"the {what} must be a str, got {type(text).__name__}.")
    if not text.strip():
        raise EmptyTextError(
            f"the {what} is empty or only whitespace; give at least one word, e.g. "
            "attend_seq2seq('The dog barks.', 'Der Hund bellt.', model=...)."
        )


def _encode(tokenizer: Any, model: Any, text: str, what: str, **limits: Any):
    try:
        return encode(tokenizer, model, text, **limits)
    except TextTooLongError as exc:
        message = str(exc)
        if message.startswith("the text "):
            message = f"the {what} " + message[len("the text ") :]
        raise TextTooLongError(message, num_tokens=exc.num_tokens, limit=exc.limit) from None


def shift_right(model: Any, labels: Tensor) -> Tensor:
    """The decoder's teacher-forcing input for target ids ``labels`` ``[1, T]``, as the family builds it.

    BART and Marian put ``decoder_start_token_id`` first, T5 its pad token, mBART
    the target language code wrapped round from the end; each family's own
    function does it (the model's ``prepare_decoder_input_ids_from_labels`` or
    ``_shift_right``, else the ``shift_tokens_right`` of its modeling module).

    Args:
        model: the loaded encoder-decoder (a transformers model; the second
            item of :func:`attnbook.models.load_model`'s ``(tokenizer, model)``).
        labels: the target's token ids ``[1, T]``.

    Returns:
        ``[1, T]``: the start token, then ``labels[:, :-1]``.
    """
    for name in ("prepare_decoder_input_ids_from_labels", "_shift_right"):
        method = getattr(model, name, None)
        if callable(method):
            return method(labels)
    config = model.config
    shift = getattr(sys.modules.get(type(model).__module__), "shift_tokens_right", None)
    if callable(shift):
        params = inspect.signature(shift).parameters
        if "decoder_start_token_id" in params:
            return shift(labels, config.pad_token_id, config.decoder_start_token_id)
        return shift(labels, config.pad_token_id)
    start = getattr(config, "decoder_start_token_id", None)
    if start is None:
        raise UnsupportedModelError(
            f"{model_id(model)!r} says neither how to shift the target right nor its "
            "decoder_start_token_id; attend_seq2seq cannot build the decoder's input."
        )
    return torch.cat([torch.full_like(labels[:, :1], start), labels[:, :-1]], dim=1)


def _capture(model: Any, inputs: dict[str, Tensor], decoder_input_ids: Tensor):
    """One forward pass with every attention kept: ``(encoder, decoder, cross)``.

    Each ``[L, H, Q, K]`` float32 on the CPU: ``[L_enc, H, S, S]``,
    ``[L_dec, H, T, T]`` and ``[L_dec, H, T, S]``.
    """
    arguments: dict[str, Any] = {**inputs, "decoder_input_ids": decoder_input_ids}
    if "use_cache" in forward_args(model):
        arguments["use_cache"] = False  # no key/value cache to build: one pass over the target
    run = capture(model, arguments)
    return tuple(
        run.weights(name)
        for name in ("encoder_attentions", "decoder_attentions", "cross_attentions")
    )


def attend_seq2seq(
    source: str,
    target: str,
    model: str | tuple | None = None,
    *,
    max_length: int | None = None,
    truncation: bool = False,
) -> Seq2SeqMaps:
    """Run ``source`` through an encoder-decoder's encoder and ``target`` through its decoder.

    The decoder reads the target by teacher forcing (as in training): its
    input is the start token, then the target shifted right, so every
    attention weight comes from one forward pass.

    Args:
        source: the sentence the encoder reads (e.g. the English).
        target: the sentence the decoder reads (e.g. its translation).
        model: ``None`` (``$ATTNBOOK_MODEL``), a hub id or local directory of an
            encoder-decoder (BART, T5, Marian, mBART, ...), or a
            ``(tokenizer, model)`` pair; see :func:`attnbook.models.load_model`.
        max_length: token limit for each text (special tokens included);
            defaults to, and may not exceed, the model's own limit.
        truncation: cut each text to the limit instead of raising
            :class:`~attnbook.errors.TextTooLongError`.

    Returns:
        :class:`Seq2SeqMaps`: ``encoder`` ``[L_enc, H, S, S]``, ``decoder``
        ``[L_dec, H, T, T]`` (causal) and ``cross`` ``[L_dec, H, T, S]``.

    Raises:
        NotTextError, EmptyTextError (either text), TextTooLongError,
        ModelNotAvailableError, NotEncoderDecoderModelError (an encoder such as
        BERT or a decoder such as GPT-2), NoAttentionError.
    """
    _check_text(source, "source")
    _check_text(target, "target")
    tokenizer, loaded = load_model(model, encoder_decoder=True)
    limits = {"max_length": max_length, "truncation": truncation}
    src = _encode(tokenizer, loaded, source, "source", **limits)
    with _target_mode(tokenizer):
        tgt = _encode(tokenizer, loaded, target, "target", **limits)
    inputs = {k: v for k, v in src.inputs.items() if k in ("input_ids", "attention_mask")}
    source_ids = inputs["input_ids"][0].tolist()
    warn_unknown(tokenizer, source_ids, src.special)
    labels = tgt.inputs["input_ids"]
    decoder_ids = shift_right(loaded, labels)
    dec = decoder_ids[0].tolist()
    if dec[1:] != labels[0, :-1].tolist():
        raise UnsupportedModelError(
            f"{model_id(loaded)!r} builds its decoder input in a way attnbook does not know "
            "(not the target shifted right by one)."
        )
    # Position i of the decoder input is label i - 1; position 0 is the start token.
    d_special = [True] + tgt.special[:-1]
    source_axis = TokenAxis(
        tokens=src.tokens,
        word_ids=src.word_ids,
        words=src.words,
        special=torch.tensor(src.special, dtype=torch.bool),
        roles=special_roles(tokenizer, source_ids, src.special),
    )
    target_axis = TokenAxis(
        tokens=tokenizer.convert_ids_to_tokens(dec),
        word_ids=[None] + tgt.word_ids[:-1],
        words=tgt.words,
        special=torch.tensor(d_special, dtype=torch.bool),
        roles=special_roles(tokenizer, dec, d_special),
    )

    enc_att, dec_att, cross_att = _capture(loaded, inputs, decoder_ids)
    name = model_id(loaded)
    return Seq2SeqMaps(
        encoder=AttentionMaps(
            attentions=enc_att, query=source_axis, key=source_axis, model_id=name, text=source
        ),
        decoder=AttentionMaps(
            attentions=dec_att,
            query=target_axis,
            key=target_axis,
            model_id=name,
            text=target,
            causal=True,
        ),
        cross=AttentionMaps(
            attentions=cross_att, query=target_axis, key=source_axis, model_id=name, text=target
        ),
        model_id=name,
    )
