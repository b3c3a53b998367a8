"""Figures of attnbook.plot.analysis: they show the numbers they claim, labelled and reproducible."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

import attnbook
from attnbook.analysis import attention_norms, attention_rollout, head_statistics
from attnbook.plot import PlotInputError, figure_bytes
from attnbook.plot.analysis import entropy_profile, explanation_comparison, statistics_profile

matplotlib.use("Agg")

TEXTS = ["The harbour lights flickered, then went out.", "Nobody saw it."]


@pytest.fixture(scope="module")
def stats():
    return head_statistics([attnbook.attend(t) for t in TEXTS])


@pytest.fixture(scope="module")
def norms():
    return attention_norms(TEXTS[0])


def test_statistics_profile_draws_layer_means_and_every_head(stats):
    columns = ["to_cls", "to_sep", "to_punct"]
    fig = statistics_profile(stats, columns)
    ax = fig.axes[0]
    assert len(ax.lines) == 3 and len(ax.collections) == 3
    for line, column in zip(ax.lines, columns, strict=True):
        expected = stats.groupby("layer")[column].mean().to_numpy()
        np.testing.assert_allclose(line.get_ydata(), expected)
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["to [CLS]: mean", "to [SEP]: mean", "to punctuation: mean"]
    for dots, column in zip(ax.collections, columns, strict=True):
        np.testing.assert_allclose(np.sort(dots.get_offsets()[:, 1]), np.sort(stats[column]))
    assert "0-indexed" in ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


def test_entropy_profile_has_the_uniform_line(stats):
    ax = entropy_profile(stats).axes[0]
    mean, uniform = ax.lines
    np.testing.assert_allclose(mean.get_ydata(), stats.groupby("layer").entropy.mean())
    np.testing.assert_allclose(uniform.get_ydata(), stats.groupby("layer").uniform_entropy.mean())
    assert (uniform.get_ydata() >= mean.get_ydata()).all()
    assert "nats" in ax.get_ylabel() and "0-indexed" in ax.get_xlabel()


def test_explanation_comparison_panels_hold_the_three_measures(norms):
    fig = explanation_comparison(norms, layer=3)
    heatmaps = [ax for ax in fig.axes if ax.images and ax.get_title()]
    assert len(heatmaps) == 3
    raw, normed, rolled = (np.asarray(ax.images[0].get_array()) for ax in heatmaps)
    np.testing.assert_allclose(raw, norms.attentions[3].mean(0).numpy(), rtol=1e-6)
    np.testing.assert_allclose(normed, norms.normalized("layer")[3].numpy(), rtol=1e-6)
    np.testing.assert_allclose(rolled, attention_rollout(norms.attentions[:4]).numpy(), rtol=1e-6)
    for panel in (raw, normed, rolled):
        np.testing.assert_allclose(panel.sum(-1), 1.0, atol=1e-5)
    assert [t.get_text() for t in heatmaps[0].get_xticklabels()] == norms.tokens
    colourbars = [ax for ax in fig.axes if ax not in heatmaps]
    assert len(colourbars) == 3 and all(ax.get_ylabel() for ax in colourbars)
    assert "layer 3 (0-indexed)" in fig.get_suptitle()


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_figures_are_byte_identical(stats, norms, fmt):
    for draw in (
        lambda: statistics_profile(stats),
        lambda: entropy_profile(stats),
        lambda: explanation_comparison(norms),
    ):
        a, b = figure_bytes(draw(), fmt), figure_bytes(draw(), fmt)
        assert a == b and len(a) > 1000
        if fmt == "svg":
            assert b"<dc:date>" not in a


def test_draws_into_given_axes(stats):
    fig = Figure()
    ax = fig.add_subplot()
    assert statistics_profile(stats, "prev", ax=ax) is fig
    assert len(ax.lines) == 1


def test_bad_inputs(stats, norms):
    with pytest.raises(PlotInputError, match="no column 'to_nothing'"):
        statistics_profile(stats, ["to_nothing"])
    with pytest.raises(PlotInputError, match="head_statistics"):
        entropy_profile({"layer": [0]})
    with pytest.raises(PlotInputError, match="AttentionNorms"):
        explanation_comparison(attnbook.attend("a b"))
    with pytest.raises(PlotInputError, match="0-indexed"):
        explanation_comparison(norms, layer=6)
