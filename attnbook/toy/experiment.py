"""The toy experiment as tidy tables: heads emerging during training, results across seeds.

These functions call :func:`~attnbook.toy.train.load_or_train`, so each
configuration is trained once and then read from the cache.
Layers and heads are **0-indexed**.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import pandas as pd

from attnbook.toy.evaluate import (
    ALL_GROUPS,
    RELATIONS,
    TARGETS,
    clark_table,
    particle_heads,
)
from attnbook.toy.grammar import ToyGrammarError
from attnbook.toy.train import ToyConfig, TrainResult, load_or_train

__all__ = ["emergence", "run_seeds", "seed_summary"]


def emergence(result: TrainResult, *, target: str = "noun") -> pd.DataFrame:
    """Every head's accuracy at every snapshot taken during training.

    Returns:
        Tidy DataFrame with columns ``step, group, relation, layer, head,
        accuracy`` (accuracy on the probe sentences, the first
        ``config.n_probe`` held-out ones).
    """
    if target not in TARGETS:
        raise ToyGrammarError(f"target must be one of {TARGETS}, got {target!r}")
    acc = result.snapshots.accuracy[:, TARGETS.index(target)]  # [S, L, H, G, R]
    records = []
    for s, step in enumerate(result.snapshots.steps):
        for layer in range(acc.shape[1]):
            for head in range(acc.shape[2]):
                for g, group in enumerate(ALL_GROUPS):
                    for r, relation in enumerate(RELATIONS):
                        value = float(acc[s, layer, head, g, r])
                        records.append((step, group, relation, layer, head, value))
    return pd.DataFrame(records, columns=["step", "group", "relation", "layer", "head", "accuracy"])


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
    tables, particles = [], []
    for seed in seeds:
        result = load_or_train(config.replace(seed=seed), cache=cache, num_threads=num_threads)
        _, test = result.sentences()
        t = clark_table(result.model, test, target=target)
        p = particle_heads(result.model, test, target=target).groupby("relation").head(1)
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
