"""The built English pages as a reader uses them, with only attnbook installed.

``nox -s reader`` (after ``nox -s docs``) runs the tests marked ``reader``:

* every chapter's visible code cells, copied from the page in order, run in a
  fresh plain interpreter (``$ATTNBOOK_READER_PYTHON``: a virtual environment
  with ``pip install .[ja]`` and nothing else);
* the chapter's "Try it" cell runs there on its own;
* the notebook the page offers for download starts by saying how to install
  attnbook, holds exactly the page's visible code, and runs top to bottom in
  plain Jupyter (``$ATTNBOOK_READER_JUPYTER``: nbclient and ipykernel on top
  of the same packages).

The unmarked tests check the harness itself on a small page of myst-nb's
markup, so that it cannot pass by finding or running nothing.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("bs4", reason="BeautifulSoup comes with the docs extra")

from reader_pages import (  # noqa: E402
    PLUMBING_TAGS,
    cells_result,
    notebook_href,
    notebook_result,
    run_cells,
    run_notebook,
    start_cells,
    start_notebook,
    visible_cells,
)

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("ATTNBOOK_SITE", ROOT / "docs" / "_build" / "html")).resolve()
PLAIN = os.environ.get("ATTNBOOK_READER_PYTHON")
JUPYTER = os.environ.get("ATTNBOOK_READER_JUPYTER")
PAGES = sorted((SITE / "en" / "chapters").glob("*.html"))

# A page in the markup myst-nb 1.x writes (see a built chapter): a hidden cell
# defines the name a visible cell uses, which a reader copying the page lacks.
PAGE = """
<section id="a-chapter"><h1>A chapter</h1>
<div class="cell tag_hide-input docutils container">
<details class="hide above-input"><summary>Show code cell source</summary>
<div class="cell_input docutils container">
<div class="highlight-ipython3 notranslate"><div class="highlight"><pre><span></span>secret <span class="o">=</span> 41
</pre></div></div></div></details></div>
<div class="cell docutils container">
<div class="cell_input docutils container">
<div class="highlight-ipython3 notranslate"><div class="highlight"><pre><span></span>x = 1 &lt; 2
</pre></div></div></div>
<div class="cell_output docutils container"><div class="output text_plain highlight-myst-ansi notranslate"><div class="highlight"><pre>True</pre></div></div></div></div>
<div class="cell tag_remove-cell docutils container"></div>
<div class="highlight-python notranslate"><div class="highlight"><pre>not_a_cell()</pre></div></div>
<div class="cell docutils container">
<div class="cell_input docutils container">
<div class="highlight-ipython3 notranslate"><div class="highlight"><pre><span></span>y = secret + 1
</pre></div></div></div></div>
<section id="try-it-on-your-own-numbers"><h2>Try it on your own numbers</h2>
<div class="cell docutils container">
<div class="cell_input docutils container">
<div class="highlight-ipython3 notranslate"><div class="highlight"><pre><span></span>import math
print(math.sqrt(4))
</pre></div></div></div></div>
</section></section>
"""


def test_visible_cells_are_what_the_page_shows():
    cells = visible_cells(PAGE)
    assert [c.source.strip() for c in cells] == [
        "x = 1 < 2",
        "y = secret + 1",
        "import math\nprint(math.sqrt(4))",
    ]
    assert [c.number for c in cells] == [1, 2, 3]
    assert [c.try_it for c in cells] == [False, False, True]


def test_a_name_only_a_hidden_cell_defines_fails_naming_the_cell(tmp_path):
    failure = run_cells(sys.executable, visible_cells(PAGE), tmp_path)
    assert failure is not None
    assert "visible cell 2" in failure and "y = secret + 1" in failure
    assert "NameError" in failure and "'secret'" in failure


def test_cells_share_one_namespace_in_order(tmp_path):
    ok = visible_cells(PAGE.replace("secret + 1", "x + 1"))
    assert run_cells(sys.executable, ok, tmp_path) is None
    swapped = [ok[1], ok[0]]
    assert "visible cell 2" in run_cells(sys.executable, swapped, tmp_path / "swapped")


def test_the_try_it_runs_in_a_fresh_namespace(tmp_path):
    cells = visible_cells(PAGE.replace("secret + 1", "x + 1"))
    try_it = [c for c in cells if c.try_it]
    phases = {"visible": cells, "try_it": try_it}
    ok = cells_result(start_cells(sys.executable, phases, tmp_path), phases, tmp_path)
    assert ok == {"visible": None, "try_it": None}
    leaning = [type(try_it[0])(try_it[0].number, "print(x)", True)]
    phases = {"visible": cells, "try_it": leaning}
    result = cells_result(
        start_cells(sys.executable, phases, tmp_path / "b"), phases, tmp_path / "b"
    )
    assert result["visible"] is None and "NameError" in result["try_it"]


def test_a_notebook_cell_that_fails_is_named(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("pip install attnbook"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("y = secret"),
    ]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    failure = run_notebook(sys.executable, path, tmp_path / "run")
    assert failure and "code cell 2 (notebook cell 3)" in failure and "NameError" in failure


def test_plumbing_tags_cover_what_the_theme_hides():
    assert {"hide-input", "remove-input", "remove-cell"} <= PLUMBING_TAGS


# --- the built site ---------------------------------------------------------

reader = pytest.mark.reader


def _python(variable: str, value: str | None) -> str:
    if not value:
        pytest.fail(f"${variable} is not set: run these tests with `nox -s reader`")
    return value


@reader
def test_the_site_has_chapter_pages():
    assert len(PAGES) >= 10, f"no chapter pages under {SITE / 'en' / 'chapters'}"


@reader
def test_the_reader_python_has_only_attnbook():
    python = _python("ATTNBOOK_READER_PYTHON", PLAIN)
    probe = (
        "import importlib.util, json;"
        "names = ['attnbook', 'myst_nb', 'IPython', 'ipykernel', 'jupytext', 'book',"
        " 'attnbook_sphinx', 'sphinx', 'pytest'];"
        "print(json.dumps({n: importlib.util.find_spec(n) is not None for n in names}))"
    )
    found = json.loads(subprocess.check_output([python, "-I", "-c", probe], text=True))
    assert found.pop("attnbook"), "attnbook is not installed in the reader's environment"
    assert not any(found.values()), f"the reader's environment has book tooling: {found}"


@functools.cache
def chapter_run(page: Path) -> dict[str, str | None]:
    """Run one chapter the three ways a reader would; per way None or the failure.

    The plain-Python run (visible cells in order, then the Try it alone in a
    fresh namespace) and the Jupyter run of the downloadable notebook go on
    at the same time, in two processes: CI has two cores.
    """
    html = page.read_text(encoding="utf-8")
    cells = visible_cells(html)
    work = Path(tempfile.mkdtemp(prefix=f"reader-{page.stem}-"))
    phases = {"visible": cells, "try_it": [c for c in cells if c.try_it][-1:]}
    notebook = None
    href = notebook_href(html)
    if href and (page.parent / href).is_file():
        notebook = start_notebook(
            _python("ATTNBOOK_READER_JUPYTER", JUPYTER), (page.parent / href).resolve(), work / "nb"
        )
    plain = start_cells(_python("ATTNBOOK_READER_PYTHON", PLAIN), phases, work / "py")
    result = cells_result(plain, phases, work / "py")
    result["notebook"] = notebook_result(notebook, work / "nb") if notebook else None
    shutil.rmtree(work, ignore_errors=True)
    return result


@reader
@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_visible_cells_run_in_order(page: Path):
    assert visible_cells(page.read_text(encoding="utf-8")), f"{page.name}: no visible code cells"
    failure = chapter_run(page)["visible"]
    if failure:
        pytest.fail(f"{page.stem}: {failure}", pytrace=False)


@reader
@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_try_it_runs_alone(page: Path):
    try_it = [c for c in visible_cells(page.read_text(encoding="utf-8")) if c.try_it]
    assert try_it, f"{page.stem}: no visible code cell under a 'Try it …' heading"
    failure = chapter_run(page)["try_it"]
    if failure:
        pytest.fail(f"{page.stem}: the Try it cell alone: {failure}", pytrace=False)


@reader
@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_notebook_download_runs_in_plain_jupyter(page: Path):
    html = page.read_text(encoding="utf-8")
    href = notebook_href(html)
    assert href, f"{page.stem}: no 'Download .ipynb' link"
    notebook = (page.parent / href).resolve()
    assert notebook.is_file(), f"{page.stem}: the link {href} points at nothing"
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown" and "pip install" in "".join(first["source"]), (
        f"{page.stem}: the notebook's first cell does not say how to install attnbook"
    )
    code = ["".join(c["source"]).strip() for c in nb["cells"] if c["cell_type"] == "code"]
    shown = [c.source.strip() for c in visible_cells(html)]
    assert code == shown, f"{page.stem}: the notebook's code is not the page's visible code"
    failure = chapter_run(page)["notebook"]
    if failure:
        pytest.fail(f"{page.stem} ({href}): {failure}", pytrace=False)
