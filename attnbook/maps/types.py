"""The result type for any attention: :class:`AttentionMaps` over a query axis and a key axis.

``attentions[l, h, i, j]`` is how much query ``i`` attends to key ``j`` in
layer ``l``, head ``h``: a tensor ``[L, H, Q, K]``. Each axis is a
:class:`TokenAxis` (its tokens, their grouping into words and the special
tokens' roles). Self-attention has one axis for both (``Q == K``,
``maps.query is maps.key``) and keeps the one-axis API (``maps.tokens``);
cross-attention (a decoder's queries over an encoder's keys) has two.

An ``AttentionMaps`` is checked once, here, when it is built; code that
receives one does not check its shape again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from attnbook.errors import AxesDifferError, MapsShapeError
from attnbook.ids import check_id

if TYPE_CHECKING:
    import pandas as pd

KeySpec = str | tuple[str, int]
"""A key word: ``"dog"``, or ``("the", 1)`` for a word and which occurrence (0-indexed)."""

#: Roles of special tokens, as :func:`attnbook.attend` reads them off the tokenizer
#: (``cls_token_id``, ``sep_token_id``, ...). ``"special"``: any other special token.
ROLES = ("cls", "sep", "bos", "eos", "pad", "mask", "special")

# Spellings used only when an AttentionMaps is built by hand without roles.
_CLS_SPELLINGS = frozenset({"[CLS]", "<s>", "<cls>"})
_SEP_SPELLINGS = frozenset({"[SEP]", "</s>", "<sep>"})


def roles_from_spellings(tokens: Sequence[str], special: Sequence[bool]) -> list[str | None]:
    """Roles of hand-built maps' special tokens, from their usual spellings.

    :func:`attnbook.attend` takes roles from the tokenizer instead; this is the
    fallback for maps built without one (tests, toy models).

    >>> roles_from_spellings(["<s>", "hi", "</s>", "[PAD]"], [True, False, True, True])
    ['cls', None, 'sep', 'special']
    """
    out: list[str | None] = []
    for token, is_special in zip(tokens, special, strict=True):
        if not is_special:
            out.append(None)
        elif token in _CLS_SPELLINGS:
            out.append("cls")
        elif token in _SEP_SPELLINGS:
            out.append("sep")
        else:
            out.append("special")
    return out


@dataclass(frozen=True, eq=False)
class TokenAxis:
    """One axis of a map (the queries or the keys): ``N`` tokens and their words.

    Attributes:
        tokens: ``N`` token strings (``"[CLS]"``, ``"the"``, ``"##ing"``); at
            word level, the word strings and the special tokens.
        word_ids: ``N``; index into ``words`` of the word each token belongs
            to, ``None`` for special tokens.
        words: ``W`` words as written in the text.
        special: ``[N]`` bool; ``True`` for special tokens (from the tokenizer's
            special-tokens mask).
        roles: ``N``; each special token's role (one of :data:`ROLES`),
            ``None`` for ordinary tokens. Left out (or empty): derived from the
            usual spellings (:func:`roles_from_spellings`).
    """

    tokens: list[str]
    word_ids: list[int | None]
    words: list[str]
    special: Tensor
    roles: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        tokens = list(self.tokens)
        object.__setattr__(self, "tokens", tokens)
        object.__setattr__(self, "word_ids", list(self.word_ids))
        object.__setattr__(self, "words", list(self.words))
        special = self.special
        if not isinstance(special, Tensor):
            special = torch.tensor(list(special), dtype=torch.bool)
        object.__setattr__(self, "special", special.to(torch.bool).reshape(-1))
        if not self.roles:
            if len(tokens) == self.special.numel():
                roles = roles_from_spellings(tokens, self.special.tolist())
            else:
                roles = [None] * len(tokens)  # the size check below reports the mismatch
            object.__setattr__(self, "roles", roles)
        else:
            object.__setattr__(self, "roles", list(self.roles))

    def __len__(self) -> int:
        return len(self.tokens)

    def _check(self, n: int, name: str) -> None:
        sizes = {
            "tokens": len(self.tokens),
            "word_ids": len(self.word_ids),
            "special": self.special.numel(),
            "roles": len(self.roles),
        }
        wrong = {f"{name}{k}": v for k, v in sizes.items() if v != n}
        if wrong:
            axis = "T" if not name else name.rstrip("_")[0].upper()
            raise MapsShapeError(
                f"attentions cover {axis} = {n} tokens but {wrong} have other lengths; "
                "give one entry per token."
            )
        bad = [w for w in self.word_ids if w is not None and not 0 <= w < len(self.words)]
        if bad:
            raise MapsShapeError(f"word_ids {bad} do not index into the {len(self.words)} words.")
        unknown = sorted({r for r in self.roles if r is not None and r not in ROLES})
        if unknown:
            raise MapsShapeError(f"unknown special-token roles {unknown}; use one of {ROLES}.")

    def same_as(self, other: TokenAxis) -> bool:
        """Whether both axes hold the same tokens, words, special flags and roles."""
        return self is other or (
            self.tokens == other.tokens
            and self.word_ids == other.word_ids
            and self.words == other.words
            and self.roles == other.roles
            and torch.equal(self.special, other.special)
        )

    def positions_with_role(self, role: str) -> list[int]:
        """Positions whose special token has ``role`` (``"cls"``, ``"sep"``, ...)."""
        return [i for i, r in enumerate(self.roles) if r == role]


@dataclass(frozen=True, eq=False)
class Segments:
    """Which sentence of a sentence pair each token of a self-attention map belongs to.

    Attributes:
        segment_ids: ``T``; 0 for the first sentence, 1 for the second. A
            special token belongs to the segment of the text before it
            (``[CLS]`` and the first ``[SEP]`` to 0).
        sep_positions: positions of the separator tokens (the special tokens
            after position 0).
        pair: the second sentence, or ``None`` for a single text.
    """

    segment_ids: list[int]
    sep_positions: list[int]
    pair: str | None = None

    @classmethod
    def of(cls, segment_ids: Sequence[int], special: Tensor, pair: str | None) -> Segments:
        seps = [i for i, s in enumerate(special.tolist()) if s and i > 0]
        return cls(list(segment_ids), seps, pair)

    def pooled(self, first: list[int]) -> Segments:
        """The segments after pooling: unit ``u`` starts at token ``first[u]``."""
        unit_of = {t: u for u, t in enumerate(first)}
        return Segments(
            [self.segment_ids[i] for i in first],
            [unit_of[i] for i in self.sep_positions if i in unit_of],
            self.pair,
        )


_UNSET: Any = object()


@dataclass(frozen=True, eq=False, repr=False, init=False)
class AttentionMaps:
    """Every attention weight of one forward pass, with the tokens of both axes.

    ``attentions[l, h, i, j]`` is how much query ``i`` ("who looks") attends
    to key ``j`` in layer ``l``, head ``h`` (0-indexed); each row sums to 1.

    Build it with one axis for self-attention (``tokens=``, ``word_ids=``,
    ``words=``, ``special=``, optionally ``roles=``) or with two
    (``query=TokenAxis(...)``, ``key=TokenAxis(...)``); all arguments are
    keywords.

    Attributes:
        attentions: ``[L, H, Q, K]`` float; ``Q == K == T`` for self-attention.
        query: the :class:`TokenAxis` of the ``Q`` queries (rows).
        key: the :class:`TokenAxis` of the ``K`` keys (columns); the same
            object as ``query`` for self-attention.
        model_id: the model's hub id or directory.
        text: the input text (for a pair, the first sentence).
        level: ``"token"`` or ``"word"`` (see :meth:`to_words`).
        causal: ``True`` for a decoder's (causal) attention: query ``i`` sees
            only keys ``0 .. i + (K - Q)`` (the queries are the last ``Q``
            positions of the keys), so every other weight is 0.
        segments: sentence-pair structure (:class:`Segments`) of an encoder's
            input, or ``None``.
    """

    attentions: Tensor
    query: TokenAxis
    key: TokenAxis
    model_id: str
    text: str
    level: str
    causal: bool
    segments: Segments | None

    def __init__(
        self,
        *,
        attentions: Tensor,
        model_id: str,
        text: str = "",
        query: TokenAxis | None = None,
        key: TokenAxis | None = None,
        tokens: Sequence[str] | None = None,
        word_ids: Sequence[int | None] | None = None,
        words: Sequence[str] | None = None,
        special: Tensor | Sequence[bool] | None = None,
        roles: Sequence[str | None] | None = None,
        level: str = "token",
        causal: bool = False,
        segments: Segments | None = None,
        segment_ids: Sequence[int] | None = None,
        pair: str | None = _UNSET,
    ) -> None:
        one_axis = (tokens, word_ids, words, special)
        if query is None and key is None:
            if tokens is None or word_ids is None or words is None or special is None:
                raise MapsShapeError(
                    "give the tokens: tokens=, word_ids=, words= and special= for "
                    "self-attention, or query=TokenAxis(...) and key=TokenAxis(...)."
                )
            query = key = TokenAxis(
                list(tokens),
                list(word_ids),
                list(words),
                torch.as_tensor(special, dtype=torch.bool),
                [] if roles is None else list(roles),
            )
        elif any(part is not None for part in (*one_axis, roles)):
            raise MapsShapeError(
                "give either tokens=/word_ids=/words=/special= (one shared axis) or "
                "query=/key= (TokenAxis each), not both."
            )
        elif query is None or key is None:
            query = key = query or key
        if not isinstance(query, TokenAxis) or not isinstance(key, TokenAxis):
            raise MapsShapeError("query= and key= must be TokenAxis objects.")
        if query is not key and query.same_as(key):
            key = query  # one shared axis: self-attention
        a = attentions
        if not isinstance(a, Tensor) or a.ndim != 4:
            shape = tuple(a.shape) if isinstance(a, Tensor) else type(a).__name__
            raise MapsShapeError(
                f"attentions must be a tensor [layers, heads, T, T] (or [layers, heads, Q, K] "
                f"with separate query and key axes), got {shape}."
            )
        shared = query is key
        if shared and a.shape[-1] != a.shape[-2]:
            raise MapsShapeError(
                f"attentions are [.., {a.shape[-2]}, {a.shape[-1]}] (queries x keys) but one "
                "token axis was given; for Q != K give query=TokenAxis(...) and key=TokenAxis(...)."
            )
        query._check(a.shape[-2], "" if shared else "query_")
        if not shared:
            key._check(a.shape[-1], "key_")
        if level not in ("token", "word"):
            raise MapsShapeError(f"level must be 'token' or 'word', got {level!r}.")
        if segments is None and segment_ids is not None:
            if not shared:
                raise MapsShapeError("segment_ids= belongs to self-attention maps (one axis).")
            if len(segment_ids) != len(query):
                raise MapsShapeError(
                    f"attentions cover T = {len(query)} tokens but segment_ids has "
                    f"{len(segment_ids)}; give one entry per token."
                )
            segments = Segments.of(segment_ids, query.special, None if pair is _UNSET else pair)
        elif pair is not _UNSET:
            raise MapsShapeError("pair= goes with segment_ids= (or pass segments=Segments(...)).")
        if segments is not None and len(segments.segment_ids) != len(query):
            raise MapsShapeError(
                f"segments cover {len(segments.segment_ids)} tokens, the queries {len(query)}."
            )
        for name, value in (
            ("attentions", a),
            ("query", query),
            ("key", key),
            ("model_id", model_id),
            ("text", text),
            ("level", level),
            ("causal", bool(causal)),
            ("segments", segments),
        ):
            object.__setattr__(self, name, value)
        if self.causal:
            hidden = ~self.visible_keys()
            if bool((a[..., hidden] != 0).any()):
                worst = a[..., hidden].abs().max().item()
                raise MapsShapeError(
                    f"causal maps must be 0 above the diagonal (a query cannot see later keys), "
                    f"but up to {worst:.3g} is there; pass causal=False for "
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
    def num_queries(self) -> int:
        return self.attentions.shape[-2]

    @property
    def num_keys(self) -> int:
        return self.attentions.shape[-1]

    @property
    def num_tokens(self) -> int:
        """``T`` of self-attention maps (raises :class:`~attnbook.errors.AxesDifferError` otherwise)."""
        return len(self._shared("num_tokens"))

    @property
    def is_self_attention(self) -> bool:
        """Whether queries and keys are one axis (the same tokens)."""
        return self.query is self.key

    def visible_keys(self) -> Tensor:
        """Bool ``[Q, K]``: which keys each query can see (all, unless ``causal``).

        >>> from attnbook.maps import AttentionMaps, TokenAxis
        >>> axis = lambda n: TokenAxis([f"t{i}" for i in range(n)], [None] * n, [], [True] * n)
        >>> m = AttentionMaps(attentions=torch.ones(1, 1, 2, 4).tril(2) / 4, model_id="x",
        ...                   query=axis(2), key=axis(4), causal=True)
        >>> m.visible_keys().int()
        tensor([[1, 1, 1, 0],
                [1, 1, 1, 1]], dtype=torch.int32)
        """
        q, k = self.num_queries, self.num_keys
        seen = torch.ones(q, k, dtype=torch.bool)
        return seen.tril(diagonal=k - q) if self.causal else seen

    # ----- the one-axis view of self-attention --------------------------------

    def _shared(self, name: str) -> TokenAxis:
        if self.query is not self.key:
            raise AxesDifferError(
                f"these maps have different query and key axes ({self.num_queries} queries, "
                f"{self.num_keys} keys), so {name!r} is ambiguous; use query_{name} / key_{name} "
                "(or maps.query / maps.key)."
            )
        return self.query

    @property
    def tokens(self) -> list[str]:
        """The ``T`` tokens of self-attention (queries and keys are the same tokens)."""
        return self._shared("tokens").tokens

    @property
    def word_ids(self) -> list[int | None]:
        return self._shared("word_ids").word_ids

    @property
    def words(self) -> list[str]:
        return self._shared("words").words

    @property
    def special(self) -> Tensor:
        return self._shared("special").special

    @property
    def roles(self) -> list[str | None]:
        return self._shared("roles").roles

    @property
    def query_tokens(self) -> list[str]:
        return self.query.tokens

    @property
    def key_tokens(self) -> list[str]:
        return self.key.tokens

    @property
    def segment_ids(self) -> list[int]:
        """Sentence of each token (see :class:`Segments`); all 0 without a pair."""
        if self.segments is None:
            return [0] * self.num_tokens
        return self.segments.segment_ids

    @property
    def pair(self) -> str | None:
        """The second sentence of a pair, or ``None``."""
        return None if self.segments is None else self.segments.pair

    @property
    def sep_positions(self) -> list[int]:
        """Positions of the separator tokens: the special tokens after position 0.

        >>> from attnbook import attend
        >>> attend("The dog barks.", pair="It is loud.").sep_positions
        [6, 11]
        """
        if self.segments is None:
            return [i for i, s in enumerate(self.special.tolist()) if s and i > 0]
        return self.segments.sep_positions

    def __repr__(self) -> str:
        extra = f", pair={self.pair!r}" if self.pair is not None else ""
        extra += ", causal=True" if self.causal else ""
        if self.is_self_attention:
            axes = f"tokens={self.tokens!r}"
        else:
            axes = f"query_tokens={self.query_tokens!r}, key_tokens={self.key_tokens!r}"
        return (
            f"AttentionMaps(model_id={self.model_id!r}, level={self.level!r}, "
            f"layers={self.num_layers}, heads={self.num_heads}, {axes}{extra})"
        )

    def replace(self, **changes: Any) -> AttentionMaps:
        """A copy with some fields changed (checked again, as a new result)."""
        fields: dict[str, Any] = {
            "attentions": self.attentions,
            "query": self.query,
            "key": self.key,
            "model_id": self.model_id,
            "text": self.text,
            "level": self.level,
            "causal": self.causal,
            "segments": self.segments,
        }
        fields.update(changes)
        return AttentionMaps(**fields)

    # ----- indexing ----------------------------------------------------------

    def check_layer(self, layer: int) -> int:
        """``layer`` as an id in ``0 .. L - 1`` (negative ids count from the end)."""
        return check_id(layer, self.num_layers, "layer")

    def check_head(self, head: int) -> int:
        """``head`` as an id in ``0 .. H - 1`` (negative ids count from the end)."""
        return check_id(head, self.num_heads, "head")

    def head(self, layer: int, head: int) -> Tensor:
        """One head's attention ``[Q, K]``: rows are queries, columns keys.

        >>> from attnbook import attend
        >>> attend("The dog chased the cat.").head(5, 11).shape
        torch.Size([8, 8])
        """
        return self.attentions[self.check_layer(layer), self.check_head(head)]

    def token_index(
        self, word_or_token: str, occurrence: int = 0, *, axis: str = "query"
    ) -> list[int]:
        """Positions of a word's tokens (its sub-word pieces), or of a token such as ``"[SEP]"``.

        Words are matched without regard to case (and accents, as uncased
        models fold them); ``occurrence`` picks among repeats (0 = first).
        ``axis`` (``"query"`` or ``"key"``) says where to look when the two differ.

        >>> from attnbook import attend
        >>> maps = attend("The dog chased the cat.")
        >>> maps.token_index("the", occurrence=1), maps.token_index("[SEP]")
        ([4], [7])
        >>> attend("unbelievably").token_index("unbelievably")
        [1, 2, 3, 4, 5]
        """
        from attnbook.maps.words import token_index

        return token_index(self._axis(axis), word_or_token, occurrence)

    def _axis(self, axis: str) -> TokenAxis:
        if axis not in ("query", "key"):
            raise MapsShapeError(f"axis must be 'query' or 'key', got {axis!r}.")
        return self.query if axis == "query" else self.key

    # ----- views -------------------------------------------------------------

    def to_words(self) -> AttentionMaps:
        """Word-level maps by Clark et al.'s (2019) rule, on each axis.

        Attention *to* a split word (key axis) is the sum over its pieces;
        attention *from* a split word (query axis) is the mean over its
        pieces, so rows still sum to 1. Special tokens stay as their own
        "words"; ``tokens`` become the word strings.

        >>> from attnbook import attend
        >>> maps = attend("Attention is unbelievably simple.")
        >>> maps.num_tokens, maps.to_words().num_tokens
        (11, 7)
        >>> maps.to_words().tokens
        ['[CLS]', 'Attention', 'is', 'unbelievably', 'simple', '.', '[SEP]']
        """
        from attnbook.maps.words import to_words

        return to_words(self)

    def to_bertviz(self) -> tuple[tuple[torch.Tensor, ...], list[str]]:
        """``(attention, tokens)`` as ``bertviz.head_view(attention, tokens)`` expects.

        One ``[1, H, T, T]`` tensor per layer and the ``T`` token strings; see
        :func:`attnbook.view.to_bertviz`.
        """
        from attnbook.view.bertviz import to_bertviz

        return to_bertviz(self)

    def to_dataframe(self, layer: int, head: int) -> pd.DataFrame:
        """One head as a table: queries as rows (index), keys as columns.

        >>> from attnbook import attend
        >>> df = attend("The dog chased the cat.").to_dataframe(0, 0)
        >>> df.shape, list(df.columns[:3])
        ((8, 8), ['[CLS]', 'the', 'dog'])
        """
        from attnbook.maps.export import to_dataframe

        return to_dataframe(self, layer, head)

    # ----- head search (attnbook.analysis.search) -----------------------------

    def query_to_keys(
        self, query: str, keys: KeySpec | Sequence[KeySpec], *, occurrence: int = 0
    ) -> pd.DataFrame:
        """Attention from ``query`` to each key in every head: ``[L * H]`` rows.

        See :func:`attnbook.analysis.query_to_keys`.
        """
        from attnbook.analysis.search import query_to_keys

        return query_to_keys(self, query, keys, occurrence=occurrence)

    def top_heads(
        self, query: str, keys: KeySpec | Sequence[KeySpec], k: int = 5, *, occurrence: int = 0
    ) -> pd.DataFrame:
        """The ``k`` heads that attend most from ``query`` to ``keys`` (total weight).

        See :func:`attnbook.analysis.top_heads`.

        >>> from attnbook import attend
        >>> maps = attend("The dog chased the cat.")
        >>> top = maps.top_heads("chased", ["dog", "cat"], k=3)
        >>> list(top.columns)
        ['layer', 'head', 'dog', 'cat', 'weight']
        >>> len(top), bool(top["weight"].is_monotonic_decreasing)
        (3, True)
        """
        from attnbook.analysis.search import top_heads

        return top_heads(self, query, keys, k, occurrence=occurrence)

    def layer_profile(
        self, query: str, keys: KeySpec | Sequence[KeySpec], *, occurrence: int = 0
    ) -> pd.DataFrame:
        """Per layer, the attention from ``query`` to ``keys``: max and mean over heads.

        See :func:`attnbook.analysis.layer_profile`.

        >>> from attnbook import attend
        >>> profile = attend("The dog chased the cat.").layer_profile("chased", "dog")
        >>> list(profile.columns), len(profile)
        (['max', 'mean', 'best_head'], 6)
        """
        from attnbook.analysis.search import layer_profile

        return layer_profile(self, query, keys, occurrence=occurrence)
