"""What the toy trainers share: schedule, thread count, optimizer step, weights hash, cache files.

:mod:`~attnbook.toy.train` (the encoder), :mod:`~attnbook.toy.decoder_lm`,
:mod:`~attnbook.toy.translate` and :mod:`~attnbook.toy.induction` each train
one model in their own loop; the pieces here are the ones that are the same
in all of them. None of them draws random numbers: each trainer keeps its
own seeded generators, in its own order, so the weights stay as they were.
This module's source counts in every toy cache key
(:func:`attnbook.toy.cache.source_version`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

import torch
from torch import Tensor

from attnbook.toy import cache as _cache
from attnbook.toy.grammar import ToyGrammarError
from attnbook.toy.model import PAD_ID

__all__ = [
    "cache_file",
    "load_cached",
    "lr_at",
    "optimizer_step",
    "payload",
    "threads",
    "trim_padding",
    "weights_hash",
]


def weights_hash(model: torch.nn.Module) -> str:
    """SHA-256 (hex) of a model's parameters and buffers, in ``state_dict`` order.

    >>> import torch
    >>> a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    >>> _ = b.load_state_dict(a.state_dict())
    >>> weights_hash(a) == weights_hash(b)
    True
    """
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class _Schedule(Protocol):
    @property
    def lr(self) -> float: ...

    @property
    def warmup(self) -> int: ...

    @property
    def steps(self) -> int: ...


def lr_at(step: int, config: _Schedule) -> float:
    """Linear warm-up over ``config.warmup`` steps, then cosine decay to 10% of ``config.lr``."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


@contextlib.contextmanager
def threads(num_threads: int | None) -> Iterator[None]:
    """``torch.set_num_threads(num_threads)`` inside the block, the previous count restored after.

    ``None`` keeps the current setting. CPU float arithmetic may differ
    between thread counts, so a training that must be bit-identical from run
    to run fixes the count.
    """
    previous = torch.get_num_threads()
    if num_threads is not None:
        if not isinstance(num_threads, int) or isinstance(num_threads, bool) or num_threads < 1:
            raise ToyGrammarError(f"num_threads must be a positive int, got {num_threads!r}")
        torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def optimizer_step(
    optimizer: torch.optim.Optimizer, loss: Tensor, lr: float | None = None
) -> float:
    """One step on ``loss`` (at learning rate ``lr`` if given); returns the loss as a float."""
    if lr is not None:
        for group in optimizer.param_groups:
            group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def trim_padding(ids: Tensor) -> Tensor:
    """``ids`` ``[B, T]`` without the padding columns no row needs: shorter sequences, faster steps."""
    return ids[:, : int((ids != PAD_ID).sum(dim=1).max())]


# ---------------------------------------------------------------------------
# cache files


class _Keyed(Protocol):
    def key(self) -> str: ...


def cache_file(kind: str, config: _Keyed, directory: str | os.PathLike | None) -> Path:
    """``<directory or cache_dir()>/toy/<kind>-<config.key()>.pt``."""
    base = _cache.cache_dir() if directory is None else Path(directory)
    return base / "toy" / f"{kind}-{config.key()}.pt"


def payload(result: Any, **extra: Any) -> dict[str, Any]:
    """What a cache file of ``result`` holds: its config, weights, losses, ``extra``, hash and time."""
    return {
        "config": dataclasses.asdict(result.config),
        "state_dict": result.model.state_dict(),
        "losses": torch.tensor(result.losses, dtype=torch.float64),
        **extra,
        "weights_hash": result.weights_hash,
        "seconds": result.seconds,
    }


class _Trained(Protocol):
    @property
    def model(self) -> torch.nn.Module: ...

    @property
    def weights_hash(self) -> str: ...


R = TypeVar("R", bound=_Trained)


def load_cached(
    path: Path, config: Any, rebuild: Callable[[dict[str, Any]], R], what: str
) -> R | None:
    """The result cached at ``path`` for ``config``, or ``None`` (missing, or damaged: warned).

    Args:
        rebuild: ``payload -> result`` (with ``model`` and the recorded
            ``weights_hash``); a ``KeyError``, ``RuntimeError``, ``TypeError``
            or ``AttributeError`` from it means the file is not such a result.
        what: the result, for the warning ("a toy decoder of this version").
    """
    found = _cache.read(path, dataclasses.asdict(config))
    if found is None:
        return None
    try:
        result = rebuild(found)
    except (KeyError, RuntimeError, TypeError, AttributeError) as exc:
        _cache.warn_damaged(path, f"its contents are not {what}: {exc}")
        return None
    if weights_hash(result.model) != result.weights_hash:
        _cache.warn_damaged(path, "the loaded weights do not match the recorded weights hash")
        return None
    return result
