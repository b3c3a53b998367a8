"""Train the toy encoder by masked-word prediction, reproducibly, with an on-disk cache.

:func:`train` always trains; :func:`load_or_train` first looks in the cache
directory (``$ATTNBOOK_CACHE`` or ``~/.cache/attnbook``) for weights trained
with the same :class:`ToyConfig` *and* the same source code of the toy
package and of :mod:`attnbook.mechanism` (a change to either gives a new
cache key), and only trains on a miss. A cache file carries a SHA-256 of its
contents; a damaged file is reported with a :class:`ToyCacheWarning` and
retrained.

Reproducibility: all randomness (initial weights, batches, masks) comes from
generators seeded by ``ToyConfig.seed``; the global torch RNG is untouched.
The same seed gives the same losses and weights (same torch build and same
number of threads; CPU float arithmetic may differ between thread counts).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from attnbook.toy import cache as _cache
from attnbook.toy import evaluate, training
from attnbook.toy.cache import ToyCacheWarning, cache_dir
from attnbook.toy.grammar import VOCAB, Sentence, ToyGrammarError, make_split, parse
from attnbook.toy.model import MASK_ID, PAD_ID, ToyEncoder
from attnbook.toy.training import weights_hash

__all__ = [
    "EXAMPLES",
    "ToyCacheWarning",
    "ToyConfig",
    "TrainResult",
    "cache_dir",
    "cache_path",
    "load_or_train",
    "store",
    "train",
    "weights_hash",
]

EXAMPLES: tuple[str, ...] = (
    "the big dog chased the small cat",
    "大きい 犬 が 小さい 猫 を 追う",
    "小さい 猫 を 大きい 犬 が 追う",
)
"""Sentences whose verb attention rows are recorded at every snapshot (one per group)."""

MAX_LEN = 10  # the longest toy sentence: two nouns with two adjectives each, an adverb


@dataclass(frozen=True)
class ToyConfig:
    """Everything that determines a trained toy model.

    The defaults need about 25 s of CPU time with one thread
    (``benchmarks/bench_toy.py`` checks that training stays under 60 s).
    """

    seed: int = 0
    # model
    d_model: int = 64
    num_layers: int = 3
    num_heads: int = 4
    d_ff: int = 128
    # data
    n_train: int = 20_000
    n_test: int = 2_000
    scrambled: float = 0.5  # share of Japanese sentences in OSV order
    # optimisation
    steps: int = 600
    batch_size: int = 128
    lr: float = 6e-3
    warmup: int = 100
    weight_decay: float = 0.01
    mask_prob: float = 0.15
    # "content": besides the random mask_prob, one of each sentence's verb, subject
    # and object is always chosen; "random": BERT's masking alone.
    masking: str = "content"
    # snapshots of the heads while training
    snapshot_every: int = 25
    n_probe: int = 300

    def __post_init__(self) -> None:
        for name in (
            "d_model",
            "num_layers",
            "num_heads",
            "d_ff",
            "n_train",
            "n_test",
            "steps",
            "batch_size",
            "snapshot_every",
            "n_probe",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ToyGrammarError(f"ToyConfig.{name} must be a positive int, got {value!r}")
        if self.masking not in ("content", "random"):
            raise ToyGrammarError(
                f"ToyConfig.masking must be 'content' or 'random', got {self.masking!r}"
            )
        if not 0.0 < self.mask_prob <= 1.0:
            raise ToyGrammarError(f"ToyConfig.mask_prob must be in (0, 1], got {self.mask_prob!r}")
        if self.d_model % self.num_heads:
            raise ToyGrammarError(
                f"ToyConfig.d_model ({self.d_model}) must be divisible by num_heads "
                f"({self.num_heads})"
            )

    def replace(self, **changes) -> ToyConfig:
        """A copy with some fields changed, e.g. ``config.replace(seed=1)``."""
        return dataclasses.replace(self, **changes)

    def key(self) -> str:
        """A 16-hex-digit hash of this configuration and the code that trains it."""
        return _cache.config_key(self, "grammar.py", "model.py", "train.py", "evaluate.py")


@dataclass
class Snapshots:
    """The heads, recorded while training.

    Attributes:
        steps: ``[S]`` training steps at which a snapshot was taken (0 = before training).
        accuracy: ``[S, K, L, H, G, R]`` each head's accuracy on the probe
            sentences (the first ``n_probe`` held-out ones), scored for the
            targets ``evaluate.TARGETS``, groups ``evaluate.ALL_GROUPS`` and
            relations ``evaluate.RELATIONS``.
        rows: ``[S, E, L, H, T]`` the verb's attention row of each head for
            each sentence of :data:`EXAMPLES` (padded to ``T`` = 9 with zeros).
    """

    steps: list[int] = field(default_factory=list)
    accuracy: Tensor | None = None
    rows: Tensor | None = None

    def recorded(self, name: str) -> Tensor:
        """``accuracy`` or ``rows`` as recorded, or a clear error when nothing was."""
        value = {"accuracy": self.accuracy, "rows": self.rows}[name]
        if value is None:
            raise ToyGrammarError(
                f"no {name} snapshots were recorded in this training run; train with "
                "snapshots on (the default) to follow the heads"
            )
        return value


@dataclass
class TrainResult:
    """A trained toy model with its history.

    Attributes:
        config: what was trained.
        model: the :class:`ToyEncoder`, in eval mode.
        losses: the masked-word cross-entropy of every training step.
        snapshots: heads recorded during training (see :class:`Snapshots`).
        weights_hash: SHA-256 of the final weights (see :func:`weights_hash`).
        seconds: wall-clock training time (of the original run, if cached).
        from_cache: whether the weights were loaded rather than trained now.
    """

    config: ToyConfig
    model: ToyEncoder
    losses: list[float]
    snapshots: Snapshots
    weights_hash: str
    seconds: float
    from_cache: bool = False

    @property
    def final_loss(self) -> float:
        """Mean loss over the last 50 steps (one step's loss depends on its batch)."""
        tail = self.losses[-50:]
        return sum(tail) / len(tail)

    def sentences(self) -> tuple[list[Sentence], list[Sentence]]:
        """The (training, held-out test) sentences, regenerated from the config."""
        return _split(self.config)


def _split(config: ToyConfig) -> tuple[list[Sentence], list[Sentence]]:
    train_set, test_set = _cached_split(
        config.n_train, config.n_test, config.seed, config.scrambled
    )
    return list(train_set), list(test_set)


@functools.lru_cache(maxsize=8)
def _cached_split(n_train: int, n_test: int, seed: int, scrambled: float):
    train_set, test_set = make_split(n_train, n_test, seed, scrambled=scrambled)
    return tuple(train_set), tuple(test_set)


def _mask_batch(
    ids: Tensor, mask_prob: float, gen: torch.Generator, must: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """BERT-style masking of ``ids`` ``[B, T]``; returns ``(inputs, chosen)``.

    Each real token is chosen with probability ``mask_prob`` (at least one per
    sentence), and so is position ``must[b]`` of sentence ``b`` if ``must``
    ``[B]`` is given; a chosen token becomes ``[MASK]`` 80% of the time, a
    random word 10%, and stays itself 10%, so the model cannot rely on seeing ``[MASK]``.
    """
    real = ids != PAD_ID
    chosen = (torch.rand(ids.shape, generator=gen) < mask_prob) & real
    if must is not None:
        chosen[torch.arange(len(ids)), must] = True
    # Sentences where nothing was chosen get one random real position.
    scores = torch.rand(ids.shape, generator=gen).masked_fill(~real, -1.0)
    forced = torch.zeros_like(chosen)
    forced[torch.arange(len(ids)), scores.argmax(dim=1)] = True
    chosen = chosen | (forced & ~chosen.any(dim=1, keepdim=True))
    how = torch.rand(ids.shape, generator=gen)
    random_words = torch.randint(MASK_ID + 1, len(VOCAB), ids.shape, generator=gen)
    inputs = ids.clone()
    inputs[chosen & (how < 0.8)] = MASK_ID
    swap = chosen & (how >= 0.8) & (how < 0.9)
    inputs[swap] = random_words[swap]
    return inputs, chosen


def _snapshot(model: ToyEncoder, probe: list[Sentence], examples: list[Sentence]):
    att = evaluate.attention_maps(model, probe)
    masks = evaluate._group_masks(probe)
    per_target = []
    for target in evaluate.TARGETS:
        correct = evaluate.head_correct(att, probe, target=target)  # [N, L, H, R]
        per_target.append(
            torch.stack(
                [
                    correct[masks[g]].float().mean(dim=0)
                    if bool(masks[g].any())
                    else torch.full(correct.shape[1:], float("nan"))
                    for g in evaluate.ALL_GROUPS
                ],
                dim=2,
            )  # [L, H, G, R]
        )
    acc = torch.stack(per_target)  # [K, L, H, G, R]
    ex = evaluate.attention_maps(model, examples)  # [E, L, H, T, T]
    rows = torch.zeros(len(examples), *ex.shape[1:3], MAX_LEN)
    for i, s in enumerate(examples):
        rows[i, :, :, : ex.shape[-1]] = ex[i, :, :, s.verb, :]
    return acc, rows


def train(
    config: ToyConfig | None = None,
    *,
    num_threads: int | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train a :class:`ToyEncoder` on the toy grammar (always trains; see :func:`load_or_train`).

    Args:
        config: what to train; defaults to ``ToyConfig()``.
        num_threads: if given, ``torch.set_num_threads`` for the duration of
            training (restored afterwards); otherwise the current setting is used.
        progress: called as ``progress(step, loss)`` after every step.
    """
    config = ToyConfig() if config is None else config
    if not isinstance(config, ToyConfig):
        raise ToyGrammarError(f"config must be a ToyConfig, got {type(config).__name__}")
    with training.threads(num_threads):
        return _train(config, progress)


def _train(config: ToyConfig, progress) -> TrainResult:
    start = time.perf_counter()
    train_set, test_set = _split(config)
    ids = evaluate.encode(train_set, length=MAX_LEN)
    # Content masking needs to know where each sentence's verb and arguments are.
    roles = torch.tensor([[s.verb, s.subject, s.object] for s in train_set])
    probe = test_set[: config.n_probe]
    examples = [parse(t) for t in EXAMPLES]
    model = ToyEncoder(
        len(VOCAB),
        MAX_LEN,
        config.d_model,
        config.num_layers,
        config.num_heads,
        config.d_ff,
        seed=config.seed,
    )
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    gen = torch.Generator().manual_seed(config.seed)
    losses: list[float] = []
    snaps = Snapshots()
    accs, rows = [], []

    def snap(step: int) -> None:
        model.eval()
        acc, row = _snapshot(model, probe, examples)
        model.train()
        snaps.steps.append(step)
        accs.append(acc)
        rows.append(row)

    snap(0)
    model.train()
    for step in range(config.steps):
        picked = torch.randint(len(ids), (config.batch_size,), generator=gen)
        batch = training.trim_padding(ids[picked])
        must = None
        if config.masking == "content":
            pick = torch.randint(3, (config.batch_size,), generator=gen)
            must = roles[picked, pick]
        inputs, chosen = _mask_batch(batch, config.mask_prob, gen, must)
        logits = model(inputs).logits
        loss = F.cross_entropy(logits[chosen], batch[chosen])
        losses.append(training.optimizer_step(optimizer, loss, training.lr_at(step, config)))
        if progress is not None:
            progress(step + 1, losses[-1])
        if (step + 1) % config.snapshot_every == 0 or step + 1 == config.steps:
            snap(step + 1)
    model.eval()
    snaps.accuracy = torch.stack(accs)
    snaps.rows = torch.stack(rows)
    return TrainResult(
        config=config,
        model=model,
        losses=losses,
        snapshots=snaps,
        weights_hash=weights_hash(model),
        seconds=time.perf_counter() - start,
    )


# ---------------------------------------------------------------------------
# cache


def cache_path(config: ToyConfig, directory: str | os.PathLike | None = None) -> Path:
    """Where :func:`load_or_train` keeps the model of ``config``."""
    return training.cache_file("toy", config, directory)


def _save(result: TrainResult, path: Path) -> None:
    snaps = result.snapshots
    _cache.write(
        path,
        training.payload(
            result, steps=torch.tensor(snaps.steps), accuracy=snaps.accuracy, rows=snaps.rows
        ),
    )


def _load(path: Path, config: ToyConfig) -> TrainResult | None:
    def rebuild(stored: dict) -> TrainResult:
        model = ToyEncoder(
            len(VOCAB), MAX_LEN, config.d_model, config.num_layers, config.num_heads, config.d_ff
        )
        model.load_state_dict(stored["state_dict"])
        model.eval()
        snaps = Snapshots(
            steps=stored["steps"].tolist(), accuracy=stored["accuracy"], rows=stored["rows"]
        )
        return TrainResult(
            config=config,
            model=model,
            losses=stored["losses"].tolist(),
            snapshots=snaps,
            weights_hash=stored["weights_hash"],
            seconds=float(stored["seconds"]),
            from_cache=True,
        )

    return training.load_cached(path, config, rebuild, "a toy model of this version")


def store(result: TrainResult, *, cache: str | os.PathLike | None = None) -> Path:
    """Put a trained result into the cache, where :func:`load_or_train` will find it.

    For results of :func:`train` with the same configuration and code: the
    benchmark times training and then stores what it trained, so the book
    does not train the same models again.
    """
    if not isinstance(result, TrainResult):
        raise ToyGrammarError(f"store needs a TrainResult, got {type(result).__name__}")
    path = cache_path(result.config, cache)
    _save(result, path)
    return path


def load_or_train(
    config: ToyConfig | None = None,
    *,
    cache: str | os.PathLike | None = None,
    num_threads: int | None = None,
) -> TrainResult:
    """The trained model of ``config``: from the cache if possible, else trained and cached.

    Args:
        config: defaults to ``ToyConfig()``.
        cache: cache directory; defaults to :func:`cache_dir`.
        num_threads: passed to :func:`train` on a cache miss.
    """
    config = ToyConfig() if config is None else config
    path = cache_path(config, cache)
    cached = _load(path, config)
    if cached is not None:
        return cached
    result = train(config, num_threads=num_threads)
    _save(result, path)
    return result
