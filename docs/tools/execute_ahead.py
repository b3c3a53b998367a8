"""Execute the book's chapters in parallel before Sphinx reads them.

myst-nb executes a notebook while Sphinx *reads* its page. With ``-j N`` Sphinx
reads in N processes, but it hands each process a fixed batch of up to ten
pages in file order, so on a clean build one process gets chapters 1–10 —
chapter 9 with its five trainings among them — while the other finishes early
and waits. This extension starts as soon as the builder is set up: it finds the
pages whose notebook is not in myst-nb's execution cache and executes them in a
pool of N worker processes, heaviest first; just before Sphinx reads, it waits
for them and stores each result in that cache exactly as myst-nb would (the
notebook as myst-nb reads it, hence the same cache key, and the same
``execution_seconds``). myst-nb then finds every page cached and only renders
it. Steps that run in between (the playground's model export) overlap with the
execution.

The heaviest-first order comes from the previous build's execution times
(``<build dir>/.jupyter_cache/execution-times.json``, written after each run)
and, on a clean build without them, from ``attnbook_execute_first`` in
``conf.py``.

Two builds sharing the cache at the same time take turns through a lock
file: the second waits until the first has executed and cached everything, so
no page runs twice. Nothing changes when execution
is off or not cached (``nb_execution_mode`` other than ``"cache"``). A chapter
that fails here fails the build with its traceback, as it would inside myst-nb.
"""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from sphinx.environment import CONFIG_OK
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

TIMES_FILE = "execution-times.json"
LOCK_FILE = ".execute-ahead.lock"


def _execute(path: str, notebook, timeout: int, allow_errors: bool):
    """Run one notebook in a fresh kernel (in a worker process); return it with its time."""
    from jupyter_cache.executors.utils import single_nb_execution

    result = single_nb_execution(
        notebook,
        cwd=str(Path(path).parent),
        timeout=timeout,
        allow_errors=allow_errors,
        meta_override=True,
    )
    error = f"{type(result.err).__name__}: {result.exc_string}" if result.err else None
    return notebook, result.time, error


def _notebook_config(nb_config, notebook):
    """The page's own ``mystnb:`` front-matter settings over the book-wide ones (as myst-nb does)."""
    overrides = dict(notebook.metadata.get(nb_config.metadata_key, {}))
    overrides.pop("output_folder", None)
    return nb_config.copy(**overrides) if overrides else nb_config


def schedule(docnames: list[str], previous: dict[str, float], first: list[str]) -> list[str]:
    """Heaviest first: by the last build's seconds, else ``first``'s order, then the rest.

    >>> schedule(["a", "b", "c", "d"], {}, ["c"])
    ['c', 'a', 'b', 'd']
    >>> schedule(["a", "b", "c"], {"a": 1.0, "b": 9.0}, ["c"])
    ['b', 'a', 'c']
    """
    if previous and all(name in previous for name in docnames):
        return sorted(docnames, key=lambda name: -previous[name])
    ranked = [name for name in first if name in docnames]
    return ranked + [name for name in docnames if name not in ranked]


def _pending(env, docnames):
    """The pages among ``docnames`` that are notebooks missing from the execution cache."""
    from jupyter_cache import get_cache
    from myst_nb.core.read import create_nb_reader

    cache = get_cache(env.mystnb_config.execution_cache_path or ".jupyter_cache")
    pending = {}
    for docname in sorted(docnames):
        path = str(env.doc2path(docname))
        content = Path(path).read_text(encoding="utf-8")
        reader = create_nb_reader(path, env.myst_config, env.mystnb_config, content)
        if reader is None:
            continue
        notebook = reader.read(content)
        if not any(cell.cell_type == "code" for cell in notebook.cells):
            continue
        try:
            cache.match_cache_notebook(notebook)
        except KeyError:
            pending[docname] = (path, notebook, reader.read_fmt)
    return cache, pending


def _start(app) -> None:
    """On ``builder-inited``: submit every page missing from the cache to a worker pool.

    Starting here rather than when Sphinx is about to read lets the steps that
    run between (the playground's model export) overlap with the execution.
    """
    env = app.env
    app._attnbook_ahead = None
    if env.mystnb_config.execution_mode != "cache":
        return
    cache_root = Path(env.mystnb_config.execution_cache_path).parent
    cache_root.mkdir(parents=True, exist_ok=True)
    # Another build may share this cache right now (the other edition, the PDF):
    # whoever comes second waits here, then finds the pages already cached.
    lock = (cache_root / LOCK_FILE).open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    docnames = env.found_docs
    if env.config_status == CONFIG_OK:
        # A rebuild: only what Sphinx will read again can need executing (a page it
        # will not read is not rendered either). Reading all of them costs ~1.5 s.
        added, changed, _ = env.get_outdated_files(config_changed=False)
        docnames = added | changed
    cache, pending = _pending(env, docnames)
    if not pending:
        lock.close()
        return
    times_path = cache_root / TIMES_FILE
    try:
        previous = json.loads(times_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        previous = {}
    order = schedule(list(pending), previous, list(app.config.attnbook_execute_first))
    workers = max(1, min(app.parallel, len(pending)))
    processes = "1 process" if workers == 1 else f"{workers} processes"
    logger.info(f"executing {len(pending)} pages in {processes}, heaviest first")
    # fork: the workers start at once with the modules already loaded; nothing in this
    # process runs threads yet (Sphinx forks its own reading processes the same way).
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
    futures = {}
    for docname in order:
        path, notebook, _ = pending[docname]
        config = _notebook_config(env.mystnb_config, notebook)
        futures[docname] = pool.submit(
            _execute, path, notebook, config.execution_timeout, config.execution_allow_errors
        )
    app._attnbook_ahead = (pool, cache, pending, futures, previous, times_path, lock)


def _finish(app, env, docnames) -> None:
    """On ``env-before-read-docs``: wait for the pool and put its notebooks in the cache."""
    state = getattr(app, "_attnbook_ahead", None)
    if state is None:
        return
    app._attnbook_ahead = None
    pool, cache, pending, futures, previous, times_path, lock = state
    start = time.perf_counter()
    failures = []
    with pool, lock:
        for docname, future in futures.items():
            notebook, seconds, error = future.result()
            path, _, read_fmt = pending[docname]
            if error is not None:
                failures.append(f"{docname}: {error}")
                continue
            previous[docname] = round(seconds, 2)
            stage = cache.add_nb_to_project(path, read_data=read_fmt)
            cache.cache_notebook_bundle(
                _bundle(notebook, stage.uri, seconds), check_validity=False, overwrite=True
            )
            logger.info(f"executed {docname} in {seconds:.1f} s")
        try:
            times_path.write_text(json.dumps(previous, indent=1, sort_keys=True), encoding="utf-8")
        except OSError:
            pass  # only a scheduling hint
    logger.info(f"waited {time.perf_counter() - start:.1f} s for the last of {len(futures)} pages")
    if failures and env.mystnb_config.execution_raise_on_error:
        raise ExtensionError("executing a chapter failed:\n" + "\n".join(failures))


def _bundle(notebook, uri: str, seconds: float):
    from jupyter_cache.base import CacheBundleIn

    return CacheBundleIn(notebook, uri, data={"execution_seconds": seconds})


def setup(app):
    app.add_config_value("attnbook_execute_first", [], "env")
    # after myst-nb's own builder-inited handler (priority 500), which sets its config
    app.connect("builder-inited", _start, priority=510)
    app.connect("env-before-read-docs", _finish)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
