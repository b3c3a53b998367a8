"""Translation catalogues: extract them for translators, check them for CI.

    python docs/tools/i18n.py update   # regenerate .pot, update locales/ja/*.po
    python docs/tools/i18n.py check    # fail on any missing, untranslated or fuzzy message,
                                       # or a glossary term written another way

English is the source text. API docstrings stay in English (like code
comments), so messages that come only from autodoc docstrings are dropped
from the catalogues; everything else must be translated.

The glossary (``docs/glossary.md`` and its catalogue) is the authority for
Japanese terms; ``docs/glossary-variants.txt`` lists the other forms of them.
``check`` fails on a variant in any Japanese text a reader sees: every
translated message, and the Japanese string literals in the chapters' code
cells (``book.text(ja=...)``, figure labels) and in attnbook itself.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import subprocess
import sys
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path

from babel.messages.pofile import read_po, write_po

DOCS = Path(__file__).resolve().parents[1]
LOCALES = DOCS / "locales"
LANGS = ["ja"]
GLOSSARY = DOCS / "glossary.md"
VARIANTS = DOCS / "glossary-variants.txt"
PACKAGE = DOCS.parent / "attnbook"

# Hiragana, katakana (full and half width) and CJK ideographs.
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
CODE_SPAN = re.compile(r"``.+?``|`[^`\n]+`")


@dataclass(frozen=True)
class Variant:
    """A way of writing a glossary term that translations must not use."""

    form: str  # the glossary's form
    written: str  # the variant as docs/glossary-variants.txt writes it
    pattern: re.Pattern


def load_variants(path: Path = VARIANTS) -> list[Variant]:
    """Parse ``FORM: variant | /regex/ | ...`` lines; ``#`` starts a comment line."""
    variants = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        form, sep, rest = line.partition(": ")
        if not sep or not form.strip() or not rest.strip():
            raise ValueError(f"{path}:{number}: expected 'GLOSSARY FORM: variant | ...': {line!r}")
        for written in (w.strip() for w in rest.split(" | ")):
            regex = written[1:-1] if len(written) > 2 and written[0] == written[-1] == "/" else None
            try:
                pattern = re.compile(regex if regex is not None else re.escape(written))
            except re.error as error:
                raise ValueError(
                    f"{path}:{number}: bad regular expression {written}: {error}"
                ) from None
            variants.append(Variant(form.strip(), written, pattern))
    return variants


def glossary_forms_missing(variants: list[Variant], glossary: Path = GLOSSARY) -> list[str]:
    """Forms in the variants list that the glossary page (or its catalogue) does not have."""
    text = glossary.read_text(encoding="utf-8")
    catalogue = LOCALES / "ja" / "LC_MESSAGES" / "glossary.po"
    if catalogue.exists():
        text += catalogue.read_text(encoding="utf-8")
    return sorted({v.form for v in variants if v.form not in text})


def term_problems(text: str, variants: list[Variant]) -> list[tuple[str, Variant]]:
    """The variants found in a Japanese ``text``: (what is written, variant), in order.

    Text without Japanese script is not Japanese prose and is skipped; inline
    code is blanked out (identifiers stay as they are). The glossary form is
    masked before its variants are searched, so a variant may be part of the
    form; of overlapping finds only the first, longest one is reported.
    """
    if not JAPANESE.search(text):
        return []
    text = CODE_SPAN.sub(lambda m: " " * len(m.group()), text)
    hits = []
    for variant in variants:
        masked = text.replace(variant.form, "\0" * len(variant.form))
        for m in variant.pattern.finditer(masked):
            if m.group():
                hits.append((m.start(), -len(m.group()), m.group(), variant))
    found, end = [], -1
    for start, negative_length, written, variant in sorted(hits, key=lambda h: h[:2]):
        if start >= end:
            found.append((written, variant))
            end = start - negative_length
    return found


def _string_literals(source: str, first_line: int = 1):
    """(line, value) of every string literal in Python ``source``."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return
    for tok in tokens:
        if tok.type == tokenize.STRING:
            try:
                value = ast.literal_eval(tok.string)
            except (ValueError, SyntaxError):
                value = tok.string  # an f-string: its text is close enough
            if isinstance(value, str):
                yield first_line + tok.start[0] - 1, value


def code_strings(path: Path):
    """(line, value) of the string literals in a .py file or a page's code cells."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".py":
        yield from _string_literals(text)
        return
    lines = text.splitlines(keepends=True)
    start = None
    for number, line in enumerate(lines, 1):
        if start is None and line.startswith("```{code-cell}"):
            start = number
        elif start is not None and line.startswith("```"):
            yield from _string_literals("".join(lines[start : number - 1]), start + 1)
            start = None


# {glue:text}`key`, {glue:text}`key:.2f`, {glue}`key` in a message: the key.
GLUE_KEY = re.compile(r"\{glue(?::text|:any)?\}`([^`:]+)(?::[^`]*)?`")
# What Japanese text starts with: kana, kanji, full-width punctuation and forms.
JAPANESE_START = re.compile(r"[\u3001-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff01-\uff5e]")


def _ends_a_sentence(expr: ast.AST) -> bool:
    """Whether some string the expression can give ends with 「。」 (a Japanese sentence)."""
    for node in ast.walk(expr):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.rstrip().endswith(("。", "。」", "。）")):
                return True
    return False


def sentence_keys(page: Path) -> list[re.Pattern]:
    """The keys a page glues with ``book.text`` as Japanese sentences, as patterns.

    A sentence: some string of its ``ja=`` ends with 「。」. An f-string key
    (``f"ch9_{lang}_sentence"``) matches any value in its placeholders.
    """
    if not page.exists():
        return []
    text = page.read_text(encoding="utf-8")
    cells = re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    keys = []
    for cell in cells:
        cell = re.sub(r"\A(?::[^\n]*\n)+", "", cell)  # the cell's options (:tags: ...)
        try:
            tree = ast.parse(cell)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "text"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "book"
                and node.args
            ):
                continue
            ja = next((k.value for k in node.keywords if k.arg == "ja"), None)
            if ja is None or not _ends_a_sentence(ja):
                continue  # a list of words or tokens, not a Japanese sentence
            name = node.args[0]
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                keys.append(re.compile(re.escape(name.value)))
            elif isinstance(name, ast.JoinedStr):
                parts = [
                    re.escape(v.value) if isinstance(v, ast.Constant) else ".+" for v in name.values
                ]
                keys.append(re.compile("".join(parts)))
    return keys


def spacing_problems(text: str, sentences: list[re.Pattern]) -> list[str]:
    """Spaces Japanese does not want around glued text in a translation ``text``.

    A glued sentence (``book.text``) is Japanese text: no space between it and
    the Japanese that follows (「…ません。{glue:text}`verdict`次に…」). No
    space before 「。」 or 「、」 after any glued value either. (A space between
    a glued number or token and Japanese is the book's style, as for typed
    numbers: 「第 7 章」「0.42 です」.)
    """
    found = []
    for m in GLUE_KEY.finditer(text):
        after = text[m.end() :]
        if re.match(r"\s+[。、]", after):
            found.append(f"space before 。/、 after {m.group(0)}")
            continue
        if not any(p.fullmatch(m.group(1)) for p in sentences):
            continue
        before = text[: m.start()]
        if re.match(r"\s+", after) and JAPANESE_START.match(after.lstrip()):
            found.append(f"space after the glued sentence {m.group(0)}")
        if re.search(r"\s$", before) and JAPANESE_START.match(before.rstrip()[-1:] or "a"):
            found.append(f"space before the glued sentence {m.group(0)}")
    return found


def _short(text: str) -> str:
    return text.replace("\n", " ")[:90]


def _term_lines(where: str, text: str, variants: list[Variant], what: str) -> list[str]:
    return [
        f"{where}: glossary term: {written!r} in {what}: the glossary writes {variant.form!r}"
        for written, variant in term_problems(text, variants)
    ]


def _from_book_source(locations) -> bool:
    """Whether a message comes from a page of the book rather than a docstring.

    Docstring locations look like ``mechanism.py:docstring of x.y:1``; babel
    splits them at spaces, so test the pieces for a book source suffix.
    """
    return any(str(path).endswith((".md", ".rst", ".ipynb")) for path, _ in locations)


#: Warnings of a gettext build without execution: glued values it cannot show
#: (the conf's own suppressions are kept).
SILENCED = ["mystnb.unknown_mime_type", "mystnb.glue"]


def build_templates(out: Path) -> dict[str, object]:
    """Run the gettext builder into ``out`` and return the filtered catalogues.

    Returns a mapping from domain (``chapters/02-…``) to a babel Catalog.
    The pages are not executed: every message of a page is in its source
    (paragraphs, headings, figure captions; glued values appear as their
    roles), so the templates are the same as with execution, in seconds
    instead of minutes. A ``{glue:figure}`` without its output keeps its
    caption for the gettext builder (``attnbook_sphinx``); the glue warnings
    of missing outputs are silenced here.
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
        "-D",
        "nb_execution_mode=off",
        "-D",
        f"suppress_warnings={','.join(SILENCED)}",
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
    variants = load_variants()
    problems = [
        f"{VARIANTS}: {form!r} is not a term of {GLOSSARY.name}: fix the list or the glossary"
        for form in glossary_forms_missing(variants)
    ]
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
                short = _short(message.id if isinstance(message.id, str) else message.id[0])
                if got is None:
                    problems.append(f"{po_path}: not in catalogue (run `nox -s i18n`): {short!r}")
                elif got.fuzzy:
                    problems.append(f"{po_path}: fuzzy: {short!r}")
                elif not got.string or (isinstance(got.string, tuple) and not all(got.string)):
                    problems.append(f"{po_path}: untranslated: {short!r}")
            sentences = sentence_keys(DOCS / f"{domain}.md")
            for got in po:
                if got.id and isinstance(got.string, str) and got.string:
                    short = _short(got.id if isinstance(got.id, str) else got.id[0])
                    problems += [
                        f"{po_path}: {what}: {short!r}"
                        for what in spacing_problems(got.string, sentences)
                    ]
            # Terms: every translation in the catalogue, not only the messages this
            # template build found (a build that did not execute the chapters has
            # no {glue:figure} captions).
            for got in po:
                if got.id and got.string:
                    string = got.string if isinstance(got.string, str) else " ".join(got.string)
                    short = _short(got.id if isinstance(got.id, str) else got.id[0])
                    problems += _term_lines(str(po_path), string, variants, f"{short!r}")
    sources = [DOCS / f"{domain}.md" for domain in catalogs] + sorted(PACKAGE.rglob("*.py"))
    for path in sources:
        if path.exists():
            for line, value in code_strings(path):
                where = f"{path}:{line}"
                problems += _term_lines(where, value, variants, f"string {_short(value)!r}")
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
