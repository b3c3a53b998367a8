"""Print-quality matplotlib figures for the book.

Every function returns a :class:`~matplotlib.figure.Figure`, uses a
perceptually uniform colour map, renders Japanese tokens and, saved with
:func:`save`, gives byte-identical SVG/PNG/PDF files run after run.

* :mod:`attnbook.plot.mechanism` -- Part I: softmax saturation, variance of q·k, softmax gradient.
* :mod:`attnbook.plot.maps` -- a model's attention: heatmap, head grid, layer profile, line view.
* :mod:`attnbook.plot.architecture` -- where the three kinds of attention sit in the Transformer.
* :mod:`attnbook.plot.seq2seq` -- an encoder-decoder's cross-attention (target rows, source columns).
* :mod:`attnbook.plot.style` -- colours, fonts and reproducible saving.
* :mod:`attnbook.plot.i18n` -- labels in English or Japanese (:func:`language`).
"""

from attnbook.plot._axes import PlotInputError
from attnbook.plot.analysis import entropy_profile, explanation_comparison, statistics_profile
from attnbook.plot.architecture import attention_kinds
from attnbook.plot.i18n import (
    FigureLanguageError,
    get_language,
    language,
    set_language,
    translate,
    untranslated,
)
from attnbook.plot.ipython import register_figure_formatter
from attnbook.plot.maps import head_grid, heatmap, layer_profile, line_view
from attnbook.plot.matrix import weights_heatmap
from attnbook.plot.mechanism import dot_product_variance, softmax_gradient, softmax_saturation
from attnbook.plot.mixture import value_mix
from attnbook.plot.order import word_order
from attnbook.plot.seq2seq import cross_heatmap
from attnbook.plot.style import CMAP, FigureFormatError, figure_bytes, save, style_context

__all__ = [
    "attention_kinds",
    "entropy_profile",
    "explanation_comparison",
    "statistics_profile",
    "CMAP",
    "cross_heatmap",
    "FigureFormatError",
    "FigureLanguageError",
    "get_language",
    "language",
    "set_language",
    "translate",
    "untranslated",
    "PlotInputError",
    "dot_product_variance",
    "figure_bytes",
    "head_grid",
    "heatmap",
    "layer_profile",
    "line_view",
    "save",
    "softmax_gradient",
    "softmax_saturation",
    "style_context",
    "value_mix",
    "weights_heatmap",
    "word_order",
]

register_figure_formatter()
