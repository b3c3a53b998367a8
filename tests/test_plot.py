"""Tests for attnbook.plot: labels, axes reuse, Japanese glyphs and byte-identical output."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import warnings

import matplotlib
import pytest
from matplotlib.figure import Figure

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
