"""The reader's copy of a chapter notebook (docs/tools/reader_notebook.py).

Built from a small executed notebook in the shape myst-nb writes: glue
outputs carry ``metadata.scrapbook`` and, when not displayed, mime types
prefixed with ``application/papermill.record/``; myst-nb moves them to
``<page>.glue.json`` beside the notebook with the prefix removed.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "tools"))

import reader_notebook  # noqa: E402

PREFIX = "application/papermill.record/"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n not really").decode()
PNG_JA = base64.b64encode(b"\x89PNG\r\n\x1a\n nihongo").decode()


def _glue(name: str, data: dict, display: bool = False) -> dict:
    prefix = "" if display else PREFIX
    return {
        "output_type": "display_data",
        "data": {prefix + k: v for k, v in data.items()},
        "metadata": {"scrapbook": {"name": name, "mime_prefix": prefix}},
    }


def _code(source: str, tags=(), outputs=()) -> dict:
    return {
        "cell_type": "code",
        "execution_count": 1,
        "metadata": {"tags": list(tags)},
        "outputs": list(outputs),
        "source": source,
    }


def _markdown(source: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


EXECUTED = {
    "cells": [
        _markdown("# Chapter\n\nThe weight is {glue:text}`w:.2f` and {glue:text}`who` wins."),
        _code("import attnbook\nx = 1", outputs=[{"output_type": "stream", "text": "hi\n"}]),
        _code(
            "import book\nbook.glue('w', 0.41234)",
            tags=["hide-input"],
            outputs=[
                _glue("w", {"text/plain": "0.41234"}),
                _glue("fig-a", {"image/png": PNG, "text/plain": "<Figure>"}),
                _glue("fig-a@ja", {"image/png": PNG_JA, "text/plain": "<Figure (ja)>"}),
                _glue("who@ja", {"text/plain": "'動詞'"}),
            ],
        ),
        _code("book.claim(True, 'x')", tags=["remove-cell"]),
        _code("y = x + 1", tags=["remove-stderr"]),
        _markdown(
            "```{glue:figure} fig-a\n:name: fig-ch1-a\n\nThe weights of {glue:text}`w:.1f`.\n```\n"
            "Elsewhere: {glue:text}`other.md::k` stays."
        ),
    ],
    "metadata": {"kernelspec": {"name": "python3"}, "mystnb": {"x": 1}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


@pytest.fixture
def copy(tmp_path):
    executed = tmp_path / "executed.ipynb"
    executed.write_text(json.dumps(EXECUTED), encoding="utf-8")
    # myst-nb moves glue outputs into <page>.glue.json, prefix already removed.
    moved = _glue("who", {"text/plain": "'the verb'"})
    moved["data"] = {"text/plain": "'the verb'"}
    (tmp_path / "executed.glue.json").write_text(json.dumps({"who": moved}), encoding="utf-8")

    def make(language: str) -> dict:
        target = tmp_path / language / "nb.ipynb"
        reader_notebook.reader_notebook(executed, target, language)
        return json.loads(target.read_text(encoding="utf-8"))

    return make


def _text(cell: dict) -> str:
    return "".join(cell["source"])


def test_plumbing_is_dropped_and_visible_code_kept_in_order(copy):
    nb = copy("en")
    code = [_text(c) for c in nb["cells"] if c["cell_type"] == "code"]
    assert code == ["import attnbook\nx = 1", "y = x + 1"]
    assert nb["cells"][2]["outputs"] == [{"output_type": "stream", "text": "hi\n"}]
    assert "mystnb" not in nb["metadata"]


@pytest.mark.parametrize(
    ("language", "words"), [("en", "Run this chapter"), ("ja", "インストール")]
)
def test_the_first_cell_says_how_to_install_in_the_page_language(copy, language, words):
    first = copy(language)["cells"][0]
    assert first["cell_type"] == "markdown"
    assert "pip install" in _text(first) and words in _text(first)


def test_glued_numbers_and_figures_are_pasted_into_the_text(copy):
    cells = copy("en")["cells"]
    assert _text(cells[1]) == "# Chapter\n\nThe weight is 0.41 and the verb wins."
    figure = cells[-1]
    assert "![The weights of 0.4.](attachment:fig-a.png)" in _text(figure)
    assert figure["attachments"] == {"fig-a.png": {"image/png": PNG}}
    assert "{glue:figure}" not in _text(figure)
    assert "{glue:text}`other.md::k`" in _text(figure)


def test_unknown_keys_stay_as_written():
    text, attachments = reader_notebook.fill_glue("{glue:text}`nope:.2f`", {})
    assert text == "{glue:text}`nope:.2f`" and attachments == {}


def test_the_japanese_copy_takes_the_japanese_variants(copy):
    # book.text / book.figure glue "<name>@ja" beside the English value.
    cells = copy("ja")["cells"]
    assert "the weight is 0.41 and 動詞 wins." in _text(cells[1]).lower()
    assert cells[-1]["attachments"] == {"fig-a.png": {"image/png": PNG_JA}}


# --- the Japanese copy's text cells come from the page's catalogue --------------

SOURCE = """\
(sec-x)=
## Three books

The query is compared
with every key.

- a list item that
  goes on
- untranslated item

| Role | Question |
|---|---|
| Query | "What now?" |

```python
x = 1  # The query is compared with every key.
```

Not in the catalogue.

$$
2 \\times \\text{layers}
$$
"""

JA = {
    "2 \\times \\text{layers}": "2 \\times \\text{層数}",
    "Three books": "三冊の本",
    "The query is compared with every key.": "クエリはすべてのキーと比べられます。",
    "a list item that goes on": "続く項目",
    "Role": "役割",
    "Query": "クエリ",
    '"What now?"': "「次は何？」",
}


def test_translated_blocks_keep_their_markup_and_code_stays():
    out = reader_notebook.translate_markdown(SOURCE, JA.get)
    assert out == (
        "(sec-x)=\n"
        "## 三冊の本\n\n"
        "クエリはすべてのキーと比べられます。\n\n"
        "- 続く項目\n"
        "- untranslated item\n\n"
        "| 役割 | Question |\n"
        "|---|---|\n"
        "| クエリ | 「次は何？」 |\n\n"
        "```python\n"
        "x = 1  # The query is compared with every key.\n"
        "```\n\n"
        "Not in the catalogue.\n\n"
        "$$\n2 \\times \\text{層数}\n$$\n"
    )


def test_the_catalogue_skips_fuzzy_and_empty_messages(tmp_path):
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    cat = Catalog(locale="ja")
    cat.add("Done", "済み")
    cat.add("Fuzzy", "あいまい", flags=["fuzzy"])
    cat.add("Empty", "")
    po = tmp_path / "page.po"
    with po.open("wb") as f:
        write_po(f, cat)
    translate = reader_notebook.catalogue(po)
    assert [translate(m) for m in ("Done", "Fuzzy", "Empty", "Other")] == ["済み", None, None, None]


def test_the_japanese_copy_has_japanese_text_and_unchanged_code(tmp_path):
    executed = tmp_path / "executed.ipynb"
    executed.write_text(json.dumps(EXECUTED), encoding="utf-8")
    moved = {"data": {"text/plain": "'the verb'"}, "metadata": {"scrapbook": {"name": "who"}}}
    (tmp_path / "executed.glue.json").write_text(json.dumps({"who": moved}), encoding="utf-8")
    ja = {
        "Chapter": "章",
        "The weight is {glue:text}`w:.2f` and {glue:text}`who` wins.": (
            "重みは {glue:text}`w:.2f` で、{glue:text}`who`の勝ちです。"
        ),
        "The weights of {glue:text}`w:.1f`.": "{glue:text}`w:.1f` の重み。",
    }
    target = tmp_path / "ja.ipynb"
    reader_notebook.reader_notebook(executed, target, "ja", ja.get)
    cells = json.loads(target.read_text(encoding="utf-8"))["cells"]
    assert _text(cells[1]) == "# 章\n\n重みは 0.41 で、動詞の勝ちです。"
    assert "![0.4 の重み。](attachment:fig-a.png)" in _text(cells[-1])
    english = json.loads(json.dumps(EXECUTED))["cells"]
    code = [c for c in english if c["cell_type"] == "code" and not reader_notebook.is_plumbing(c)]
    # the code and its outputs unchanged (ids and counts are renumbered in order)
    kept = ("source", "outputs", "metadata")
    assert [{k: c[k] for k in kept} for c in cells if c["cell_type"] == "code"] == [
        {k: c[k] for k in kept} for c in code
    ]


def test_same_notebook_whatever_the_ids_and_counts_myst_nb_gave(tmp_path):
    # myst-nb reads a page with new random cell ids each time, and a page served from
    # the execution cache comes with no execution counts: the download must not change.
    variants = []
    for n, (ids, count) in enumerate([("a", 1), ("b", None)]):
        nb = json.loads(json.dumps(EXECUTED))
        for i, cell in enumerate(nb["cells"]):
            cell["id"] = f"{ids}{i}-random"
            if cell["cell_type"] == "code":
                cell["execution_count"] = count
        executed = tmp_path / f"run{n}" / "executed.ipynb"
        executed.parent.mkdir()
        executed.write_text(json.dumps(nb), encoding="utf-8")
        target = reader_notebook.reader_notebook(executed, tmp_path / f"run{n}" / "out.ipynb")
        variants.append(target.read_bytes())
    assert variants[0] == variants[1]
    cells = json.loads(variants[0])["cells"]
    assert len({cell["id"] for cell in cells}) == len(cells)
    counts = [cell["execution_count"] for cell in cells if cell["cell_type"] == "code"]
    assert counts == list(range(1, len(counts) + 1))
