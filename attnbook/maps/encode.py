"""Text → model inputs: tokens, their words, sentence segments and special-token roles.

:func:`encode_text` is the one place that turns a text (and an optional
second sentence) into the tensors a model takes, plus everything an
:class:`~attnbook.maps.TokenAxis` needs. Fast tokenizers report word ids and
offsets; slow ones (e.g. the Japanese BERTs' MeCab tokenizer) are run word by
word so that every piece knows its word.
"""

from __future__ import annotations

import unicodedata
import warnings
from typing import Any

import torch

from attnbook.errors import EmptyTextError, NotTextError, TextTooLongError, UnknownTokenWarning

UNKNOWN_TOKEN_THRESHOLD = 0.25
""":func:`attend` warns (:class:`~attnbook.errors.UnknownTokenWarning`) when more than
this fraction of the text's (non-special) tokens are the unknown token."""

# Tokenizer attributes naming a special token's role, in order of precedence
# (RoBERTa's <s> is both its cls and its bos token: it is the "cls").
_ROLE_ATTRIBUTES = (
    ("cls", "cls_token_id"),
    ("sep", "sep_token_id"),
    ("bos", "bos_token_id"),
    ("eos", "eos_token_id"),
    ("pad", "pad_token_id"),
    ("mask", "mask_token_id"),
)


Encoding = tuple[dict[str, torch.Tensor], list[int | None], list[str], list[int], list[bool]]
"""``(tensors, word_ids, words, segment_ids, special)``, what :func:`encode_text` returns."""


def special_roles(tokenizer: Any, input_ids: list[int], special: list[bool]) -> list[str | None]:
    """Each special token's role (``"cls"``, ``"sep"``, ...) from the tokenizer's own ids.

    Ordinary tokens get ``None``; a special token none of the tokenizer's
    role attributes names gets ``"special"``.
    """
    role_of: dict[int, str] = {}
    for role, attribute in _ROLE_ATTRIBUTES:
        token_id = getattr(tokenizer, attribute, None)
        if isinstance(token_id, int):
            role_of.setdefault(token_id, role)
    return [
        role_of.get(i, "special") if is_special else None
        for i, is_special in zip(input_ids, special, strict=True)
    ]


def encode_text(
    tokenizer: Any, text: str, pair: str | None, limit: int, truncation: bool
) -> Encoding:
    """Encode ``text`` (and ``pair``) for the model.

    Returns:
        ``(tensors, word_ids, words, segment_ids, special)``: the model inputs
        (``input_ids`` ``[1, T]``, ``attention_mask``, maybe ``token_type_ids``),
        then ``T`` word ids, the ``W`` words, ``T`` segment ids and ``T``
        special-token flags.
    """
    encode = _encode_fast if getattr(tokenizer, "is_fast", False) else _encode_slow
    return encode(tokenizer, text, pair, limit, truncation)


def check_text(text: Any, what: str) -> str:
    if not isinstance(text, str):
        raise NotTextError(
            f"{what} must be a str, got {type(text).__name__}"
            + (
                " (for several sentences call attend once per sentence)"
                if isinstance(text, (list, tuple))
                else ""
            )
            + "."
        )
    if not text.strip():
        raise EmptyTextError(
            f"{what} is empty or only whitespace; give at least one word, e.g. attend('The dog barks.')."
        )
    return text


def model_max_tokens(tokenizer: Any, model: Any) -> int:
    """How many tokens (special tokens included) the model accepts."""
    config = model.config
    limits = []
    tok_limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_limit, int) and tok_limit < 1_000_000:  # "no limit" is stored as ~1e30
        limits.append(tok_limit)
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int):
        # RoBERTa-style position ids start after the padding index.
        if config.model_type in ("roberta", "xlm-roberta", "camembert") and config.pad_token_id:
            positions -= config.pad_token_id + 1
        limits.append(positions)
    return min(limits) if limits else 512


def _spans(text: str, offsets: list[tuple[int, int]]) -> str:
    start = min(s for s, _ in offsets)
    end = max(e for _, e in offsets)
    return text[start:end].strip()


def _encode_fast(
    tokenizer: Any, text: str, pair: str | None, limit: int, truncation: bool
) -> Encoding:
    def encode(**kw):
        return tokenizer(
            text,
            pair,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            return_tensors="np",  # arrays become tensors without a copy (torch.from_numpy)
            **kw,
        )

    enc = encode(truncation=False)
    n = enc["input_ids"].shape[1]
    if n > limit:
        if not truncation:
            raise _too_long(n, limit)
        enc = encode(truncation=True, max_length=limit)
    seq_ids = enc.sequence_ids()
    tok_word_ids = enc.word_ids()
    offsets = enc["offset_mapping"][0].tolist()
    texts = (text,) if pair is None else (text, pair)  # indexed by sequence id
    keys: dict[tuple[int, int], int] = {}
    pieces: dict[int, list[tuple[int, int]]] = {}
    word_ids: list[int | None] = []
    for seq, w, off in zip(seq_ids, tok_word_ids, offsets, strict=True):
        if seq is None or w is None:
            word_ids.append(None)
            continue
        gid = keys.setdefault((seq, w), len(keys))
        pieces.setdefault(gid, []).append(off)
        word_ids.append(gid)
    seq_of = {gid: seq for (seq, _), gid in keys.items()}
    words = [_spans(texts[seq_of[g]], pieces[g]) for g in range(len(keys))]
    segment_ids = _segments([None if s is None else s for s in seq_ids])
    tensors = {
        name: torch.from_numpy(enc[name]).long()
        for name in ("input_ids", "attention_mask", "token_type_ids")
        if name in enc
    }
    special = [bool(s) for s in enc["special_tokens_mask"][0].tolist()]
    return tensors, word_ids, words, segment_ids, special


def _segments(seq_ids: list[int | None]) -> list[int]:
    out, current = [], 0
    for s in seq_ids:
        if s is not None:
            current = s
        out.append(current)
    return out


def _pre_words(tokenizer, text: str) -> list[str]:
    """Words of ``text`` as a slow tokenizer's first stage sees them."""
    word_tok = getattr(tokenizer, "word_tokenizer", None)  # BertJapaneseTokenizer (MeCab, ...)
    if word_tok is not None:
        if not getattr(tokenizer, "do_word_tokenize", True):
            return [text]
        return list(word_tok.tokenize(text, never_split=tokenizer.all_special_tokens))
    basic = getattr(tokenizer, "basic_tokenizer", None)
    if basic is not None:
        return list(basic.tokenize(text))
    return text.split()


def _word_pieces(tokenizer, word: str) -> list[str]:
    """Sub-word pieces of one word, as the slow tokenizer's second stage makes them."""
    subword = getattr(tokenizer, "subword_tokenizer", None)  # BertJapaneseTokenizer
    if subword is not None and getattr(tokenizer, "word_tokenizer", None) is not None:
        # Re-running MeCab on a lone word could split it differently than in context.
        return list(subword.tokenize(word)) if tokenizer.do_subword_tokenize else [word]
    return tokenizer.tokenize(word)


def _locate(text: str, words: list[str]) -> list[str]:
    """Each word as written in ``text`` (original case/width), found left to right."""
    out, pos = [], 0
    folded = unicodedata.normalize("NFKC", text).casefold()
    same_length = len(folded) == len(text)
    for word in words:
        needle = unicodedata.normalize("NFKC", word).casefold()
        at = folded.find(needle, pos) if same_length else -1
        if at >= 0:
            out.append(text[at : at + len(needle)])
            pos = at + len(needle)
        else:
            out.append(word)
    return out


def _encode_slow(
    tokenizer: Any, text: str, pair: str | None, limit: int, truncation: bool
) -> Encoding:
    # Slow tokenizers have no word_ids(): tokenize word by word so every piece knows its word.
    segments = []
    for seg_text in (text, pair):
        if seg_text is None:
            continue
        pre_words = _pre_words(tokenizer, seg_text)
        piece_ids: list[int] = []
        piece_words: list[int] = []
        for w, word in enumerate(pre_words):
            ids = tokenizer.convert_tokens_to_ids(_word_pieces(tokenizer, word))
            piece_ids += ids
            piece_words += [w] * len(ids)
        segments.append((_locate(seg_text, pre_words), piece_ids, piece_words))
    n_special = tokenizer.num_special_tokens_to_add(pair=pair is not None)
    n = sum(len(s[1]) for s in segments) + n_special
    if n > limit:
        if not truncation:
            raise _too_long(n, limit)
        budget = limit - n_special
        while sum(len(s[1]) for s in segments) > budget:  # longest first, like transformers
            longest = max(segments, key=lambda s: len(s[1]))
            longest[1].pop()
            longest[2].pop()
    ids_a = segments[0][1]
    ids_b = segments[1][1] if len(segments) > 1 else None
    input_ids = tokenizer.build_inputs_with_special_tokens(ids_a, ids_b)
    special = [bool(s) for s in tokenizer.get_special_tokens_mask(ids_a, ids_b)]
    words: list[str] = []
    word_ids: list[int | None] = []
    seq_ids: list[int | None] = []
    flat = []
    for seg, (seg_words, _, piece_words) in enumerate(segments):
        base = len(words)
        used = sorted(set(piece_words))
        renumber = {w: base + i for i, w in enumerate(used)}
        words += [seg_words[w] for w in used]
        flat += [(seg, renumber[w]) for w in piece_words]
    it = iter(flat)
    for s in special:
        if s:
            word_ids.append(None)
            seq_ids.append(None)
        else:
            seg, gid = next(it)
            word_ids.append(gid)
            seq_ids.append(seg)
    tensors = {
        "input_ids": torch.tensor([input_ids]),
        "attention_mask": torch.ones(1, len(input_ids), dtype=torch.long),
    }
    if "token_type_ids" in getattr(tokenizer, "model_input_names", []):
        tensors["token_type_ids"] = torch.tensor(
            [tokenizer.create_token_type_ids_from_sequences(ids_a, ids_b)]
        )
    return tensors, word_ids, words, _segments(seq_ids), special


def _too_long(n: int, limit: int) -> TextTooLongError:
    return TextTooLongError(
        f"the text is {n} tokens long (special tokens included) but the model accepts at most "
        f"{limit}. Shorten it, split it into sentences, or pass truncation=True to keep only "
        f"the first {limit} tokens.",
        num_tokens=n,
        limit=limit,
    )


def warn_unknown(
    tokenizer, input_ids: list[int], special: list[bool], *, stacklevel: int = 3
) -> None:
    """Warn when more than :data:`UNKNOWN_TOKEN_THRESHOLD` of the ordinary tokens are unknown.

    ``stacklevel`` counts from this function: the default names its caller's caller.
    """
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None:
        return
    ordinary = [i for i, s in zip(input_ids, special, strict=True) if not s]
    if not ordinary:
        return
    fraction = sum(i == unk for i in ordinary) / len(ordinary)
    if fraction > UNKNOWN_TOKEN_THRESHOLD:
        warnings.warn(
            f"{fraction:.0%} of the text's tokens are unknown ({tokenizer.unk_token}) to this "
            "model's vocabulary, so its attention maps are about placeholders, not words. "
            "For Japanese text install `attnbook[ja]` and use a Japanese model, e.g. "
            "attend(text, model='tohoku-nlp/bert-base-japanese-v3') or set ATTNBOOK_MODEL.",
            UnknownTokenWarning,
            stacklevel=stacklevel,
        )
