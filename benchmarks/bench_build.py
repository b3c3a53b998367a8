"""Benchmark: how long authors wait for the book, and whether two clean builds agree.

Works on a snapshot (``docs/`` and ``attnbook/`` copied to a temporary
directory, with ``ATTNBOOK_BUILD_DIR`` and ``PYTHONPATH`` pointing there), so
the real sources and ``docs/_build`` are never touched and edits others make
meanwhile do not change what is measured. It times, exactly as ``nox -s docs``
builds (``sphinx -W --keep-going -b html -D language=…``):

1. a clean build of both editions (English, then Japanese: the Japanese build
   reuses the English execution cache, so it is timed on its own too);
2. a no-change rebuild of both;
3. a one-chapter edit (a comment line appended to one chapter's Markdown in
   the snapshot) and the rebuild of both;
4. unless ``--no-reproducibility``: a second clean build into a fresh build
   directory (empty execution cache, so every chapter runs again) whose
   ``_images/`` must be byte-identical to the first one's.

Goals on the project's 2-core machine (issues 11 and 13): clean, both
languages, every chapter and training from scratch <= 300 s, no-change
<= 10 s, one-chapter edit <= 30 s. Exits 1 on a missed goal or differing figures.
CPU time of the builds is printed beside wall time, so slowness caused by
other processes on the machine can be told apart from a slow build.

    python benchmarks/bench_build.py [--jobs auto|1|2] [--chapter 02-scaled-dot-product]
        [--ref HEAD|worktree] [--no-reproducibility] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("en", "ja")
GOALS = {"clean": 300.0, "no-change": 10.0, "one-chapter edit": 30.0}
ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "MPLBACKEND": "Agg",
    "PYTHONHASHSEED": "0",
    "TOKENIZERS_PARALLELISM": "false",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}
BUILD_FAILURES: list[str] = []
# The playground export (a builder-inited step) needs the runtime's npm lock file.
PLAYGROUND_PINS = ("package.json", "package-lock.json")
IGNORED = shutil.ignore_patterns(
    "_build", "__pycache__", ".ipynb_checkpoints", "*.pyc", ".jupyter_cache"
)


def snapshot(target: Path, ref: str | None) -> Path:
    """Copy the book's sources and the package into ``target``; return the docs dir there.

    ``ref`` (e.g. ``HEAD``) takes them from git, as committed; ``None`` copies the
    working tree, uncommitted edits included.
    """
    if ref is None:
        shutil.copytree(ROOT / "docs", target / "docs", ignore=IGNORED)
        shutil.copytree(ROOT / "attnbook", target / "attnbook", ignore=IGNORED)
        for name in PLAYGROUND_PINS:
            shutil.copy2(ROOT / name, target / name)
    else:
        archive = subprocess.run(
            [
                "git",
                "-C",
                str(ROOT),
                "archive",
                "--format=tar",
                ref,
                "docs",
                "attnbook",
                *PLAYGROUND_PINS,
            ],  # fmt: skip
            capture_output=True,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    # The playground's runtime comes from npm: reuse the installed packages (installing
    # them is part of setting up the environment, like pip, not of building the book).
    if (ROOT / "node_modules").is_dir():
        (target / "node_modules").symlink_to(ROOT / "node_modules")
    return target / "docs"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def build(docs: Path, build_dir: Path, language: str, jobs: str) -> tuple[float, float]:
    """One ``sphinx-build`` of one edition; returns (wall seconds, CPU seconds)."""
    env = {
        **os.environ,
        **ENVIRONMENT,
        "ATTNBOOK_BUILD_DIR": str(build_dir),
        "ATTNBOOK_CACHE": str(build_dir / "attnbook-cache"),
        # The notebooks' kernels import the snapshot's attnbook, not the working tree's.
        "PYTHONPATH": os.pathsep.join(
            [str(docs.parent), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    cmd = [
        sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q",
        "-D", f"language={language}", "-d", str(build_dir / "doctrees" / language),
        *(["-j", jobs] if jobs != "1" else []),
        str(docs), str(build_dir / "html" / language),
    ]  # fmt: skip
    cpu, start = _children_cpu(), time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=docs.parent, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if done.returncode != 0:
        # Keep timing (a warning under -W still builds every page) but fail at the end.
        sys.stderr.write(done.stderr[-3000:])
        BUILD_FAILURES.append(f"sphinx-build {language} exited with {done.returncode}")
    return wall, cpu


def build_all(docs: Path, build_dir: Path, jobs: str, label: str, results: dict) -> None:
    total_wall = total_cpu = 0.0
    for language in LANGUAGES:
        wall, cpu = build(docs, build_dir, language, jobs)
        results[f"{label} [{language}]"] = (wall, cpu)
        total_wall, total_cpu = total_wall + wall, total_cpu + cpu
        print(f"  {label:<18} {language}: {wall:7.1f} s wall {cpu:7.1f} s CPU", flush=True)
    results[label] = (total_wall, total_cpu)


def image_digests(build_dir: Path) -> dict[str, str]:
    """sha256 of every figure file of both editions, keyed by ``lang/_images/name``."""
    out = {}
    for language in LANGUAGES:
        images = build_dir / "html" / language / "_images"
        for path in sorted(images.glob("*")) if images.is_dir() else []:
            out[f"{language}/_images/{path.name}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def pick_chapter(docs: Path, name: str | None) -> Path:
    chapters = sorted((docs / "chapters").glob("*.md"))
    if not chapters:
        raise SystemExit(f"no chapters in {docs / 'chapters'}")
    if name is None:
        return chapters[0]
    for path in chapters:
        if path.stem == name or path.name == name:
            return path
    raise SystemExit(f"no chapter {name!r}; chapters: {', '.join(p.stem for p in chapters)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--jobs", "-j", default="auto", help="sphinx -j: auto (default, as nox -s docs), 1 or 2"
    )
    parser.add_argument("--chapter", help="the chapter to edit (default: the first)")
    parser.add_argument(
        "--ref",
        default="HEAD",
        help="git revision to measure (default: HEAD); 'worktree' copies uncommitted files too",
    )
    parser.add_argument("--no-reproducibility", action="store_true", help="skip the second build")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="attnbook-bench-build-"))
    results: dict[str, tuple[float, float]] = {}
    failures: list[str] = []
    try:
        docs = snapshot(tmp, None if args.ref == "worktree" else args.ref)
        print(
            f"snapshot of {args.ref} in {tmp}; sphinx -j {args.jobs}; {os.cpu_count()} CPUs; "
            f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}",
            flush=True,
        )
        first = tmp / "build"
        build_all(docs, first, args.jobs, "clean", results)
        build_all(docs, first, args.jobs, "no-change", results)
        chapter = pick_chapter(docs, args.chapter)
        with chapter.open("a", encoding="utf-8") as fh:
            fh.write("\n<!-- bench_build: a harmless edit -->\n")
        print(f"  edited {chapter.relative_to(docs)}", flush=True)
        build_all(docs, first, args.jobs, "one-chapter edit", results)

        if not args.no_reproducibility:
            second = tmp / "build-again"
            build_all(docs, second, args.jobs, "clean again", results)
            a, b = image_digests(first), image_digests(second)
            differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
            print(f"\nreproducibility: {len(a)} figure files in build 1, {len(b)} in build 2")
            if differ or not a:
                failures.append(
                    "figures differ between two clean builds: " + ", ".join(differ[:10])
                    if differ
                    else "no figure files were built"
                )
            else:
                print("  all figure files are byte-identical")
            en = {k.split("/", 1)[1]: v for k, v in a.items() if k.startswith("en/")}
            ja = {k.split("/", 1)[1]: v for k, v in a.items() if k.startswith("ja/")}
            same = sum(1 for k in en if ja.get(k) == en[k])
            print(f"  English and Japanese editions share {same} of {len(en)} figure files")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n{'measurement':<28} {'wall s':>8} {'CPU s':>8} {'goal s':>8}")
    for label, (wall, cpu) in results.items():
        goal = GOALS.get(label)
        mark = ""
        if goal is not None:
            mark = "  ok" if wall <= goal else "  MISSED"
            if wall > goal:
                failures.append(f"{label}: {wall:.1f} s > {goal:.0f} s")
        goal_text = f"{goal:8.0f}" if goal is not None else " " * 8
        print(f"{label:<28} {wall:8.1f} {cpu:8.1f} {goal_text}{mark}")
    print(f"(Japanese after English, in the clean build: {results['clean [ja]'][0]:.1f} s)")
    failures += BUILD_FAILURES
    if failures:
        print("\n" + "\n".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
