"""The notebook a chapter page offers for download: the reader's code, no plumbing.

myst-nb's executed notebook (``jupyter_execute/<page>.ipynb``) holds every
cell, including the hidden ones that glue numbers and assert claims with
``book`` and myst-nb, which a reader's Jupyter does not have. The copy we
offer keeps the cells a reader sees on the page, with their outputs, starts
with a cell that says how to install attnbook, and runs top to bottom in
plain Jupyter with only attnbook installed (``nox -s reader`` checks it).

The Japanese edition's copy has the page's Japanese text: every paragraph,
heading, table cell and figure caption of a text cell is looked up in the
page's gettext catalogue (``locales/ja/LC_MESSAGES/<page>.po``, the same
messages Sphinx translates), the code cells stay as they are.
"""

from __future__ import annotations

import json
import re
from ast import literal_eval
from collections.abc import Callable
from pathlib import Path

#: Tags that keep a cell's code off the page: the cell is book plumbing.
PLUMBING_TAGS = frozenset({"hide-input", "hide-cell", "remove-input", "remove-cell"})

INSTALL = {
    "en": """\
**Run this chapter yourself.** This notebook holds the code of the page, in
order; it needs Python 3.10 or newer and the `attnbook` package. attnbook is
not on PyPI yet: install the wheel attached to the project's release (or one
built with `nox -s dist` in a clone), or the repository itself, then run the
cells from the top.

```bash
pip install "attnbook-0.1.0-py3-none-any.whl[ja]"   # the release's wheel; [ja] adds the Japanese tokenizer
pip install "/path/to/attnbook[ja]"                 # or a clone of the repository
```

Everything runs offline on a CPU: the default model comes with the package.
The text cells are the page's source, with the numbers and figures that the
book's build computed filled in.""",
    "ja": """\
**この章を自分で動かすには。** このノートブックには、ページのコードが順番どおりに
入っています。Python 3.10 以上と `attnbook` パッケージが必要です。attnbook は
まだ PyPI にないので、プロジェクトのリリースに添付されたホイール（クローンで
`nox -s dist` を実行しても作れます）か、リポジトリそのものからインストールし、
セルを上から順に実行してください。

```bash
pip install "attnbook-0.1.0-py3-none-any.whl[ja]"   # リリースのホイール。[ja] で日本語の形態素解析も入ります
pip install "/path/to/attnbook[ja]"                 # またはリポジトリのクローン
```

GPU もネット接続も要りません。既定のモデルはパッケージに入っています。
テキストのセルはページの本文で、本のビルドが計算した数値と図が
埋め込まれています。""",
}


def is_plumbing(cell: dict) -> bool:
    """Whether a cell is hidden from the page (folded or removed code)."""
    tags = set(cell.get("metadata", {}).get("tags", []))
    return cell.get("cell_type") == "code" and bool(tags & PLUMBING_TAGS)


# {glue}`key`, {glue:text}`key:.3f`, {glue:md}`key` (myst-nb's roles).
GLUE_ROLE = re.compile(r"\{glue(?::(any|text|md))?\}`([^`]+)`")
# ```{glue:figure} key / :::{glue:figure} key, its options, caption, closing fence.
GLUE_FIGURE = re.compile(
    r"^(`{3,}|:{3,})\{glue(?::figure|:any)?\}[ \t]+(\S+)[^\n]*\n(.*?)^\1[ \t]*$",
    re.MULTILINE | re.DOTALL,
)


def glued_values(nb: dict, glue_file: Path | None = None) -> dict[str, dict]:
    """Every glued value: key -> mime bundle (without myst-nb's record prefix).

    myst-nb moves the glue outputs out of the executed notebook into
    ``<page>.glue.json`` beside it; outputs still in the notebook count too.
    """
    outputs = [o for cell in nb["cells"] for o in cell.get("outputs", [])]
    if glue_file is not None and glue_file.is_file():
        outputs += json.loads(glue_file.read_text(encoding="utf-8")).values()
    values = {}
    for output in outputs:
        scrapbook = output.get("metadata", {}).get("scrapbook")
        if not scrapbook:
            continue
        prefix = scrapbook.get("mime_prefix", "")
        values[scrapbook["name"]] = {
            (k[len(prefix) :] if prefix and k.startswith(prefix) else k): v
            for k, v in output["data"].items()
        }
    return values


def _format_text(text: str, spec: str) -> str:
    # What myst-nb's {glue:text} does with its "key:format" (format_plain_text).
    try:
        value = literal_eval(text)
    except (SyntaxError, ValueError):
        value = text
    if not spec:
        return str(value)
    kind = spec[-1]
    if kind in "bcdoxX":
        value = int(value)
    elif kind in "eEfFgGn%":
        value = float(value)
    elif kind == "s":
        value = str(value)
    return format(value, spec)


#: A message's translation, or None to keep the English (see :func:`catalogue`).
Translate = Callable[[str], "str | None"]


def catalogue(po_file: Path) -> Translate:
    """The translations of a gettext catalogue: msgid -> msgstr (None when missing or fuzzy).

    Sphinx ignores fuzzy and empty entries too, so the notebook says what the
    page says.
    """
    from babel.messages.pofile import read_po

    with po_file.open("rb") as f:
        cat = read_po(f)
    table = {
        m.id: m.string for m in cat if m.id and isinstance(m.id, str) and m.string and not m.fuzzy
    }
    return table.get


def _message(text: str) -> str:
    # How Sphinx makes a message of a node's source (sphinx.util.nodes.extract_messages).
    return text.replace("\n", " ").strip()


def translate_markdown(source: str, translate: Translate) -> str:
    """``source`` with every translatable paragraph, heading and table cell translated.

    The markdown is parsed (CommonMark with tables, as MyST does); a block
    whose message has a translation is rewritten on one line, keeping its
    prefix (``## ``, ``- ``, ``> ``); table cells are replaced in their row;
    a ``$$`` display keeps its fences (its message is the formula inside).
    Fenced blocks (directives, code) and untranslated text stay as written.
    """
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(source)
    lines = source.splitlines(keepends=True)
    blocks: dict[int, tuple[int, str]] = {}  # first line -> (end line, new text)
    cells: dict[int, list[tuple[str, str]]] = {}  # row line -> [(cell text, translation)]
    for i, token in enumerate(tokens):
        if token.type != "inline" or not token.map or not token.content.strip():
            continue
        content = token.content.strip()
        math = len(content) > 4 and content.startswith("$$") and content.endswith("$$")
        # A $$ display (MyST's math block) is translated without its fences.
        new = translate(_message(content[2:-2] if math else content))
        if not new:
            continue
        start, end = token.map
        if math:
            ending = "\n" if lines[end - 1].endswith("\n") else ""
            blocks[start] = (end, f"$$\n{new}\n$$" + ending)
            continue
        if tokens[i - 1].type in ("th_open", "td_open"):
            cells.setdefault(start, []).append((token.content.strip(), new))
            continue
        first = token.content.split("\n", 1)[0]
        at = lines[start].find(first)
        if at < 0:  # not where the parser says: keep the English
            continue
        ending = "\n" if lines[end - 1].endswith("\n") else ""
        blocks[start] = (end, lines[start][:at] + new + ending)
    out, n = [], 0
    while n < len(lines):
        if n in blocks:
            end, text = blocks[n]
            out.append(text)
            n = end
            continue
        line = lines[n]
        cursor = 0
        for old, new in cells.get(n, []):
            at = line.find(old, cursor)
            if at >= 0:
                line = line[:at] + new + line[at + len(old) :]
                cursor = at + len(new)
        out.append(line)
        n += 1
    return "".join(out)


def fill_glue(
    source: str, values: dict[str, dict], translate: Translate | None = None
) -> tuple[str, dict]:
    """Paste glued values into a markdown cell: (new source, attachments).

    Roles become their text; a glued figure becomes an attached image with
    its caption (translated by ``translate``, if given). Keys that were not
    glued (or another page's) stay as written.
    """
    attachments: dict[str, dict] = {}

    def role(match: re.Match) -> str:
        kind, body = match.group(1) or "any", match.group(2)
        key, _, spec = body.rpartition(":") if kind == "text" and ":" in body else (body, "", "")
        data = values.get(key)
        if data is None:
            return match.group(0)
        if kind == "md" and "text/markdown" in data:
            return "".join(data["text/markdown"])
        if "text/plain" not in data:
            return match.group(0)
        text = "".join(data["text/plain"])
        try:
            return _format_text(text, spec) if kind == "text" else text
        except (TypeError, ValueError):
            return text

    def figure(match: re.Match) -> str:
        key, body = match.group(2), match.group(3)
        data = values.get(key, {})
        caption = " ".join(
            line.strip() for line in body.splitlines() if line.strip() and not line.startswith(":")
        )
        if translate is not None and caption:
            caption = translate(caption) or caption
        caption = GLUE_ROLE.sub(role, caption)
        for mime, suffix in (("image/png", "png"), ("image/svg+xml", "svg"), ("image/jpeg", "jpg")):
            if mime in data:
                name = f"{key}.{suffix}"
                attachments[name] = {mime: data[mime]}
                return f"![{caption}](attachment:{name})\n\n*{caption}*\n"
        return f"*{caption}*\n" if caption else match.group(0)

    source = GLUE_FIGURE.sub(figure, source)
    return GLUE_ROLE.sub(role, source), attachments


def reader_notebook(
    executed: Path, target: Path, language: str = "en", translate: Translate | None = None
) -> Path:
    """Write the reader's copy of the ``executed`` notebook to ``target``.

    Drops the plumbing cells, translates the text cells with ``translate``
    (msgid -> msgstr or None, e.g. :func:`catalogue`; the code cells stay),
    pastes the glued numbers and figures into them, and puts a markdown cell
    first that says (in ``language``, English when unknown) how to install
    attnbook. Cell ids and execution counts are numbered in order, so the same
    sources always give the same file. Returns ``target``.
    """
    nb = json.loads(executed.read_text(encoding="utf-8"))
    install = {
        "cell_type": "markdown",
        "id": "install-attnbook",
        "metadata": {},
        "source": INSTALL.get(language, INSTALL["en"]).splitlines(keepends=True),
    }
    values = glued_values(nb, executed.with_name(executed.stem + ".glue.json"))
    # book.text/figure/table glue each edition's variant as "<name>@<lang>".
    values = {k: values.get(f"{k}@{language}", v) for k, v in values.items() if "@" not in k}
    cells = []
    for cell in nb["cells"]:
        if is_plumbing(cell):
            continue
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])
            if translate is not None:
                text = translate_markdown(text, translate)
            text, attachments = fill_glue(text, values, translate)
            cell = {**cell, "source": text.splitlines(keepends=True)}
            if attachments:
                cell["attachments"] = attachments
        cells.append(cell)
    # Identical sources give identical downloads: myst-nb gives every read of a page
    # new random cell ids, and whether the execution counts survive depends on
    # whether the page came from the execution cache. The cells ran in this order.
    count = 0
    for i, cell in enumerate(cells):
        cell = cells[i] = {**cell, "id": f"cell-{i + 1}"}
        if cell["cell_type"] == "code":
            count += 1
            cell["execution_count"] = count
            for output in cell.get("outputs", []):
                if "execution_count" in output:
                    output["execution_count"] = count
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
