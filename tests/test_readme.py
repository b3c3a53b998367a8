"""The README's Python snippets run as written (one namespace, top to bottom)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 2, "the README should show how to use attnbook"
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    maps = namespace["maps"]
    assert maps.tokens[:3] == ["[CLS]", "the", "dog"]
