"""Induction heads (Olsson et al. 2022) in a two-layer attention-only decoder, on the CPU.

The data: a start token, ``f`` random filler tokens (``0 <= f <=
max_prefix``; by default 0), a run of ``m`` random tokens (``min_run <= m
<= max_run``), the *same* ``m`` tokens again, then fresh random tokens up to
a fixed length. ``m`` differs from sequence to sequence, so no fixed offset
finds the earlier copy: the model has to find it by content. The first
occurrence is mostly unpredictable (its tokens are random, but see
``skip_bigram`` below); the second can be predicted by copying: at the
second occurrence of a token, look back at where it occurred before and
predict the token that followed it there. Two heads working together do
this:

* a **previous-token head** (layer 0) writes "the token before me was X" into
  every position;
* an **induction head** (layer 1) looks for the position whose previous token
  is the current token -- the position *after* the current token's earlier
  occurrence -- and copies what it finds there (its **prefix-matching**
  score measures that attention).

The model is a :class:`~attnbook.toy.ToyDecoder` with ``d_ff=0`` and
Shortformer positions (``positions="qk"``: position embeddings in the
queries and keys, not in the values), so the residual stream carries token
content only: position can steer attention but cannot be copied. With
positions added to the input, our runs learned the copy through a
positional shortcut instead (no layer-0 head attended to the previous
token).

A quarter of the tokens (``skip_bigram=0.25``) are a fixed function of the
token two places before them. That gives a previous-token head a use at
every position, as word statistics do in natural text; with purely random
tokens, layer 0 attended to the previous token only where first
occurrences sit, and with runs placed anywhere in the sequence a
bag-of-earlier-tokens shortcut won instead of the circuit.

:func:`attnbook.toy.circuit.induction_study` trains several seeds, finds
each seed's best heads and counts the seeds in which both heads appear.
Layers and heads are 0-indexed.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from attnbook.toy import cache, training
from attnbook.toy.grammar import ToyGrammarError
from attnbook.toy.model import POSITIONS, ToyDecoder
from attnbook.toy.training import weights_hash

__all__ = [
    "BOS_ID",
    "InductionConfig",
    "InductionResult",
    "InductionSnapshots",
    "RepeatedBatch",
    "half_losses",
    "induction_targets",
    "load_or_train_induction",
    "measure",
    "prefix_matching_scores",
    "previous_token_scores",
    "repeated_sequences",
    "skip_permutation",
    "store",
    "train_induction",
]

BOS_ID = 1
"""The start token of every sequence (0 is padding, which the data never uses)."""


@dataclass(frozen=True)
class InductionConfig:
    """Everything that determines one trained induction-head model.

    Attributes:
        seed: initial weights and training data.
        num_tokens: random tokens to draw from (ids ``BOS_ID + 1`` ...).
        min_run, max_run: bounds of the repeated run's length ``m``.
        max_prefix: at most this many random filler tokens before the run
            (0 = the run starts right after the start token).
        skip_bigram: probability that a token (from position 3 on, before
            the run is copied) is replaced by a fixed function of the token
            two places before it (:func:`skip_permutation`); 0 = all tokens
            uniformly random. This gives a previous-token head a use at
            every position, as word statistics do in natural text: the
            token before the current one then helps predict the next.
        d_model, num_layers, num_heads: the attention-only decoder.
        positions: where position embeddings enter (:data:`~attnbook.toy.model.POSITIONS`).
        steps, batch_size, lr: AdamW training, no weight decay.
        snapshot_every: scores and held-out losses are recorded every this
            many steps (and before training, step 0).
        n_probe: held-out sequences the scores are measured on.
    """

    seed: int = 0
    num_tokens: int = 48
    min_run: int = 8
    max_run: int = 16
    max_prefix: int = 0
    skip_bigram: float = 0.25
    d_model: int = 64
    num_layers: int = 2
    num_heads: int = 2
    positions: str = "qk"
    steps: int = 600
    batch_size: int = 64
    lr: float = 5e-3
    snapshot_every: int = 25
    n_probe: int = 128

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("seed", "lr", "positions", "max_prefix", "skip_bigram"):
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ToyGrammarError(
                    f"InductionConfig.{f.name} must be a positive int, got {value!r}"
                )
        if not isinstance(self.max_prefix, int) or self.max_prefix < 0:
            raise ToyGrammarError(
                f"InductionConfig.max_prefix must be an int >= 0, got {self.max_prefix!r}"
            )
        if not 2 <= self.min_run <= self.max_run:
            raise ToyGrammarError(
                f"InductionConfig needs 2 <= min_run <= max_run, got min_run={self.min_run}, "
                f"max_run={self.max_run}"
            )
        if not isinstance(self.skip_bigram, (int, float)) or not 0 <= self.skip_bigram <= 1:
            raise ToyGrammarError(
                f"InductionConfig.skip_bigram must be a probability in [0, 1], "
                f"got {self.skip_bigram!r}"
            )
        if self.positions not in POSITIONS:
            raise ToyGrammarError(
                f"InductionConfig.positions must be one of {POSITIONS}, got {self.positions!r}"
            )
        if not isinstance(self.lr, (int, float)) or not self.lr > 0:
            raise ToyGrammarError(f"InductionConfig.lr must be a positive number, got {self.lr!r}")
        if self.d_model % self.num_heads:
            raise ToyGrammarError(
                f"InductionConfig.d_model ({self.d_model}) must be divisible by num_heads "
                f"({self.num_heads})"
            )

    @property
    def length(self) -> int:
        """Tokens per sequence: start token, longest filler, the longest run twice."""
        return 1 + self.max_prefix + 2 * self.max_run

    @property
    def vocab_size(self) -> int:
        return BOS_ID + 1 + self.num_tokens

    def replace(self, **changes) -> InductionConfig:
        """A copy with some fields changed, e.g. ``config.replace(seed=1)``."""
        return dataclasses.replace(self, **changes)

    def key(self) -> str:
        """A 16-hex-digit hash of this configuration and the code that trains it."""
        return cache.config_key(self, "model.py", "train.py", "induction.py")


class RepeatedBatch(NamedTuple):
    """Sequences with a repeated run (see the module docstring).

    Attributes:
        ids: ``[N, T]`` token ids, ``ids[:, 0] == BOS_ID``.
        run: ``[N]`` length ``m`` of each sequence's run.
        start: ``[N]`` position of the run's first occurrence; the second
            starts at ``start + run``.
    """

    ids: Tensor
    run: Tensor
    start: Tensor


def skip_permutation(config: InductionConfig) -> Tensor:
    """``[num_tokens]``: the token that may follow ``BOS_ID + 1 + j`` two places later.

    A fixed random permutation of the random tokens (the same for every seed:
    it is a property of the data, like a language's word statistics).
    """
    gen = torch.Generator().manual_seed(123)
    return torch.randperm(config.num_tokens, generator=gen) + BOS_ID + 1


def repeated_sequences(
    config: InductionConfig, n: int, generator: torch.Generator
) -> RepeatedBatch:
    """``n`` sequences of ``config.length`` tokens with a repeated random run.

    Position ``start + run + i`` holds the same token as ``start + i`` for
    ``0 <= i < run``; every other token after the start token is drawn
    uniformly from the ``num_tokens`` random tokens (so other repeats occur
    only by chance), except that with ``config.skip_bigram > 0`` some tokens
    are the :func:`skip_permutation` of the token two places before.
    """
    t = config.length
    ids = torch.randint(BOS_ID + 1, config.vocab_size, (n, t), generator=generator)
    ids[:, 0] = BOS_ID
    if config.skip_bigram:
        after = skip_permutation(config)
        for p in range(3, t):  # left to right: a replaced token can cause the next replacement
            take = torch.rand(n, generator=generator) < config.skip_bigram
            ids[:, p] = torch.where(take, after[ids[:, p - 2] - BOS_ID - 1], ids[:, p])
    run = torch.randint(config.min_run, config.max_run + 1, (n,), generator=generator)
    start = 1 + torch.randint(0, config.max_prefix + 1, (n,), generator=generator)
    for b, (s, m) in enumerate(zip(start.tolist(), run.tolist(), strict=True)):
        ids[b, s + m : s + 2 * m] = ids[b, s : s + m]
    return RepeatedBatch(ids, run, start)


def induction_targets(batch: RepeatedBatch) -> Tensor:
    """``[N, T, T]``: 1 at (query ``start + m + i``, key ``start + i + 1``), ``i = 0..m-2``.

    The query is the ``i``-th token's second occurrence, the key the token
    that followed its first occurrence: where an induction head looks. The
    run's last token is left out (what follows its first occurrence is the
    second occurrence's first token, not part of the pattern being copied).
    """
    n, t = batch.ids.shape
    target = torch.zeros(n, t, t)
    for b, (s, m) in enumerate(zip(batch.start.tolist(), batch.run.tolist(), strict=True)):
        i = torch.arange(m - 1)
        target[b, s + m + i, s + 1 + i] = 1.0
    return target


def previous_token_scores(attentions: Tensor) -> Tensor:
    """Mean attention of each query to the token just before it: ``[..., L, H]``.

    Args:
        attentions: ``[N, L, H, T, T]`` (the queries ``1..T-1`` of every
            sequence are averaged; query 0 has no previous token).

    A head that always attends to the previous token scores 1; uniform
    causal attention scores ``mean(1 / (q + 1) for q in 1..T-1)``.
    """
    prev = torch.diagonal(attentions, offset=-1, dim1=-2, dim2=-1)  # [N, L, H, T-1]
    return prev.mean(dim=(0, -1))


def prefix_matching_scores(attentions: Tensor, batch: RepeatedBatch) -> Tensor:
    """Mean attention from each repeated token to the token *after* its first occurrence.

    Averaged over the pairs of :func:`induction_targets` of every sequence.

    Args:
        attentions: ``[N, L, H, T, T]``.
        batch: the sequences the attentions were computed on.

    Returns:
        ``[L, H]``; a perfect induction head scores 1.
    """
    target = induction_targets(batch)[:, None, None]  # [N, 1, 1, T, T]
    return (attentions * target).sum(dim=(0, -2, -1)) / target.sum()


def half_losses(logits: Tensor, batch: RepeatedBatch) -> tuple[float, float]:
    """Mean next-token loss (nats) on the first and on the second occurrence of the run.

    The first token of each occurrence is left out: nothing can predict the
    first random token, and nothing announces that the repeat begins. So both
    are scored on ``m - 1`` predictions, positions ``start + 1 .. start + m - 1``
    and ``start + m + 1 .. start + 2m - 1``.

    Args:
        logits: ``[N, T, V]``, ``logits[:, p - 1]`` scoring the token at ``p``.
    """
    ids = batch.ids
    # per[:, p - 1] is the loss of predicting ids[:, p] from ids[:, :p].
    per = F.cross_entropy(logits[:, :-1].transpose(1, 2), ids[:, 1:], reduction="none")
    pos = torch.arange(1, ids.shape[1])[None]  # predicted position p
    s, m = batch.start[:, None], batch.run[:, None]
    first = (pos > s) & (pos < s + m)
    second = (pos > s + m) & (pos < s + 2 * m)
    return per[first].mean().item(), per[second].mean().item()


@dataclass
class InductionSnapshots:
    """Scores recorded while training (index 0 = before training), on the probe sequences.

    Attributes:
        steps: ``[S]`` training steps.
        previous: ``[S, L, H]`` previous-token score of every head.
        induction: ``[S, L, H]`` prefix-matching score of every head.
        losses: ``[S, 2]`` loss (nats) on the first and on the second occurrence.
    """

    steps: list[int] = field(default_factory=list)
    previous: Tensor | None = None
    induction: Tensor | None = None
    losses: Tensor | None = None


@dataclass
class InductionResult:
    """A trained induction-head model and its history.

    ``seconds`` is the wall time of the training run (kept when loaded from
    the cache, where ``from_cache`` is True).
    """

    config: InductionConfig
    model: ToyDecoder
    losses: list[float]
    snapshots: InductionSnapshots
    weights_hash: str
    seconds: float
    from_cache: bool = False

    def probe(self, n: int | None = None) -> RepeatedBatch:
        """Held-out probe sequences (the same every time, never trained on)."""
        return _probe(self.config, n)

    def untrained(self) -> ToyDecoder:
        """The same model before training (same seed, same initial weights)."""
        return _model(self.config).eval()


def _probe(config: InductionConfig, n: int | None = None) -> RepeatedBatch:
    # Its own generator stream: the probe never overlaps the training batches.
    gen = torch.Generator().manual_seed(10_000 + config.seed)
    return repeated_sequences(config, n or config.n_probe, gen)


def _model(config: InductionConfig) -> ToyDecoder:
    return ToyDecoder(
        config.vocab_size,
        config.length,
        config.d_model,
        config.num_layers,
        config.num_heads,
        d_ff=0,
        seed=config.seed,
        positions=config.positions,
    )


def measure(model: ToyDecoder, batch: RepeatedBatch) -> tuple[Tensor, Tensor, Tensor]:
    """``(previous [L, H], induction [L, H], losses [2])`` of ``model`` on ``batch``."""
    with torch.no_grad():
        out = model(batch.ids)
    first, second = half_losses(out.logits, batch)
    return (
        previous_token_scores(out.attentions),
        prefix_matching_scores(out.attentions, batch),
        torch.tensor([first, second]),
    )


def train_induction(
    config: InductionConfig | None = None, *, num_threads: int | None = 1
) -> InductionResult:
    """Train the two-layer attention-only decoder on repeated random sequences (always trains).

    Args:
        config: defaults to ``InductionConfig()``.
        num_threads: ``torch.set_num_threads`` while training (restored
            afterwards); one thread is fastest for a model this small and
            keeps the weights bit-identical from machine to machine load.
            ``None`` keeps the current setting.
    """
    config = InductionConfig() if config is None else config
    if not isinstance(config, InductionConfig):
        raise ToyGrammarError(f"config must be an InductionConfig, got {type(config).__name__}")
    with training.threads(num_threads):
        return _train(config)


def _train(config: InductionConfig) -> InductionResult:
    start = time.perf_counter()
    model = _model(config)
    gen = torch.Generator().manual_seed(config.seed)
    probe = _probe(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    snaps = InductionSnapshots()
    prev, ind, held = [], [], []

    def snap(step: int) -> None:
        model.eval()
        p, i, h = measure(model, probe)
        model.train()
        snaps.steps.append(step)
        prev.append(p)
        ind.append(i)
        held.append(h)

    losses: list[float] = []
    snap(0)
    model.train()
    for step in range(config.steps):
        ids = repeated_sequences(config, config.batch_size, gen).ids
        logits = model(ids).logits
        # Every next-token prediction counts: the model is not told where the run is.
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
        losses.append(training.optimizer_step(optimizer, loss))
        if (step + 1) % config.snapshot_every == 0 or step + 1 == config.steps:
            snap(step + 1)
    model.eval()
    snaps.previous, snaps.induction, snaps.losses = (
        torch.stack(prev),
        torch.stack(ind),
        torch.stack(held),
    )
    return InductionResult(
        config=config,
        model=model,
        losses=losses,
        snapshots=snaps,
        weights_hash=weights_hash(model),
        seconds=time.perf_counter() - start,
    )


def _path(config: InductionConfig, directory: str | Path | None) -> Path:
    return training.cache_file("induction", config, directory)


def _payload(result: InductionResult) -> dict:
    s = result.snapshots
    return training.payload(
        result,
        steps=torch.tensor(s.steps),
        previous=s.previous,
        induction=s.induction,
        held=s.losses,
    )


def _from_payload(stored: dict, config: InductionConfig) -> InductionResult:
    model = _model(config)
    model.load_state_dict(stored["state_dict"])
    model.eval()
    snaps = InductionSnapshots(
        steps=stored["steps"].tolist(),
        previous=stored["previous"],
        induction=stored["induction"],
        losses=stored["held"],
    )
    return InductionResult(
        config=config,
        model=model,
        losses=stored["losses"].tolist(),
        snapshots=snaps,
        weights_hash=stored["weights_hash"],
        seconds=float(stored["seconds"]),
        from_cache=True,
    )


def store(result: InductionResult, *, cache_directory: str | Path | None = None) -> Path:
    """Put a trained result into the cache (as :func:`load_or_train_induction` would)."""
    path = _path(result.config, cache_directory)
    cache.write(path, _payload(result))
    return path


def load_or_train_induction(
    config: InductionConfig | None = None, *, cache_directory: str | Path | None = None
) -> InductionResult:
    """The trained model of ``config``: from the on-disk cache if possible, else trained and cached.

    The cache key covers the configuration and the source of the toy model,
    training and induction modules and of :mod:`attnbook.mechanism`, as for
    :func:`attnbook.toy.load_or_train`. A damaged file is reported with a
    :class:`~attnbook.toy.ToyCacheWarning` and the model trained again.
    """
    config = InductionConfig() if config is None else config
    if not isinstance(config, InductionConfig):
        raise ToyGrammarError(f"config must be an InductionConfig, got {type(config).__name__}")
    path = _path(config, cache_directory)
    cached = training.load_cached(
        path,
        config,
        lambda stored: _from_payload(stored, config),
        "an induction model of this version",
    )
    if cached is not None:
        return cached
    result = train_induction(config)
    cache.write(path, _payload(result))
    return result
