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
