"""The one matrix drawer: every heatmap goes through it; a causal map's hidden cells are masked."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

import attnbook
from attnbook.maps import AttentionMaps, TokenAxis
from attnbook.plot import heatmap, weights_heatmap
from attnbook.plot.matrix import HIDDEN_COLOUR, draw_matrix


def causal_maps(t: int = 4) -> AttentionMaps:
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(2, 2, t, t, generator=g).masked_fill(~torch.ones(t, t).tril().bool(), -1e9)
    names = [f"w{i}" for i in range(t)]
    return AttentionMaps(
        attentions=scores.softmax(-1),
        tokens=names,
        word_ids=list(range(t)),
        words=names,
        special=[False] * t,
        model_id="org/tiny-decoder",
        causal=True,
    )


def test_causal_cells_are_masked_not_zero_on_the_scale():
    maps = causal_maps()
    fig = heatmap(maps, 1, 0, annotate=True)
    image = fig.axes[0].images[0]
    data = image.get_array()
    hidden = ~torch.ones(4, 4).tril().bool().numpy()
    assert np.array_equal(np.ma.getmaskarray(data), hidden)
    # The masked cells are hatched in HIDDEN_COLOUR, not the colour of weight 0.
    hatched = [p for p in fig.axes[0].patches if p.get_hatch()]
    assert sorted((p.get_y() + 0.5, p.get_x() + 0.5) for p in hatched) == [
        tuple(map(float, ij)) for ij in zip(*np.nonzero(hidden), strict=True)
    ]
    assert all(np.allclose(p.get_facecolor()[:3], [float(HIDDEN_COLOUR)] * 3) for p in hatched)
    # Values are written only in the visible cells (10 of 16).
    assert len(fig.axes[0].texts) == int((~hidden).sum())
    assert fig.axes[0].get_title() == "tiny-decoder — layer 1, head 0 (0-indexed)"


def test_bidirectional_maps_have_no_mask():
    maps = causal_maps().replace(causal=False)
    image = heatmap(maps, 0, 0).axes[0].images[0]
    assert not np.ma.is_masked(image.get_array())


def test_non_square_maps_label_each_axis():
    q = TokenAxis(["a", "b"], [0, 1], ["a", "b"], [0, 0])
    k = TokenAxis(["x", "y", "z"], [0, 1, 2], ["x", "y", "z"], [0, 0, 0])
    maps = AttentionMaps(attentions=torch.full((1, 1, 2, 3), 1 / 3), query=q, key=k, model_id="m")
    ax = heatmap(maps, 0, 0).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y", "z"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]


def test_weights_heatmap_and_heatmap_draw_hidden_cells_alike():
    maps = causal_maps(3)
    ours = heatmap(maps, 0, 1).axes[0]
    theirs = weights_heatmap(maps.head(0, 1), mask=attnbook.causal_mask(3)).axes[0]
    for ax in (ours, theirs):
        assert np.array_equal(
            np.ma.getmaskarray(ax.images[0].get_array()), ~attnbook.causal_mask(3).numpy()
        )
    cells = [
        [(p.get_xy(), p.get_hatch(), p.get_facecolor()) for p in ax.patches]
        for ax in (ours, theirs)
    ]
    assert cells[0] == cells[1] and len(cells[0]) == 3


def test_draw_matrix_without_labels_keeps_the_frame():
    ax = Figure().subplots()
    draw_matrix(ax, np.eye(2), None, None)
    assert ax.get_xticks().size == 0 and ax.spines["left"].get_visible()


def test_toy_maps_are_attention_maps_and_ids_follow_the_one_rule():
    from attnbook.toy import VOCAB, ToyEncoder, attention_maps, sentence_maps
    from attnbook.toy import plot as toyplot
    from attnbook.toy.grammar import parse

    torch.manual_seed(0)
    model = ToyEncoder(len(VOCAB), 10, 16, 2, 2)
    s = parse("犬 が 猫 を 追う")
    maps = sentence_maps(model, s)
    assert isinstance(maps, AttentionMaps) and maps.tokens == list(s.tokens)
    torch.testing.assert_close(maps.attentions, attention_maps(model, [s])[0])
    # Negative ids count from the end, as everywhere in attnbook.
    last = toyplot.head_heatmap(model, s, -1, -1).axes[0].images[0].get_array()
    np.testing.assert_allclose(last, maps.head(1, 1).numpy())
    with pytest.raises(attnbook.LayerOutOfRangeError, match="0-indexed"):
        toyplot.head_heatmap(model, s, 2, 0)
