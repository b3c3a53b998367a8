"""The notebook a chapter page offers for download: the reader's code, no plumbing.

myst-nb's executed notebook (``jupyter_execute/<page>.ipynb``) holds every
cell, including the hidden ones that glue numbers and assert claims with
``book`` and myst-nb, which a reader's Jupyter does not have. The copy we
offer keeps the cells a reader sees on the page, with their outputs, starts
with a cell that says how to install attnbook, and runs top to bottom in
plain Jupyter with only attnbook installed (``nox -s reader`` checks it).
"""

from __future__ import annotations

import json
from pathlib import Path

#: Tags that keep a cell's code off the page: the cell is book plumbing.
PLUMBING_TAGS = frozenset({"hide-input", "hide-cell", "remove-input", "remove-cell"})

INSTALL = {
    "en": """\
**Run this chapter yourself.** This notebook holds the code of the page, in
order; it needs Python 3.10 or newer and the `attnbook` package. attnbook is
not on PyPI yet: install it from a copy of its repository (or from a wheel
built from it), then run the cells from the top.

```bash
pip install "/path/to/attnbook[ja]"     # a clone of the repository; [ja] adds the Japanese tokenizer
pip install attnbook-0.1.0-py3-none-any.whl   # or a wheel: `pip wheel --no-deps .` in the clone
```

Everything runs offline on a CPU: the default model comes with the package.
The text cells are the page's source: numbers in `{glue}` roles are filled
in on the web page.""",
    "ja": """\
**この章を自分で動かすには。** このノートブックには、ページのコードが順番どおりに
入っています。Python 3.10 以上と `attnbook` パッケージが必要です。attnbook は
まだ PyPI にないので、リポジトリのコピー（またはそこから作ったホイール）から
インストールし、セルを上から順に実行してください。

```bash
pip install "/path/to/attnbook[ja]"     # リポジトリのクローン。[ja] で日本語の形態素解析も入ります
pip install attnbook-0.1.0-py3-none-any.whl   # またはホイール（クローンで `pip wheel --no-deps .`）
```

GPU もネット接続も要りません。既定のモデルはパッケージに入っています。
テキストのセルはページの原稿（英語）です。`{glue}` の数値はウェブページで
埋め込まれます。""",
}


def is_plumbing(cell: dict) -> bool:
    """Whether a cell is hidden from the page (folded or removed code)."""
    tags = set(cell.get("metadata", {}).get("tags", []))
    return cell.get("cell_type") == "code" and bool(tags & PLUMBING_TAGS)


def reader_notebook(executed: Path, target: Path, language: str = "en") -> Path:
    """Write the reader's copy of the ``executed`` notebook to ``target``.

    Drops the plumbing cells, renumbers nothing else, and puts a markdown
    cell first that says (in ``language``, English when unknown) how to
    install attnbook. Returns ``target``.
    """
    nb = json.loads(executed.read_text(encoding="utf-8"))
    install = {
        "cell_type": "markdown",
        "id": "install-attnbook",
        "metadata": {},
        "source": INSTALL.get(language, INSTALL["en"]).splitlines(keepends=True),
    }
    cells = [c for c in nb["cells"] if not is_plumbing(c)]
    nb["cells"] = [install, *cells]
    nb.setdefault("metadata", {})["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    nb["metadata"].pop("mystnb", None)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(nb, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return target
