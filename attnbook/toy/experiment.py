"""The toy experiment as tidy tables: heads emerging during training, results across seeds.

These functions call :func:`~attnbook.toy.train.load_or_train`, so each
configuration is trained once and then read from the cache.
Layers and heads are **0-indexed**.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import pandas as pd
import torch

from attnbook.toy.evaluate import (
    ALL_GROUPS,
    RELATIONS,
    TARGETS,
    clark_table,
    particle_heads,
)
from attnbook.toy.grammar import (
    NOUNS,
    Sentence,
    ToyGrammarError,
    allowed_objects,
    allowed_subjects,
)
from attnbook.toy.train import ToyConfig, TrainResult, load_or_train

__all__ = [
    "best_heads",
    "emergence",
    "emergence_steps",
    "final_best_heads",
    "first_step",
    "reversible",
    "run_seeds",
    "seed_summary",
]

PAIRS: tuple[tuple[str, str], ...] = (("ja-both", "subject"), ("ja-both", "object"))
"""The (group, relation) pairs followed during training by default: Japanese, both orders."""


def emergence(result: TrainResult, *, target: str = "noun") -> pd.DataFrame:
    """Every head's accuracy at every snapshot taken during training.

    Returns:
        Tidy DataFrame with columns ``step, group, relation, layer, head,
        accuracy`` (accuracy on the probe sentences, the first
        ``config.n_probe`` held-out ones).
    """
    if target not in TARGETS:
        raise ToyGrammarError(f"target must be one of {TARGETS}, got {target!r}")
    acc = result.snapshots.recorded("accuracy")[:, TARGETS.index(target)]  # [S, L, H, G, R]
    records = []
    for s, step in enumerate(result.snapshots.steps):
        for layer in range(acc.shape[1]):
            for head in range(acc.shape[2]):
                for g, group in enumerate(ALL_GROUPS):
                    for r, relation in enumerate(RELATIONS):
                        value = float(acc[s, layer, head, g, r])
                        records.append((step, group, relation, layer, head, value))
    return pd.DataFrame(records, columns=["step", "group", "relation", "layer", "head", "accuracy"])


def _check_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ToyGrammarError(f"{what} needs the columns {missing}; got {list(frame.columns)}")


def best_heads(frame: pd.DataFrame, *, by: str = "worse", key: str = "relation") -> pd.DataFrame:
    """The best head for each value of ``key``: the row with the highest ``by``.

    Does not rely on the order of the rows: ties go to the lowest layer, then
    the lowest head. For a :func:`~attnbook.toy.evaluate.particle_heads` table
    the default picks, per relation, the head whose worse order is best.

    Returns:
        One row per ``key`` value (sorted), indexed by ``key``.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"relation": ["object", "object", "subject"], "layer": [0, 2, 1],
    ...                   "head": [1, 0, 3], "worse": [0.4, 0.9, 0.5]})
    >>> best_heads(t)[["layer", "head"]].to_dict("index")
    {'object': {'layer': 2, 'head': 0}, 'subject': {'layer': 1, 'head': 3}}
    """
    _check_columns(frame, [key, by, "layer", "head"], "best_heads")
    if frame.empty:
        raise ToyGrammarError("best_heads got an empty table: there is no head to choose")
    if frame[by].isna().any():
        raise ToyGrammarError(f"best_heads: column {by!r} has missing values; cannot rank heads")
    ranked = frame.sort_values(
        [key, by, "layer", "head"], ascending=[True, False, True, True], kind="stable"
    )
    return ranked.groupby(key, sort=True).head(1).set_index(key)


def final_best_heads(
    result: TrainResult,
    pairs: Iterable[tuple[str, str]] = PAIRS,
    *,
    target: str = "noun",
) -> dict[tuple[str, str], tuple[int, int]]:
    """``{(group, relation): (layer, head)}``: the best head at the last snapshot.

    Scored on the probe sentences, as the snapshots are; ties go to the
    lowest (layer, head). This is the head :func:`attnbook.toy.plot.emergence`
    follows.
    """
    if target not in TARGETS:
        raise ToyGrammarError(f"target must be one of {TARGETS}, got {target!r}")
    acc = result.snapshots.recorded("accuracy")[-1, TARGETS.index(target)]  # [L, H, G, R]
    best = {}
    for group, relation in pairs:
        if group not in ALL_GROUPS or relation not in RELATIONS:
            raise ToyGrammarError(
                f"unknown (group, relation) {(group, relation)!r}; groups: {ALL_GROUPS}, "
                f"relations: {RELATIONS}"
            )
        a = acc[:, :, ALL_GROUPS.index(group), RELATIONS.index(relation)]  # [L, H]
        if torch.isnan(a).all():
            raise ToyGrammarError(f"no probe sentence of group {group!r}: no best head")
        flat = int(torch.nan_to_num(a, nan=-1.0).flatten().argmax())
        best[(group, relation)] = divmod(flat, a.shape[1])
    return best


def first_step(
    curves: pd.DataFrame,
    group: str,
    relation: str,
    layer: int,
    head: int,
    *,
    threshold: float = 0.8,
) -> int | None:
    """The first snapshot step at which one head reaches ``threshold``, or ``None`` if it never does.

    Args:
        curves: a table from :func:`emergence`.
        group, relation, layer, head: the curve to read (0-indexed layer and head).
        threshold: the accuracy to reach (inclusive).

    Raises:
        ToyGrammarError: if ``curves`` has no row for this curve (a selection
            that silently matched nothing would otherwise read as "never").

    >>> import pandas as pd
    >>> c = pd.DataFrame({"step": [0, 25, 50], "group": "g", "relation": "r", "layer": 0,
    ...                   "head": 1, "accuracy": [0.1, 0.85, 0.7]})
    >>> first_step(c, "g", "r", 0, 1), first_step(c, "g", "r", 0, 1, threshold=0.9)
    (25, None)
    """
    _check_columns(curves, ["step", "group", "relation", "layer", "head", "accuracy"], "first_step")
    if not 0.0 <= threshold <= 1.0:
        raise ToyGrammarError(f"threshold must be an accuracy in [0, 1], got {threshold!r}")
    mine = curves[
        (curves["group"] == group)
        & (curves["relation"] == relation)
        & (curves["layer"] == layer)
        & (curves["head"] == head)
    ]
    if mine.empty:
        raise ToyGrammarError(
            f"no snapshot of group {group!r}, relation {relation!r}, layer {layer}, "
            f"head {head} in the table; check the names and that the head exists (0-indexed)"
        )
    above = mine[mine["accuracy"] >= threshold]
    return int(above["step"].min()) if len(above) else None


def emergence_steps(
    result: TrainResult,
    pairs: Iterable[tuple[str, str]] = PAIRS,
    *,
    threshold: float = 0.8,
    target: str = "noun",
) -> pd.DataFrame:
    """When did the finally best heads get good?

    Returns:
        One row per (group, relation) with columns ``group, relation, layer,
        head, final_accuracy, first_step``: the head of
        :func:`final_best_heads`, its accuracy at the last snapshot and the
        first snapshot step at which it reached ``threshold`` (``None`` if it
        never did within training).
    """
    curves = emergence(result, target=target)
    last = curves[curves.step == curves.step.max()]
    records = []
    for (group, relation), (layer, head) in final_best_heads(result, pairs, target=target).items():
        final = last[
            (last.group == group)
            & (last.relation == relation)
            & (last.layer == layer)
            & (last["head"] == head)
        ]
        records.append(
            {
                "group": group,
                "relation": relation,
                "layer": layer,
                "head": head,
                "final_accuracy": float(final.accuracy.iloc[0]),
                "first_step": first_step(curves, group, relation, layer, head, threshold=threshold),
            }
        )
    return pd.DataFrame(records, columns=[*records[0]]).astype({"first_step": object})


_NOUN_EN = {w: n.en for n in NOUNS for w in (n.en, n.ja)}


def reversible(sentence: Sentence) -> bool:
    """Could the subject and the object swap roles and still obey the verb's restrictions?

    In 「犬 が 猫 を 追う」 either animal may chase the other, so nothing but
    the case particles (or, within one order, the position) says which is
    the object. In 「犬 が りんご を 食べる」 the object must be the food:
    meaning alone finds it.

    >>> from attnbook.toy.grammar import parse
    >>> reversible(parse("猫 を 犬 が 追う")), reversible(parse("犬 が りんご を 食べる"))
    (True, False)
    """
    verb = sentence.tokens[sentence.verb]
    subject = _NOUN_EN[sentence.tokens[sentence.subject]]
    obj = _NOUN_EN[sentence.tokens[sentence.object]]
    return subject in allowed_objects(verb) and obj in allowed_subjects(verb)


def run_seeds(
    seeds: Iterable[int],
    config: ToyConfig | None = None,
    *,
    target: str = "noun",
    cache: str | os.PathLike | None = None,
    num_threads: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train (or load) one model per seed and score each on its held-out sentences.

    Args:
        seeds: the values of ``ToyConfig.seed`` to run; the seed changes the
            sentences, the initial weights, the batches and the masks.
        config: the other settings; defaults to ``ToyConfig()``.
        target: ``"noun"`` or ``"noun_or_particle"`` (see :func:`~attnbook.toy.evaluate.head_correct`).
        cache, num_threads: passed to :func:`~attnbook.toy.train.load_or_train`.

    Returns:
        ``(table, particles)``: the :func:`~attnbook.toy.evaluate.clark_table`
        rows and the :func:`~attnbook.toy.evaluate.particle_heads` rows of the
        best head per relation, each with an extra leading ``seed`` column and
        ``final_loss``.
    """
    config = ToyConfig() if config is None else config
    tables: list[pd.DataFrame] = []
    particles: list[pd.DataFrame] = []
    for seed in seeds:
        result = load_or_train(config.replace(seed=seed), cache=cache, num_threads=num_threads)
        _, test = result.sentences()
        t = clark_table(result.model, test, target=target)
        p = best_heads(particle_heads(result.model, test, target=target)).reset_index()
        for frame, out in ((t, tables), (p, particles)):
            frame = frame.copy()
            frame.insert(0, "seed", seed)
            frame["final_loss"] = result.final_loss
            out.append(frame)
    if not tables:
        raise ToyGrammarError("run_seeds needs at least one seed")
    return (
        pd.concat(tables, ignore_index=True),
        pd.concat(particles, ignore_index=True),
    )


def seed_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Spread across seeds of a :func:`run_seeds` table.

    Returns:
        One row per (group, relation): min / mean / max of the best head's
        and of the best offset's accuracy, the smallest margin (head minus
        offset) and in how many seeds the best head beat the best offset.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"seed": [0, 1], "group": ["g", "g"], "relation": ["r", "r"],
    ...                   "head_accuracy": [0.9, 0.7], "offset_accuracy": [0.5, 0.8]})
    >>> s = seed_summary(t)
    >>> float(s.head_min.iloc[0]), int(s.head_wins.iloc[0]), round(float(s.margin_min.iloc[0]), 2)
    (0.7, 1, -0.1)
    """
    t = table.assign(
        margin=table.head_accuracy - table.offset_accuracy,
        win=table.head_accuracy > table.offset_accuracy,
    )
    g = t.groupby(["group", "relation"], sort=False)
    return pd.DataFrame(
        {
            "seeds": g.seed.nunique(),
            "head_min": g.head_accuracy.min(),
            "head_mean": g.head_accuracy.mean(),
            "head_max": g.head_accuracy.max(),
            "offset_min": g.offset_accuracy.min(),
            "offset_mean": g.offset_accuracy.mean(),
            "offset_max": g.offset_accuracy.max(),
            "margin_min": g.margin.min(),
            "head_wins": g.win.sum(),
        }
    ).reset_index()
