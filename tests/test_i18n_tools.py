"""The translators' tooling: the nox sessions pass their arguments on to docs/tools/i18n.py."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


class _Options:
    """Whatever the noxfile sets on ``nox.options`` is accepted and ignored."""


def _load_noxfile(monkeypatch):
    """The noxfile as a module, against a stand-in ``nox`` (nox is not in the test env)."""
    fake = types.ModuleType("nox")
    fake.options = _Options()
    fake.Session = object

    def session(func=None, **_):
        return func if func is not None else (lambda f: f)

    fake.session = session
    monkeypatch.setitem(sys.modules, "nox", fake)
    spec = importlib.util.spec_from_file_location("attnbook_noxfile", ROOT / "noxfile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "env", lambda session: None)
    return module


class _Session:
    def __init__(self, posargs):
        self.posargs = posargs
        self.calls: list[tuple[str, ...]] = []

    def run(self, *args, **_):
        self.calls.append(args)


@pytest.mark.parametrize(("name", "command"), [("i18n", "update"), ("i18n_check", "check")])
def test_i18n_sessions_pass_only_through(monkeypatch, name, command):
    noxfile = _load_noxfile(monkeypatch)
    session = _Session(["--only", "chapters/05-reading-bert"])
    getattr(noxfile, name)(session)
    (call,) = session.calls
    assert call[1].endswith("i18n.py")
    assert call[2:] == (command, "--only", "chapters/05-reading-bert")
    session = _Session([])
    getattr(noxfile, name)(session)
    assert session.calls[0][2:] == (command,)


# ----- catalogue refresh without execution -----------------------------------

TOOLS = ROOT / "docs" / "tools"

CONF = f"""
import sys
sys.path.insert(0, {str(TOOLS)!r})
extensions = ["myst_nb", "attnbook_sphinx"]
exclude_patterns = ["_build"]
gettext_compact = False
nb_execution_mode = "off"
"""

CAPTION = "The head that sends the most attention from *chased* to {glue:text}`word`."
LEGEND = "Darker cells are larger weights."


def _notebook(with_outputs: bool) -> dict:
    """A page with one glued figure; its output stored as if executed, or absent."""
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    code = nbformat.v4.new_code_cell("glue('fig-a', fig)\nglue('word', 'dog')")
    if with_outputs:
        code.outputs = [
            nbformat.v4.new_output(
                "display_data",
                data={"text/plain": "<Figure>"},
                metadata={"scrapbook": {"name": "fig-a", "mime_prefix": ""}},
            ),
            nbformat.v4.new_output(
                "display_data",
                data={"text/plain": "'dog'"},
                metadata={"scrapbook": {"name": "word", "mime_prefix": ""}},
            ),
        ]
    figure = f"```{{glue:figure}} fig-a\n:name: fig-a\n\n{CAPTION}\n\n{LEGEND}\n```"
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A page\n\nSome prose."),
        code,
        nbformat.v4.new_markdown_cell(figure),
    ]
    return nb


def _messages(tmp_path: Path, name: str, with_outputs: bool, builder: str = "gettext"):
    from sphinx.cmd.build import build_main

    nbformat = pytest.importorskip("nbformat")
    src = tmp_path / name
    src.mkdir()
    (src / "conf.py").write_text(CONF)
    nbformat.write(nbformat.from_dict(_notebook(with_outputs)), str(src / "index.ipynb"))
    out = src / "_build"
    status = build_main(
        ["-q", "-b", builder, "-D", "suppress_warnings=mystnb.glue", str(src), str(out)]
    )
    assert status == 0
    if builder != "gettext":
        return out
    from babel.messages.pofile import read_po

    with (out / "index.pot").open("rb") as f:
        return {m.id for m in read_po(f) if m.id}


def test_catalogue_without_execution_keeps_glued_figure_captions(tmp_path):
    executed = _messages(tmp_path, "executed", with_outputs=True)
    not_executed = _messages(tmp_path, "not-executed", with_outputs=False)
    assert CAPTION in executed and LEGEND in executed  # the reference: what execution gives
    assert not_executed == executed


def test_html_without_the_figure_output_has_no_caption_only_figure(tmp_path):
    out = _messages(tmp_path, "html", with_outputs=False, builder="html")
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "Some prose." in page
    assert "most attention from" not in page  # only the gettext builder keeps the caption alone
