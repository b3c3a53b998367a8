"""Translation catalogues: extract them for translators, check them for CI.

    python docs/tools/i18n.py update   # regenerate .pot, update locales/ja/*.po
    python docs/tools/i18n.py check    # fail on any missing, untranslated or fuzzy message

English is the source text. API docstrings stay in English (like code
comments), so messages that come only from autodoc docstrings are dropped
from the catalogues; everything else must be translated.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.pofile import read_po, write_po

DOCS = Path(__file__).resolve().parents[1]
LOCALES = DOCS / "locales"
LANGS = ["ja"]


def _from_book_source(locations) -> bool:
    """Whether a message comes from a page of the book rather than a docstring.

    Docstring locations look like ``mechanism.py:docstring of x.y:1``; babel
    splits them at spaces, so test the pieces for a book source suffix.
    """
    return any(str(path).endswith((".md", ".rst", ".ipynb")) for path, _ in locations)


def build_templates(out: Path) -> dict[str, object]:
    """Run the gettext builder into ``out`` and return the filtered catalogues.

    Returns a mapping from domain (``chapters/02-…``) to a babel Catalog.
    """
    cmd = [
        sys.executable,
        "-m",
        "sphinx",
        "-b",
        "gettext",
        "-q",
        "-D",
        "gettext_location=1",
        "-d",
        str(out / ".doctrees"),
        str(DOCS),
        str(out),
    ]
    subprocess.run(cmd, check=True)
    catalogs = {}
    for pot in sorted(out.rglob("*.pot")):
        domain = pot.relative_to(out).with_suffix("").as_posix()
        with pot.open("rb") as f:
            cat = read_po(f)
        for message in list(cat):
            if message.id and message.locations and not _from_book_source(message.locations):
                cat.delete(message.id, message.context)
        if any(m.id for m in cat):
            catalogs[domain] = cat
    return catalogs


def _select(catalogs: dict, only: list[str] | None) -> dict:
    if not only:
        return catalogs
    unknown = [o for o in only if o not in catalogs]
    if unknown:
        raise SystemExit(f"no catalogue named {unknown}; known: {sorted(catalogs)}")
    return {k: v for k, v in catalogs.items() if k in only}


def update(only: list[str] | None = None) -> None:
    """Regenerate the templates and merge them into every language's .po files."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        catalogs = _select(build_templates(tmp / "gettext"), only)
        clean = tmp / "pot"
        for domain, cat in catalogs.items():
            target = clean / f"{domain}.pot"
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as f:
                write_po(f, cat, no_location=True, width=79)
        for lang in LANGS:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "sphinx_intl",
                    "update",
                    "-p",
                    str(clean),
                    "-l",
                    lang,
                    "-d",
                    str(LOCALES),
                    "-w",
                    "79",
                ],
                check=True,
            )


def check(only: list[str] | None = None) -> int:
    """Print every problem and return the number of problems found."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        catalogs = _select(build_templates(Path(tmp) / "gettext"), only)
    for lang in LANGS:
        for domain, template in catalogs.items():
            po_path = LOCALES / lang / "LC_MESSAGES" / f"{domain}.po"
            if not po_path.exists():
                problems.append(f"{po_path}: missing (run `nox -s i18n`)")
                continue
            with po_path.open("rb") as f:
                po = read_po(f)
            for message in template:
                if not message.id:
                    continue
                got = po.get(message.id, message.context)
                short = message.id if isinstance(message.id, str) else message.id[0]
                short = short.replace("\n", " ")[:90]
                if got is None:
                    problems.append(f"{po_path}: not in catalogue (run `nox -s i18n`): {short!r}")
                elif got.fuzzy:
                    problems.append(f"{po_path}: fuzzy: {short!r}")
                elif not got.string or (isinstance(got.string, tuple) and not all(got.string)):
                    problems.append(f"{po_path}: untranslated: {short!r}")
    for p in problems:
        print(p)
    total = sum(1 for c in catalogs.values() for m in c if m.id)
    print(f"i18n-check: {total} messages x {len(LANGS)} language(s), {len(problems)} problem(s)")
    return len(problems)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["update", "check"])
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="PAGE",
        help="limit to these pages, e.g. chapters/02-scaled-dot-product",
    )
    args = parser.parse_args(argv)
    if args.command == "update":
        update(args.only)
        return 0
    return 1 if check(args.only) else 0


if __name__ == "__main__":
    raise SystemExit(main())
