"""Induction heads (Olsson et al. 2022) in a two-layer attention-only decoder, on the CPU.

The data: a start token, then ``m`` random tokens, then the *same* ``m``
tokens again, then fresh random tokens up to a fixed length. ``m`` differs
from sequence to sequence (between ``half // 2`` and ``half``), so no fixed
offset finds the earlier copy: the model has to find it by content. The
first occurrence cannot be predicted (its tokens are random); the second can,
by copying: at the second occurrence of a token, look back at where it
occurred before and predict the token that followed it there. Two heads
working together do this:

* a **previous-token head** (layer 0) writes "the token before me was X" into
  every position;
* an **induction head** (layer 1) looks for the position whose previous token
  is the current token -- the position *after* the current token's earlier
  occurrence -- and copies what it finds there.

:func:`prefix_matching_scores` and :func:`previous_token_scores` measure the
two patterns on held-out sequences; :func:`load_or_train_induction` trains
(once, cached on disk like the toy encoder) and records the scores and the
loss of each half while training.

Layers and heads are 0-indexed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from attnbook.toy import cache
from attnbook.toy.grammar import ToyGrammarError
from attnbook.toy.model import ToyDecoder
from attnbook.toy.train import weights_hash

__all__ = [
    "BOS_ID",
    "InductionConfig",
    "InductionResult",
    "half_losses",
    "load_or_train_induction",
    "prefix_matching_scores",
    "previous_token_scores",
    "repeated_sequences",
    "train_induction",
]

BOS_ID = 1
"""The start token of every sequence (0 is padding, which the data never uses)."""


@dataclass(frozen=True)
class InductionConfig:
    """Everything that determines one trained induction-head model."""

    seed: int = 0
    num_tokens: int = 48  # random tokens to draw from (ids BOS_ID + 1 ...)
    half: int = 16  # length of the random sequence that is repeated
    d_model: int = 64
    num_layers: int = 2
    num_heads: int = 4
    steps: int = 1000
    batch_size: int = 64
    lr: float = 3e-3
    snapshot_every: int = 50
    n_probe: int = 256

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("seed", "lr"):
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ToyGrammarError(
                    f"InductionConfig.{f.name} must be a positive int, got {value!r}"
                )
        if self.half < 2:
            raise ToyGrammarError(f"InductionConfig.half must be >= 2, got {self.half}")
        if self.d_model % self.num_heads:
            raise ToyGrammarError(
                f"InductionConfig.d_model ({self.d_model}) must be divisible by num_heads "
                f"({self.num_heads})"
            )

    @property
    def length(self) -> int:
        """Tokens per sequence: the start token and the random half twice."""
        return 1 + 2 * self.half

    @property
    def vocab_size(self) -> int:
        return BOS_ID + 1 + self.num_tokens

    def replace(self, **changes) -> InductionConfig:
        return dataclasses.replace(self, **changes)

    def key(self) -> str:
        """A 16-hex-digit hash of this configuration and the code that trains it."""
        blob = json.dumps(
            {
                "config": dataclasses.asdict(self),
                "source": cache.source_version("model.py", "train.py", "induction.py"),
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def repeated_sequences(
    config: InductionConfig, n: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """``n`` sequences with a repeated random run.

    Returns:
        ``ids`` ``[n, 1 + 2 * half]``: the start token, ``m`` random tokens,
        the same ``m`` again, then fresh random tokens; and ``m`` ``[n]``
        (between ``half // 2`` and ``half``).
    """
    t = config.length
    ids = torch.randint(BOS_ID + 1, config.vocab_size, (n, t), generator=generator)
    ids[:, 0] = BOS_ID
    m = torch.randint(max(2, config.half // 2), config.half + 1, (n,), generator=generator)
    for b in range(n):
        run = ids[b, 1 : 1 + m[b]]
        ids[b, 1 + m[b] : 1 + 2 * m[b]] = run
    return ids, m


def _induction_targets(m: Tensor, length: int) -> Tensor:
    """``[N, T, T]`` one at (query ``1 + m + i``, key ``2 + i``) for ``i = 0..m-2``."""
    target = torch.zeros(len(m), length, length)
    for b, mb in enumerate(m.tolist()):
        i = torch.arange(mb - 1)
        target[b, 1 + mb + i, 2 + i] = 1.0
    return target


def previous_token_scores(attentions: Tensor) -> Tensor:
    """Mean attention of each query to the token just before it: ``[..., L, H]``.

    Args:
        attentions: ``[N, L, H, T, T]`` (queries ``1..T-1`` are averaged).
    """
    prev = torch.diagonal(attentions, offset=-1, dim1=-2, dim2=-1)  # [N, L, H, T-1]
    return prev.mean(dim=(0, -1))


def prefix_matching_scores(attentions: Tensor, m: Tensor) -> Tensor:
    """Mean attention from each repeated token to the token *after* its first occurrence.

    At position ``p = 1 + m + i`` (the second occurrence of the ``i``-th
    random token), the induction target is ``2 + i``: the token that followed
    the first occurrence. Averaged over ``i = 0..m-2`` (the last token's
    successor is already the repeat) and over sequences.

    Args:
        attentions: ``[N, L, H, T, T]``.
        m: ``[N]`` length of each sequence's repeated run.

    Returns:
        ``[L, H]``.
    """
    target = _induction_targets(m, attentions.shape[-1])[:, None, None]  # [N, 1, 1, T, T]
    return (attentions * target).sum(dim=(0, -2, -1)) / target.sum()


def half_losses(logits: Tensor, ids: Tensor, m: Tensor) -> tuple[float, float]:
    """Mean next-token loss (nats) on the first and on the second occurrence of the run.

    The first token of each occurrence is left out: after the start token
    nothing can predict the first random token, and nothing announces that
    the repeat begins. So both are scored on ``m - 1`` predictions.
    """
    # per[:, p - 1] is the loss of predicting ids[:, p] from ids[:, :p].
    per = F.cross_entropy(logits[:, :-1].transpose(1, 2), ids[:, 1:], reduction="none")
    pos = torch.arange(1, ids.shape[1])[None]  # predicted position p
    mm = m[:, None]
    first = (pos >= 2) & (pos <= mm)
    second = (pos >= mm + 2) & (pos <= 2 * mm)
    return per[first].mean().item(), per[second].mean().item()


@dataclass
class InductionSnapshots:
    """Scores recorded while training (index 0 = before training).

    Attributes:
        steps: ``[S]``.
        previous: ``[S, L, H]`` previous-token score of every head.
        induction: ``[S, L, H]`` prefix-matching score of every head.
        losses: ``[S, 2]`` held-out loss on the first and the second half.
    """

    steps: list[int] = field(default_factory=list)
    previous: Tensor | None = None
    induction: Tensor | None = None
    losses: Tensor | None = None


@dataclass
class InductionResult:
    """A trained induction-head model and its history."""

    config: InductionConfig
    model: ToyDecoder
    losses: list[float]
    snapshots: InductionSnapshots
    weights_hash: str
    seconds: float
    from_cache: bool = False

    def probe(self, n: int | None = None) -> tuple[Tensor, Tensor]:
        """Held-out probe sequences and their run lengths (the same every time)."""
        return _probe(self.config, n)


def _probe(config: InductionConfig, n: int | None = None) -> tuple[Tensor, Tensor]:
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
    )


def _measure(model: ToyDecoder, probe: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    ids, m = probe
    with torch.no_grad():
        out = model(ids)
    first, second = half_losses(out.logits, ids, m)
    return (
        previous_token_scores(out.attentions),
        prefix_matching_scores(out.attentions, m),
        torch.tensor([first, second]),
    )


def train_induction(config: InductionConfig | None = None) -> InductionResult:
    """Train the two-layer attention-only decoder on repeated random sequences (always trains)."""
    config = InductionConfig() if config is None else config
    if not isinstance(config, InductionConfig):
        raise ToyGrammarError(f"config must be an InductionConfig, got {type(config).__name__}")
    start = time.perf_counter()
    model = _model(config)
    gen = torch.Generator().manual_seed(config.seed)
    probe = _probe(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    snaps = InductionSnapshots()
    prev, ind, held = [], [], []

    def snap(step: int) -> None:
        model.eval()
        p, i, h = _measure(model, probe)
        model.train()
        snaps.steps.append(step)
        prev.append(p)
        ind.append(i)
        held.append(h)

    losses: list[float] = []
    snap(0)
    model.train()
    for step in range(config.steps):
        ids, _ = repeated_sequences(config, config.batch_size, gen)
        logits = model(ids).logits
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
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
    base = cache.cache_dir() if directory is None else Path(directory)
    return base / "toy" / f"induction-{config.key()}.pt"


def _payload(result: InductionResult) -> dict:
    s = result.snapshots
    return {
        "config": dataclasses.asdict(result.config),
        "state_dict": result.model.state_dict(),
        "losses": torch.tensor(result.losses, dtype=torch.float64),
        "steps": torch.tensor(s.steps),
        "previous": s.previous,
        "induction": s.induction,
        "held": s.losses,
        "weights_hash": result.weights_hash,
        "seconds": result.seconds,
    }


def _from_payload(payload: dict, config: InductionConfig) -> InductionResult:
    model = _model(config)
    model.load_state_dict(payload["state_dict"])
    model.eval()
    snaps = InductionSnapshots(
        steps=payload["steps"].tolist(),
        previous=payload["previous"],
        induction=payload["induction"],
        losses=payload["held"],
    )
    return InductionResult(
        config=config,
        model=model,
        losses=payload["losses"].tolist(),
        snapshots=snaps,
        weights_hash=payload["weights_hash"],
        seconds=float(payload["seconds"]),
        from_cache=True,
    )


def load_or_train_induction(
    config: InductionConfig | None = None, *, cache_directory: str | Path | None = None
) -> InductionResult:
    """The trained model of ``config``: from the on-disk cache if possible, else trained and cached.

    The cache key covers the configuration and the source of the toy package
    and of :mod:`attnbook.mechanism`, as for :func:`attnbook.toy.load_or_train`.
    """
    config = InductionConfig() if config is None else config
    path = _path(config, cache_directory)
    payload = cache.read(path, dataclasses.asdict(config))
    if payload is not None:
        try:
            result = _from_payload(payload, config)
            if weights_hash(result.model) == result.weights_hash:
                return result
        except (KeyError, RuntimeError, TypeError, AttributeError):
            pass
        cache.warn_damaged(path, "its contents are not an induction model of this version")
    result = train_induction(config)
    cache.write(path, _payload(result))
    return result
