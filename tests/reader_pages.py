"""What a reader can copy from a built chapter page, and running it as they would.

Used by ``tests/test_reader.py`` (``nox -s reader``). The page is the
authority, not the Markdown source: a cell is visible when the rendered HTML
shows its code. myst-nb marks every code cell with ``div.cell`` and turns its
tags into classes (``tag_hide-input``); cells whose code is folded away or
removed are the book's plumbing and are not what a reader copies.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

from bs4 import BeautifulSoup

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

#: Tags that keep a cell's code off the page (folded or removed).
PLUMBING_TAGS = frozenset({"hide-input", "hide-cell", "remove-input", "remove-cell"})


@dataclass(frozen=True)
class Cell:
    """One code cell as the page shows it; ``number`` counts visible cells from 1."""

    number: int
    source: str
    try_it: bool

    def headline(self) -> str:
        first = next((line for line in self.source.splitlines() if line.strip()), "")
        return first[:70]


def _tags(div) -> set[str]:
    return {c[len("tag_") :] for c in div.get("class", []) if c.startswith("tag_")}


def visible_cells(html: str) -> list[Cell]:
    """The code cells whose code the page shows, in page order.

    A cell belongs to the chapter's "Try it" when it sits in a section whose
    id starts with ``try-it`` (the heading "Try it on your own …").
    """
    soup = BeautifulSoup(html, "html.parser")
    cells = []
    for div in soup.select("div.cell"):
        if _tags(div) & PLUMBING_TAGS:
            continue
        pre = div.select_one("div.cell_input pre")
        if pre is None:  # no input on the page (e.g. a tag we do not know removed it)
            continue
        section = div.find_parent("section", id=lambda i: bool(i) and i.startswith("try-it"))
        cells.append(Cell(len(cells) + 1, pre.get_text(), section is not None))
    return cells


def notebook_href(html: str) -> str | None:
    """The page's "Download .ipynb" link (relative to the page), if it has one."""
    link = BeautifulSoup(html, "html.parser").select_one("a.attnbook-notebook-link")
    return link["href"] if link else None


# Runs in the reader's interpreter: no pytest, no book tooling. Each phase
# (the visible cells in order; then the Try it alone) gets a fresh namespace,
# as if typed into a new session; a failing cell ends its phase. Writes, per
# phase, which cell failed (number and traceback) to the result file.
_DRIVER = textwrap.dedent(
    """
    import json, linecache, sys, traceback
    phases = json.load(open(sys.argv[1], encoding="utf-8"))
    result = {}
    for phase, cells in phases.items():
        namespace = {"__name__": "__main__", "__builtins__": __builtins__}
        result[phase] = None
        for cell in cells:
            name = "<cell %d>" % cell["number"]
            linecache.cache[name] = (len(cell["source"]), None,
                                     cell["source"].splitlines(True), name)
            try:
                exec(compile(cell["source"], name, "exec"), namespace)
            except BaseException as error:
                # Leave out this driver's own frame: the reader's cell is what failed.
                lines = traceback.format_exception(type(error), error, error.__traceback__.tb_next)
                result[phase] = {"number": cell["number"], "error": "".join(lines)}
                break
    json.dump(result, open(sys.argv[2], "w", encoding="utf-8"))
    """
)


def reader_environment(python: str) -> dict[str, str]:
    """The environment of a reader's shell: their venv first, nothing of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    venv = Path(python).parent.parent
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    return env


def _describe(cells: list[Cell], failed: dict | None) -> str | None:
    if failed is None:
        return None
    cell = next(c for c in cells if c.number == failed["number"])
    return (
        f"visible cell {cell.number} (starting {cell.headline()!r}) failed:\n"
        f"{failed['error'][-3000:]}"
    )


def start_cells(python: str, phases: dict[str, list[Cell]], workdir: Path) -> subprocess.Popen:
    """Start running each phase's cells in a fresh ``python -I``; see :func:`cells_result`.

    ``-I`` keeps the current directory, the user's site-packages and
    ``PYTHONPATH`` off ``sys.path``: only what is installed in ``python``'s
    environment can be imported.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    cells_file = workdir / "cells.json"
    payload = {phase: [c.__dict__ for c in cells] for phase, cells in phases.items()}
    cells_file.write_text(json.dumps(payload), encoding="utf-8")
    return subprocess.Popen(
        [python, "-I", "-c", _DRIVER, str(cells_file), str(workdir / "result.json")],
        cwd=workdir,
        env=reader_environment(python),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def cells_result(
    proc: subprocess.Popen, phases: dict[str, list[Cell]], workdir: Path, timeout: float = 1200
) -> dict[str, str | None]:
    """Wait for :func:`start_cells`; per phase None, or which cell failed and why."""
    _, stderr = proc.communicate(timeout=timeout)
    result_file = workdir / "result.json"
    if not result_file.exists():
        died = f"the interpreter died (exit {proc.returncode}):\n{stderr[-3000:]}"
        return dict.fromkeys(phases, died)
    result = json.loads(result_file.read_text(encoding="utf-8"))
    return {phase: _describe(cells, result[phase]) for phase, cells in phases.items()}


def run_cells(python: str, cells: list[Cell], workdir: Path) -> str | None:
    """Run ``cells`` in order in a fresh interpreter; None, or what failed and why."""
    phases = {"cells": cells}
    return cells_result(start_cells(python, phases, workdir), phases, workdir)["cells"]


# Runs in the reader's Jupyter environment: executes the notebook cell by cell
# with nbclient on a kernel of that same environment.
_NOTEBOOK_DRIVER = textwrap.dedent(
    """
    import json, sys
    import nbclient, nbformat
    from nbclient.exceptions import CellExecutionError
    nb = nbformat.read(sys.argv[1], as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=1200, kernel_name="attnbook-reader", resources={"metadata": {"path": "."}}
    )
    result = {"ran": 0, "failed": None}
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            result["ran"] += 1
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as error:
                result["failed"] = {"index": index, "code_number": result["ran"],
                                    "error": str(error)}
                break
    json.dump(result, open(sys.argv[2], "w", encoding="utf-8"))
    """
)


def start_notebook(python: str, notebook: Path, workdir: Path) -> subprocess.Popen:
    """Start executing ``notebook`` with ``python``'s Jupyter; see :func:`notebook_result`.

    The kernel is declared in a kernelspec of our own (absolute path to
    ``python``), so no kernel installed elsewhere on the machine is used.
    """
    kernels = workdir / "jupyter" / "kernels" / "attnbook-reader"
    kernels.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "attnbook reader",
        "language": "python",
    }
    (kernels / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    env = reader_environment(python)
    env["JUPYTER_PATH"] = str(workdir / "jupyter")
    env["JUPYTER_RUNTIME_DIR"] = str(workdir / "runtime")
    return subprocess.Popen(
        [python, "-I", "-c", _NOTEBOOK_DRIVER, str(notebook), str(workdir / "result.json")],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def notebook_result(proc: subprocess.Popen, workdir: Path, timeout: float = 1500) -> str | None:
    """Wait for :func:`start_notebook`; None, or which cell failed and why."""
    _, stderr = proc.communicate(timeout=timeout)
    result_file = workdir / "result.json"
    if not result_file.exists():
        return f"Jupyter died (exit {proc.returncode}):\n{stderr[-3000:]}"
    failed = json.loads(result_file.read_text(encoding="utf-8"))["failed"]
    if failed is None:
        return None
    error = ANSI.sub("", failed["error"])  # IPython colours its tracebacks
    return (
        f"code cell {failed['code_number']} (notebook cell {failed['index'] + 1}) failed:\n"
        f"{error[-3000:]}"
    )


def run_notebook(python: str, notebook: Path, workdir: Path) -> str | None:
    """Execute ``notebook`` top to bottom with ``python``'s Jupyter; None, or the failure."""
    return notebook_result(start_notebook(python, notebook, workdir), workdir)
