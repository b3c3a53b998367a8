"""Figure labels in English and Japanese (attnbook.plot.i18n, attnbook.plot.messages).

What a plausible bug would break: a label drawn without going through the
message table (stays English in the Japanese figure), a translation that
changes the English figure, a leftover English word that goes unreported, a
Japanese glyph missing from the fonts, a copy that is not laid out again.
"""

from __future__ import annotations

import re
import string
import warnings
from pathlib import Path

import pandas as pd
import pytest
import torch
from synthetic_maps import synthetic_maps

import attnbook.plot as ap
from attnbook.plot import i18n as lang
from attnbook.plot.messages import MESSAGES
from attnbook.toy import plot as toy_plot

JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


def _maps():
    return synthetic_maps(["[CLS]", "the", "dog", "chased", "the", "cat", "[SEP]"])


def _stats():
    rows = [
        {
            "layer": layer,
            "head": head,
            "to_cls": 0.1 * head,
            "to_sep": 0.2,
            "to_punct": 0.05 * layer,
            "entropy": 1.0 + 0.1 * head,
            "uniform_entropy": 2.0,
        }
        for layer in range(3)
        for head in range(2)
    ]
    return pd.DataFrame(rows)


FIGURES = {
    "heatmap": lambda: ap.heatmap(_maps(), 1, 2, annotate=True),
    "head_grid": lambda: ap.head_grid(_maps()),
    "layer_profile": lambda: ap.layer_profile(_maps(), "chased", ["dog", ("the", 1)]),
    "line_view": lambda: ap.line_view(_maps(), 0, 1, query="chased"),
    "weights_heatmap": lambda: ap.weights_heatmap(
        torch.softmax(torch.randn(3, 3, generator=torch.Generator().manual_seed(0)), -1),
        ["dog", "chased", "cat"],
        ["dog", "chased", "cat"],
    ),
    "value_mix": lambda: ap.value_mix(torch.tensor([0.2, 0.8]), torch.eye(2), keys=["dog", "cat"]),
    "word_order": lambda: ap.word_order(
        [("dog chases cat", ["dog", "chases", "cat"], {0: "S", 1: "V", 2: "O"})]
    ),
    "softmax_saturation": lambda: ap.softmax_saturation(),
    "dot_product_variance": lambda: ap.dot_product_variance(d_ks=[1, 4, 16], n_samples=200),
    "softmax_gradient": lambda: ap.softmax_gradient(d_ks=[1, 16], n_samples=50),
    "statistics_profile": lambda: ap.statistics_profile(_stats()),
    "entropy_profile": lambda: ap.entropy_profile(_stats()),
    "toy_head_heatmap": lambda: _toy_heatmap(),
}


def _toy_heatmap():
    from attnbook.toy import VOCAB, ToyEncoder

    torch.manual_seed(0)
    return toy_plot.head_heatmap(ToyEncoder(len(VOCAB), 10, 16, 1, 2), "猫 を 犬 が 追う", 0, 1)


def _texts(fig) -> list[str]:
    """Every non-empty text the saved figure shows (tick labels after a draw)."""
    ap.figure_bytes(fig, "png")
    out = []
    for ax in fig.axes:
        out += [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
    out += [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    return sorted(t for t in out if t)


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_message_has_both_languages_with_the_same_fields(key):
    entry = MESSAGES[key]
    assert set(entry) == {"en", "ja"}
    assert _fields(entry["en"]) == _fields(entry["ja"])
    assert JAPANESE.search(entry["ja"]), f"{key}: the Japanese has no Japanese in it"
    assert not JAPANESE.search(entry["en"].replace("「{verb}」", "")), key


def test_every_message_key_used_by_the_plots_exists_and_every_entry_is_used():
    root = Path(lang.__file__).resolve().parents[1]
    sources = "".join(p.read_text() for p in [*root.glob("plot/*.py"), root / "toy" / "plot.py"])
    used = set(re.findall(r'(?:_t\(\s*fig,\s*|msg\()\s*"([a-z_0-9]+)"', sources))
    used |= {f"stat_{c}" for c in ("to_cls", "to_sep", "to_punct", "to_other", "prev", "next")}
    used |= {"stat_uniform_entropy", "stat_mean_distance", "subject", "object"}  # by name
    used |= {"average_attention", "value"}  # chosen by a conditional expression
    assert used - set(MESSAGES) == set()
    assert set(MESSAGES) - used == set(), "messages nobody draws"


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_japanese_copy_has_no_english_left_and_all_japanese_glyphs(name):
    fig = FIGURES[name]()
    japanese = lang.translate(fig, "ja")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph warns; make it fail
        assert lang.untranslated(japanese) == []
    assert any(JAPANESE.search(t) for t in _texts(japanese))


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_translating_leaves_the_english_figure_byte_identical(name):
    untouched = ap.figure_bytes(FIGURES[name](), "png")
    fig = FIGURES[name]()
    lang.untranslated(lang.translate(fig, "ja"))  # translate and draw the copy first
    assert ap.figure_bytes(fig, "png") == untouched
    assert not any(JAPANESE.search(t) for t in _texts(fig) if t not in _TOKENS_JA)


_TOKENS_JA = {"猫", "を", "犬", "が", "追う", "「追う」"}


@pytest.mark.parametrize("name", ["heatmap", "layer_profile", "softmax_gradient", "line_view"])
def test_drawing_in_japanese_gives_the_same_labels_as_translating(name):
    with ap.language("ja"):
        drawn = FIGURES[name]()
    assert ap.get_language() == "en"  # the context manager restores the setting
    translated = lang.translate(FIGURES[name](), "ja")
    assert _texts(drawn) == _texts(translated)


def test_leftover_english_is_listed_and_the_table_fixes_it():
    fig = ap.weights_heatmap(torch.eye(2), ["dog", "cat"], ["dog", "cat"], title="two tokens")
    fig.axes[0].annotate("the diagonal", (0, 0))
    problems = lang.untranslated(lang.translate(fig, "ja"))
    assert problems == ["'the diagonal': the, diagonal", "'two tokens': two, tokens"]
    table = {"two tokens": "二つのトークン", "the diagonal": "対角線"}
    assert lang.untranslated(lang.translate(fig, "ja", table)) == []


def test_numbers_math_single_letters_and_tokens_are_not_english():
    fig = ap.weights_heatmap(torch.eye(2), ["the", "theory"], ["q0", "k1"], title="$QK^T$ q k 0.5")
    assert lang.untranslated(lang.translate(fig, "ja")) == []
    # ...but a token only hides itself as a whole word: "the" does not hide "theory".
    fig.axes[0].set_title("thermal")
    assert lang.untranslated(lang.translate(fig, "ja")) == ["'thermal': thermal"]


def test_a_table_entry_that_matches_nothing_is_reported():
    fig = ap.weights_heatmap(torch.eye(2))
    problems = lang.untranslated(lang.translate(fig, "ja", {"no such text": "なし"}))
    assert problems == ["'no such text': this ja entry matches no text in the figure"]


def test_category_tick_labels_are_translated_through_the_formatter():
    from matplotlib.figure import Figure

    fig = Figure(layout="constrained")
    ax = fig.add_subplot()
    ax.bar(["verb", "noun"], [1, 2])
    japanese = lang.translate(fig, "ja", {"verb": "動詞", "noun": "名詞"})
    assert lang.untranslated(japanese) == []
    assert [t.get_text() for t in japanese.axes[0].get_xticklabels()] == ["動詞", "名詞"]
    assert lang.untranslated(lang.translate(fig, "ja")) == ["'noun': noun", "'verb': verb"]


def test_a_missing_glyph_fails_the_check():
    fig = ap.weights_heatmap(torch.eye(2), title="x")
    with pytest.raises(UserWarning, match="missing from font"):
        lang.untranslated(lang.translate(fig, "ja", {"x": "\U0001f9ea"}))


def test_japanese_copy_is_laid_out_again_even_after_the_english_was_saved():
    fig = ap.heatmap(_maps(), 0, 0)
    ap.figure_bytes(fig, "png")  # freezes the English layout
    a = lang.translate(fig, "ja", {})
    png_a, problems = lang.render_checked(a)
    assert problems == []
    png_b, _ = lang.render_checked(lang.translate(fig, "ja", {}))
    assert png_a == png_b  # deterministic
    # Laid out for its own labels: the axes moved compared with the English layout.
    assert a.axes[0].get_position().bounds != fig.axes[0].get_position().bounds


def test_unknown_language_is_a_clear_value_error():
    with pytest.raises(ap.FigureLanguageError, match="use one of en, ja") as err:
        ap.set_language("fr")
    assert isinstance(err.value, ValueError)
    assert ap.get_language() == "en"
    with pytest.raises(ValueError, match="made by attnbook.plot.translate"):
        lang.untranslated(ap.weights_heatmap(torch.eye(2)))


def test_a_figure_that_cannot_be_copied_gets_a_clear_error():
    from matplotlib.ticker import FuncFormatter

    fig = ap.weights_heatmap(torch.eye(2))
    fig.axes[0].xaxis.set_major_formatter(FuncFormatter(lambda x, pos: f"{x:.0f}"))
    with pytest.raises(ap.FigureLanguageError, match="module-level function"):
        lang.translate(fig, "ja")


def test_a_translated_colour_bar_label_longer_than_its_bar_is_shrunk_to_fit():
    from matplotlib.backend_bases import _get_renderer

    fig = ap.weights_heatmap(torch.eye(3), ["dog", "chased", "cat"], ["dog", "chased", "cat"])
    bar = fig.axes[1]
    japanese = lang.translate(fig, "ja")
    png, problems = lang.render_checked(japanese)
    assert problems == []
    jbar = japanese.axes[1]
    renderer = _get_renderer(japanese)
    label = jbar.yaxis.label.get_window_extent(renderer)
    assert label.height <= jbar.get_window_extent(renderer).height + 1
    assert jbar.yaxis.label.get_fontsize() < bar.yaxis.label.get_fontsize()  # it was too long
    assert fig.axes[1].yaxis.label.get_fontsize() == bar.yaxis.label.get_fontsize()  # English kept
    # A label that fits keeps its size: the x label under a wide heatmap.
    wide = ap.heatmap(_maps(), 0, 0)
    assert lang.translate(wide, "ja").axes[0].xaxis.label.get_fontsize() == (
        wide.axes[0].xaxis.label.get_fontsize()
    )


def test_a_callers_text_equal_to_an_attnbook_label_is_translated_but_a_token_is_not():
    fig = ap.weights_heatmap(torch.eye(2), ["key", "value"], ["key", "value"])
    fig.axes[0].set_title("mean distance (tokens)")
    japanese = lang.translate(fig, "ja")
    assert lang.untranslated(japanese) == []
    assert japanese.axes[0].get_title() == MESSAGES["stat_mean_distance"]["ja"]
    ticks = [t.get_text() for t in japanese.axes[0].get_xticklabels()]
    assert ticks == ["key", "value"]  # tokens stay, although "key" is also a label
