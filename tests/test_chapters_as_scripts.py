"""Each chapter, run top to bottom as a plain Python script in a fresh interpreter.

This is what a reader does who copies a chapter's code into their own
project: no Jupyter, no myst-nb execution, no state from earlier chapters.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext", reason="jupytext comes with the docs extra")

CHAPTERS = sorted((Path(__file__).resolve().parents[1] / "docs" / "chapters").glob("*.md"))


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
    script = tmp_path / f"{chapter.stem}.py"
    script.write_text(jupytext.writes(notebook, fmt="py:percent"), encoding="utf-8")
    env = {**os.environ, "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1", "PYTHONHASHSEED": "0"}
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{chapter.name} failed as a script:\n{result.stderr[-4000:]}"
