"""The code-block audit flags book plumbing in cells a reader sees (docs/tools/audit_code_blocks.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("docutils")
from docutils import nodes  # noqa: E402
from docutils.frontend import get_default_settings  # noqa: E402
from docutils.parsers.rst import Parser  # noqa: E402
from docutils.utils import new_document  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "tools"))

import audit_code_blocks  # noqa: E402


def _page(source: str, tags=()) -> nodes.document:
    # A page with one code cell in the doctree shape myst-nb gives it.
    doc = new_document("<test>", get_default_settings(Parser))
    cell = nodes.container(nb_element="cell_code", cell_index=4, cell_metadata={"tags": list(tags)})
    src = nodes.container(nb_element="cell_code_source")
    src += nodes.literal_block(source, source, language="ipython3")
    cell += src
    doc += cell
    return doc


PLUMBING = [
    ("from myst_nb import glue\nglue('x', 1)", ["line 1: from myst_nb", "line 2: glue(...)"]),
    ("import book\nbook.claim(x > 0, 'positive')", ["line 1: import book", "line 2: book.claim"]),
    ("y = 2\nassert y == 2", ["line 2: assert"]),
    ("import myst_nb\nmyst_nb.glue('x', 1, display=False)", ["line 1: import myst_nb", "line 2"]),
]


@pytest.mark.parametrize(("source", "expected"), PLUMBING)
def test_visible_plumbing_is_flagged_with_its_line(source, expected):
    problems = audit_code_blocks.audit_doctree(_page(source), "chapters/x", set())
    assert len(problems) == len(expected)
    for problem, what in zip(problems, expected, strict=True):
        assert problem.startswith("chapters/x: visible code cell 4 has book plumbing, ")
        assert what in problem and "hide-input" in problem


@pytest.mark.parametrize("tags", [["hide-input"], ["remove-cell"], ["remove-input"], ["hide-cell"]])
def test_hidden_cells_may_hold_plumbing(tags):
    source = "import book\nbook.glue('x', 1)\nassert True"
    assert audit_code_blocks.audit_doctree(_page(source, tags), "chapters/x", set()) == []


@pytest.mark.parametrize(
    "source",
    [
        "import attnbook\nmaps = attnbook.attend('The dog chased the cat')",
        "notebook = 'book'\nprint(notebook.upper())",  # the word, not the module
        "maps.glue_words()  # a method called glue-something is not myst-nb's glue",
    ],
)
def test_reader_code_passes(source):
    assert audit_code_blocks.audit_doctree(_page(source, ["remove-stderr"]), "p", set()) == []
