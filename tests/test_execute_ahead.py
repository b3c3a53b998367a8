"""docs/tools/execute_ahead.py: chapters executed in parallel, once, into myst-nb's cache."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs" / "tools"))

from execute_ahead import schedule  # noqa: E402

pytest.importorskip("myst_nb")

PAGE = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# Page {name}

```{{code-cell}} python3
import os, time
with open(os.environ["RUNS_LOG"], "a") as fh:
    fh.write("{name} %d\\n" % os.getpid())
time.sleep({sleep})
{extra}
print("output of {name}")
```
"""


def _project(tmp_path: Path, pages: dict[str, tuple[float, str]]) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(ROOT / "docs" / "tools")!r})
            extensions = ["myst_nb", "execute_ahead"]
            nb_execution_mode = "cache"
            nb_execution_raise_on_error = True
            nb_execution_cache_path = {str(tmp_path / "cache" / "v1")!r}
            attnbook_execute_first = ["slow"]
            """
        )
    )
    toc = "\n".join(pages)
    (src / "index.md").write_text(f"# Index\n\n```{{toctree}}\n{toc}\n```\n")
    for name, (sleep, extra) in pages.items():
        (src / f"{name}.md").write_text(PAGE.format(name=name, sleep=sleep, extra=extra))
    return src


def _build(
    src: Path, tmp_path: Path, jobs: str = "2", out: str = "out"
) -> subprocess.CompletedProcess:
    env = {**os.environ, "RUNS_LOG": str(tmp_path / "runs.log")}
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-j", jobs, str(src), str(tmp_path / out)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def _runs(tmp_path: Path) -> list[tuple[str, str]]:
    log = tmp_path / "runs.log"
    lines = log.read_text().split("\n") if log.exists() else []
    return [tuple(line.split()) for line in lines if line]


def test_schedule_heaviest_first():
    assert schedule(["a", "b", "c"], {"a": 1.0, "b": 5.0, "c": 3.0}, ["a"]) == ["b", "c", "a"]
    # an unknown page (new, or renamed) makes the old times incomplete: use the hint
    assert schedule(["a", "b", "new"], {"a": 1.0, "b": 5.0}, ["new"]) == ["new", "a", "b"]
    assert schedule(["a", "b"], {}, []) == ["a", "b"]


def test_pages_run_once_in_parallel_and_myst_nb_reuses_them(tmp_path):
    src = _project(tmp_path, {"slow": (0.5, ""), "fast": (0.1, ""), "other": (0.1, "")})
    done = _build(src, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "executing 3 pages in 2 processes" in done.stdout
    runs = _runs(tmp_path)
    # each page exactly once: myst-nb found all three in the cache and did not re-run them
    assert sorted(name for name, _ in runs) == ["fast", "other", "slow"]
    assert len({pid for _, pid in runs}) >= 2, "two kernels (one per worker) ran"
    for name in ("slow", "fast", "other"):
        assert f"output of {name}" in (tmp_path / "out" / f"{name}.html").read_text()
    assert (tmp_path / "cache" / "execution-times.json").exists()

    # a fresh build (new output and environment, same execution cache) executes nothing
    again = _build(src, tmp_path, out="again")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "executing" not in again.stdout
    assert len(_runs(tmp_path)) == 3


def test_a_failing_page_fails_the_build_with_its_error(tmp_path):
    src = _project(
        tmp_path, {"slow": (0.1, ""), "broken": (0.1, "raise ValueError('chapter says no')")}
    )
    done = _build(src, tmp_path)
    assert done.returncode != 0
    assert "chapter says no" in done.stdout + done.stderr
    assert "broken" in done.stdout + done.stderr


def test_two_builds_at_once_execute_each_page_once(tmp_path):
    src = _project(tmp_path, {"slow": (0.5, ""), "fast": (0.1, "")})
    env = {**os.environ, "RUNS_LOG": str(tmp_path / "runs.log")}
    builds = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sphinx",
                "-b",
                "html",
                "-j",
                jobs,
                "-d",
                str(tmp_path / f"doctrees-{jobs}"),
                str(src),
                str(tmp_path / f"out-{jobs}"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for jobs in ("1", "2")
    ]
    logs = [build.communicate(timeout=300)[0] for build in builds]
    assert [build.returncode for build in builds] == [0, 0], logs
    # one of them executed (a serial build too: in one process), the other waited
    assert sum("executing 2 pages in" in log for log in logs) == 1, logs
    assert sorted(name for name, _ in _runs(tmp_path)) == ["fast", "slow"]
