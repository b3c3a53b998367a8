"""Small numeric experiments behind the book's Part I figures (no model needed).

Each function returns a :class:`pandas.DataFrame` so a chapter can ``glue`` a
number from it and a test can check it against theory; the figures in
:mod:`attnbook.plot.mechanism` only draw these tables.

* :func:`softmax_saturation` -- softmax of the same scores multiplied by growing
  scales: the largest score takes almost all the weight.
* :func:`dot_product_variance` -- the variance of ``q·k`` for random unit-variance
  ``q`` and ``k`` grows like ``d_k``; after dividing by ``sqrt(d_k)`` it stays 1.
* :func:`softmax_gradient` -- entropy and Jacobian size of softmax over random
  attention scores, with and without the ``1/sqrt(d_k)`` scaling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import torch
from torch import Tensor

from attnbook.errors import AttnbookError
from attnbook.mechanism import softmax

__all__ = [
    "ExperimentInputError",
    "softmax_saturation",
    "dot_product_variance",
    "variance_standard_error",
    "softmax_jacobian",
    "softmax_entropy",
    "softmax_gradient",
]

DEFAULT_D_KS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class ExperimentInputError(AttnbookError, ValueError):
    """An experiment was given parameters it cannot run with."""


def _check_positive_ints(name: str, values: Sequence[int]) -> list[int]:
    values = list(values)
    if not values:
        raise ExperimentInputError(f"{name} is empty; pass at least one positive integer")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ExperimentInputError(f"{name} must hold positive integers, got {v!r}")
    return values


def _check_count(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ExperimentInputError(f"{name} must be an integer >= {minimum}, got {value!r}")


def softmax_saturation(
    scores: Sequence[float] = (1.0, 2.0, 3.0),
    scales: Sequence[float] = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0),
) -> pd.DataFrame:
    """Softmax of ``scores * scale`` for each scale, as a long table.

    Multiplying every score by the same factor keeps their order but sharpens
    softmax: at scale 10, ``[1, 2, 3]`` becomes ``[10, 20, 30]`` and the largest
    score takes almost all of the weight.

    Returns:
        One row per (scale, position) with columns ``scale``, ``position``
        (0-indexed), ``score`` (the unscaled score), ``scaled_score`` and
        ``weight``. The weights of one scale sum to 1.

    >>> t = softmax_saturation([1, 2, 3], scales=[1, 10])
    >>> t[t.scale == 1].weight.round(4).tolist()
    [0.09, 0.2447, 0.6652]
    >>> round(float(t[t.scale == 10].weight.max()), 5)
    0.99995
    """
    scores = [float(s) for s in scores]
    scales = [float(s) for s in scales]
    if not scores:
        raise ExperimentInputError("scores is empty; pass at least one score, e.g. [1, 2, 3]")
    if not scales:
        raise ExperimentInputError("scales is empty; pass at least one scale, e.g. [1, 10]")
    if not all(math.isfinite(s) for s in scores + scales):
        raise ExperimentInputError("scores and scales must be finite numbers")
    base = torch.tensor(scores, dtype=torch.float64)
    rows = []
    for scale in scales:
        weights = softmax(base * scale)
        for i, (s, w) in enumerate(zip(scores, weights.tolist(), strict=True)):
            rows.append(
                {"scale": scale, "position": i, "score": s, "scaled_score": s * scale, "weight": w}
            )
    return pd.DataFrame(rows)


def variance_standard_error(d_k: int, n_samples: int) -> float:
    """Standard error of the sample variance of ``q·k`` (unscaled) for ``n_samples`` draws.

    For ``q, k ~ N(0, I_{d_k})``, ``s = q·k`` has variance ``d_k`` and fourth
    moment ``3 d_k² + 6 d_k`` (each product ``q_i k_i`` has fourth moment 9), so
    the sample variance has variance ``(2 d_k² + 6 d_k) / n`` to first order.
    Divide by ``d_k`` for the scaled dot product.

    >>> round(variance_standard_error(64, 10_000), 3)
    0.926
    """
    return math.sqrt((2 * d_k**2 + 6 * d_k) / n_samples)


def dot_product_variance(
    d_ks: Sequence[int] = DEFAULT_D_KS, n_samples: int = 10_000, seed: int = 0
) -> pd.DataFrame:
    """Measure the variance of ``q·k`` and of ``q·k / sqrt(d_k)`` for random vectors.

    ``q`` and ``k`` have independent standard-normal components (mean 0,
    variance 1), the assumption of Vaswani et al. (2017, footnote 4). Then
    ``q·k`` is a sum of ``d_k`` independent unit-variance terms, so its variance
    is ``d_k``; dividing by ``sqrt(d_k)`` brings it back to 1.

    Args:
        d_ks: key dimensions to try.
        n_samples: number of (q, k) pairs drawn per ``d_k``.
        seed: seed of the private random generator (the global one is untouched).

    Returns:
        One row per ``d_k`` with columns ``d_k``, ``variance`` (measured, unscaled),
        ``theory`` (= ``d_k``), ``variance_scaled`` (measured after dividing by
        ``sqrt(d_k)``), ``theory_scaled`` (= 1) and ``standard_error`` (of the
        unscaled measurement, see :func:`variance_standard_error`).

    >>> t = dot_product_variance(d_ks=[16, 256], n_samples=4000)
    >>> t[["d_k", "theory", "theory_scaled"]].values.tolist()
    [[16, 16, 1], [256, 256, 1]]
    >>> bool(((t.variance - t.theory).abs() < 4 * t.standard_error).all())
    True
    """
    d_ks = _check_positive_ints("d_ks", d_ks)
    _check_count("n_samples", n_samples, 2)
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for d_k in d_ks:
        # Draw in chunks so large d_k x n_samples does not allocate gigabytes.
        chunk = max(1, 2_000_000 // d_k)
        dots = []
        for start in range(0, n_samples, chunk):
            n = min(chunk, n_samples - start)
            q = torch.randn(n, d_k, generator=gen, dtype=torch.float64)
            k = torch.randn(n, d_k, generator=gen, dtype=torch.float64)
            dots.append((q * k).sum(dim=1))
        s = torch.cat(dots)
        var = s.var(unbiased=True).item()
        rows.append(
            {
                "d_k": d_k,
                "variance": var,
                "theory": d_k,
                "variance_scaled": var / d_k,
                "theory_scaled": 1,
                "standard_error": variance_standard_error(d_k, n_samples),
            }
        )
    return pd.DataFrame(rows)


def softmax_jacobian(p: Tensor) -> Tensor:
    """Jacobian of softmax at output ``p``: ``J = diag(p) - p pᵀ``.

    Shapes: ``p`` is ``[..., n]`` (rows sum to 1); the result is ``[..., n, n]``
    with ``J[..., i, j] = ∂p_i / ∂s_j``. When ``p`` is one-hot, ``J`` is zero:
    the gradient through a saturated softmax vanishes.

    >>> import torch
    >>> softmax_jacobian(torch.tensor([0.5, 0.5]))
    tensor([[ 0.2500, -0.2500],
            [-0.2500,  0.2500]])
    """
    p = torch.as_tensor(p)
    return torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)


def softmax_entropy(p: Tensor) -> Tensor:
    """Entropy in nats of distributions ``p`` ``[..., n]`` along the last axis -> ``[...]``.

    Zero weights contribute 0 (the limit of ``p log p``). Uniform weights over
    ``n`` keys give the maximum, ``log n``.

    >>> import torch
    >>> round(softmax_entropy(torch.full((4,), 0.25)).item(), 4) == round(math.log(4), 4)
    True
    """
    p = torch.as_tensor(p)
    logp = torch.where(p > 0, p.log(), torch.zeros_like(p))
    return -(p * logp).sum(dim=-1)


def softmax_gradient(
    d_ks: Sequence[int] = DEFAULT_D_KS,
    n_keys: int = 16,
    n_samples: int = 2_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Entropy and gradient size of attention softmax against ``d_k``, scaled and unscaled.

    For each ``d_k`` we draw ``n_samples`` queries and, for each, ``n_keys`` keys
    (standard-normal components), form the scores ``q·k`` (unscaled) or
    ``q·k / sqrt(d_k)`` (scaled), and take softmax. Without scaling the scores
    spread like ``sqrt(d_k)``, softmax saturates to nearly one-hot, its entropy
    falls towards 0 and its Jacobian (how much the weights move when a score
    moves) vanishes. With scaling both stay roughly constant.

    Returns:
        One row per (``d_k``, ``scaled``) with columns ``d_k``, ``scaled`` (bool),
        ``entropy`` (mean, nats), ``max_entropy`` (= ``log n_keys``),
        ``max_weight`` (mean largest weight), ``jacobian_norm`` (mean Frobenius
        norm of :func:`softmax_jacobian`) and ``jacobian_norm_uniform`` (the same
        norm at uniform weights, ``sqrt((n-1)/n) / sqrt(n)``, for reference).

    >>> t = softmax_gradient(d_ks=[4, 256], n_samples=500)
    >>> big = t[t.d_k == 256].set_index("scaled")
    >>> bool(big.loc[False, "jacobian_norm"] < big.loc[True, "jacobian_norm"])
    True
    """
    d_ks = _check_positive_ints("d_ks", d_ks)
    _check_count("n_keys", n_keys, 2)
    _check_count("n_samples", n_samples, 1)
    gen = torch.Generator().manual_seed(seed)
    uniform = torch.full((n_keys,), 1.0 / n_keys, dtype=torch.float64)
    uniform_norm = torch.linalg.matrix_norm(softmax_jacobian(uniform)).item()
    rows = []
    for d_k in d_ks:
        q = torch.randn(n_samples, 1, d_k, generator=gen, dtype=torch.float64)
        k = torch.randn(n_samples, n_keys, d_k, generator=gen, dtype=torch.float64)
        raw = (q * k).sum(dim=-1)  # [n_samples, n_keys]
        for scaled in (False, True):
            p = softmax(raw / math.sqrt(d_k) if scaled else raw, dim=-1)
            jac = torch.linalg.matrix_norm(softmax_jacobian(p))  # [n_samples]
            rows.append(
                {
                    "d_k": d_k,
                    "scaled": scaled,
                    "entropy": softmax_entropy(p).mean().item(),
                    "max_entropy": math.log(n_keys),
                    "max_weight": p.max(dim=-1).values.mean().item(),
                    "jacobian_norm": jac.mean().item(),
                    "jacobian_norm_uniform": uniform_norm,
                }
            )
    return pd.DataFrame(rows)
