"""Each chapter, run top to bottom as a plain Python script in a fresh interpreter.

All cells run, the hidden ones too, with ``docs/tools`` importable (``import
book``): no Jupyter, no myst-nb execution, no state from earlier chapters.
A script that merely exits 0 proves little — a chapter helper that silently
selects nothing still exits 0 — so the run is watched:

* every ``book.claim`` raises when its condition is false (here too, not only
  in the Sphinx build), and every ``book.claim`` line of the chapter ran at
  least once: a claim inside a loop over an empty selection is a failure;
* every name the prose pastes (``{glue:text}`name```, ``{glue:figure}``) was
  glued by the run;
* no glued value is empty or undefined: NaN, None, an empty string, an empty
  table or list, or a sentence with "nan" in it — what an empty selection
  yields once it is averaged, counted or formatted.

The code a *reader* copies (visible cells only, only attnbook installed) is
tested from the built pages by ``tests/test_reader.py``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext", reason="jupytext comes with the docs extra")
pytest.importorskip("myst_nb", reason="myst-nb comes with the docs extra")

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "docs" / "tools"
CHAPTERS = sorted((ROOT / "docs" / "chapters").glob("*.md"))

# The roles and directives that paste a glued value into the prose.
GLUE_ROLE = re.compile(r"\{glue(?::[a-z]*)?\}`([^`]+)`")
GLUE_DIRECTIVE = re.compile(r"^(?:```+|:::+)\{glue(?::[a-z]*)?\}\s+(\S+)", re.MULTILINE)

# Runs the chapter script with book's (and myst-nb's) glue and claims
# watched; writes what it saw to the report file given as argv[2].
DRIVER = textwrap.dedent(
    """
    import json, math, re, runpy, sys
    script, report_file = sys.argv[1], sys.argv[2]
    report = {"glued": {}, "claims": [], "book": False}

    def describe(value):
        # What is wrong with a glued value, or None.
        if value is None:
            return "None"
        if isinstance(value, float) and math.isnan(value):
            return "NaN"
        if isinstance(value, str):
            if not value.strip():
                return "an empty string"
            if re.search(r"(?<![A-Za-z])nan(?![A-Za-z])", value, re.IGNORECASE):
                return "text with 'nan' in it: %r" % value[:80]
            return None
        try:
            import numpy
            if isinstance(value, numpy.generic) and value.dtype.kind == "f" and numpy.isnan(value):
                return "NaN"
        except ImportError:
            pass
        empty = getattr(value, "empty", None)
        if isinstance(empty, bool) and empty:
            return "an empty %s" % type(value).__name__
        if isinstance(value, (list, tuple, dict, set)) and not value:
            return "an empty %s" % type(value).__name__
        return None

    def record(name, value, where):
        problem = describe(value)
        report["glued"][name] = {"problem": problem, "where": where}

    def caller_line():
        frame = sys._getframe(2)
        while frame is not None and frame.f_code.co_filename != script:
            frame = frame.f_back
        return frame.f_lineno if frame is not None else None

    try:
        import myst_nb
        original_glue = myst_nb.glue
        def glue(name, variable, *args, **kwargs):
            record(name, variable, caller_line())
            return original_glue(name, variable, *args, **kwargs)
        myst_nb.glue = glue
    except ImportError:
        pass

    try:
        import book
    except ImportError:
        book = None
    if book is not None:
        report["book"] = True
        def claim(condition, message, *args, **kwargs):
            report["claims"].append({"line": caller_line(), "message": str(message),
                                     "holds": bool(condition)})
            if not bool(condition):
                raise AssertionError("book.claim failed: %s" % message)
            return original_claim(condition, message, *args, **kwargs)
        original_claim = book.claim
        book.claim = claim
        if hasattr(book, "text"):
            original_text = book.text
            def text(name, *args, **kwargs):
                for language, value in [("en", kwargs.get("en")), ("ja", kwargs.get("ja"))]:
                    if value is not None:
                        record("%s (%s)" % (name, language), value, caller_line())
                return original_text(name, *args, **kwargs)
            book.text = text
        if hasattr(book, "glue"):
            original_book_glue = book.glue
            def book_glue(name, value, *args, **kwargs):
                record(name, value, caller_line())
                return original_book_glue(name, value, *args, **kwargs)
            book.glue = book_glue
        for kind in ("figure", "table"):
            if hasattr(book, kind):
                def wrap(original):
                    def registered(name, value, *args, **kwargs):
                        record(name, value, caller_line())
                        return original(name, value, *args, **kwargs)
                    return registered
                setattr(book, kind, wrap(getattr(book, kind)))
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        json.dump(report, open(report_file, "w", encoding="utf-8"))
    """
)


def pasted_names(chapter: Path) -> set[str]:
    """Glue names the chapter's prose pastes (pages' own names, not ``page::key``)."""
    text = chapter.read_text(encoding="utf-8")
    names = {m.split(":")[0] for m in GLUE_ROLE.findall(text)}
    names |= set(GLUE_DIRECTIVE.findall(text))
    return {n.strip() for n in names if "::" not in n and n.strip()}


def claim_lines(script: str) -> set[int]:
    """Lines of the script that call ``book.claim`` (outside comments)."""
    return {
        number
        for number, line in enumerate(script.splitlines(), 1)
        if re.search(r"\bbook\.claim\(", line.split("#", 1)[0])
    }


def run_chapter(chapter: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict, str]:
    notebook = jupytext.read(chapter)
    tmp_path.mkdir(parents=True, exist_ok=True)
    script = tmp_path / f"{chapter.stem}.py"
    script.write_text(jupytext.writes(notebook, fmt="py:percent"), encoding="utf-8")
    report_file = tmp_path / "report.json"
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "HF_HUB_OFFLINE": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONPATH": os.pathsep.join([str(TOOLS), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, str(script), str(report_file)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    return result, report, script.read_text(encoding="utf-8")


def test_there_are_chapters():
    assert CHAPTERS, "docs/chapters/*.md not found"


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_runs_as_plain_script(chapter: Path, tmp_path: Path):
    notebook = jupytext.read(chapter)
    magics = [
        c.source for c in notebook.cells if c.cell_type == "code" and c.source.lstrip()[:1] in "%!"
    ]
    assert not magics, f"{chapter.name} uses IPython magics, which plain Python cannot run"
    result, report, script = run_chapter(chapter, tmp_path)
    assert result.returncode == 0, f"{chapter.name} failed as a script:\n{result.stderr[-4000:]}"

    failed = [c for c in report["claims"] if not c["holds"]]
    assert not failed, f"{chapter.name}: claims that do not hold: {failed}"
    ran = {c["line"] for c in report["claims"]}
    never = sorted(claim_lines(script) - ran)
    assert not never, (
        f"{chapter.name}: book.claim on script lines {never} never ran "
        f"(inside a loop or branch that found nothing?):\n"
        + "\n".join(script.splitlines()[n - 1].strip() for n in never)
    )

    glued = report["glued"]
    missing = sorted(
        n for n in pasted_names(chapter) if n not in glued and f"{n} (en)" not in glued
    )
    assert not missing, f"{chapter.name}: the prose pastes names the run never glued: {missing}"
    empty = {n: g for n, g in glued.items() if g["problem"]}
    assert not empty, (
        f"{chapter.name}: glued values that are empty or undefined (a selection that "
        f"found nothing?): "
        + "; ".join(f"{n} = {g['problem']} (script line {g['where']})" for n, g in empty.items())
    )


# --- the watch itself, on a small chapter with the bugs it must catch ---------

CHAPTER = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A chapter

The best head is {{glue:text}}`best` and it wins by {{glue:text}}`margin:.2f`.

```{{code-cell}} ipython3
import pandas as pd

scores = pd.DataFrame({{"head": [0, 1, 2], "score": [0.2, 0.9, 0.4]}})
```

```{{code-cell}} ipython3
:tags: [hide-input]
import book
from myst_nb import glue

{selection}
glue("best", int(chosen["head"].max()) if len(chosen) else -1, display=False)
glue("margin", float(chosen["score"].mean()), display=False)
for row in chosen.itertuples():
    book.claim(row.score > 0.5, "the chosen heads score above one half")
```
"""


def _fake_book(tmp_path: Path) -> Path:
    # A stand-in for docs/tools/book.py with the same two calls, so that this
    # test of the watch does not depend on the real helper's rendering.
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "book.py").write_text(
        "def claim(condition, message):\n"
        "    if not condition:\n"
        "        raise AssertionError(message)\n"
    )
    return tools


@pytest.fixture
def small_chapter(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "TOOLS", _fake_book(tmp_path))

    def write(selection: str) -> Path:
        page = tmp_path / "01-small.md"
        page.write_text(CHAPTER.format(selection=selection), encoding="utf-8")
        return page

    return write


def test_the_watch_passes_a_correct_chapter(small_chapter, tmp_path):
    page = small_chapter('chosen = scores[scores["score"] > 0.5]')
    result, report, script = run_chapter(page, tmp_path / "run")
    assert result.returncode == 0, result.stderr
    assert {c["line"] for c in report["claims"]} == claim_lines(script)
    assert not any(g["problem"] for g in report["glued"].values())
    assert pasted_names(page) == {"best", "margin"} <= set(report["glued"])


def test_the_watch_catches_a_selection_that_finds_nothing(small_chapter, tmp_path):
    # The ch. 9 bug: comparing with the DataFrame *method* selects nothing.
    page = small_chapter('chosen = scores[(scores.head == 1) & (scores["score"] > 0.5)]')
    result, report, script = run_chapter(page, tmp_path / "run")
    assert result.returncode == 0  # an exit code alone would pass it
    assert claim_lines(script) - {c["line"] for c in report["claims"]}, "claim not missed"
    assert report["glued"]["margin"]["problem"] == "NaN"


def test_the_watch_catches_a_claim_that_does_not_hold(small_chapter, tmp_path):
    page = small_chapter('chosen = scores[scores["score"] > 0.1]')
    result, report, _ = run_chapter(page, tmp_path / "run")
    assert result.returncode != 0
    assert "the chosen heads score above one half" in result.stderr
