"""The encoder/decoder "buildings" figure and heatmaps whose masked cells are drawn as masked."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.patches import Rectangle

import attnbook
from attnbook.plot import PlotInputError, attention_kinds, figure_bytes, weights_heatmap
from attnbook.plot.i18n import translate, untranslated


def _texts(fig):
    return [t.get_text() for t in fig.axes[0].texts]


def test_buildings_name_three_kinds_of_attention_and_are_deterministic():
    fig = attention_kinds()
    texts = _texts(fig)
    for label in (
        "encoder",
        "decoder",
        "self-attention",
        "causal self-attention",
        "cross-attention",
        "next token",
    ):
        assert label in texts
    # Two feed-forward floors (one per building) and one floor per kind of attention.
    assert texts.count("feed-forward") == 2
    assert sum(t.endswith("attention") for t in texts) == 3
    assert figure_bytes(fig, "svg") == figure_bytes(attention_kinds(), "svg")


def _mask_cells(fig):
    """(colour, hatched) of every small mask cell, grouped by the floor's colour."""
    cells = [p for p in fig.axes[0].patches if isinstance(p, Rectangle) and p.get_width() < 0.2]
    return cells


def test_each_floor_draws_its_own_mask():
    fig = attention_kinds()
    cells = _mask_cells(fig)
    # encoder 5×5 full, causal 4×4 lower triangle (6 hidden), cross 4×5 full
    assert len(cells) == 25 + 16 + 20
    hidden = [c for c in cells if c.get_hatch()]
    assert len(hidden) == 6
    # The hidden cells are above the diagonal of the causal square: all of them
    # sit in the decoder (right-hand) building.
    assert all(c.get_x() > 5 for c in hidden)


def test_japanese_buildings_have_no_english_left():
    with attnbook.plot.language("ja"):
        fig = attention_kinds()
    assert "クロスアテンション" in _texts(fig)
    assert untranslated(translate(attention_kinds(), "ja")) == []


def test_heatmap_hides_masked_cells_instead_of_colouring_them_zero():
    w = torch.tensor([[1.0, 0.0, 0.0], [0.4, 0.6, 0.0], [0.2, 0.0, 0.8]])
    mask = attnbook.causal_mask(3)
    fig = weights_heatmap(w, mask=mask)
    ax = fig.axes[0]
    # Three hidden cells above the diagonal: hatched patches, no number written in them.
    patches = [p for p in ax.patches if p.get_hatch()]
    assert sorted((p.get_x() + 0.5, p.get_y() + 0.5) for p in patches) == [
        (1.0, 0.0),
        (2.0, 0.0),
        (2.0, 1.0),
    ]
    written = {(t.get_position(), t.get_text()) for t in ax.texts}
    assert ((1, 2), "0.00") in written  # a visible zero is still written as 0.00
    assert not any(pos == (1, 0) for pos, _ in written)
    image = ax.images[0].get_array()
    assert np.ma.is_masked(image) and image.mask.sum() == 3
    assert ax.get_legend() is not None
    plain = weights_heatmap(w)
    assert (
        not [p for p in plain.axes[0].patches if p.get_hatch()]
        and plain.axes[0].get_legend() is None
    )


def test_heatmap_mask_must_match_the_matrix():
    with pytest.raises(PlotInputError, match="boolean"):
        weights_heatmap(torch.eye(3), mask=attnbook.causal_mask(4))
    with pytest.raises(PlotInputError, match="boolean"):
        weights_heatmap(torch.eye(3), mask=torch.ones(3, 3))
