"""Score attention heads against the toy grammar's gold structure (Clark et al. 2019, Table 1).

Each head is treated as a classifier: given the verb, it "predicts" the word
its attention row puts the most weight on (the verb itself and padding
excluded, as in Clark et al.'s "most-attended-to other word"). Its accuracy
for a relation (verb -> subject, verb -> object) is how often that word is
the gold argument's head noun. The baseline is the best **fixed offset**:
always predict position ``verb + k``, with the ``k`` that works best.

Groups: ``en-SVO``, ``ja-SOV``, ``ja-OSV`` and ``ja-both`` (Japanese, both
orders pooled: one head, or one offset, must serve both). A head that is
accurate on SOV *and* on OSV follows the particles, since the position of
each argument relative to the verb swaps between the two orders.

Layers and heads are **0-indexed** in every DataFrame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd
import torch
from torch import Tensor

from attnbook.toy.grammar import GROUPS, VOCAB, Sentence, ToyGrammarError
from attnbook.toy.model import PAD_ID, ToyEncoder

if TYPE_CHECKING:
    from attnbook.maps import AttentionMaps

__all__ = [
    "ALL_GROUPS",
    "RELATIONS",
    "TARGETS",
    "attention_maps",
    "sentence_maps",
    "clark_table",
    "encode",
    "head_accuracy",
    "head_correct",
    "offset_baseline",
    "particle_heads",
]

RELATIONS: tuple[str, ...] = ("subject", "object")
"""The relations scored, both from the verb: verb -> subject, verb -> object."""

TARGETS: tuple[str, ...] = ("noun", "noun_or_particle")
"""What counts as finding an argument: its head noun only, or also its case
particle (Japanese が/を; English has none, so there both targets are the same)."""

ALL_GROUPS: tuple[str, ...] = (*GROUPS, "ja-both")
"""The groups of the tables: the three (language, order) groups and Japanese pooled."""

_IDS = {w: i for i, w in enumerate(VOCAB)}


def encode(sentences: Sequence[Sentence], length: int | None = None) -> Tensor:
    """Word ids ``[N, T]`` of ``sentences``, padded with ``PAD_ID`` to ``length``.

    >>> from attnbook.toy.grammar import parse
    >>> ids = encode([parse("犬 が 猫 を 追う")], length=6)
    >>> [VOCAB[i] for i in ids[0].tolist()]
    ['犬', 'が', '猫', 'を', '追う', '[PAD]']
    """
    if not sentences:
        raise ToyGrammarError("no sentences to encode")
    longest = max(len(s) for s in sentences)
    length = longest if length is None else length
    if length < longest:
        raise ToyGrammarError(f"length={length} is shorter than the longest sentence ({longest})")
    ids = torch.full((len(sentences), length), PAD_ID, dtype=torch.long)
    for i, s in enumerate(sentences):
        ids[i, : len(s)] = torch.tensor([_IDS[t] for t in s.tokens])
    return ids


@torch.no_grad()
def attention_maps(
    model: ToyEncoder, sentences: Sequence[Sentence], *, batch_size: int = 1024
) -> Tensor:
    """Attention of ``model`` on unmasked ``sentences``: ``[N, L, H, T, T]``.

    ``T`` is the longest sentence; rows and columns past a sentence's end are padding.
    """
    was_training = model.training
    model.eval()
    ids = encode(sentences)
    try:
        return torch.cat(
            [model(ids[i : i + batch_size]).attentions for i in range(0, len(ids), batch_size)]
        )
    finally:
        model.train(was_training)


def sentence_maps(model: ToyEncoder, sentence: Sentence) -> AttentionMaps:
    """One sentence's attention as :class:`~attnbook.maps.AttentionMaps` ``[L, H, T, T]``.

    The same result type as a real model's (:func:`attnbook.attend`), so the
    analysis and plot functions work on the toy: each word is one token, and
    the toy has no special tokens.

    >>> from attnbook.toy import ToyEncoder, VOCAB
    >>> from attnbook.toy.grammar import parse
    >>> maps = sentence_maps(ToyEncoder(len(VOCAB), 10, 16, 1, 2), parse("犬 が 猫 を 追う"))
    >>> maps.tokens, tuple(maps.attentions.shape)
    (['犬', 'が', '猫', 'を', '追う'], (1, 2, 5, 5))
    """
    from attnbook.maps import AttentionMaps

    tokens = list(sentence.tokens)
    return AttentionMaps(
        attentions=attention_maps(model, [sentence])[0],
        tokens=tokens,
        word_ids=list(range(len(tokens))),
        words=tokens,
        special=torch.zeros(len(tokens), dtype=torch.bool),
        model_id="attnbook-toy",
        text=" ".join(tokens),
    )


def _gold(sentences: Sequence[Sentence], target: str, t: int) -> Tensor:
    """Boolean ``[N, R, T]``: which positions count as a hit for each relation."""
    if target not in TARGETS:
        raise ToyGrammarError(f"target must be one of {TARGETS}, got {target!r}")
    gold = torch.zeros(len(sentences), len(RELATIONS), t, dtype=torch.bool)
    for i, s in enumerate(sentences):
        for r, relation in enumerate(RELATIONS):
            noun = getattr(s, relation)
            gold[i, r, noun] = True
            if target == "noun_or_particle" and s.lang == "ja":
                gold[i, r, noun + 1] = True  # the particle right after the noun
    return gold


def head_correct(
    attentions: Tensor, sentences: Sequence[Sentence], *, target: str = "noun"
) -> Tensor:
    """Whether each head's most-attended word from the verb is the gold argument.

    Args:
        attentions: ``[N, L, H, T, T]`` as from :func:`attention_maps`.
        sentences: the ``N`` sentences, for their gold positions.
        target: ``"noun"``: a hit must land on the argument's head noun;
            ``"noun_or_particle"``: on the noun or, in Japanese, on the case
            particle that marks it (が for the subject, を for the object).
            Attending to the particle is how a head can find an argument by
            its case: after the first layer the particle also carries its noun.

    Returns:
        Boolean ``[N, L, H, R]`` with ``R`` = ``len(RELATIONS)`` (subject, object).
    """
    n, _, _, t, _ = attentions.shape
    if n != len(sentences):
        raise ToyGrammarError(f"{n} attention maps for {len(sentences)} sentences")
    verb = torch.tensor([s.verb for s in sentences])
    gold = _gold(sentences, target, t)  # [N, R, T]
    lengths = torch.tensor([len(s) for s in sentences])
    rows = attentions[torch.arange(n), :, :, verb, :]  # [N, L, H, T]: the verb's rows
    keys = torch.arange(t)
    hidden = (keys[None] == verb[:, None]) | (keys[None] >= lengths[:, None])  # [N, T]
    rows = rows.masked_fill(hidden[:, None, None, :], float("-inf"))
    predicted = rows.argmax(dim=-1)  # [N, L, H]
    index = predicted[:, :, :, None].expand(-1, -1, -1, len(RELATIONS))  # [N, L, H, R]
    return (
        gold[:, None, None]
        .expand(-1, *predicted.shape[1:], -1, -1)
        .gather(-1, index[..., None])[..., 0]
    )


def _group_masks(sentences: Sequence[Sentence]) -> dict[str, Tensor]:
    groups = [s.group for s in sentences]
    masks = {g: torch.tensor([x == g for x in groups]) for g in GROUPS}
    masks["ja-both"] = masks["ja-SOV"] | masks["ja-OSV"]
    return masks


def head_accuracy(
    model: ToyEncoder, sentences: Sequence[Sentence], *, target: str = "noun"
) -> pd.DataFrame:
    """Accuracy of every head for every relation and group.

    ``target`` is ``"noun"`` or ``"noun_or_particle"``, as in :func:`head_correct`.

    Returns:
        Tidy DataFrame with columns ``group, relation, layer, head, accuracy, n``
        (``n`` = number of sentences in the group; groups without sentences are left out).
    """
    att = attention_maps(model, sentences)
    return _head_frame(head_correct(att, sentences, target=target), sentences)


def _head_frame(correct: Tensor, sentences: Sequence[Sentence]) -> pd.DataFrame:
    _, layers, heads, _ = correct.shape
    records = []
    for group, mask in _group_masks(sentences).items():
        count = int(mask.sum())
        if count == 0:
            continue
        acc = correct[mask].float().mean(dim=0)  # [L, H, R]
        for r, relation in enumerate(RELATIONS):
            for layer in range(layers):
                for head in range(heads):
                    records.append(
                        (group, relation, layer, head, float(acc[layer, head, r]), count)
                    )
    return pd.DataFrame(records, columns=["group", "relation", "layer", "head", "accuracy", "n"])


def offset_baseline(sentences: Sequence[Sentence], *, target: str = "noun") -> pd.DataFrame:
    """Accuracy of always predicting position ``verb + offset``, for every offset.

    ``target`` is ``"noun"`` or ``"noun_or_particle"``, scored as in :func:`head_correct`.

    Returns:
        Tidy DataFrame with columns ``group, relation, offset, accuracy, n``;
        offsets run over every non-zero value that occurs in the sentences'
        range (a position outside the sentence counts as wrong).

    >>> from attnbook.toy.grammar import parse
    >>> df = offset_baseline([parse("犬 が 猫 を 追う"), parse("猫 を 犬 が 追う")])
    >>> float(df.query("group == 'ja-both' and relation == 'object'").accuracy.max())
    0.5
    """
    if not sentences:
        raise ToyGrammarError("no sentences to score")
    longest = max(len(s) for s in sentences)
    gold = _gold(sentences, target, longest)  # [N, R, T]
    verb = torch.tensor([s.verb for s in sentences])
    records = []
    for group, mask in _group_masks(sentences).items():
        count = int(mask.sum())
        if count == 0:
            continue
        for r, relation in enumerate(RELATIONS):
            for k in range(-longest + 1, longest):
                if k == 0:
                    continue
                where = verb + k
                inside = (where >= 0) & (where < longest)
                hit = torch.zeros(len(sentences), dtype=torch.bool)
                hit[inside] = gold[inside, r, where[inside]]
                records.append((group, relation, k, float(hit[mask].float().mean()), count))
    return pd.DataFrame(records, columns=["group", "relation", "offset", "accuracy", "n"])


def clark_table(
    model: ToyEncoder, sentences: Sequence[Sentence], *, target: str = "noun"
) -> pd.DataFrame:
    """The best head vs the best fixed offset, per group and relation (Clark et al. Table 1).

    ``target`` is ``"noun"`` or ``"noun_or_particle"``, as in :func:`head_correct`.

    Returns:
        DataFrame with one row per (group, relation) and columns ``group,
        relation, layer, head, head_accuracy, offset, offset_accuracy, n``
        (the best head's 0-indexed layer and head, the best offset).
    """
    heads = head_accuracy(model, sentences, target=target)
    return _best_table(heads, offset_baseline(sentences, target=target))


def _best_table(heads: pd.DataFrame, offsets: pd.DataFrame) -> pd.DataFrame:
    # idxmax keeps the first maximum, i.e. the lowest (layer, head) / offset on ties.
    best_head = heads.loc[heads.groupby(["group", "relation"], sort=False).accuracy.idxmax()]
    best_off = offsets.loc[offsets.groupby(["group", "relation"], sort=False).accuracy.idxmax()]
    table = best_head.rename(columns={"accuracy": "head_accuracy"}).merge(
        best_off.rename(columns={"accuracy": "offset_accuracy"}).drop(columns="n"),
        on=["group", "relation"],
    )
    return table[
        ["group", "relation", "layer", "head", "head_accuracy", "offset", "offset_accuracy", "n"]
    ].reset_index(drop=True)


def particle_heads(
    model: ToyEncoder,
    sentences: Sequence[Sentence],
    *,
    threshold: float = 0.9,
    target: str = "noun",
) -> pd.DataFrame:
    """Does a head follow the case particles rather than the position?

    For each relation and head: accuracy on Japanese SOV and on OSV
    sentences, and the worse of the two. The best fixed offset is judged the
    same way (``offset_worse``: its accuracy on the order where it does worse,
    for the offset that maximises that). A head ``follows_particles`` when its
    worse accuracy reaches ``threshold`` and beats the best offset's worse accuracy.
    ``target`` is ``"noun"`` or ``"noun_or_particle"``, as in :func:`head_correct`.

    Returns:
        DataFrame with columns ``relation, layer, head, sov, osv, worse,
        offset, offset_sov, offset_osv, offset_worse, follows_particles``,
        sorted by relation and descending ``worse``.
    """
    heads = head_accuracy(model, sentences, target=target)
    offsets = offset_baseline(sentences, target=target)
    return _particle_frame(heads, offsets, threshold)


def _particle_frame(heads: pd.DataFrame, offsets: pd.DataFrame, threshold: float) -> pd.DataFrame:
    for g in ("ja-SOV", "ja-OSV"):
        if g not in set(heads.group):
            raise ToyGrammarError(
                f"particle_heads needs Japanese sentences in both orders; none in group {g}"
            )
    keys = ["relation", "layer", "head"]
    h = heads[heads.group.isin(["ja-SOV", "ja-OSV"])].pivot_table(
        index=keys, columns="group", values="accuracy"
    )
    h = h.rename(columns={"ja-SOV": "sov", "ja-OSV": "osv"}).reset_index()
    h.columns.name = None
    h["worse"] = h[["sov", "osv"]].min(axis=1)
    o = offsets[offsets.group.isin(["ja-SOV", "ja-OSV"])].pivot_table(
        index=["relation", "offset"], columns="group", values="accuracy", fill_value=0.0
    )
    o = o.rename(columns={"ja-SOV": "offset_sov", "ja-OSV": "offset_osv"}).reset_index()
    o.columns.name = None
    o["offset_worse"] = o[["offset_sov", "offset_osv"]].min(axis=1)
    # The offset whose worse order is best; among ties, the best on average.
    o["_mean"] = o[["offset_sov", "offset_osv"]].mean(axis=1)
    o = o.sort_values(["relation", "offset_worse", "_mean"], ascending=[True, False, False])
    o = o.groupby("relation", sort=False).head(1).drop(columns="_mean")
    out = h.merge(o, on="relation")
    out["follows_particles"] = (out.worse >= threshold) & (out.worse > out.offset_worse)
    out = out.sort_values(["relation", "worse"], ascending=[True, False], kind="stable")
    return out.reset_index(drop=True)
