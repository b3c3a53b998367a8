"""Tests for attnbook.experiments: checked against theory and independent PyTorch code."""

from __future__ import annotations

import math

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
    assert table.theory.tolist() == d_ks
    # 4 standard errors: a false failure has probability ~1e-4 per row.
    assert ((table.variance - table.d_k).abs() < 4 * table.standard_error).all(), table
    assert ((table.variance_scaled - 1).abs() < 4 * table.standard_error / table.d_k).all()
    torch.testing.assert_close(
        torch.tensor(table.variance_scaled.tolist()),
        torch.tensor((table.variance / table.d_k).tolist()),
    )


def test_variance_is_not_trivially_equal_to_theory():
    # A measurement that returned the theory would pass the test above; this one would not.
    table = dot_product_variance([64], n_samples=1_000, seed=5)
    assert table.variance.iloc[0] != 64


def test_variance_standard_error_matches_repeated_measurements():
    d_k, n = 4, 1_000
    measured = torch.tensor(
        [dot_product_variance([d_k], n_samples=n, seed=s).variance.iloc[0] for s in range(200)]
    )
    predicted = variance_standard_error(d_k, n)
    # The spread of 200 estimates of a standard deviation is within ~15% of it.
    assert measured.std().item() == pytest.approx(predicted, rel=0.2)
    assert measured.mean().item() == pytest.approx(d_k, abs=4 * predicted / math.sqrt(200))


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
