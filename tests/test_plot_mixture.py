"""Tests for attnbook.plot.value_mix: the bars add up to attention's output."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.patches import Rectangle

import attnbook
from attnbook.plot import PlotInputError, figure_bytes, value_mix

matplotlib.use("Agg")


def _bars(fig):
    return [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]


def test_net_bar_height_equals_attention_output():
    gen = torch.Generator().manual_seed(1)
    q = torch.randn(1, 4, generator=gen, dtype=torch.float64)
    k = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    v = torch.randn(5, 3, generator=gen, dtype=torch.float64)  # has negative entries
    out, w = attnbook.scaled_dot_product_attention(q, k, v)
    fig = value_mix(w[0], v)
    bars = _bars(fig)
    assert len(bars) == 5 * 3
    net = np.zeros(3)
    for bar in bars:
        net[round(bar.get_x() + bar.get_width() / 2)] += bar.get_height()
    np.testing.assert_allclose(net, out[0].numpy(), atol=1e-12)
    written = [float(t.get_text()) for t in fig.axes[0].texts]
    np.testing.assert_allclose(written, out[0].numpy(), atol=5e-4)


def test_negative_parts_stack_downwards_from_zero():
    fig = value_mix([0.5, 0.5], [[-1.0], [-2.0]], ["a", "b"], ["x"])
    bars = _bars(fig)
    # The second segment starts where the first ends: below zero, not at zero.
    assert bars[0].get_y() == pytest.approx(0.0)
    assert bars[1].get_y() == pytest.approx(-0.5)
    assert fig.axes[0].texts[0].get_text() == "-1.500"


def test_labels_and_legend():
    fig = value_mix([0.2, 0.8], [[1.0, 0.0], [0.0, 1.0]], ["cats", "dogs"], ["feed", "walk"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["feed", "walk"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["cats (weight 0.200)", "dogs (weight 0.800)"]
    assert ax.get_xlabel() and ax.get_ylabel()


@pytest.mark.parametrize(
    ("weights", "values", "keys", "features"),
    [
        ([[0.5, 0.5]], [[1.0], [1.0]], None, None),  # weights not 1-D
        ([0.5, 0.5], [1.0, 1.0], None, None),  # values not 2-D
        ([0.5, 0.5], [[1.0], [1.0], [1.0]], None, None),  # S mismatch
        ([0.5, 0.5], [[1.0], [1.0]], ["only one"], None),
        ([0.5, 0.5], [[1.0], [1.0]], None, ["a", "b"]),
        ([0.5, float("nan")], [[1.0], [1.0]], None, None),
    ],
)
def test_bad_input_raises_typed_error(weights, values, keys, features):
    with pytest.raises(PlotInputError) as info:
        value_mix(weights, values, keys, features)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, attnbook.AttnbookError)


def test_byte_identical():
    def make():
        return value_mix([0.665, 0.245, 0.09], [[1, 1, 0], [1, 0, 1], [0, 0, 1]])

    assert figure_bytes(make(), "png") == figure_bytes(make(), "png")
