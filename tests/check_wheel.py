"""Run by ``nox -s dist`` in a fresh environment where only the wheel is installed.

Checks that the package data came with the wheel (the view's and the
playground's JS and CSS, the onnxruntime-web licence), that the embedded
default model loads and computes without a network, and that matplotlib finds
the Japanese font of the ``ja`` figures. Exits non-zero, naming what is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

DATA = [
    "view/view.js",
    "view/view.css",
    "playground/playground.js",
    "playground/playground.css",
    "playground/tokenizer.js",
    "playground/LICENSE-onnxruntime-web.txt",
]


def main() -> int:
    import attnbook

    package = Path(attnbook.__file__).resolve().parent
    problems = []
    if "site-packages" not in package.parts:
        problems.append(f"attnbook imported from {package}, not from the installed wheel")
    problems += [
        f"package data missing: attnbook/{name}" for name in DATA if not (package / name).is_file()
    ]
    maps = attnbook.attend("The dog chased the cat.")
    html = attnbook.view.head_view(maps)._repr_html_()
    if "attnbook-view" not in html or "<script" not in html:
        problems.append("attnbook.view.head_view gave no self-contained view")
    from matplotlib import font_manager

    import attnbook.plot  # noqa: F401  (registers IPAexGothic through matplotlib-fontja)

    names = {f.name for f in font_manager.fontManager.ttflist}
    if "IPAexGothic" not in names:
        problems.append("IPAexGothic (matplotlib-fontja) not found by matplotlib")
    for problem in problems:
        print(f"wheel: {problem}", file=sys.stderr)
    if not problems:
        print(f"wheel: attnbook {attnbook.__version__} from {package}, data files, model, font: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
