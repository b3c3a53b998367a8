"""Tests for attnbook.experiments: checked against theory and independent PyTorch code."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import attnbook
from attnbook.experiments import (
    ExperimentInputError,
    dot_product_variance,
    softmax_entropy,
    softmax_gradient,
    softmax_jacobian,
    softmax_saturation,
    variance_standard_error,
)


def test_saturation_matches_torch_softmax():
    scores = [1.0, 2.0, 3.0, -0.5]
    scales = [0.3, 1.0, 10.0]
    table = softmax_saturation(scores, scales)
    assert len(table) == len(scores) * len(scales)
    for scale in scales:
        got = torch.tensor(table[table.scale == scale].sort_values("position").weight.tolist())
        want = torch.softmax(torch.tensor(scores, dtype=torch.float64) * scale, dim=0)
        torch.testing.assert_close(got, want.to(got.dtype))
        rows = table[table.scale == scale]
        assert rows.scaled_score.tolist() == [s * scale for s in scores]


def test_saturation_sharpens_with_scale():
    table = softmax_saturation([1, 2, 3], [1, 10])
    top = table[table.position == 2].set_index("scale").weight
    assert top[1.0] == pytest.approx(math.exp(3) / sum(math.exp(x) for x in (1, 2, 3)))
    assert top[10.0] > 0.9999


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"scores": []}, "scores is empty"),
        ({"scales": []}, "scales is empty"),
        ({"scores": [1, float("nan")]}, "finite"),
    ],
)
def test_saturation_rejects_bad_input(kwargs, fragment):
    with pytest.raises(ExperimentInputError, match=fragment):
        softmax_saturation(**kwargs)


def test_variance_grows_like_d_k_within_sampling_error():
    d_ks = [1, 3, 8, 64, 300]
    table = dot_product_variance(d_ks, n_samples=20_000, seed=123)
    assert table.d_k.tolist() == d_ks
    # 4 standard errors: a false failure has probability ~1e-4 per row.
    assert ((table.variance - table.d_k).abs() < 4 * table.standard_error).all(), table
    assert ((table.variance_scaled - 1).abs() < 4 * table.standard_error / table.d_k).all()


def test_theory_columns_agree_with_an_independent_numpy_measurement():
    # NumPy's generator, not torch's: the theory must hold for any N(0, 1) draws.
    d_ks = [1, 3, 8, 64]
    table = dot_product_variance(d_ks, n_samples=100, seed=0).set_index("d_k")
    rng = np.random.default_rng(2024)
    n = 200_000
    for d_k in d_ks:
        s = np.zeros(n)
        for _ in range(d_k):  # one component at a time keeps memory at n floats
            s += rng.standard_normal(n) * rng.standard_normal(n)
        se = math.sqrt((2 * d_k**2 + 6 * d_k) / n)
        assert abs(s.var(ddof=1) - table.theory[d_k]) < 5 * se, d_k
        scaled = (s / math.sqrt(d_k)).var(ddof=1)
        assert abs(scaled - table.theory_scaled[d_k]) < 5 * se / d_k, d_k


def test_variance_standard_error_by_hand():
    # d_k = 1: s = x*y, E[s^2] = 1, E[s^4] = E[x^4] E[y^4] = 3 * 3 = 9, so the
    # sample variance of n draws has variance (9 - 1^2) / n: n = 800 gives 0.1.
    assert variance_standard_error(1, 800) == pytest.approx(0.1, rel=1e-12)
    # d_k = 2: s = a + b (a, b independent products), E[s^4] = 2 * 9 + 6 * E[a^2] E[b^2]
    # = 24, Var(s) = 2, so the variance of the sample variance is (24 - 4) / n: n = 20 gives 1.
    assert variance_standard_error(2, 20) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("d_k", [1, 2, 5])
def test_variance_standard_error_matches_a_numpy_simulation(d_k):
    # 4000 independent experiments of n draws each; the spread of their sample
    # variances is the standard error. Its estimate is good to ~1.5% (kurtosis
    # of the sample variance ~3.8 at d_k = 1), so 6% is > 4 of its own standard
    # errors, while 3*d_k in place of 6*d_k would be 10-21% too small.
    n, experiments = 200, 4000
    rng = np.random.default_rng(d_k)
    s = (
        rng.standard_normal((experiments, n, d_k)) * rng.standard_normal((experiments, n, d_k))
    ).sum(-1)
    spread = s.var(axis=1, ddof=1).std(ddof=1)
    assert variance_standard_error(d_k, n) == pytest.approx(spread, rel=0.06)


def test_variance_standard_error_matches_repeated_measurements():
    # The table's standard_error describes how its own variance column scatters
    # across seeds; d_k = 1, where a wrong fourth moment matters most (8 vs 5 / n).
    d_k, n, seeds = 1, 500, 600
    measured = torch.tensor(
        [dot_product_variance([d_k], n_samples=n, seed=s).variance.iloc[0] for s in range(seeds)],
        dtype=torch.float64,
    )
    predicted = dot_product_variance([d_k], n_samples=n).standard_error.iloc[0]
    # The spread of 600 estimates is within ~3% of the truth (4 of its errors: 12%).
    assert measured.std().item() == pytest.approx(predicted, rel=0.12)
    assert measured.mean().item() == pytest.approx(d_k, abs=4 * predicted / math.sqrt(seeds))


def test_variance_is_reproducible_and_leaves_global_rng_alone():
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    a = dot_product_variance([8, 16], n_samples=500, seed=7)
    after = torch.rand(1)
    b = dot_product_variance([8, 16], n_samples=500, seed=7)
    c = dot_product_variance([8, 16], n_samples=500, seed=8)
    assert before == after
    assert a.equals(b)
    assert not a.variance.equals(c.variance)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"d_ks": []}, "d_ks is empty"),
        ({"d_ks": [0]}, "positive integers"),
        ({"d_ks": [2.5]}, "positive integers"),
        ({"n_samples": 1}, "n_samples"),
    ],
)
def test_variance_rejects_bad_input(kwargs, fragment):
    with pytest.raises(ExperimentInputError, match=fragment) as info:
        dot_product_variance(**kwargs)
    assert isinstance(info.value, attnbook.AttnbookError)
    assert isinstance(info.value, ValueError)


def test_jacobian_matches_autograd():
    scores = torch.tensor([[0.3, -1.2, 2.0, 0.0], [5.0, 5.0, -3.0, 1.0]], dtype=torch.float64)
    p = torch.softmax(scores, dim=-1)
    got = softmax_jacobian(p)
    for row in range(2):
        want = torch.autograd.functional.jacobian(lambda s: torch.softmax(s, dim=-1), scores[row])
        torch.testing.assert_close(got[row], want)


def test_jacobian_of_one_hot_is_zero():
    assert softmax_jacobian(torch.tensor([0.0, 1.0, 0.0])).abs().max() == 0


def test_entropy_matches_torch_distributions():
    p = torch.softmax(torch.randn(5, 7, generator=torch.Generator().manual_seed(1)), dim=-1)
    want = torch.distributions.Categorical(probs=p).entropy()
    torch.testing.assert_close(softmax_entropy(p), want)
    assert softmax_entropy(torch.tensor([1.0, 0.0])).item() == 0.0


def test_softmax_gradient_matches_an_independent_computation():
    d_ks, n_keys, n, seed = [4, 100], 8, 300, 11
    table = softmax_gradient(d_ks, n_keys=n_keys, n_samples=n, seed=seed)
    # Replay the same draws and measure with torch.softmax + autograd.
    gen = torch.Generator().manual_seed(seed)
    for d_k in d_ks:
        q = torch.randn(n, 1, d_k, generator=gen, dtype=torch.float64)
        k = torch.randn(n, n_keys, d_k, generator=gen, dtype=torch.float64)
        raw = (q * k).sum(-1)
        for scaled in (False, True):
            s = raw / math.sqrt(d_k) if scaled else raw
            p = torch.softmax(s, dim=-1)
            jac = torch.stack(
                [
                    torch.autograd.functional.jacobian(lambda x: torch.softmax(x, -1), s[i])
                    for i in range(n)
                ]
            )
            row = table[(table.d_k == d_k) & (table.scaled == scaled)].iloc[0]
            assert row.jacobian_norm == pytest.approx(jac.flatten(1).norm(dim=1).mean().item())
            ent = torch.distributions.Categorical(probs=p).entropy().mean().item()
            assert row.entropy == pytest.approx(ent)
            assert row.max_weight == pytest.approx(p.max(-1).values.mean().item())
    assert table.max_entropy.iloc[0] == pytest.approx(math.log(n_keys))
    assert table.jacobian_norm_uniform.iloc[0] == pytest.approx(math.sqrt(n_keys - 1) / n_keys)


def test_scaling_keeps_softmax_from_saturating():
    table = softmax_gradient([1, 16, 256, 1024], n_samples=1_000, seed=0)
    unscaled = table[~table.scaled].set_index("d_k")
    scaled = table[table.scaled].set_index("d_k")
    # Without scaling the weights collapse towards one-hot as d_k grows ...
    assert unscaled.entropy.is_monotonic_decreasing
    assert unscaled.loc[1024, "max_weight"] > 0.9
    assert unscaled.loc[1024, "jacobian_norm"] < 0.3 * unscaled.loc[1, "jacobian_norm"]
    # ... with scaling the distribution of scores, hence of weights, does not depend on d_k.
    assert scaled.entropy.max() - scaled.entropy.min() < 0.15
    assert scaled.jacobian_norm.max() - scaled.jacobian_norm.min() < 0.05
