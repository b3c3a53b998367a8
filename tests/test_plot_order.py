"""Tests for attnbook.plot.order.word_order: positions, offsets and input checks."""

from __future__ import annotations

import matplotlib
import pytest
from matplotlib.figure import Figure

from attnbook import plot
from attnbook.plot import PlotInputError, word_order

matplotlib.use("Agg")

ROWS = [
    ("English", ["The", "dog", "chases", "the", "cat", "."], {1: "S", 2: "V", 4: "O"}),
    ("Japanese", ["犬", "が", "猫", "を", "追う"], {0: "S", 2: "O", 4: "V"}),
]


def _word_texts(fig: Figure) -> dict[str, tuple[float, float]]:
    return {t.get_text(): t.get_position() for t in fig.axes[0].texts}


def test_words_sit_at_their_position_relative_to_the_anchor():
    texts = _word_texts(word_order(ROWS))
    # Role words are drawn as "word\nrole"; the anchor is at x = 0 in every row.
    assert texts["chases\nV"][0] == 0 and texts["追う\nV"][0] == 0
    assert texts["dog\nS"][0] == -1 and texts["cat\nO"][0] == 2
    assert texts["犬\nS"][0] == -4 and texts["猫\nO"][0] == -2
    assert texts["The"][0] == -2 and texts["."][0] == 3
    # Rows are stacked top to bottom in the order given.
    assert texts["chases\nV"][1] > texts["追う\nV"][1]


def test_every_arc_is_labelled_with_its_signed_offset():
    fig = word_order(ROWS)
    labels = sorted(t.get_text() for t in fig.axes[0].texts if t.get_text().lstrip("+-").isdigit())
    assert labels == ["+2", "-1", "-2", "-4"]
    # one line per arc: 2 arcs in each row
    assert len(fig.axes[0].lines) == 4


def test_another_anchor_moves_the_origin():
    texts = _word_texts(word_order(ROWS[:1], anchor="S"))
    assert texts["dog\nS"][0] == 0 and texts["chases\nV"][0] == 1 and texts["cat\nO"][0] == 3


def test_draws_into_given_axes_and_is_exported():
    fig = Figure()
    ax = fig.add_subplot()
    assert word_order(ROWS, ax=ax) is fig
    assert plot.word_order is word_order


@pytest.mark.parametrize(
    "rows, match",
    [
        ([], "non-empty"),
        ("dog chases cat", "non-empty"),
        ([("x", ["a", "b"])], "tuple"),
        ([("x", [], {})], "no words"),
        ([("x", ["a", "b"], {5: "V"})], "not a word position"),
        ([("x", ["a", "b"], {0: "S"})], "exactly one"),
        ([("x", ["a", "b"], {0: "V", 1: "V"})], "exactly one"),
        ([("x", ["a", "b"], ["V"])], "map word positions"),
    ],
)
def test_bad_input_raises_a_clear_error(rows, match):
    with pytest.raises(PlotInputError, match=match):
        word_order(rows)
