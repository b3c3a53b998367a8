"""Tests for attnbook.plot: labels, axes reuse, Japanese glyphs and byte-identical output."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import warnings

import matplotlib
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.text import Text

import attnbook
from attnbook import plot

matplotlib.use("Agg")

FAST = {
    "softmax_saturation": {},
    "dot_product_variance": {"d_ks": [1, 8, 64], "n_samples": 400},
    "softmax_gradient": {"d_ks": [1, 8, 64], "n_samples": 100},
}


def _labels(fig: Figure) -> list[str]:
    out = []
    for ax in fig.axes:
        out += [ax.get_xlabel(), ax.get_ylabel(), ax.get_title()]
    return out


@pytest.mark.parametrize("name", sorted(FAST))
def test_mechanism_figures_are_labelled(name):
    fig = getattr(plot, name)(**FAST[name])
    assert isinstance(fig, Figure)
    for ax in fig.axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
        assert ax.get_legend() is not None


@pytest.mark.parametrize("name", sorted(FAST))
@pytest.mark.parametrize("fmt", ["svg", "png", "pdf"])
def test_mechanism_figures_are_byte_identical(name, fmt):
    a = plot.figure_bytes(getattr(plot, name)(**FAST[name]), fmt)
    b = plot.figure_bytes(getattr(plot, name)(**FAST[name]), fmt)
    assert a == b
    assert len(a) > 1000


def test_saved_files_carry_no_date_or_version():
    svg = plot.figure_bytes(plot.softmax_saturation(), "svg").decode()
    assert "<dc:date>" not in svg and matplotlib.__version__ not in svg
    png = plot.figure_bytes(plot.softmax_saturation(), "png")
    assert b"Software" not in png and matplotlib.__version__.encode() not in png
    pdf = plot.figure_bytes(plot.softmax_saturation(), "pdf")
    assert b"CreationDate" not in pdf and b"Producer" not in pdf


_CHILD = """
import hashlib, sys
from attnbook import plot
fig = plot.dot_product_variance(d_ks=[1, 8, 64], n_samples=400)
for fmt in ("svg", "png"):
    print(fmt, hashlib.sha256(plot.figure_bytes(fig, fmt)).hexdigest())
"""


@pytest.mark.slow
def test_figures_are_identical_across_processes():
    runs = [
        subprocess.run(
            [sys.executable, "-c", _CHILD],
            capture_output=True,
            text=True,
            check=True,
            # Different hash seeds: nothing may depend on Python's str hashing.
            env={"PYTHONHASHSEED": str(seed), "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1"}
            | {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")},
        ).stdout
        for seed in (1, 2)
    ]
    assert runs[0] == runs[1]
    fig = plot.dot_product_variance(d_ks=[1, 8, 64], n_samples=400)
    here = {fmt: hashlib.sha256(plot.figure_bytes(fig, fmt)).hexdigest() for fmt in ("svg", "png")}
    assert runs[0].split() == ["svg", here["svg"], "png", here["png"]]


def test_save_writes_the_same_bytes_as_figure_bytes(tmp_path):
    fig = plot.softmax_saturation()
    for fmt in ("svg", "png", "pdf"):
        path = plot.save(fig, tmp_path / f"fig.{fmt}")
        assert path.read_bytes() == plot.figure_bytes(fig, fmt)
    assert plot.save(fig, tmp_path / "noext", format="png").read_bytes()[:4] == b"\x89PNG"


def test_save_rejects_unknown_formats(tmp_path):
    fig = plot.softmax_saturation()
    with pytest.raises(plot.FigureFormatError, match="use one of svg, png, pdf") as info:
        plot.save(fig, tmp_path / "fig.jpeg")
    assert isinstance(info.value, attnbook.AttnbookError)
    with pytest.raises(plot.FigureFormatError):
        plot.figure_bytes(fig, "eps")


def test_mechanism_figures_draw_into_given_axes():
    fig = Figure()
    ax = fig.add_subplot(2, 1, 1)
    assert plot.softmax_saturation(ax=ax) is fig
    assert plot.dot_product_variance(d_ks=[1, 4], n_samples=100, ax=fig.add_subplot(2, 1, 2)) is fig
    assert len(fig.axes) == 2 and fig.axes[0].lines
    fig2 = Figure()
    axes = fig2.subplots(1, 2)
    assert plot.softmax_gradient(d_ks=[1, 4], n_samples=10, axes=axes) is fig2
    with pytest.raises(plot.PlotInputError, match="2 matplotlib Axes"):
        plot.softmax_gradient(d_ks=[1, 4], n_samples=10, axes=[axes[0]])
    with pytest.raises(plot.PlotInputError, match="must be a matplotlib Axes"):
        plot.softmax_saturation(ax="left")


def test_variance_figure_plots_the_measurement():
    from attnbook.experiments import dot_product_variance

    fig = plot.dot_product_variance(d_ks=[1, 8, 64], n_samples=400, seed=3)
    table = dot_product_variance([1, 8, 64], n_samples=400, seed=3)
    ys = [list(line.get_ydata()) for line in fig.axes[0].lines]
    assert table.variance.tolist() in ys
    assert table.theory.tolist() in ys


def test_style_does_not_leak_into_global_rcparams():
    before = dict(matplotlib.rcParams)
    plot.figure_bytes(plot.softmax_saturation(), "svg")
    assert matplotlib.rcParams["svg.hashsalt"] == before["svg.hashsalt"]
    assert matplotlib.rcParams["image.cmap"] == before["image.cmap"]


def test_no_warnings_when_drawing_mechanism_figures():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name, kwargs in FAST.items():
            plot.figure_bytes(getattr(plot, name)(**kwargs), "png")


# ----- figures of a model's attention ----------------------------------------

JA_TOKENS = ["[CLS]", "猫", "は", "可愛い", "[SEP]"]


def _toy_maps(tokens, layers=2, heads=3, seed=0, model_id="toy/handmade"):
    from synthetic_maps import synthetic_maps

    return synthetic_maps(tokens, layers, heads, seed, sharpness=2.0, model_id=model_id, joiner="")


@pytest.fixture(scope="module")
def dog():
    from attnbook.maps import attend

    return attend("The dog chased the cat")


@pytest.fixture(scope="module")
def ja():
    return _toy_maps(JA_TOKENS)


def test_heatmap_shows_the_head_with_token_labels(dog):
    fig = plot.heatmap(dog, 2, 5)
    ax = fig.axes[0]
    assert (ax.images[0].get_array() == dog.head(2, 5).numpy()).all()
    assert [t.get_text() for t in ax.get_xticklabels()] == dog.tokens
    assert [t.get_text() for t in ax.get_yticklabels()] == dog.tokens
    assert ax.get_title() == "all-MiniLM-L6-v2 — layer 2, head 5 (0-indexed)"
    assert ax.get_xlabel() == "key (attended to)" and ax.get_ylabel() == "query (attending)"
    assert fig.axes[1].get_ylabel() == "attention weight"  # the colour bar
    assert ax.images[0].norm.vmin == 0
    assert ax.images[0].norm.vmax == pytest.approx(dog.head(2, 5).max().item())


def test_heatmap_annotations_match_the_dataframe(dog):
    fig = plot.heatmap(dog, 1, 0, annotate=True, colorbar=False)
    texts = [t.get_text() for t in fig.axes[0].texts]
    table = dog.to_dataframe(1, 0)
    assert texts == [f"{w:.2f}" for w in table.to_numpy().ravel()]
    assert len(fig.axes) == 1


def test_heatmap_negative_ids_and_errors(dog):
    from attnbook.errors import AttnbookError

    fig = plot.heatmap(dog, -1, -1)
    assert "layer 5, head 11" in fig.axes[0].get_title()
    with pytest.raises(AttnbookError, match="0..5"):
        plot.heatmap(dog, 6, 0)
    with pytest.raises(plot.PlotInputError, match="expected an AttentionMaps"):
        plot.heatmap(dog.attentions, 0, 0)


def test_head_grid_shares_one_colour_scale(dog):
    fig = plot.head_grid(dog)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == dog.num_layers * dog.num_heads
    norms = {(ax.images[0].norm.vmin, ax.images[0].norm.vmax) for ax in panels}
    assert len(norms) == 1
    ((vmin, vmax),) = norms
    assert vmin == 0 and vmax == pytest.approx(dog.attentions.max().item())
    assert panels[13].images[0].get_array().tolist() == dog.head(1, 1).tolist()
    colourbars = [ax for ax in fig.axes if ax.get_ylabel() == "attention weight"]
    assert len(colourbars) == 1
    assert [ax.get_title() for ax in panels[:12]] == [f"head {h}" for h in range(12)]
    assert [panels[12 * r].get_ylabel() for r in range(6)] == [f"layer {r}" for r in range(6)]
    assert "0-indexed" in fig.get_suptitle()


def test_head_grid_subset(dog):
    fig = plot.head_grid(dog, layers=[4], heads=[2, 7])
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in panels] == ["head 2", "head 7"]
    assert panels[1].images[0].get_array().tolist() == dog.head(4, 7).tolist()
    with pytest.raises(plot.PlotInputError, match="at least one layer"):
        plot.head_grid(dog, layers=[])


def test_layer_profile_draws_the_maps_numbers(dog):
    fig = plot.layer_profile(dog, "chased", ["dog", "cat"])
    lines = {line.get_label(): line for line in fig.axes[0].lines}
    for key in ("dog", "cat"):
        want = dog.layer_profile("chased", key)
        assert list(lines[f"{key}: max over heads"].get_ydata()) == want["max"].tolist()
        assert list(lines[f"{key}: mean over heads"].get_ydata()) == want["mean"].tolist()
        assert list(lines[f"{key}: max over heads"].get_xdata()) == list(range(6))
    assert fig.axes[0].get_xlabel() == "layer (0-indexed)"
    with pytest.raises(plot.PlotInputError, match="at least one key"):
        plot.layer_profile(dog, "chased", [])


def _segments(fig):
    (collection,) = fig.axes[0].collections
    return collection.get_segments(), collection.get_colors()


def test_line_view_opacity_is_the_weight(dog):
    fig = plot.line_view(dog, 2, 5, threshold=0.0)
    segments, colours = _segments(fig)
    n = dog.num_tokens
    assert len(segments) == n * n
    weights = dog.head(2, 5)
    for seg, rgba in zip(segments, colours, strict=True):
        i, j = int(-seg[0][1]), int(-seg[1][1])
        assert rgba[3] == pytest.approx(weights[i, j].item(), abs=1e-6)


def test_line_view_focus_and_threshold(dog):
    fig = plot.line_view(dog, 2, 5, query="chased", threshold=0.03)
    segments, _ = _segments(fig)
    row = dog.token_index("chased")[0]
    assert {int(-s[0][1]) for s in segments} == {row}
    assert len(segments) == int((dog.head(2, 5)[row] >= 0.03).sum())
    assert fig.axes[0].get_title().endswith("from “chased”")
    boxed = [t.get_text() for t in fig.axes[0].texts if t.get_bbox_patch() is not None]
    assert boxed == ["chased"]
    assert "from “[CLS]”" in plot.line_view(dog, 0, 0, query=0).axes[0].get_title()
    with pytest.raises(plot.PlotInputError, match="out of range"):
        plot.line_view(dog, 0, 0, query=99)


def _cross_maps():
    """Cross-attention by hand: 4 target tokens (queries) x 6 source tokens (keys)."""
    from attnbook.maps import AttentionMaps, TokenAxis

    target = TokenAxis(
        ["<s>", "犬", "が", "吠える"], [None, 0, 1, 2], ["犬", "が", "吠える"], [1, 0, 0, 0]
    )
    source = TokenAxis(
        ["[CLS]", "the", "dog", "bark", "##s", "[SEP]"],
        [None, 0, 1, 2, 2, None],
        ["the", "dog", "barks"],
        [1, 0, 0, 0, 0, 1],
    )
    g = torch.Generator().manual_seed(3)
    weights = torch.randn(2, 3, 4, 6, generator=g).mul(2).softmax(-1)  # [L, H, T, S]
    return AttentionMaps(attentions=weights, query=target, key=source, model_id="org/toy-mt")


def test_line_view_of_cross_attention_draws_each_axis():
    cross = _cross_maps()
    fig = plot.line_view(cross, 1, 2, threshold=0.0)
    segments, colours = _segments(fig)
    assert len(segments) == 4 * 6  # every target token to every source token
    weights = cross.head(1, 2)
    for seg, rgba in zip(segments, colours, strict=True):
        (x0, y0), (x1, y1) = seg
        assert (x0, x1) == (0.0, 1.0)
        i, j = int(-y0), int(-y1)
        assert rgba[3] == pytest.approx(weights[i, j].item(), abs=1e-6)
    ax = fig.axes[0]
    left = [t.get_text() for t in ax.texts if t.get_ha() == "right"][:-1]  # minus "query"
    right = [t.get_text() for t in ax.texts if t.get_ha() == "left"][:-1]  # minus "key"
    assert left == cross.query_tokens and right == cross.key_tokens
    # Token labels sit on their own rows: the source's 6 rows below the target's 4.
    assert min(t.get_position()[1] for t in ax.texts) == -5
    assert ax.get_ylim()[0] < -5
    assert ax.get_title() == "toy-mt — layer 1, head 2 (0-indexed)"


def test_line_view_of_cross_attention_finds_the_query_on_the_target_side():
    cross = _cross_maps()
    fig = plot.line_view(cross, 0, 1, query="吠える", threshold=0.05)
    segments, _ = _segments(fig)
    assert {int(-s[0][1]) for s in segments} == {3}
    assert {int(-s[1][1]) for s in segments} == {
        j for j, w in enumerate(cross.head(0, 1)[3].tolist()) if w >= 0.05
    }
    boxed = [t.get_text() for t in fig.axes[0].texts if t.get_bbox_patch() is not None]
    assert boxed == ["吠える"]
    # Position 5 is a source (key) position only: the target has 4 tokens.
    assert "from “が”" in plot.line_view(cross, 0, 0, query=2).axes[0].get_title()
    with pytest.raises(plot.PlotInputError, match="4 query tokens"):
        plot.line_view(cross, 0, 0, query=5)
    with pytest.raises(attnbook.WordNotFoundError):
        plot.line_view(cross, 0, 0, query="dog")  # a source word, not a query


@pytest.mark.parametrize("draw", ["heatmap", "line_view", "head_grid"])
def test_japanese_tokens_render_without_missing_glyphs(ja, draw):
    call = {
        "heatmap": lambda: plot.heatmap(ja, 1, 2, annotate=True),
        "line_view": lambda: plot.line_view(ja, 1, 2, query="猫"),
        # head_grid draws no tokens; its title names the model, here in Japanese.
        "head_grid": lambda: plot.head_grid(_toy_maps(JA_TOKENS, model_id="玩具/猫のモデル")),
    }[draw]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = call()
        for fmt in ("png", "svg"):
            plot.figure_bytes(fig, fmt)
    # The check means something only if the figure really draws Japanese text.
    drawn = "".join(t.get_text() for t in fig.findobj(Text))
    assert any("\u3040" <= ch <= "\u9fff" for ch in drawn), drawn


def test_japanese_glyph_check_can_fail(ja):
    # Control for the test above: with a Latin-only font the same figure warns.
    fig = plot.heatmap(ja, 1, 2)
    for text in fig.axes[0].get_xticklabels():
        text.set_fontfamily(["DejaVu Sans"])
    with pytest.warns(UserWarning, match="missing from font"):
        plot.figure_bytes(fig, "png")


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_map_figures_are_byte_identical(dog, ja, fmt):
    for make in (
        lambda: plot.heatmap(dog, 3, 1, annotate=True),
        lambda: plot.head_grid(dog, layers=[0, 1]),
        lambda: plot.layer_profile(dog, "chased", ["dog", "cat"]),
        lambda: plot.line_view(ja, 1, 2, query="可愛い"),
    ):
        assert plot.figure_bytes(make(), fmt) == plot.figure_bytes(make(), fmt)


def test_map_figures_draw_into_given_axes(dog):
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert plot.heatmap(dog, 0, 0, ax=left) is fig
    assert plot.line_view(dog, 0, 0, ax=right) is fig
    assert left.images and right.collections


# ----- the same figure saved again (and again after being displayed) --------


def _stats():
    import pandas as pd

    return pd.DataFrame(
        {
            "layer": [0, 0, 1, 1],
            "head": [0, 1, 0, 1],
            "to_cls": [0.2, 0.4, 0.6, 0.8],
            "entropy": [0.5, 0.7, 1.2, 1.5],
            "uniform_entropy": [2.0, 2.0, 2.0, 2.0],
        }
    )


RESAVED = {
    "heatmap": lambda dog, ja: plot.heatmap(dog, 3, 1, annotate=True),
    "heatmap_ja": lambda dog, ja: plot.heatmap(ja, 1, 2),
    "head_grid": lambda dog, ja: plot.head_grid(dog, layers=[0, 1]),
    "weights_heatmap": lambda dog, ja: plot.weights_heatmap(
        dog.head(0, 0), dog.tokens, dog.tokens, title="layer 0, head 0"
    ),
    "line_view": lambda dog, ja: plot.line_view(ja, 1, 2, query="可愛い"),
    "layer_profile": lambda dog, ja: plot.layer_profile(dog, "chased", ["dog", "cat"]),
    "softmax_gradient": lambda dog, ja: plot.softmax_gradient(**FAST["softmax_gradient"]),
    "softmax_saturation": lambda dog, ja: plot.softmax_saturation(),
    "statistics_profile": lambda dog, ja: plot.statistics_profile(_stats(), ["to_cls"]),
    "entropy_profile": lambda dog, ja: plot.entropy_profile(_stats()),
    "explanation_comparison": lambda dog, ja: plot.explanation_comparison(_norms(), layer=2),
}


_NORMS = {}


def _norms():
    if "norms" not in _NORMS:
        from attnbook.analysis import attention_norms

        _NORMS["norms"] = attention_norms("The cat sat.")
    return _NORMS["norms"]


@pytest.mark.parametrize("name", sorted(RESAVED))
@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_saving_a_figure_again_gives_the_same_bytes(dog, ja, name, fmt):
    # Constrained layout used to run again on every save and drift by a few
    # hundredths of a point, so the second save of a figure differed from the first.
    from attnbook.plot.ipython import _png

    fig = RESAVED[name](dog, ja)
    first = plot.figure_bytes(fig, fmt)
    assert plot.figure_bytes(fig, fmt) == first
    # Displayed in a notebook (the PNG formatter renders it) and then saved:
    # the same bytes as the figure saved straight away.
    shown = RESAVED[name](dog, ja)
    displayed = _png(shown)
    if fmt == "png":
        assert displayed == first
    assert plot.figure_bytes(shown, fmt) == first


_CHILD_RESAVE = """
import hashlib
from attnbook import plot
from attnbook.maps import attend
from attnbook.plot.ipython import _png
dog = attend("The dog chased the cat")
for make in (lambda: plot.heatmap(dog, 3, 1, annotate=True),
             lambda: plot.head_grid(dog, layers=[0, 1])):
    fig = make()
    _png(fig)  # displayed first
    for fmt in ("svg", "png"):
        print(fmt, hashlib.sha256(plot.figure_bytes(fig, fmt)).hexdigest())
"""


@pytest.mark.slow
def test_constrained_figures_are_identical_across_processes(dog):
    env = {"MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1"} | {
        k: v for k, v in os.environ.items() if k in ("PATH", "HOME")
    }
    child = subprocess.run(
        [sys.executable, "-c", _CHILD_RESAVE], capture_output=True, text=True, check=True, env=env
    ).stdout.split()
    here = []
    for make in (
        lambda: plot.heatmap(dog, 3, 1, annotate=True),
        lambda: plot.head_grid(dog, layers=[0, 1]),
    ):
        for fmt in ("svg", "png"):
            here += [fmt, hashlib.sha256(plot.figure_bytes(make(), fmt)).hexdigest()]
    assert child == here


# ----- Japanese in axes the caller made with other rcParams ------------------

CALLER_AXES = {
    "weights_heatmap": lambda ax, ja: plot.weights_heatmap(
        [[0.7, 0.3], [0.4, 0.6]], ["猫", "可愛い"], ["猫", "犬"], ax=ax, title="猫と犬"
    ),
    "heatmap": lambda ax, ja: plot.heatmap(ja, 1, 2, ax=ax, title="猫は可愛い"),
    "line_view": lambda ax, ja: plot.line_view(ja, 1, 2, query="猫", ax=ax),
    "layer_profile": lambda ax, ja: plot.layer_profile(ja, "猫", ["可愛い"], ax=ax),
    "value_mix": lambda ax, ja: plot.value_mix(
        [0.5, 0.5], [[1.0, 2.0], [3.0, 4.0]], ["猫", "犬"], ["甲", "乙"], ax=ax, title="混合"
    ),
    "word_order": lambda ax, ja: plot.word_order(
        [("日本語", ["犬", "が", "猫", "を", "追う"], {0: "S", 2: "O", 4: "V"})], ax=ax
    ),
}


@pytest.mark.parametrize("name", sorted(CALLER_AXES))
def test_japanese_renders_in_axes_made_with_a_latin_font(ja, name):
    import matplotlib.pyplot as plt

    # A chapter's own figure, made while font.family has no Japanese font: its
    # axes' tick labels, title and axis labels already exist with that font.
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    try:
        CALLER_AXES[name](axes[0], ja)
        axes[0].set_xlabel(axes[0].get_xlabel() + "(鍵)")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fig.canvas.draw()  # glyph lookup happens when the text is drawn
            plot.figure_bytes(fig, "svg")
    finally:
        plt.close(fig)


def test_latin_axes_glyph_check_can_fail():
    # Control for the test above: Japanese in such axes, drawn without attnbook, warns.
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        fig, ax = plt.subplots()
    try:
        ax.set_xticks([0, 1], ["猫", "犬"])
        with pytest.warns(UserWarning, match="missing from font"):
            fig.canvas.draw()
    finally:
        plt.close(fig)
