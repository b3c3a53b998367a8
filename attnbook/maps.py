"""A real model's attention for one sentence (or pair): :func:`attend` -> :class:`AttentionMaps`.

>>> maps = attend("The dog chased the cat.")
>>> maps.tokens
['[CLS]', 'the', 'dog', 'chased', 'the', 'cat', '.', '[SEP]']
>>> tuple(maps.attentions.shape)  # [layers, heads, queries, keys]
(6, 12, 8, 8)
>>> maps.head(0, 0).sum(dim=-1)  # every query's weights sum to 1
tensor([1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000])

Layer and head ids are 0-indexed everywhere.
"""

from __future__ import annotations

import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from attnbook.errors import (
    EmptyTextError,
    HeadOutOfRangeError,
    InvalidOptionError,
    LayerOutOfRangeError,
    MapsShapeError,
    NoAttentionError,
    NotTextError,
    TextTooLongError,
    UnknownTokenWarning,
    UnsupportedModelError,
    WordNotFoundError,
)
from attnbook.mechanism import scaled_dot_product_attention
from attnbook.models import is_causal_model, load_model, model_id

UNKNOWN_TOKEN_THRESHOLD = 0.25
""":func:`attend` warns (:class:`~attnbook.errors.UnknownTokenWarning`) when more than
this fraction of the text's (non-special) tokens are the unknown token."""

KeySpec = str | tuple[str, int]


def _is_occurrence_spec(key: Any) -> bool:
    """``("the", 1)``: a word and which of its occurrences (0-indexed)."""
    return (
        isinstance(key, tuple)
        and len(key) == 2
        and isinstance(key[0], str)
        and isinstance(key[1], int)
        and not isinstance(key[1], bool)
    )


def _check_id(value: Any, count: int, name: str, unit: str, error: type[Exception]) -> int:
    """``value`` as an id in ``0..count - 1`` (negative ids count from the end), or ``error``."""
    if isinstance(value, bool) or not isinstance(value, int) or not -count <= value < count:
        raise error(
            f"{name} {value!r} is out of range: this model has {count} {unit}, "
            f"ids 0..{count - 1} (0-indexed; negative ids count from the end)."
        )
    return value % count


def _fold(s: str) -> str:
    """Case- and accent-insensitive form, as uncased BERT normalises text."""
    s = unicodedata.normalize("NFKD", s.casefold())
    return "".join(ch for ch in s if not unicodedata.combining(ch))


@dataclass(frozen=True, eq=False, repr=False)
class AttentionMaps:
    """Every attention weight of one forward pass, with the tokens they belong to.

    ``attentions[l, h, i, j]`` is how much token ``i`` (the query, "who looks")
    attends to token ``j`` (the key) in layer ``l``, head ``h`` (0-indexed);
    each row sums to 1.

    Attributes:
        tokens: ``T`` token strings (``"[CLS]"``, ``"the"``, ``"##ing"``); at
            word level, the word strings and the special tokens.
        word_ids: ``T``; index into ``words`` of the word each token belongs
            to, ``None`` for special tokens.
        words: ``W`` words of the input as written in the text (the spans the
            tokenizer's pre-tokenizer produced; punctuation is its own word).
        special: ``[T]`` bool; ``True`` for ``[CLS]``, ``[SEP]``, ``<s>``, ...
        attentions: ``[L, H, T, T]`` float32.
        model_id: the model's hub id or directory.
        segment_ids: ``T``; 0 for the first sentence, 1 for the second of a
            pair. A special token belongs to the segment of the text before it
            (``[CLS]`` and the first ``[SEP]`` to 0).
        text: the input text (first segment).
        pair: the second sentence of a pair, or ``None``.
        level: ``"token"`` or ``"word"`` (see :meth:`to_words`).
        causal: ``True`` for a decoder's (causal) self-attention: query ``i``
            sees only keys ``0..i``, so every weight above the diagonal is 0.
    """

    tokens: list[str]
    word_ids: list[int | None]
    words: list[str]
    special: Tensor
    attentions: Tensor
    model_id: str
    segment_ids: list[int]
    text: str
    pair: str | None = None
    level: str = "token"
    causal: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.special, Tensor):
            object.__setattr__(self, "special", torch.tensor(self.special, dtype=torch.bool))
        a = self.attentions
        if not isinstance(a, Tensor) or a.ndim != 4 or a.shape[-1] != a.shape[-2]:
            shape = tuple(a.shape) if isinstance(a, Tensor) else type(a).__name__
            raise MapsShapeError(f"attentions must be a tensor [layers, heads, T, T], got {shape}.")
        sizes = {
            "tokens": len(self.tokens),
            "word_ids": len(self.word_ids),
            "segment_ids": len(self.segment_ids),
            "special": self.special.numel(),
        }
        wrong = {name: n for name, n in sizes.items() if n != a.shape[-1]}
        if wrong:
            raise MapsShapeError(
                f"attentions cover T = {a.shape[-1]} tokens but {wrong} have other lengths; "
                "give one entry per token."
            )
        if self.level not in ("token", "word"):
            raise MapsShapeError(f"level must be 'token' or 'word', got {self.level!r}.")
        bad = [w for w in self.word_ids if w is not None and not 0 <= w < len(self.words)]
        if bad:
            raise MapsShapeError(f"word_ids {bad} do not index into the {len(self.words)} words.")
        if self.causal:
            ahead = torch.triu(a, diagonal=1)
            if bool((ahead != 0).any()):
                raise MapsShapeError(
                    f"causal maps must be 0 above the diagonal (a query cannot see later keys), "
                    f"but up to {ahead.abs().max().item():.3g} is there; pass causal=False for "
                    "bidirectional attention."
                )

    # ----- sizes -------------------------------------------------------------

    @property
    def num_layers(self) -> int:
        return self.attentions.shape[0]

    @property
    def num_heads(self) -> int:
        return self.attentions.shape[1]

    @property
    def num_tokens(self) -> int:
        return self.attentions.shape[-1]

    @property
    def sep_positions(self) -> list[int]:
        """Positions of the separator tokens: the special tokens after position 0.

        >>> attend("The dog barks.", pair="It is loud.").sep_positions
        [6, 11]
        """
        return [i for i, s in enumerate(self.special.tolist()) if s and i > 0]

    def __repr__(self) -> str:
        pair = f", pair={self.pair!r}" if self.pair is not None else ""
        pair += ", causal=True" if self.causal else ""
        return (
            f"AttentionMaps(model_id={self.model_id!r}, level={self.level!r}, "
            f"layers={self.num_layers}, heads={self.num_heads}, tokens={self.tokens!r}{pair})"
        )

    # ----- indexing ----------------------------------------------------------

    def _check_layer(self, layer: int) -> int:
        return _check_id(layer, self.num_layers, "layer", "layers", LayerOutOfRangeError)

    def _check_head(self, head: int) -> int:
        return _check_id(head, self.num_heads, "head", "heads per layer", HeadOutOfRangeError)

    def head(self, layer: int, head: int) -> Tensor:
        """One head's attention ``[T, T]``: rows are queries, columns keys.

        >>> attend("The dog chased the cat.").head(5, 11).shape
        torch.Size([8, 8])
        """
        return self.attentions[self._check_layer(layer), self._check_head(head)]

    def token_index(self, word_or_token: str, occurrence: int = 0) -> list[int]:
        """Positions of a word's tokens (its sub-word pieces), or of a token such as ``"[SEP]"``.

        Words are matched without regard to case (and accents, as uncased
        models fold them); ``occurrence`` picks among repeats (0 = first).

        >>> maps = attend("The dog chased the cat.")
        >>> maps.token_index("the", occurrence=1), maps.token_index("[SEP]")
        ([4], [7])
        >>> attend("unbelievably").token_index("unbelievably")
        [1, 2, 3, 4, 5]
        """
        if not isinstance(word_or_token, str):
            raise NotTextError(
                f"words are addressed by their text, got {type(word_or_token).__name__} "
                f"{word_or_token!r}; use e.g. 'dog'."
            )
        if isinstance(occurrence, bool) or not isinstance(occurrence, int) or occurrence < 0:
            raise WordNotFoundError(
                f"occurrence must be a non-negative int (0 = first), got {occurrence!r}."
            )
        groups = self._groups(word_or_token)
        if not groups:
            shown = ", ".join(repr(w) for w in self.words)
            specials = sorted(
                {t for t, s in zip(self.tokens, self.special.tolist(), strict=True) if s}
            )
            raise WordNotFoundError(
                f"{word_or_token!r} is not in the sentence. Its words are: {shown}"
                + (f" (special tokens: {', '.join(specials)})" if specials else "")
                + "."
            )
        if occurrence >= len(groups):
            raise WordNotFoundError(
                f"{word_or_token!r} occurs {len(groups)} time(s) in the sentence; "
                f"occurrence={occurrence} is out of range (0-indexed: use 0..{len(groups) - 1})."
            )
        return groups[occurrence]

    def _groups(self, query: str) -> list[list[int]]:
        """All matches of ``query``, each a list of token positions, in text order."""
        key = query.strip()
        for fold in (str.casefold, _fold):
            hits = [w for w, word in enumerate(self.words) if fold(word) == fold(key)]
            if hits:
                return [[i for i, w in enumerate(self.word_ids) if w == hit] for hit in hits]
        # Not a word: a token string, e.g. "[CLS]", "[SEP]" or a piece "##ing".
        exact = [[i] for i, t in enumerate(self.tokens) if t == key]
        return exact or [[i] for i, t in enumerate(self.tokens) if t.casefold() == key.casefold()]

    # ----- views -------------------------------------------------------------

    def to_words(self) -> AttentionMaps:
        """Word-level maps by Clark et al.'s (2019) rule.

        Attention *to* a split word is the sum over its pieces; attention
        *from* a split word is the mean over its pieces, so rows still sum to
        1. Special tokens stay as their own "words"; ``tokens`` become the word
        strings.

        >>> maps = attend("Attention is unbelievably simple.")
        >>> maps.num_tokens, maps.to_words().num_tokens
        (11, 7)
        >>> maps.to_words().tokens
        ['[CLS]', 'Attention', 'is', 'unbelievably', 'simple', '.', '[SEP]']
        """
        if self.level == "word":
            return self
        units: list[list[int]] = []
        unit_of_word: dict[int, int] = {}
        for i, w in enumerate(self.word_ids):
            if w is None:
                units.append([i])
            elif w in unit_of_word:
                units[unit_of_word[w]].append(i)
            else:
                unit_of_word[w] = len(units)
                units.append([i])
        n_units, n_tokens = len(units), self.num_tokens
        dtype, device = self.attentions.dtype, self.attentions.device
        member = torch.zeros(n_units, n_tokens, dtype=dtype, device=device)  # [U, T]
        for u, positions in enumerate(units):
            member[u, positions] = 1.0
        mean_from = member / member.sum(dim=1, keepdim=True)
        # [U, T] @ [L, H, T, T] @ [T, U] -> [L, H, U, U]
        attentions = mean_from @ self.attentions @ member.T
        first = [positions[0] for positions in units]
        return replace(
            self,
            tokens=[
                self.tokens[i] if self.word_ids[i] is None else self.words[self.word_ids[i]]
                for i in first
            ],
            word_ids=[self.word_ids[i] for i in first],
            special=self.special[first].clone(),
            attentions=attentions.contiguous(),
            segment_ids=[self.segment_ids[i] for i in first],
            level="word",
        )

    def to_bertviz(self) -> tuple[tuple[torch.Tensor, ...], list[str]]:
        """``(attention, tokens)`` as ``bertviz.head_view(attention, tokens)`` expects.

        One ``[1, H, T, T]`` tensor per layer and the ``T`` token strings; see
        :func:`attnbook.view.to_bertviz`.
        """
        from attnbook.view.bertviz import to_bertviz

        return to_bertviz(self)

    def to_dataframe(self, layer: int, head: int) -> pd.DataFrame:
        """One head as a table: queries as rows (index), keys as columns.

        >>> df = attend("The dog chased the cat.").to_dataframe(0, 0)
        >>> df.shape, list(df.columns[:3])
        ((8, 8), ['[CLS]', 'the', 'dog'])
        """
        weights = self.head(layer, head).detach().cpu().numpy()
        frame = pd.DataFrame(weights, index=list(self.tokens), columns=list(self.tokens))
        frame.index.name = "query"
        frame.columns.name = "key"
        return frame

    # ----- head search -------------------------------------------------------

    def _key_positions(self, keys: KeySpec | Sequence[KeySpec]) -> list[tuple[str, list[int]]]:
        if isinstance(keys, str) or _is_occurrence_spec(keys):
            keys = [keys]
        if len(keys) == 0:
            raise WordNotFoundError("give at least one key word, e.g. keys=['dog', 'cat'].")
        out = []
        for key in keys:
            if not isinstance(key, str) and not _is_occurrence_spec(key):
                raise WordNotFoundError(
                    f"a key is a word or a (word, occurrence) pair, got {key!r}; "
                    "e.g. keys=['dog', ('the', 1)]."
                )
            word, occ = (key, 0) if isinstance(key, str) else key
            label = word if occ == 0 else f"{word}#{occ}"
            out.append((label, self.token_index(word, occ)))
        return out

    def query_to_keys(
        self, query: str, keys: KeySpec | Sequence[KeySpec], *, occurrence: int = 0
    ) -> pd.DataFrame:
        """Attention from ``query`` to each key in every head: ``[L * H]`` rows.

        A split query word's attention is averaged over its pieces and a split
        key's is summed over its pieces (Clark et al.'s rule), so the numbers
        equal those of :meth:`to_words`. A key is a word or ``(word, occurrence)``.
        Columns: ``layer``, ``head``, one column per key, and ``weight`` (their sum).
        """
        rows = self.token_index(query, occurrence)
        named = self._key_positions(keys)
        from_query = self.attentions[:, :, rows, :].mean(dim=2)  # [L, H, T]
        layer_ids, head_ids = torch.meshgrid(
            torch.arange(self.num_layers), torch.arange(self.num_heads), indexing="ij"
        )
        data: dict[str, Any] = {
            "layer": layer_ids.reshape(-1).numpy(),
            "head": head_ids.reshape(-1).numpy(),
        }
        total = torch.zeros(self.num_layers * self.num_heads, dtype=from_query.dtype)
        for label, cols in named:
            per_key = from_query[:, :, cols].sum(dim=-1).reshape(-1).cpu()
            data[label] = per_key.numpy()
            total = total + per_key
        data["weight"] = total.numpy()
        return pd.DataFrame(data)

    def top_heads(
        self, query: str, keys: KeySpec | Sequence[KeySpec], k: int = 5, *, occurrence: int = 0
    ) -> pd.DataFrame:
        """The ``k`` heads that attend most from ``query`` to ``keys`` (total weight).

        >>> maps = attend("The dog chased the cat.")
        >>> top = maps.top_heads("chased", ["dog", "cat"], k=3)
        >>> list(top.columns)
        ['layer', 'head', 'dog', 'cat', 'weight']
        >>> len(top), bool(top["weight"].is_monotonic_decreasing)
        (3, True)
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise InvalidOptionError(f"k must be a positive int (how many heads), got {k!r}.")
        table = self.query_to_keys(query, keys, occurrence=occurrence)
        top = table.sort_values("weight", ascending=False, kind="stable").head(k)
        return top.reset_index(drop=True)

    def layer_profile(
        self, query: str, keys: KeySpec | Sequence[KeySpec], *, occurrence: int = 0
    ) -> pd.DataFrame:
        """Per layer, the attention from ``query`` to ``keys``: max and mean over heads.

        Indexed by layer (0-indexed); columns ``max``, ``mean`` and
        ``best_head`` (the head that reaches the max).

        >>> profile = attend("The dog chased the cat.").layer_profile("chased", "dog")
        >>> list(profile.columns), len(profile)
        (['max', 'mean', 'best_head'], 6)
        """
        table = self.query_to_keys(query, keys, occurrence=occurrence)
        grouped = table.groupby("layer")["weight"]
        best = table.loc[grouped.idxmax(), ["layer", "head"]].set_index("layer")["head"]
        profile = pd.DataFrame({"max": grouped.max(), "mean": grouped.mean(), "best_head": best})
        profile.index.name = "layer"
        return profile


# ----- attend --------------------------------------------------------------


def _check_text(text: Any, what: str) -> str:
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


def _encode_fast(tokenizer, text, pair, limit, truncation):
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
    texts = (text, pair)
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


def _encode_slow(tokenizer, text, pair, limit, truncation):
    # Slow tokenizers have no word_ids(): tokenize word by word so every piece knows its word.
    segments = []
    for seg_text in (text, pair):
        if seg_text is None:
            continue
        words = _pre_words(tokenizer, seg_text)
        piece_ids, piece_words = [], []
        for w, word in enumerate(words):
            ids = tokenizer.convert_tokens_to_ids(_word_pieces(tokenizer, word))
            piece_ids += ids
            piece_words += [w] * len(ids)
        segments.append((_locate(seg_text, words), piece_ids, piece_words))
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
    words, word_ids, seq_ids = [], [], []
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


def _warn_unknown(tokenizer, input_ids: list[int], special: list[bool]) -> None:
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
            stacklevel=3,
        )


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
    _check_text(text, "text")
    if pair is not None:
        _check_text(pair, "pair")
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

    encode = _encode_fast if getattr(tokenizer, "is_fast", False) else _encode_slow
    tensors, word_ids, words, segment_ids, special = encode(
        tokenizer, text, pair, limit, truncation
    )
    input_ids = tensors["input_ids"][0].tolist()
    _warn_unknown(tokenizer, input_ids, special)
    if "token_type_ids" in tensors and "token_type_ids" not in _forward_args(net):
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

    return AttentionMaps(
        tokens=tokenizer.convert_ids_to_tokens(input_ids),
        word_ids=word_ids,
        words=words,
        special=torch.tensor(special, dtype=torch.bool),
        attentions=attentions,
        model_id=model_id(net),
        segment_ids=segment_ids,
        text=text,
        pair=pair,
        causal=causal,
    )


def _forward_args(net) -> set[str]:
    import inspect

    return set(inspect.signature(net.forward).parameters)


# ----- recomputing attention from the model's own weights ------------------


def _self_attention_modules(net) -> list[tuple[Any, Any, Any, int]]:
    """Per layer: (self-attention module, query Linear, key Linear, number of heads)."""
    found = []
    for module in net.modules():
        for q_name, k_name in (("query", "key"), ("q_lin", "k_lin")):
            q, k = getattr(module, q_name, None), getattr(module, k_name, None)
            if isinstance(q, torch.nn.Linear) and isinstance(k, torch.nn.Linear):
                heads = (
                    getattr(module, "num_attention_heads", None)
                    or getattr(module, "n_heads", None)
                    or net.config.num_attention_heads
                )
                found.append((module, q, k, int(heads)))
    return found


def recompute_attention(model: str | tuple | None, text: str, layer: int) -> Tensor:
    """A layer's attention weights recomputed with :func:`attnbook.scaled_dot_product_attention`.

    The layer's input (captured with a forward hook) goes through the
    model's own query and key projections, is split into heads, and the
    Part I formula ``softmax(Q Kᵀ / sqrt(d_k) + mask)`` gives the weights.
    They equal ``transformers``' ``outputs.attentions[layer]`` (to float
    rounding): the proof that the formula is what the model computes.

    Args:
        model: as for :func:`attend`.
        text: the sentence.
        layer: 0-indexed layer.

    Returns:
        ``[H, T, T]`` weights, rows = queries.

    >>> mine = recompute_attention(None, "The dog chased the cat.", layer=3)
    >>> theirs = attend("The dog chased the cat.").attentions[3]
    >>> bool((mine - theirs).abs().max() < 1e-5)
    True
    """
    return _recompute(model, text, layer)[0]


def recompute_attentions(model: str | tuple | None, text: str) -> Tensor:
    """Every layer's weights recomputed as in :func:`recompute_attention`, from one forward pass.

    Returns:
        ``[L, H, T, T]``, comparable with :attr:`AttentionMaps.attentions`.

    >>> text = "Attention is all you need."
    >>> diff = recompute_attentions(None, text) - attend(text).attentions
    >>> bool(diff.abs().max() < 1e-5)
    True
    """
    return torch.stack(_recompute(model, text, None))


def _recompute(model, text: str, layer: int | None) -> list[Tensor]:
    _check_text(text, "text")
    tokenizer, net = load_model(model)
    modules = _self_attention_modules(net)
    if not modules:
        raise UnsupportedModelError(
            f"cannot find query/key projections in {type(net).__name__}; recompute_attention "
            "knows BERT-style (query/key) and DistilBERT-style (q_lin/k_lin) attention."
        )
    num_layers = len(modules)
    if layer is not None:
        modules = [modules[_check_id(layer, num_layers, "layer", "layers", LayerOutOfRangeError)]]

    encode = _encode_fast if getattr(tokenizer, "is_fast", False) else _encode_slow
    tensors, *_ = encode(tokenizer, text, None, model_max_tokens(tokenizer, net), False)
    if "token_type_ids" in tensors and "token_type_ids" not in _forward_args(net):
        del tensors["token_type_ids"]

    captured: list[Tensor | None] = [None] * len(modules)

    def grabber(i):
        def grab(_module, args, kwargs):
            captured[i] = args[0] if args else kwargs["hidden_states"]

        return grab

    hooks = [
        module.register_forward_pre_hook(grabber(i), with_kwargs=True)
        for i, (module, *_) in enumerate(modules)
    ]
    try:
        with torch.inference_mode():
            net(**tensors)
    finally:
        for hook in hooks:
            hook.remove()

    results = []
    with torch.inference_mode():
        for (_, q_proj, k_proj, num_heads), x in zip(modules, captured, strict=True):
            x = x[0]  # [T, E], the layer input
            t = x.shape[0]
            q = q_proj(x).view(t, num_heads, -1).transpose(0, 1)  # [H, T, d_k]
            k = k_proj(x).view(t, num_heads, -1).transpose(0, 1)  # [H, T, d_k]
            # BERT's additive padding mask: 0 where a key may be seen, a huge negative where not.
            keep = tensors["attention_mask"][0].to(x.device)
            additive = (1.0 - keep.to(x.dtype)) * torch.finfo(x.dtype).min  # [T] over keys
            v = torch.zeros(num_heads, t, 1, dtype=x.dtype, device=x.device)  # weights only
            _, weights = scaled_dot_product_attention(q, k, v, mask=additive)
            results.append(weights)
    # Cloned outside inference mode: ordinary tensors the caller may modify.
    return [w.clone() for w in results]
