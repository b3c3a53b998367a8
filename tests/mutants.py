"""A small mutation check: do the unit tests notice plausible bugs in the core modules?

Each mutant below is a bug someone could plausibly write (a wrong sign, a
missing sort, a mask that is dropped). For each one, in a temporary copy of
``attnbook/`` and ``tests/`` (never the working tree), the snippet is replaced,
the test files that should notice are run, and the mutant counts as *caught*
when they fail. An unmutated baseline run of the same test files comes first:
if it fails, the check says so and stops, because every mutant would then look
caught.

Run it with ``nox -s mutants`` (or ``python tests/mutants.py [NAME ...]``).
Exit status: 0 every mutant caught; 1 a mutant survived or the baseline failed;
2 a mutant's original snippet is no longer in the code (edit the list below so
it keeps describing the code as it is).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutant:
    name: str
    bug: str  # the plausible bug, in words
    edits: tuple[tuple[str, str, str], ...]  # (file, original snippet, mutated snippet)
    tests: tuple[str, ...]  # the test files (or test ids) that should notice


MUTANTS = (
    Mutant(
        "softmax-no-max-shift",
        "softmax without subtracting the maximum (overflows on large scores)",
        (("attnbook/mechanism/attention.py", "e = torch.exp(x - peak)", "e = torch.exp(x)"),),
        ("tests/test_mechanism.py",),
    ),
    Mutant(
        "sdpa-scale-by-d_k",
        "scores divided by d_k instead of sqrt(d_k)",
        (
            (
                "attnbook/mechanism/attention.py",
                "        scale = 1.0 / math.sqrt(d_k)\n",
                "        scale = 1.0 / d_k\n",
            ),
        ),
        ("tests/test_mechanism.py",),
    ),
    Mutant(
        "causal-mask-excludes-self",
        "causal mask that hides the token itself (strictly before)",
        (
            (
                "attnbook/mechanism/masks.py",
                "dtype=torch.bool, device=device).tril(diagonal=s - t)",
                "dtype=torch.bool, device=device).tril(diagonal=s - t - 1)",
            ),
        ),
        ("tests/test_mechanism.py",),
    ),
    Mutant(
        "boolean-mask-inverted",
        "boolean mask read the wrong way round (True = hidden)",
        (
            (
                "attnbook/mechanism/attention.py",
                'return scores.masked_fill(~mask, float("-inf"))',
                'return scores.masked_fill(mask, float("-inf"))',
            ),
        ),
        ("tests/test_mechanism.py",),
    ),
    Mutant(
        "words-sum-from-split-query",
        "to_words sums a split query word's rows instead of averaging them",
        (
            (
                "attnbook/maps/words.py",
                "mean_from = q_member / q_member.sum(dim=1, keepdim=True)",
                "mean_from = q_member",
            ),
        ),
        ("tests/test_maps.py",),
    ),
    Mutant(
        "words-mean-to-split-key",
        "to_words averages the attention to a split key word instead of summing it",
        (
            (
                "attnbook/maps/words.py",
                "attentions = mean_from @ maps.attentions @ k_member.T",
                "attentions = mean_from @ maps.attentions @ mean_from.T",
            ),
        ),
        ("tests/test_maps.py",),
    ),
    Mutant(
        "recompute-ignores-padding",
        "recompute_attention drops the padding mask",
        (
            (
                "attnbook/adapters/recompute.py",
                "mask = (1.0 - keep.to(device=q.device, dtype=q.dtype)) * minimum  # [S]",
                "mask = None  # [S]",
            ),
        ),
        ("tests/test_recompute.py",),
    ),
    Mutant(
        "entropy-unsmoothed",
        "head entropy without Clark et al.'s smoothing",
        (
            (
                "attnbook/analysis/heads.py",
                "s = (1 - ENTROPY_SMOOTHING) * a + ENTROPY_SMOOTHING / n\n",
                "s = a.clamp_min(1e-12)\n",
            ),
        ),
        ("tests/test_analysis_heads.py",),
    ),
    Mutant(
        "rollout-min-is-max",
        'rollout\'s "min" head fusion computed with max',
        (("attnbook/analysis/rollout.py", "fused = a.amin(1)", "fused = a.amax(1)"),),
        ("tests/test_analysis_rollout.py",),
    ),
    Mutant(
        "rollout-residual-swapped",
        "rollout weights the identity with 1 - residual instead of residual",
        (
            (
                "attnbook/analysis/rollout.py",
                "mixed = (1 - residual) * fused + residual * eye",
                "mixed = residual * fused + (1 - residual) * eye",
            ),
        ),
        ("tests/test_analysis_rollout.py",),
    ),
    Mutant(
        "rollout-layer-order",
        "rollout multiplies the layers in the wrong order (first layer on the left)",
        (
            (
                "attnbook/analysis/rollout.py",
                "out.append(layer @ out[-1])",
                "out.append(out[-1] @ layer)",
            ),
        ),
        ("tests/test_analysis_rollout.py",),
    ),
    Mutant(
        "payload-query-major",
        "view payload stored query-major in both the encoder and the Python decoder",
        (
            (
                "attnbook/view/payload.py",
                "q = quantise(att.transpose(-1, -2))  # key-major",
                "q = quantise(att)",
            ),
            (
                "attnbook/view/payload.py",
                "dense[layer, head] = dequantise(q.T)",
                "dense[layer, head] = dequantise(q)",
            ),
        ),
        ("tests/test_view.py",),
    ),
    Mutant(
        "variance-se-3dk",
        "standard error of the variance experiment with 3·d_k instead of 6·d_k",
        (
            (
                "attnbook/experiments.py",
                "math.sqrt((2 * d_k**2 + 6 * d_k) / n_samples)",
                "math.sqrt((2 * d_k**2 + 3 * d_k) / n_samples)",
            ),
        ),
        ("tests/test_experiments.py",),
    ),
    Mutant(
        "particle-heads-unsorted",
        "particle_heads without its final sort (the first row per relation is not the best)",
        (
            (
                "attnbook/toy/evaluate.py",
                'out = out.sort_values(["relation", "worse"], ascending=[True, False], kind="stable")',
                "out = out",
            ),
        ),
        (
            "tests/test_toy.py::test_clark_table_and_particle_heads_on_known_heads",
            "tests/test_toy.py::test_particle_heads_rows_are_ordered_best_first",
        ),
    ),
    Mutant(
        "particle-offset-unsorted",
        "particle_heads picks its baseline offset without sorting (not the best offset)",
        (
            (
                "attnbook/toy/evaluate.py",
                'o = o.sort_values(["relation", "offset_worse", "_mean"], ascending=[True, False, False])',
                "o = o",
            ),
        ),
        (
            "tests/test_toy.py::test_clark_table_and_particle_heads_on_known_heads",
            "tests/test_toy.py::test_particle_heads_rows_are_ordered_best_first",
        ),
    ),
)


def apply(mutant: Mutant, tree: Path) -> None:
    """Apply the mutant's edits in ``tree``; each original snippet must occur exactly once."""
    for file, old, new in mutant.edits:
        path = tree / file
        text = path.read_text(encoding="utf-8")
        if text.count(old) != 1:
            raise LookupError(
                f"{mutant.name}: expected the snippet once in {file}, found it "
                f"{text.count(old)} times: {old!r}"
            )
        path.write_text(text.replace(old, new), encoding="utf-8")


def missing_snippets(mutants: list[Mutant]) -> list[str]:
    problems = []
    for m in mutants:
        for file, old, _ in m.edits:
            if not (ROOT / file).is_file():
                problems.append(f"{m.name}: {file} no longer exists")
                continue
            n = (ROOT / file).read_text(encoding="utf-8").count(old)
            if n != 1:
                problems.append(f"{m.name}: {file} contains the snippet {n} times: {old!r}")
    return problems


def pytest(tree: Path, tests: tuple[str, ...]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
    command += ["-o", "addopts=", "--rootdir", str(tree), *tests]
    return subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)


def copy_tree(destination: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    for name in ("attnbook", "tests"):
        shutil.copytree(ROOT / name, destination / name, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", destination / "pyproject.toml")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="run only these mutants (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)
    unknown = set(args.names) - {m.name for m in MUTANTS}
    if unknown:
        parser.error(f"no mutant named {', '.join(sorted(unknown))}")
    chosen = [m for m in MUTANTS if not args.names or m.name in args.names]
    if args.list:
        for m in chosen:
            print(f"{m.name:28} {m.bug}")
        return 0
    problems = missing_snippets(chosen)
    if problems:
        print("mutants out of date (the code changed; update tests/mutants.py):")
        print("\n".join(f"  {p}" for p in problems))
        return 2

    with tempfile.TemporaryDirectory(prefix="attnbook-mutants-") as tmp:
        tree = Path(tmp)
        copy_tree(tree)
        check = subprocess.run(
            [sys.executable, "-c", "import attnbook; print(attnbook.__file__)"],
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree)},
            capture_output=True,
            text=True,
            check=True,
        )
        if not Path(check.stdout.strip()).is_relative_to(tree):
            print(f"the copy is not what gets imported: attnbook comes from {check.stdout}")
            return 1
        targets = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
        start = time.monotonic()
        baseline = pytest(tree, targets)
        seconds = time.monotonic() - start
        print(f"baseline (no mutant): {' '.join(targets)}: {seconds:.0f} s", flush=True)
        if baseline.returncode != 0:
            print(baseline.stdout[-4000:], baseline.stderr[-2000:])
            print("the unmutated tests fail: fix them before judging mutants")
            return 1
        survived, broken = [], []
        for m in chosen:
            pristine = {file: (tree / file).read_text(encoding="utf-8") for file, _, _ in m.edits}
            apply(m, tree)
            start = time.monotonic()
            result = pytest(tree, m.tests)
            seconds = time.monotonic() - start
            if result.returncode == 1:
                verdict = "caught"
            elif result.returncode == 0:
                verdict = "SURVIVED"
                survived.append(m.name)
            else:  # collection error, crash, interrupted: the mutant itself is broken
                verdict = f"ERROR (pytest exit {result.returncode})"
                broken.append(m.name)
                print(result.stdout[-2000:], result.stderr[-2000:])
            print(f"{verdict:9} {m.name:28} {seconds:5.0f} s  {m.bug}", flush=True)
            for file, text in pristine.items():
                (tree / file).write_text(text, encoding="utf-8")
    caught = len(chosen) - len(survived) - len(broken)
    print(f"\n{caught} of {len(chosen)} mutants caught", end="")
    print(f"; survived: {', '.join(survived)}" if survived else "", end="")
    print(f"; broken: {', '.join(broken)}" if broken else "")
    return 1 if survived or broken else 0


if __name__ == "__main__":
    sys.exit(main())
