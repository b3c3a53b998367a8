"""The book's build tooling: source hash, language links, code-block audit, catalogue filter."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

docutils = pytest.importorskip("docutils")
from docutils import nodes  # noqa: E402
from docutils.frontend import get_default_settings  # noqa: E402
from docutils.parsers.rst import Parser  # noqa: E402
from docutils.utils import new_document  # noqa: E402

TOOLS = Path(__file__).resolve().parents[1] / "docs" / "tools"
sys.path.insert(0, str(TOOLS))

import attnbook_sphinx  # noqa: E402
import audit_code_blocks  # noqa: E402


def test_source_hash_changes_with_any_source_byte(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "a.py").write_text("x = 1\n")
    (pkg / "sub" / "view.js").write_text("let y = 2;\n")
    first = attnbook_sphinx.source_hash(pkg)
    assert attnbook_sphinx.source_hash(pkg) == first  # stable
    (pkg / "notes.txt").write_text("not source")  # ignored suffix
    assert attnbook_sphinx.source_hash(pkg) == first
    (pkg / "sub" / "view.js").write_text("let y = 3;\n")
    assert attnbook_sphinx.source_hash(pkg) != first


def test_source_hash_of_the_real_package_changes_on_a_one_line_edit(tmp_path):
    import shutil

    import attnbook

    copy = tmp_path / "attnbook"
    shutil.copytree(Path(attnbook.__file__).parent, copy)
    before = attnbook_sphinx.source_hash(copy)
    target = copy / "mechanism" / "attention.py"
    target.write_text(target.read_text() + "\n# one more line\n")
    assert attnbook_sphinx.source_hash(copy) != before


@pytest.mark.parametrize(
    "page, expected_ja",
    [("index", "../ja/index.html"), ("chapters/02-x", "../../ja/chapters/02-x.html")],
)
def test_language_links_point_to_the_same_page(page, expected_ja):
    links = {link["code"]: link for link in attnbook_sphinx.other_language_links(page, "en")}
    assert links["ja"]["url"] == expected_ja
    assert links["en"]["current"] and not links["ja"]["current"]


def test_root_page_links_both_editions(tmp_path):
    html = attnbook_sphinx.write_root_page(tmp_path).read_text(encoding="utf-8")
    assert 'href="en/index.html"' in html and 'href="ja/index.html"' in html
    assert "http" not in html  # nothing from the network


def _doc_with(*children):
    doc = new_document("<test>", get_default_settings(Parser))
    section = nodes.section()
    doc += section
    for child in children:
        section += child
    return doc


def _code_cell(source, tags=()):
    cell = nodes.container(nb_element="cell_code", cell_index=3, cell_metadata={"tags": list(tags)})
    src = nodes.container(nb_element="cell_code_source")
    src += nodes.literal_block(source, source, language="ipython3")
    cell += src
    out = nodes.container(nb_element="cell_code_output")
    out += nodes.literal_block("42", "42", language="none")
    cell += out
    return cell


def test_audit_accepts_executed_cells_and_doctests():
    doctest = nodes.literal_block(">>> 1", ">>> 1", language="python", testnodetype="doctest")
    doc = _doc_with(
        _code_cell("print(42)"), doctest, nodes.literal_block("$ ls", "$ ls", language="bash")
    )
    assert audit_code_blocks.audit_doctree(doc, "page", set()) == []


def test_audit_flags_an_untested_python_block():
    block = nodes.literal_block("import attnbook", "import attnbook", language="python")
    problems = audit_code_blocks.audit_doctree(_doc_with(block), "chapters/x", set())
    assert len(problems) == 1 and "untested Python block" in problems[0]


def test_audit_flags_skipped_cells_unless_allowed():
    doc = _doc_with(_code_cell("slow()", tags=["skip-execution"]))
    assert audit_code_blocks.audit_doctree(doc, "chapters/x", set())
    assert audit_code_blocks.audit_doctree(doc, "chapters/x", {"chapters/x#3"}) == []


def test_allowlist_keys_keep_their_cell_index(tmp_path):
    listed = tmp_path / "allow.txt"
    listed.write_text(
        "# page#cell_index  # reason\nchapters/x#3  # needs a model from the hub\n",
        encoding="utf-8",
    )
    assert audit_code_blocks.read_allowlist(listed) == {"chapters/x#3"}


def test_catalogue_filter_keeps_book_messages_only():
    sys.path.insert(0, str(TOOLS))
    import i18n

    docstring_only = [("../../attnbook/mechanism.py:docstring", None), ("of", None), ("x:1", None)]
    assert not i18n._from_book_source(docstring_only)
    assert i18n._from_book_source(docstring_only + [("api.md", 0)])


def test_audit_accepts_docstring_examples_but_not_bare_doctest_blocks():
    from_docstring = nodes.doctest_block(">>> 1", ">>> 1")
    from_docstring.source = "attnbook/mechanism.py:docstring of attnbook.mechanism.softmax"
    bare = nodes.doctest_block(">>> 2", ">>> 2")
    bare.source = "docs/chapters/x.md"
    problems = audit_code_blocks.audit_doctree(_doc_with(from_docstring, bare), "p", set())
    assert len(problems) == 1 and "bare doctest block" in problems[0]


def test_notebook_link_only_when_the_notebook_exists(tmp_path):
    outdir = tmp_path / "html" / "en"
    outdir.mkdir(parents=True)
    assert attnbook_sphinx.notebook_link(outdir, "chapters/02-x") is None
    nb = tmp_path / "html" / "jupyter_execute" / "chapters" / "02-x.ipynb"
    nb.parent.mkdir(parents=True)
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "# Two"},
        {"cell_type": "code", "metadata": {"tags": ["hide-input"]}, "source": "import book"},
        {"cell_type": "code", "metadata": {"tags": ["remove-cell"]}, "source": "glue('x', 1)"},
        {"cell_type": "code", "metadata": {"tags": ["remove-stderr"]}, "source": "x = 1"},
    ]
    nb.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    url = attnbook_sphinx.notebook_link(outdir, "chapters/02-x", "ja")
    assert url == "../_notebooks/chapters/02-x.ipynb"
    # resolved from the page's own directory, the link reaches the reader's copy:
    # install instructions (in the page's language) first, no plumbing cells.
    (outdir / "chapters").mkdir()
    copy = json.loads((outdir / "chapters" / url).read_text(encoding="utf-8"))
    assert "pip install" in "".join(copy["cells"][0]["source"])
    assert "インストール" in "".join(copy["cells"][0]["source"])
    assert ["".join(c["source"]) for c in copy["cells"][1:]] == ["# Two", "x = 1"]


# --- docs/tools/book.py: the hidden cells' plumbing ---------------------------

import book  # noqa: E402


@pytest.fixture
def glued(monkeypatch):
    """What book.* glued, by key (instead of IPython display outputs)."""
    store: dict[str, object] = {}
    monkeypatch.setattr(
        book, "_myst_glue", lambda name, value, display: store.setdefault(name, value)
    )
    return store


def test_claim_passes_silently_and_fails_naming_the_claim():
    book.claim(2 > 1, "two is more than one")
    with pytest.raises(book.ClaimError, match=r"^claim failed: the verb attends most to dog$"):
        book.claim(False, "the verb attends most to dog")
    import torch

    book.claim(torch.tensor(True), "a 0-d tensor is one truth value")
    with pytest.raises(book.BookError, match=r"one truth value.*\.all\(\)"):
        book.claim(torch.tensor([True, False]), "several values")
    with pytest.raises(book.BookError, match="condition first"):
        book.claim("the claim", True)


def test_text_glues_both_languages_and_refuses_an_english_ja(glued):
    book.text("winner", en="The subject wins.", ja="主語が勝ちます。")
    assert glued == {"winner": "The subject wins.", "winner@ja": "主語が勝ちます。"}
    with pytest.raises(book.BookError, match="ja= has no Japanese"):
        book.text("oops", en="Same.", ja="Same.")


def test_glue_refuses_a_figure(glued):
    from matplotlib.figure import Figure

    with pytest.raises(book.BookError, match="book.figure"):
        book.glue("fig-x", Figure())
    book.glue("n", 3)
    assert glued == {"n": 3}


def test_figure_glues_the_english_as_is_and_a_japanese_png(glued):
    import torch

    import attnbook.plot as ap

    fig = ap.weights_heatmap(torch.eye(2), ["dog", "cat"], ["dog", "cat"], title="two tokens")
    english = ap.figure_bytes(
        ap.weights_heatmap(torch.eye(2), ["dog", "cat"], ["dog", "cat"], title="two tokens"), "png"
    )
    book.figure("fig-two", fig, ja={"two tokens": "二つのトークン"})
    assert glued["fig-two"] is fig
    assert ap.figure_bytes(fig, "png") == english  # the English figure is untouched
    png = glued["fig-two@ja"]._repr_png_()
    assert png.startswith(b"\x89PNG") and png != english


def test_figure_with_english_left_fails_listing_the_words(glued):
    import torch

    import attnbook.plot as ap

    fig = ap.weights_heatmap(torch.eye(2), title="two tokens")
    with pytest.raises(book.BookError, match=r"not fully Japanese:\n  'two tokens': two, tokens"):
        book.figure("fig-two", fig)
    assert "fig-two@ja" not in glued


def test_table_translates_prose_labels_and_cells_but_not_identifiers(glued):
    import pandas as pd

    df = pd.DataFrame(
        {"token": ["dog", "cat"], "role": ["subject", "object"], "weight": [0.4, 0.6]},
        index=pd.Index(["seed's illustration", "computed"], name="source"),
    )
    ja = {"seed's illustration": "シードの図", "computed": "計算値", "subject": "主語",
          "object": "目的語", "source": "出典"}  # fmt: skip
    book.table("tbl", df, ja=ja)
    assert glued["tbl"] is df
    out = glued["tbl@ja"]
    assert list(out.index) == ["シードの図", "計算値"] and out.index.name == "出典"
    assert list(out["role"]) == ["主語", "目的語"] and list(out["token"]) == ["dog", "cat"]
    assert list(out.columns) == ["token", "role", "weight"]
    assert list(df.index) == ["seed's illustration", "computed"]  # the English is untouched
    with pytest.raises(book.BookError, match=r"match no label or cell: \['sead'\]"):
        book.table("tbl2", df, ja={"sead": "種"})


def test_the_japanese_edition_takes_the_ja_variants_the_english_does_not():
    data = {"w": 1, "winner": "en", "winner@ja": "ja", "fig": "EN", "fig@ja": "JA"}
    assert attnbook_sphinx.pick_language_variants(data, "en") is data
    ja = attnbook_sphinx.pick_language_variants(data, "ja")
    assert (ja["w"], ja["winner"], ja["fig"]) == (1, "ja", "JA")
    assert data["winner"] == "en"  # not changed in place


def test_figures_are_numbered_by_chapter_in_page_order():
    numbers = {
        "index": {"figure": {"a": (1,)}},
        "chapters/02-x": {"figure": {"w": (3,), "m": (2,)}, "table": {"t": (1,)}},
        "chapters/05-y": {"figure": {"p": (7,), "q": (9,), "r": (8,)}},
        "chapters/12-z": {"figure": {"s": (40,)}},
    }
    out = attnbook_sphinx.number_by_chapter(numbers)
    assert out["index"] == {"figure": {"a": (1,)}}
    assert out["chapters/02-x"] == {"figure": {"m": (2, 1), "w": (2, 2)}, "table": {"t": (2, 1)}}
    assert out["chapters/05-y"]["figure"] == {"p": (5, 1), "r": (5, 2), "q": (5, 3)}
    assert out["chapters/12-z"]["figure"] == {"s": (12, 1)}


# --- what the theme shows readers: download menu, hidden-cell toggles ----------


def _theme_buttons():
    # The shape sphinx-book-theme's add_header_buttons gives a page's header.
    return [
        {
            "type": "group",
            "label": "download-buttons",
            "buttons": [
                {"type": "link", "url": "../_sources/x.md", "label": "download-source-button"},
                {
                    "type": "javascript",
                    "javascript": "window.print()",
                    "label": "download-pdf-button",
                },
            ],
        },
        {"type": "javascript", "label": "fullscreen-button"},
    ]


@pytest.mark.parametrize("language", ["en", "ja"])
def test_download_menu_offers_the_reader_notebook_not_the_source(language):
    buttons = attnbook_sphinx.reader_download_buttons(
        _theme_buttons(), "_notebooks/x.ipynb", language
    )
    menu = buttons[0]["buttons"]
    assert [b["label"] for b in menu] == ["download-notebook-button", "download-pdf-button"]
    # it clicks the page's download link to the reader notebook (lang-switch.html)
    template = Path(attnbook_sphinx.__file__).parents[1] / "_templates" / "lang-switch.html"
    assert "a.attnbook-notebook-link" in menu[0]["javascript"]
    assert 'class="attnbook-notebook-link" href="{{ attnbook_notebook_url }}" download' in (
        template.read_text(encoding="utf-8")
    )
    assert "_sources" not in str(buttons)
    assert buttons[1] == _theme_buttons()[1]
    tooltip = menu[0]["tooltip"]
    assert ("ノートブック" in tooltip) == (language == "ja")


def test_download_menu_of_a_page_without_notebook_keeps_only_print():
    buttons = attnbook_sphinx.reader_download_buttons(_theme_buttons(), None, "en")
    assert [b["label"] for b in buttons[0]["buttons"]] == ["download-pdf-button"]


def test_hidden_cell_toggles_are_japanese_only_in_the_japanese_edition():
    show, hide = "Show code cell {type}", "Hide code cell {type}"  # myst-nb's defaults
    ja = attnbook_sphinx.translated_prompts(show, hide, "ja")
    assert ja["Show code cell source"] == "コードを表示"
    assert ja["Hide code cell source"] == "コードを隠す"
    assert ja["Show code cell outputs"] == "出力を表示"
    assert attnbook_sphinx.translated_prompts(show, hide, "en") == {}
