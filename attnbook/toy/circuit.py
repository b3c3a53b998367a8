"""The induction circuit over seeds: best heads trained vs untrained, emergence, counts.

:func:`induction_study` trains (or loads from the cache) one
:mod:`attnbook.toy.induction` model per seed and, for each, finds the best
layer-0 previous-token head and the best layer-1 prefix-matching (induction)
head, with their scores before and after training and along training; it
counts the seeds in which both heads appear (score ``>=`` :data:`APPEARS_AT`).
Draw the emergence with :func:`attnbook.toy.plot.induction_emergence`.
Layers and heads are 0-indexed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from attnbook.toy.grammar import ToyGrammarError
from attnbook.toy.induction import InductionConfig, InductionResult, load_or_train_induction

__all__ = ["APPEARS_AT", "InductionStudy", "SeedInduction", "induction_study", "seed_induction"]


APPEARS_AT = 0.5
"""A head *appears* when its score is at least this: most of its attention on the target.

The same bar for both heads, fixed before any training, from what
"previous-token head" means (the glossary: most tokens give most of their
attention to the token just before them) and from the untrained models: with
near-uniform causal attention their best heads score about 0.1
(previous-token) and 0.05 (prefix-matching) on the default configuration,
so 0.5 is at least five times the untrained model's best head.
:attr:`InductionStudy.untrained_best` gives the measured value to check
that against.
"""


@dataclass(frozen=True)
class SeedInduction:
    """One seed of :func:`induction_study`: its best heads, trained and untrained.

    "Untrained" is the same model (same seed, same initial weights) before
    its first step, measured on the same held-out probe sequences.

    Attributes:
        seed: the training seed.
        weights_hash: SHA-256 of the trained weights.
        seconds: wall time of the training run.
        loss_first, loss_second: trained loss (nats) on the first and the
            second occurrence of the run (:func:`half_losses`).
        untrained_loss_first, untrained_loss_second: the same, untrained.
        previous_head: the layer-0 head with the highest previous-token score
            after training; ``previous_score`` its score.
        untrained_previous_score: the best layer-0 previous-token score of the
            untrained model (max over its heads).
        induction_head, induction_score, untrained_induction_score: the same
            for the layer-1 prefix-matching score.
        steps: ``[S]`` logged training steps (0 = before training).
        previous_curve, induction_curve: ``[S]`` the two final best heads'
            scores at each logged step.
        loss_first_curve, loss_second_curve: ``[S]`` held-out losses.
    """

    seed: int
    weights_hash: str
    seconds: float
    loss_first: float
    loss_second: float
    untrained_loss_first: float
    untrained_loss_second: float
    previous_head: int
    previous_score: float
    untrained_previous_score: float
    induction_head: int
    induction_score: float
    untrained_induction_score: float
    steps: tuple[int, ...]
    previous_curve: tuple[float, ...]
    induction_curve: tuple[float, ...]
    loss_first_curve: tuple[float, ...]
    loss_second_curve: tuple[float, ...]

    @property
    def has_previous_head(self) -> bool:
        """Layer 0 has a previous-token head: best score ``>= APPEARS_AT``."""
        return self.previous_score >= APPEARS_AT

    @property
    def has_induction_head(self) -> bool:
        """Layer 1 has an induction head: best prefix-matching score ``>= APPEARS_AT``."""
        return self.induction_score >= APPEARS_AT

    @property
    def has_both(self) -> bool:
        """Both heads of the two-step circuit appear."""
        return self.has_previous_head and self.has_induction_head

    @property
    def emerged_at(self) -> int | None:
        """The first logged step at which both curves are ``>= APPEARS_AT`` (None: never)."""
        for step, p, i in zip(self.steps, self.previous_curve, self.induction_curve, strict=True):
            if p >= APPEARS_AT and i >= APPEARS_AT:
                return step
        return None


def seed_induction(result: InductionResult) -> SeedInduction:
    """Summarise one trained :class:`InductionResult` (layer 0 and layer 1 of its model)."""
    s = result.snapshots
    prev, ind, held = s.previous, s.induction, s.losses  # [S, L, H], [S, L, H], [S, 2]
    if prev is None or ind is None or held is None or prev.shape[1] < 2:
        raise ToyGrammarError("the study needs a trained model with at least two layers")
    ph = int(prev[-1, 0].argmax())
    ih = int(ind[-1, 1].argmax())
    return SeedInduction(
        seed=result.config.seed,
        weights_hash=result.weights_hash,
        seconds=result.seconds,
        loss_first=float(held[-1, 0]),
        loss_second=float(held[-1, 1]),
        untrained_loss_first=float(held[0, 0]),
        untrained_loss_second=float(held[0, 1]),
        previous_head=ph,
        previous_score=float(prev[-1, 0, ph]),
        untrained_previous_score=float(prev[0, 0].max()),
        induction_head=ih,
        induction_score=float(ind[-1, 1, ih]),
        untrained_induction_score=float(ind[0, 1].max()),
        steps=tuple(int(x) for x in s.steps),
        previous_curve=tuple(prev[:, 0, ph].tolist()),
        induction_curve=tuple(ind[:, 1, ih].tolist()),
        loss_first_curve=tuple(held[:, 0].tolist()),
        loss_second_curve=tuple(held[:, 1].tolist()),
    )


@dataclass(frozen=True)
class InductionStudy:
    """The induction-head result over several seeds (see :func:`induction_study`).

    Attributes:
        config: the configuration every seed was trained with (its ``seed``
            field is that of the first seed).
        seeds: one :class:`SeedInduction` per seed, in the order asked for.
        threshold: the bar a score must reach for a head to count
            (:data:`APPEARS_AT`).
    """

    config: InductionConfig
    seeds: tuple[SeedInduction, ...]
    threshold: float = APPEARS_AT

    @property
    def n(self) -> int:
        """Number of seeds."""
        return len(self.seeds)

    @property
    def n_previous(self) -> int:
        """Seeds with a layer-0 previous-token head."""
        return sum(s.has_previous_head for s in self.seeds)

    @property
    def n_induction(self) -> int:
        """Seeds with a layer-1 induction head."""
        return sum(s.has_induction_head for s in self.seeds)

    @property
    def n_both(self) -> int:
        """Seeds in which both heads appear: "in ``n_both`` of ``n`` seeds"."""
        return sum(s.has_both for s in self.seeds)

    @property
    def untrained_best(self) -> float:
        """The highest score of any untrained model's best head (either kind, any seed)."""
        return max(max(s.untrained_previous_score, s.untrained_induction_score) for s in self.seeds)

    def table(self):
        """One row per seed (a :class:`pandas.DataFrame`); losses in nats, layers/heads 0-indexed."""
        import pandas as pd

        rows = [
            {
                "seed": s.seed,
                "layer-0 head": s.previous_head,
                "previous-token score": s.previous_score,
                "untrained": s.untrained_previous_score,
                "layer-1 head": s.induction_head,
                "prefix-matching score": s.induction_score,
                "untrained ": s.untrained_induction_score,
                "loss, first occurrence": s.loss_first,
                "loss, second occurrence": s.loss_second,
                "both heads": s.has_both,
            }
            for s in self.seeds
        ]
        return pd.DataFrame(rows)


def induction_study(
    seeds: tuple[int, ...] | list[int] = (0, 1, 2),
    config: InductionConfig | None = None,
    *,
    cache_directory: str | Path | None = None,
) -> InductionStudy:
    """Train (or load from the cache) one model per seed and summarise the induction circuit.

    Args:
        seeds: training seeds; each trains ``config.replace(seed=seed)``.
        config: defaults to ``InductionConfig()`` (its own ``seed`` is ignored).
        cache_directory: as in :func:`load_or_train_induction`.

    Counts and sentences should come from the result, never be assumed:

    >>> study = induction_study(seeds=(0, 1), config=InductionConfig(
    ...     num_tokens=12, min_run=3, max_run=5, d_model=16, num_heads=2, steps=4,
    ...     batch_size=8, snapshot_every=2, n_probe=16))   # a tiny, untrained-looking run
    >>> study.n, study.seeds[0].steps
    (2, (0, 2, 4))
    >>> f"in {study.n_both} of {study.n} seeds both heads appear"  # doctest: +ELLIPSIS
    'in ... of 2 seeds both heads appear'
    >>> s = study.seeds[0]
    >>> s.loss_second < s.loss_first, s.previous_score, s.untrained_previous_score  # doctest: +SKIP
    (True, 0.9..., 0.09...)
    """
    config = InductionConfig() if config is None else config
    if not isinstance(config, InductionConfig):
        raise ToyGrammarError(f"config must be an InductionConfig, got {type(config).__name__}")
    seeds = tuple(seeds)
    if not seeds or not all(isinstance(x, int) and not isinstance(x, bool) for x in seeds):
        raise ToyGrammarError(f"seeds must be a non-empty sequence of ints, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ToyGrammarError(f"seeds must be distinct, got {seeds!r}")
    per_seed = tuple(
        seed_induction(
            load_or_train_induction(config.replace(seed=seed), cache_directory=cache_directory)
        )
        for seed in seeds
    )
    return InductionStudy(config=config.replace(seed=seeds[0]), seeds=per_seed)
