"""Audit the built doctrees: every Python block in the book must be tested.

A Python code block passes if it is
  * the source of a myst-nb code cell (executed at build time), or
  * a ``doctest`` / ``testcode`` / ``testoutput`` block of sphinx.ext.doctest, or
  * a ``>>>`` example from an API docstring (autodoc), which pytest runs
    with ``--doctest-modules`` in its module's namespace.
A bare ``>>>`` block written in a page is *not* run by anything, so it fails:
use a ``{doctest}`` directive or a code cell instead.
A code cell tagged to skip execution (``skip-execution``) passes only if its
page and cell index are listed in ``audit-allowlist.txt`` with a reason.

A code cell the page shows (not tagged ``hide-input``, ``hide-cell`` or
``remove-*``) is code a reader copies, so it must hold no book plumbing:
no ``import book`` / ``myst_nb``, no ``glue(...)`` or ``book.*(...)``, no
``assert``. Those go in a ``hide-input`` cell (``tests/test_reader.py``
checks the same from the built pages by running the visible cells).

    python docs/tools/audit_code_blocks.py docs/_build/doctrees/en
"""

from __future__ import annotations

import ast
import pickle
import re
import sys
from pathlib import Path

from docutils import nodes

PYTHON_LANGUAGES = {"python", "python3", "py", "ipython", "ipython3", "pycon", "py3"}
SKIP_TAGS = {"skip-execution"}
ALLOWLIST = Path(__file__).with_name("audit-allowlist.txt")
# Tags that keep a cell's code off the page; any other code cell is visible.
HIDDEN_TAGS = {"hide-input", "hide-cell", "remove-input", "remove-cell"}
PLUMBING_MODULES = {"book", "myst_nb"}


def plumbing(source: str) -> list[str]:
    """Book machinery in a visible cell's source, as ``line N: what`` strings."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # not plain Python (magics): the reader test reports it
    found = []
    for node in ast.walk(tree):
        what = None
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.split(".")[0] in PLUMBING_MODULES]
            what = f"import {', '.join(names)}" if names else None
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").split(".")[0] in PLUMBING_MODULES:
                what = f"from {node.module} import ..."
        elif isinstance(node, ast.Assert):
            what = "assert (a claim check: use book.claim in a hide-input cell)"
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "glue":
                what = "glue(...)"
            elif (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id in PLUMBING_MODULES
            ):
                what = f"{func.value.id}.{func.attr}(...)"
        if what:
            found.append((node.lineno, what))
    return [f"line {line}: {what}" for line, what in sorted(set(found))]


def _cell_container(node: nodes.Node) -> nodes.Element | None:
    parent = node.parent
    while parent is not None and not isinstance(parent, nodes.document):
        if isinstance(parent, nodes.Element) and parent.get("nb_element") == "cell_code":
            return parent
        parent = parent.parent
    return None


def _is_code_cell_source(node: nodes.Node) -> bool:
    parent = node.parent
    return isinstance(parent, nodes.Element) and parent.get("nb_element") == "cell_code_source"


def audit_doctree(doctree: nodes.document, page: str, allowed: set[str]) -> list[str]:
    """Problems found in one page's doctree (empty list = every block tested)."""
    problems = []
    for block in doctree.findall(nodes.doctest_block):
        if "docstring of " not in (block.source or ""):
            first = block.astext().strip().splitlines()[:1]
            problems.append(
                f"{page}:{block.line or '?'}: bare doctest block {first!r} is not run: "
                "use a {doctest} directive or a code cell"
            )
    for block in doctree.findall(nodes.literal_block):
        if block.get("testnodetype") in {"doctest", "testcode", "testoutput", "testsetup"}:
            continue
        cell = _cell_container(block)
        if cell is not None and _is_code_cell_source(block):
            tags = set(cell.get("cell_metadata", {}).get("tags", []))
            key = f"{page}#{cell.get('cell_index')}"
            if tags & SKIP_TAGS and key not in allowed:
                problems.append(
                    f"{page}: code cell {cell.get('cell_index')} is tagged {sorted(tags & SKIP_TAGS)} "
                    f"but not allowed in {ALLOWLIST.name} (add '{key}  # reason')"
                )
            if not tags & HIDDEN_TAGS:
                for what in plumbing(block.astext()):
                    problems.append(
                        f"{page}: visible code cell {cell.get('cell_index')} has book plumbing, "
                        f"{what}: readers copy this cell; move it to a hide-input cell"
                    )
            continue
        if cell is not None:
            continue  # an output of an executed cell
        language = (block.get("language") or "").lower()
        if language in PYTHON_LANGUAGES:
            first = block.astext().strip().splitlines()[:1]
            problems.append(
                f"{page}:{block.line or '?'}: untested Python block ({language}) starting "
                f"{first[0]!r}: make it a code-cell, or a doctest/testcode block"
                if first
                else f"{page}: empty untested Python block"
            )
    return problems


def read_allowlist(path: Path = ALLOWLIST) -> set[str]:
    if not path.exists():
        return set()
    keys = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        # A key is "page#cell_index"; a comment starts at a "#" after whitespace.
        key = re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip()
        if key:
            keys.add(key)
    return keys


def audit(doctree_dir: Path) -> tuple[int, list[str]]:
    """Audit every ``*.doctree`` under ``doctree_dir``; return (pages, problems)."""
    allowed = read_allowlist()
    problems: list[str] = []
    pages = 0
    for path in sorted(doctree_dir.rglob("*.doctree")):
        page = path.relative_to(doctree_dir).with_suffix("").as_posix()
        with path.open("rb") as f:
            doctree = pickle.load(f)
        pages += 1
        problems += audit_doctree(doctree, page, allowed)
    return pages, problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    pages, problems = audit(Path(argv[0]))
    if pages == 0:
        print(f"audit: no doctrees under {argv[0]}; build the book first")
        return 2
    for p in problems:
        print(p)
    print(f"audit: {pages} pages, {len(problems)} problem(s) (untested blocks, visible plumbing)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
