"""Project glue for Sphinx: the source hash, the language switcher and the root page.

Kept out of ``conf.py`` so that tests and nox can import the same helpers.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import shutil
from pathlib import Path

from reader_notebook import catalogue, reader_notebook

#: (code, label shown in the switcher), in display order.
LANGUAGES = [("en", "English"), ("ja", "日本語")]


def source_hash(package_dir: Path) -> str:
    """A short hash of every source file of the package (paths and bytes).

    Used as the name of the execution cache: any change to attnbook gives a
    new, empty cache, so every chapter runs again against the new code.
    """
    h = hashlib.sha256()
    for path in sorted(package_dir.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".js", ".css", ".html", ".json"}:
            h.update(path.relative_to(package_dir).as_posix().encode())
            h.update(b"\0")
            h.update(path.read_bytes())
            h.update(b"\0")
    return h.hexdigest()[:16]


def site_root(pagename: str) -> str:
    """Relative path from a page of an edition up to the site root (above ``en/``, ``ja/``)."""
    return "../" * (pagename.count("/") + 1)


def other_language_links(pagename: str, current: str) -> list[dict]:
    """Relative links to ``pagename`` in every edition, for the switcher.

    Both editions live side by side (``html/en/…``, ``html/ja/…``), so the
    same page in another language is up one level per directory plus one.
    """
    up = site_root(pagename)
    return [
        {
            "code": code,
            "label": label,
            "url": f"{up}{code}/{pagename}.html",
            "current": code == current,
        }
        for code, label in LANGUAGES
    ]


NOTEBOOK_LABEL = {"en": "Download .ipynb", "ja": ".ipynb をダウンロード"}


def notebook_link(
    outdir: Path, pagename: str, language: str = "en", locale_dir: Path | None = None
) -> str | None:
    """Relative URL of the reader's copy of the page's executed notebook, if any.

    myst-nb writes executed notebooks to ``jupyter_execute/`` beside the
    output directory (at the site root next to ``en/`` and ``ja/``); they
    contain the hidden plumbing cells. The copy offered for download, in
    ``_notebooks/`` of each edition, has only what a reader sees and starts
    with how to install attnbook (``reader_notebook``). For another language
    than English, its text cells are translated with the page's catalogue
    ``<locale_dir>/<language>/LC_MESSAGES/<page>.po`` (when there is one).
    """
    notebook = outdir.parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not notebook.is_file():
        return None
    translate = None
    if language != "en" and locale_dir is not None:
        po = locale_dir / language / "LC_MESSAGES" / f"{pagename}.po"
        translate = catalogue(po) if po.is_file() else None
    target = outdir / "_notebooks" / f"{pagename}.ipynb"
    reader_notebook(notebook, target, language, translate)
    return "../" * pagename.count("/") + f"_notebooks/{pagename}.ipynb"


def _page_context(app, pagename, templatename, context, doctree):
    language = app.config.language or "en"
    locale_dir = Path(app.srcdir) / (app.config.locale_dirs or ["locales"])[0]
    context["attnbook_language_links"] = other_language_links(pagename, language)
    context["attnbook_notebook_url"] = notebook_link(
        Path(app.outdir), pagename, language, locale_dir
    )
    context["attnbook_notebook_label"] = NOTEBOOK_LABEL.get(language, NOTEBOOK_LABEL["en"])


#: The theme's download menu entry for the reader's notebook (it replaces the
#: source file entry, whose ``.md`` holds the hidden plumbing cells).
NOTEBOOK_TOOLTIP = {
    "en": "Download this chapter as a notebook (the code of the page, runs with attnbook only)",
    "ja": "この章をノートブックとしてダウンロード（ページのコードだけ。attnbook だけで動きます）",
}


NOTEBOOK_CLICK = "document.querySelector('a.attnbook-notebook-link').click()"


def reader_download_buttons(buttons: list[dict], notebook_url: str | None, language: str) -> list:
    """The theme's header buttons with the source download replaced by the reader's notebook.

    sphinx-book-theme's download menu offers the page's source (``.md``),
    whose hidden cells need the book's build (``import book``, glue). Readers
    get what runs outside the book instead: the reader notebook where the
    page has one, else nothing; the menu's other entries (print to PDF) stay.
    """
    out = []
    for button in buttons:
        if button.get("label") != "download-buttons":
            out.append(button)
            continue
        entries = [
            b
            for b in button.get("buttons", [])
            if b.get("label") not in ("download-source-button", "download-notebook-button")
        ]
        if notebook_url:
            # The theme opens link entries in a new tab; this entry clicks the
            # page's own download link (lang-switch.html) so the file downloads.
            entries.insert(
                0,
                {
                    "type": "javascript",
                    "javascript": NOTEBOOK_CLICK,
                    "text": ".ipynb",
                    "icon": "fas fa-code",
                    "tooltip": NOTEBOOK_TOOLTIP.get(language, NOTEBOOK_TOOLTIP["en"]),
                    "label": "download-notebook-button",
                },
            )
        out.append({**button, "buttons": entries})
    return out


def _header_buttons(app, pagename, templatename, context, doctree):
    if "header_buttons" in context:
        context["header_buttons"] = reader_download_buttons(
            context["header_buttons"],
            context.get("attnbook_notebook_url"),
            app.config.language or "en",
        )


ROOT_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>attnbook — attention at high resolution / アテンションを高解像度で</title>
<script>
  // Send readers to their language; the links below work without JavaScript.
  (function () {
    var langs = (navigator.languages || [navigator.language || "en"]);
    for (var i = 0; i < langs.length; i++) {
      var l = (langs[i] || "").toLowerCase();
      if (l.indexOf("ja") === 0) { location.replace("ja/index.html"); return; }
      if (l.indexOf("en") === 0) { location.replace("en/index.html"); return; }
    }
    location.replace("en/index.html");
  })();
</script>
<style>
  body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem; line-height: 1.6; }
  a { font-size: 1.2rem; }
</style>
</head>
<body>
<h1>attnbook</h1>
<p>Choose your language / 言語を選んでください:</p>
<ul>
  <li><a href="en/index.html" hreflang="en" lang="en">English edition</a></li>
  <li><a href="ja/index.html" hreflang="ja" lang="ja">日本語版</a></li>
</ul>
</body>
</html>
"""


def write_root_page(html_root: Path) -> Path:
    """Write ``index.html`` above the editions, routing by browser language."""
    html_root.mkdir(parents=True, exist_ok=True)
    page = html_root / "index.html"
    page.write_text(ROOT_PAGE, encoding="utf-8")
    return page


# MathJax, served by the site itself: the default CDN is unreachable offline.
# The files come from the PyPI package sphinx-mathjax-offline; we copy only
# what tex-chtml needs (the script, its fonts, the lazily loaded menu and a11y
# components) instead of the package's whole 24 MB tree.
MATHJAX_PARTS = ["tex-chtml.js", "output/chtml/fonts/woff-v2", "ui", "a11y", "input/tex/extensions"]


def _mathjax_source() -> Path:
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "MathJax for offline pages comes from the package sphinx-mathjax-offline: "
            "pip install sphinx-mathjax-offline (nox installs it with the docs extra)"
        )
    return Path(spec.origin).parent / "static" / "mathjax"


def _copy_mathjax(app, exc):
    if exc is not None or app.builder.format != "html":
        return
    source = _mathjax_source()
    target = Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        src, dst = source / part, target / part
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)


def _glue_roles_work_in_translations() -> None:
    """Let ``{glue:text}`key``` resolve inside translated (gettext) paragraphs.

    Sphinx parses a translated message into a fresh document that has no
    notebook attached, so myst-nb's glue roles cannot see the chapter's glued
    values there and warn "No key … found". A role without a notebook is
    turned into a pending reference to its own page (``/page.md::key``),
    which myst-nb resolves after reading, from the values it saved for that
    page. English pages are unaffected: they always have their notebook.
    """
    from myst_nb.ext.glue import roles

    def patch(cls, default_format: str | None):
        original = cls.run

        def run(self):
            env = getattr(self.document.settings, "env", None)
            if env is not None and "nb_renderer" not in self.document and "::" not in self.text:
                text = f"/{env.doc2path(env.docname, False)}::{self.text}"
                # {glue:text} splits "key:format" at the last colon, which
                # would cut into "::" when the author gave no format.
                if default_format and ":" not in self.text:
                    text += f":{default_format}"
                self.text = text
            return original(self)

        cls.run = run

    # {glue:md} has no pending form in myst-nb; don't use it in translated text.
    patch(roles.PasteRoleAny, None)
    patch(roles.PasteTextRole, "s")


def caption_only_figure(directive) -> list:
    """A ``{glue:figure}`` without its output: the figure node with only its caption and legend.

    Built like myst-nb's own directive (``PasteFigureDirective.run``), minus
    the pasted output, so the gettext builder finds the same messages.
    """
    from docutils import nodes

    figure = nodes.figure("")
    directive.set_source_info(figure)
    directive.add_name(figure)
    if directive.content:
        holder = nodes.Element()
        directive.state.nested_parse(directive.content, directive.content_offset, holder)
        first = holder[0] if len(holder) else None
        if isinstance(first, nodes.paragraph):
            caption = nodes.caption(first.rawsource, "", *first.children)
            caption.source, caption.line = first.source, first.line
            figure += caption
        if len(holder) > 1:
            figure += nodes.legend("", *holder[1:])
    return [figure]


#: The builder of this run (``html``, ``gettext``, …); set when it is created.
_BUILDER = {"name": None}


def _set_builder(app):
    _BUILDER["name"] = app.builder.name


def _glue_figure_captions_without_execution() -> None:
    """Catalogues have the captions of ``{glue:figure}`` whether or not the pages ran.

    Without the executed notebook (``nb_execution_mode = "off"``) myst-nb's
    ``{glue:figure}`` finds no glued output and returns a warning instead of
    the figure, so its caption, a message of the page, is missing from the
    gettext templates, and refreshing the catalogues would make its
    translation obsolete. For the gettext builder only, a figure whose output
    is missing keeps its caption and legend (``caption_only_figure``); the
    HTML builders still fail on a missing figure.
    """
    from myst_nb.core.variables import RetrievalError
    from myst_nb.ext.glue.directives import PasteFigureDirective
    from myst_nb.ext.glue.utils import retrieve_glue_data

    original = PasteFigureDirective.run
    if getattr(original, "_attnbook", False):
        return

    def run(self):
        if _BUILDER["name"] == "gettext":
            try:
                retrieve_glue_data(self.document, self.arguments[0])
            except RetrievalError:
                return caption_only_figure(self)
        return original(self)

    run._attnbook = True
    PasteFigureDirective.run = run


#: The edition being built; set from the Sphinx configuration before reading.
_EDITION = {"language": "en"}


def pick_language_variants(data: dict, language: str) -> dict:
    """Glue data as an edition sees it: ``name`` holds the ``name@<language>`` variant, if any.

    ``docs/tools/book.py`` glues every language-dependent value twice (under
    ``name`` in English and under ``name@ja``); both editions share one
    execution. Swapping here, where myst-nb reads a notebook's glue data, makes
    every glue role and directive (and the pending references of translated
    paragraphs) take the edition's variant without any change to the pages.
    """
    if language == "en":
        return data
    suffix = f"@{language}"
    picked = dict(data)
    for key, value in data.items():
        if key.endswith(suffix):
            picked[key[: -len(suffix)]] = value
    return picked


def _glue_takes_the_edition_variant() -> None:
    from myst_nb.core.execute import base

    original = base.extract_glue_data
    if getattr(original, "_attnbook", False):
        return

    def extract_glue_data(*args, **kwargs):
        return pick_language_variants(original(*args, **kwargs), _EDITION["language"])

    extract_glue_data._attnbook = True
    base.extract_glue_data = extract_glue_data


def _set_edition(app, config):
    _EDITION["language"] = config.language or "en"


_CHAPTER = re.compile(r"^chapters/(\d+)-")


def number_by_chapter(fignumbers: dict[str, dict[str, dict[str, tuple[int, ...]]]]) -> dict:
    """Figure (and table, code-block) numbers restarted in each chapter: ``(chapter, k)``.

    Sphinx numbers figures either through the whole book or by section of a
    ``:numbered:`` toctree, which restarts in every Part's toctree. The book
    wants "Fig. 5.2" for the second figure of chapter 5, so the number comes
    from the chapter's file name (``chapters/05-…``) and the order in the page.
    Pages outside ``chapters/`` keep Sphinx's numbers.
    """
    out = {}
    for docname, by_type in fignumbers.items():
        match = _CHAPTER.match(docname)
        if match is None:
            out[docname] = by_type
            continue
        chapter = int(match.group(1))
        out[docname] = {
            figtype: {
                figure_id: (chapter, k)
                for k, figure_id in enumerate(sorted(numbers, key=numbers.get), start=1)
            }
            for figtype, numbers in by_type.items()
        }
    return out


def _figures_numbered_by_chapter() -> None:
    from sphinx.environment.collectors.toctree import TocTreeCollector

    original = TocTreeCollector.assign_figure_numbers
    if getattr(original, "_attnbook", False):
        return

    def assign_figure_numbers(self, env):
        before = env.toc_fignumbers
        original(self, env)
        env.toc_fignumbers = number_by_chapter(env.toc_fignumbers)
        return [d for d, nums in env.toc_fignumbers.items() if nums != before.get(d)]

    assign_figure_numbers._attnbook = True
    TocTreeCollector.assign_figure_numbers = assign_figure_numbers


#: The toggle of hidden cells in Japanese (myst-nb's prompts, by what they hide).
HIDE_PROMPTS_JA = {
    "content": ("セルを表示", "セルを隠す"),
    "source": ("コードを表示", "コードを隠す"),
    "output": ("出力を表示", "出力を隠す"),
    "outputs": ("出力を表示", "出力を隠す"),
}


def translated_prompts(show: str, hide: str, language: str) -> dict[str, str]:
    """myst-nb's English toggle labels (``show``/``hide`` with ``{type}``) -> the edition's."""
    if language != "ja":
        return {}
    out = {}
    for kind, (show_ja, hide_ja) in HIDE_PROMPTS_JA.items():
        out[show.replace("{type}", kind)] = show_ja
        out[hide.replace("{type}", kind)] = hide_ja
    return out


def _translate_hide_prompts(app, doctree, docname):
    """Japanese labels on the "Show code cell source" toggles of hidden cells.

    myst-nb formats the labels from ``nb_code_prompt_show``/``_hide`` (English,
    one value for both editions) in a post-transform; here, after it, the
    Japanese edition swaps the formatted labels for Japanese ones.
    """
    language = app.config.language or "en"
    table = translated_prompts(
        app.config.nb_code_prompt_show, app.config.nb_code_prompt_hide, language
    )
    if not table:
        return
    from myst_nb.sphinx_ import HideCodeCellNode

    for node in doctree.findall(HideCodeCellNode):
        for key in ("prompt_show", "prompt_hide"):
            node[key] = table.get(node[key], node[key])


def setup(app):
    app.connect("html-page-context", _page_context)
    app.connect("html-page-context", _header_buttons, priority=600)
    app.connect("doctree-resolved", _translate_hide_prompts)
    app.connect("config-inited", _set_edition)
    app.connect("builder-inited", _set_builder)
    app.setup_extension("theme_ja")  # the theme's words in Japanese on Japanese pages
    _glue_roles_work_in_translations()
    _glue_figure_captions_without_execution()
    _glue_takes_the_edition_variant()
    _figures_numbered_by_chapter()
    _mathjax_source()  # fail early with advice if it is missing
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
