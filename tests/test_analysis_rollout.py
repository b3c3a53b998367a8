"""Attention rollout (Abnar & Zuidema 2020): properties, hand cases, and NumPy on real maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import attnbook
from attnbook.analysis import attention_rollout
from attnbook.errors import AnalysisInputError


def random_attentions(seed, layers=4, heads=3, t=7):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(layers, heads, t, t, generator=g) * 2).softmax(-1)


@pytest.mark.parametrize("residual", [0.0, 0.3, 0.5, 1.0])
def test_uniform_attention_closed_form(residual):
    """Uniform U = J/T is idempotent, so L layers of (1-r) U + r I give r^L I + (1 - r^L) U."""
    t, layers = 5, 3
    uniform = torch.full((t, t), 1 / t, dtype=torch.float64)
    a = uniform.expand(layers, 2, t, t)
    steps = attention_rollout(a, residual=residual, per_layer=True)
    for n in range(1, layers + 1):
        want = residual**n * torch.eye(t, dtype=torch.float64) + (1 - residual**n) * uniform
        torch.testing.assert_close(steps[n - 1], want)


def test_head_fusions_by_hand():
    # Two heads over two tokens; every query row is the same in a head.
    a = torch.tensor([[[0.8, 0.2], [0.8, 0.2]], [[0.4, 0.6], [0.4, 0.6]]])[None]
    expected = {
        # mean [0.6, 0.4]: 0.5 * A + 0.5 * I already sums to 1
        "mean": [[0.8, 0.2], [0.3, 0.7]],
        # min [0.4, 0.2]: rows [0.7, 0.1] and [0.2, 0.6] before renormalising
        "min": [[0.875, 0.125], [0.25, 0.75]],
        # max [0.8, 0.6]: rows [0.9, 0.3] and [0.4, 0.8] before renormalising
        "max": [[0.75, 0.25], [1 / 3, 2 / 3]],
    }
    for fusion, want in expected.items():
        torch.testing.assert_close(
            attention_rollout(a, head_fusion=fusion), torch.tensor(want), msg=fusion
        )


def test_layers_multiply_later_on_the_left():
    """Layer 0 sends everything to token 0, layer 1 to token 1: inputs trace back to token 0."""
    a = torch.zeros(2, 1, 3, 3)
    a[0, 0, :, 0] = 1
    a[1, 0, :, 1] = 1
    out = attention_rollout(a, residual=0.0)
    torch.testing.assert_close(out, a[0, 0])  # Â_1 Â_0, not Â_0 Â_1 (which would be a[1, 0])


def test_one_layer_is_the_mixed_matrix():
    a = random_attentions(5, layers=1, heads=4, t=3)
    expected = 0.5 * a[0].mean(0) + 0.5 * torch.eye(3)  # rows already sum to 1
    torch.testing.assert_close(attention_rollout(a), expected)


def test_per_layer_is_the_running_product():
    a = random_attentions(2)
    steps = attention_rollout(a, per_layer=True)
    torch.testing.assert_close(steps[-1], attention_rollout(a))
    torch.testing.assert_close(steps[0], attention_rollout(a[:1]))
    torch.testing.assert_close(steps[2], attention_rollout(a[:3]))


def numpy_rollout(att, fusion="mean", residual=0.5):
    """Abnar & Zuidema's recipe, in NumPy, straight from the paper."""
    att = np.asarray(att, dtype=np.float64)
    result = np.eye(att.shape[-1])
    for layer in att:
        fused = {"mean": layer.mean(0), "max": layer.max(0), "min": layer.min(0)}[fusion]
        mixed = (1 - residual) * fused + residual * np.eye(len(fused))
        mixed = mixed / mixed.sum(axis=-1, keepdims=True)
        result = mixed @ result
    return result


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
@pytest.mark.parametrize("residual", [0.0, 0.2, 0.5, 0.9])
def test_equals_numpy_on_random_attention(fusion, residual):
    a = random_attentions(round(residual * 10))
    steps = attention_rollout(a, head_fusion=fusion, residual=residual, per_layer=True)
    assert steps.shape == (4, 7, 7)
    for n in range(1, 5):
        want = numpy_rollout(a[:n].numpy(), fusion, residual)
        np.testing.assert_allclose(steps[n - 1].numpy(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
@pytest.mark.parametrize(
    "text", ["A kettle whistled in the empty kitchen.", "Seven violins, one bow."]
)
def test_equals_numpy_on_real_maps(text, fusion):
    maps = attnbook.attend(text)
    ours = attention_rollout(maps, head_fusion=fusion)
    assert ours.shape == (maps.num_tokens, maps.num_tokens)
    np.testing.assert_allclose(
        ours.numpy(), numpy_rollout(maps.attentions.numpy(), fusion), rtol=1e-5, atol=1e-6
    )


def test_bad_inputs():
    a = random_attentions(0)
    with pytest.raises(AnalysisInputError, match="head_fusion"):
        attention_rollout(a, head_fusion="median")
    with pytest.raises(AnalysisInputError, match="residual"):
        attention_rollout(a, residual=1.5)
    with pytest.raises(AnalysisInputError, match=r"\[layers, heads, T, T\]"):
        attention_rollout(a[0])
    with pytest.raises(AnalysisInputError, match="AttentionMaps"):
        attention_rollout(object())
    with pytest.raises(AnalysisInputError, match="residual > 0"):
        attention_rollout(torch.zeros(1, 1, 2, 2), residual=0.0)
