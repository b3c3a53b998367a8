"""Sphinx configuration of the attnbook book (both editions).

The English edition is the source; the Japanese one is the same sources built
with ``-D language=ja`` and the gettext catalogues in ``locales/ja``. Both
builds share one myst-nb execution cache whose path contains a hash of the
attnbook source, so editing the library re-executes every chapter while the
second language re-executes nothing.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "tools"))

from attnbook_sphinx import LANGUAGES, source_hash  # noqa: E402

# The notebook kernels inherit this environment: offline, and no progress bars
# (tqdm's notebook bar needs ipywidgets and would print a warning instead).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
# Hidden cells `import book` (docs/tools/book.py, the glue/claim/figure plumbing).
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(DOCS / "tools"), os.environ.get("PYTHONPATH", "")) if p
)

project = "attnbook"
author = "the attnbook authors"
copyright = "2026, the attnbook authors"
release = version = "0.1"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "sphinx_copybutton",
    "attnbook_sphinx",
    "execute_ahead",
    "playground_sphinx",
]

root_doc = "index"
numfig = True
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "tools", "README.md", "Thumbs.db"]
templates_path = ["_templates"]
html_static_path = ["_static"]

# --- languages -------------------------------------------------------------
language = "en"
locale_dirs = ["locales/"]
gettext_compact = False  # one catalogue per page, so translators can work page by page
gettext_uuid = False
gettext_location = False  # keep catalogues stable when lines move

# --- MyST / myst-nb --------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist", "substitution"]
myst_heading_anchors = 3
nb_execution_mode = os.environ.get("ATTNBOOK_NB_EXECUTION", "cache")
nb_execution_raise_on_error = True  # a failing cell fails the build
nb_execution_show_tb = True
nb_execution_timeout = 600
nb_execution_allow_errors = False
nb_merge_streams = True
# Pages executed first on a clean build (docs/tools/execute_ahead.py runs them in
# parallel, heaviest first, so both cores finish together): the chapters that train.
attnbook_execute_first = [
    "chapters/09-toy-grammar",
    "chapters/12-decoder",
    "chapters/14-attention-at-scale",
    "chapters/13-cross-attention",
]

_build = Path(os.environ.get("ATTNBOOK_BUILD_DIR", DOCS / "_build"))
_cache_root = _build / ".jupyter_cache"
ATTNBOOK_HASH = source_hash(ROOT / "attnbook")
nb_execution_cache_path = str(_cache_root / ATTNBOOK_HASH)
# Caches of older library versions can never hit again.
if _cache_root.is_dir():
    for old in _cache_root.iterdir():
        if old.name != ATTNBOOK_HASH and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)

# --- autodoc ---------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True

# --- doctest builder -------------------------------------------------------
doctest_global_setup = "import torch\nimport attnbook\n"
# Docstring examples (the API page) are run by pytest --doctest-modules in
# their module's namespace; here only the book's own doctest/testcode blocks.
doctest_test_doctest_blocks = ""

# --- HTML ------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "attnbook"
html_css_files = ["attnbook.css"]
mathjax_path = "mathjax/tex-chtml.js"  # copied into _static by attnbook_sphinx: works offline
html_last_updated_fmt = None  # no dates: identical sources give identical pages
html_copy_source = True
html_show_sourcelink = False
html_theme_options = {
    "article_header_end": ["lang-switch.html", "article-header-buttons.html"],
    "use_download_button": True,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "show_toc_level": 2,
    "navigation_with_keys": False,
}
# "auto" follows the reader's system; left empty, the theme logs "invalid theme mode".
html_context = {"attnbook_languages": LANGUAGES, "default_mode": "auto"}
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_exclude = ".linenos, .gp, .go"

suppress_warnings = ["mystnb.unknown_mime_type"]
