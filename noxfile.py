"""Every task of the project: `nox` runs what CI runs; `nox -s NAME` runs one.

All sessions that need attnbook share one virtual environment
(``.nox/attnbook-env``): PyTorch alone is hundreds of megabytes, so
installing it once per session would dominate the run time. The environment is
rebuilt only when ``pyproject.toml`` or ``constraints.txt`` change.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
DOCS = ROOT / "docs"
BUILD = DOCS / "_build"
ENV = ROOT / ".nox" / "attnbook-env"
LANGUAGES = ["en", "ja"]

nox.options.sessions = [
    "lint",
    "tests",
    "docs",
    "reader",
    "doctest",
    "site",
    "i18n-check",
    "pdf",
    "dist",
]
nox.options.default_venv_backend = "none"
nox.options.error_on_missing_interpreters = True

# Offline by default, deterministic hashing, no GUI backend.
ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "MPLBACKEND": "Agg",
    "PYTHONHASHSEED": "0",
    "TOKENIZERS_PARALLELISM": "false",
    "ATTNBOOK_CACHE": str(ROOT / ".cache" / "attnbook"),
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}


def _bin(name: str) -> str:
    return str(ENV / "bin" / name)


def env(session: nox.Session) -> None:
    """Create or refresh the shared environment; put it first on PATH."""
    stamp_file = ENV / ".attnbook-stamp"
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    digest.update(sys.version.encode())
    stamp = digest.hexdigest()
    if not (ENV / "bin" / "python").exists():
        session.run(sys.executable, "-m", "venv", str(ENV))
    if not stamp_file.exists() or stamp_file.read_text() != stamp:
        session.run(_bin("python"), "-m", "pip", "install", "-q", "--upgrade", "pip")
        session.run(
            _bin("python"),
            "-m",
            "pip",
            "install",
            "-q",
            "-c",
            str(ROOT / "constraints.txt"),
            "-e",
            f"{ROOT}[test,docs,ja]",
        )
        stamp_file.write_text(stamp)
    session.env.update(ENVIRONMENT)
    session.env["VIRTUAL_ENV"] = str(ENV)
    session.env["PATH"] = f"{ENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"


def run(session: nox.Session, *args: str) -> None:
    session.run(*args, external=True)


def pytest(session: nox.Session, marker: str, *paths: str) -> None:
    """pytest in the book's environment on the tests marked ``marker`` (of ``paths``, if given)."""
    run(session, _bin("python"), "-m", "pytest", "-m", marker, *paths, *(session.posargs or ["-q"]))


def ensure_chromium(session: nox.Session) -> None:
    """Browser tests need Debian's chromium; install it when we are allowed to."""
    if shutil.which("chromium") or Path("/usr/bin/chromium").exists():
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        session.log("installing Debian's chromium for the browser tests")
        run(session, "apt-get", "update", "-qq")
        run(session, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium")
    elif os.environ.get("CI"):
        session.error("chromium is missing and cannot be installed (need root and apt-get)")
    else:
        session.warn("chromium not found: browser tests will be skipped (apt-get install chromium)")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and format check; mypy: the types of attnbook/ (settings in pyproject.toml)."""
    env(session)
    run(session, _bin("ruff"), "check", ".")
    run(session, _bin("ruff"), "format", "--check", ".")
    run(session, _bin("mypy"))
    # The publishing workflow cannot run here: check it against GitHub's schema.
    workflows = sorted(map(str, (ROOT / ".github" / "workflows").glob("*.yml")))
    schema = ("--builtin-schema", "vendor.github-workflows")
    run(session, str(tools_env(session) / "check-jsonschema"), *schema, *workflows)


@nox.session
def tests(session: nox.Session) -> None:
    """pytest: unit tests, docstring examples, browser tests."""
    env(session)
    ensure_chromium(session)
    tests_only = "not site and not reader and not pdf"
    pytest(session, tests_only)


def sphinx(session: nox.Session, builder: str, language: str, out: Path, *extra: str) -> None:
    # -j: the chapters execute in -j processes (docs/tools/execute_ahead.py) and the
    # pages are read and written in parallel.
    parallel = ["-j", "auto"] if builder == "html" else []
    run(
        session,
        _bin("python"),
        "-m",
        "sphinx",
        *parallel,
        "-b",
        builder,
        "-W",
        "--keep-going",
        "-q",
        "-D",
        f"language={language}",
        "-d",
        str(BUILD / "doctrees" / language),
        *extra,
        str(DOCS),
        str(out),
    )


@nox.session
def docs(session: nox.Session) -> None:
    """Build the book in English and Japanese: docs/_build/html/index.html."""
    env(session)
    # One after the other (the second executes nothing: the chapters are cached by
    # then); at once, both would rewrite the shared html/jupyter_execute/ while the
    # other reads it.
    for language in LANGUAGES:
        sphinx(session, "html", language, BUILD / "html" / language, *session.posargs)
    sys.path.insert(0, str(DOCS / "tools"))
    from attnbook_sphinx import write_root_page

    page = write_root_page(BUILD / "html")
    session.log(f"open {page}")


PLAIN = ROOT / ".nox" / "reader-plain"
JUPYTER = ROOT / ".nox" / "reader-jupyter"


def reader_envs(session: nox.Session) -> tuple[str, str]:
    """Two environments a reader would have: only attnbook; and that plus Jupyter.

    ``reader-plain`` has attnbook (with its ``ja`` extra, for chapter 8) and
    its dependencies, nothing of the book's tooling. ``reader-jupyter`` adds
    only nbclient and ipykernel and sees reader-plain's packages through a
    ``.pth`` file, so PyTorch is installed once. Dependencies are reinstalled
    when pyproject.toml or constraints.txt change; attnbook itself when its
    sources change, from a copy of them (a non-editable install writes build/).
    """
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    digest.update(sys.version.encode())
    stamp = digest.hexdigest()
    constraints = ("-c", str(ROOT / "constraints.txt"))
    plain, jupyter = PLAIN / "bin" / "python", JUPYTER / "bin" / "python"
    stamp_file = PLAIN / ".attnbook-stamp"
    with tempfile.TemporaryDirectory() as src:
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, src)
        shutil.copytree(ROOT / "attnbook", Path(src) / "attnbook")
        source = hashlib.sha256()
        for path in sorted((ROOT / "attnbook").rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                source.update(path.relative_to(ROOT).as_posix().encode() + path.read_bytes())
        source_file = PLAIN / ".attnbook-source"
        if stamp_file.exists() and stamp_file.read_text() == stamp:
            if not source_file.exists() or source_file.read_text() != source.hexdigest():
                reinstall = ("install", "-q", "--no-deps", "--force-reinstall", src)
                session.run(str(plain), "-m", "pip", *reinstall)
                source_file.write_text(source.hexdigest())
            return str(plain), str(jupyter)
        shutil.rmtree(PLAIN, ignore_errors=True)
        shutil.rmtree(JUPYTER, ignore_errors=True)
        session.run(sys.executable, "-m", "venv", str(PLAIN))
        session.run(sys.executable, "-m", "venv", str(JUPYTER))
        session.run(str(plain), "-m", "pip", "install", "-q", *constraints, f"{src}[ja]")
    session.run(str(jupyter), "-m", "pip", "install", "-q", *constraints, "nbclient", "ipykernel")
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = session.run(str(plain), "-c", purelib, silent=True).strip()
    jupyter_site = session.run(str(jupyter), "-c", purelib, silent=True).strip()
    (Path(jupyter_site) / "attnbook-reader-plain.pth").write_text(site + "\n")
    stamp_file.write_text(stamp)
    source_file.write_text(source.hexdigest())
    return str(plain), str(jupyter)


@nox.session
def reader(session: nox.Session) -> None:
    """The built English pages as a reader copies them, run with only attnbook installed.

    Visible code cells in order, each chapter's "Try it" alone, and the
    downloadable notebooks in plain Jupyter (tests/test_reader.py).
    """
    env(session)
    if not (BUILD / "html" / "en" / "index.html").exists():
        session.error("no built site: run `nox -s docs` first")
    plain, jupyter = reader_envs(session)
    session.env["ATTNBOOK_SITE"] = str(BUILD / "html")
    session.env["ATTNBOOK_READER_PYTHON"] = plain
    session.env["ATTNBOOK_READER_JUPYTER"] = jupyter
    reader_tests = str(ROOT / "tests" / "test_reader.py")  # collecting all tests takes ~30 s
    pytest(session, "reader", reader_tests)


@nox.session
def doctest(session: nox.Session) -> None:
    """Run the book's doctest blocks, then audit that every Python block is tested."""
    env(session)
    sphinx(session, "doctest", "en", BUILD / "doctest")
    run(
        session,
        _bin("python"),
        str(DOCS / "tools" / "audit_code_blocks.py"),
        str(BUILD / "doctrees" / "en"),
    )


@nox.session
def site(session: nox.Session) -> None:
    """Browser tests over the built site (both editions), network blocked."""
    env(session)
    ensure_chromium(session)
    if not (BUILD / "html" / "en" / "index.html").exists():
        session.error("no built site: run `nox -s docs` first")
    session.env["ATTNBOOK_SITE"] = str(BUILD / "html")
    pytest(session, "site")


@nox.session
def i18n(session: nox.Session) -> None:
    """For translators: regenerate the .pot templates and update locales/ja/*.po.

    ``nox -s i18n -- --only chapters/02-scaled-dot-product`` updates only that page's .po.
    """
    env(session)
    run(session, _bin("python"), str(DOCS / "tools" / "i18n.py"), "update", *session.posargs)


@nox.session(name="i18n-check")
def i18n_check(session: nox.Session) -> None:
    """Fail on any missing, untranslated or fuzzy Japanese message (``-- --only PAGE``: one page)."""
    env(session)
    run(session, _bin("python"), str(DOCS / "tools" / "i18n.py"), "check", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Speed and size goals: every script in benchmarks/ (each exits non-zero on a miss)."""
    env(session)
    scripts = sorted((ROOT / "benchmarks").glob("bench_*.py"))
    if session.posargs:
        scripts = [s for s in scripts if any(a in s.name for a in session.posargs)]
    for script in scripts:
        run(session, _bin("python"), str(script))


@nox.session
def mutants(session: nox.Session) -> None:
    """Mutation check: plausible bugs in the core modules, each must fail its tests."""
    env(session)
    run(session, _bin("python"), str(ROOT / "tests" / "mutants.py"), *session.posargs)


TOOLS = ROOT / ".nox" / "release-tools"
DIST = ROOT / "dist"
PDF = BUILD / "pdf"
#: Debian packages of the PDF route: CJK fonts for chromium, pdftotext/pdffonts for the checks.
PDF_DEBS = {
    "fonts-noto-cjk": "/usr/share/fonts/opentype/noto",
    "poppler-utils": "/usr/bin/pdftotext",
}


def tools_env(session: nox.Session) -> Path:
    """A small environment with the release tools (build, twine, check-jsonschema), pinned."""
    digest = hashlib.sha256((ROOT / "constraints.txt").read_bytes() + sys.version.encode())
    stamp_file = TOOLS / ".attnbook-stamp"
    if not stamp_file.exists() or stamp_file.read_text() != digest.hexdigest():
        shutil.rmtree(TOOLS, ignore_errors=True)
        session.run(sys.executable, "-m", "venv", str(TOOLS))
        tools = ("build", "twine", "check-jsonschema", "setuptools")
        pip = (str(TOOLS / "bin" / "python"), "-m", "pip", "install", "-q")
        session.run(*pip, "-c", str(ROOT / "constraints.txt"), *tools)
        stamp_file.write_text(digest.hexdigest())
    return TOOLS / "bin"


def ensure_debs(session: nox.Session, packages: dict[str, str]) -> None:
    """Install Debian packages (name -> a path it provides) when missing and we are root."""
    missing = [name for name, path in packages.items() if not Path(path).exists()]
    if not missing:
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        session.log(f"installing Debian's {' '.join(missing)}")
        run(session, "apt-get", "update", "-qq")
        run(session, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing)
    else:
        session.error(f"missing Debian packages: apt-get install {' '.join(missing)}")


def version() -> str:
    """The package version, from pyproject.toml."""
    import re

    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return re.search(r'^version = "([^"]+)"', text, re.MULTILINE).group(1)


@nox.session
def pdf(session: nox.Session) -> None:
    """After `docs`: docs/_build/pdf/attnbook-{en,ja}.pdf from the site's executed notebooks.

    Sphinx's singlehtml builder reads the site build's doctrees (nothing is
    executed again), chromium prints it (docs/tools/pdf.py); then the PDF
    tests (tests/test_pdf.py) check titles, Japanese figures and fonts.
    ``ATTNBOOK_SITE_URL`` is the published site the views' notes link to.
    """
    env(session)
    ensure_chromium(session)
    ensure_debs(session, PDF_DEBS)
    if not (BUILD / "html" / "en" / "index.html").exists():
        session.error("no built site: run `nox -s docs` first (the PDFs reuse its execution)")
    session.env["ATTNBOOK_PLAYGROUND"] = "0"  # the PDF shows a note, not the playground
    site_url = os.environ.get("ATTNBOOK_SITE_URL", "")
    # myst-nb resolves the glue of translated paragraphs from <outdir>/../jupyter_execute,
    # which the site build wrote (the doctrees are shared, so nothing is read again).
    shutil.copytree(BUILD / "html" / "jupyter_execute", PDF / "jupyter_execute", dirs_exist_ok=True)
    for language in LANGUAGES:
        html = PDF / f"html-{language}"
        sphinx(session, "singlehtml", language, html)
        out = PDF / f"attnbook-{language}.pdf"
        printer = [_bin("python"), str(DOCS / "tools" / "pdf.py"), str(html / "index.html")]
        run(session, *printer, str(out), "--language", language, "--site-url", site_url)
        # The site offers the PDFs too (the root page and every edition's index link them).
        (BUILD / "html" / "pdf").mkdir(exist_ok=True)
        shutil.copyfile(out, BUILD / "html" / "pdf" / out.name)
    session.env["ATTNBOOK_PDF"] = str(PDF)
    pdf_tests = str(ROOT / "tests" / "test_pdf.py")
    pytest(session, "pdf", pdf_tests)


@nox.session
def dist(session: nox.Session) -> None:
    """Release artifacts in dist/: the wheel and sdist (twine check), the built site archive.

    The wheel is installed in a fresh virtual environment (``.nox/dist-check``)
    that then runs ``attnbook show`` from outside the source tree.
    """
    tools = tools_env(session)
    session.env.update(ENVIRONMENT)
    if not (BUILD / "html" / "en" / "index.html").exists():
        session.error("no built site: run `nox -s docs` first (dist archives it)")
    shutil.rmtree(DIST, ignore_errors=True)
    with tempfile.TemporaryDirectory() as src:
        # Build from the committed files only: no build/ or egg-info left in the checkout.
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, src)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(ROOT / "attnbook", Path(src) / "attnbook", ignore=ignore)
        build = (str(tools / "python"), "-m", "build", "--no-isolation", "--outdir", str(DIST))
        session.run(*build, src, silent=True)
    run(session, str(tools / "twine"), "check", "--strict", *map(str, sorted(DIST.iterdir())))
    archive = DIST / f"attnbook-site-{version()}.tar.gz"
    session.run(
        sys.executable, str(DOCS / "tools" / "site_archive.py"), str(BUILD / "html"), str(archive)
    )
    wheel = DIST / f"attnbook-{version()}-py3-none-any.whl"
    check = ROOT / ".nox" / "dist-check"
    shutil.rmtree(check, ignore_errors=True)
    session.run(sys.executable, "-m", "venv", str(check))
    constraints = ("-c", str(ROOT / "constraints.txt"))
    session.run(
        str(check / "bin" / "python"), "-m", "pip", "install", "-q", *constraints, str(wheel)
    )
    with tempfile.TemporaryDirectory() as elsewhere:  # not the checkout: import the wheel's copy
        session.chdir(elsewhere)
        session.run(str(check / "bin" / "python"), str(ROOT / "tests" / "check_wheel.py"))
        session.run(str(check / "bin" / "attnbook"), "show", "The dog chased the cat.")
    for path in sorted(DIST.iterdir()):
        session.log(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1e6:.1f} MB")


@nox.session
def serve(session: nox.Session) -> None:
    """Serve the built site on http://localhost:8000 (build it first with `nox -s docs`)."""
    env(session)
    run(session, _bin("python"), "-m", "http.server", "8000", "-d", str(BUILD / "html"))
