"""Benchmark: every toy training the book runs needs at most 60 s of CPU time, same seed -> same weights.

For each training the chapters run (:func:`trainings`: the toy encoder of
chapter 9, the decoder LM and the induction models of chapter 12, the
translators of chapter 13, the key/value-heads retrains of chapter 14), this
trains the model from scratch through the function the chapter calls
(``load_or_train*``), with ``ATTNBOOK_CACHE`` pointing at a new empty
directory, on one thread as the chapters do, and prints its CPU time (the goal),
wall time, the load average and the weights hash.

The goal is on CPU time because the machine is shared: other processes make
the wall clock run on while a training waits for a core, but do not add to
its CPU time. Wall time is printed beside it. Data the toy modules keep in
memory between trainings (a split, an encoded corpus) is forgotten first, so
each time includes generating the training data, as in a new process.

Same seed, same weights: then a second Python process (a different
``PYTHONHASHSEED``, its own empty cache) trains the first seed of every
configuration once more, and its weights hashes must equal the first ones.
``--parallel`` runs it beside the timed trainings instead: about half the
wall time on two cores, but the two processes slow each other down (the
CPU times measured that way came out up to 40% higher), so the default
keeps the timings alone.

Exit status 1 if a training needs more than ``--limit`` CPU seconds or a hash differs.

    python benchmarks/bench_toy.py [--all-seeds] [--limit 60] [--parallel] [--only WORD ...]

By default the toy encoder and the chapter 14 retrains are timed for seed 0
only (another seed trains the same shapes for as many steps), the induction
models and the translators for every seed the book uses. ``--all-seeds``
adds chapter 9's seeds 1-4, chapter 14's seed 1 and the two "Try it" models.
``--only translator induction`` runs the trainings whose names contain a word.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from attnbook import toy
from attnbook.toy import translate as tr
from attnbook.toy.decoder_lm import DecoderConfig, load_or_train_decoder
from attnbook.toy.induction import InductionConfig, load_or_train_induction

LOADERS: dict[str, Callable[[Any], Any]] = {
    "encoder": toy.load_or_train,
    "decoder": load_or_train_decoder,
    "induction": load_or_train_induction,
    "translator": tr.load_or_train_translator,
}


@dataclass(frozen=True)
class Training:
    """One training a chapter runs: where, what (a key of ``LOADERS``) and its configuration."""

    chapter: str
    name: str
    kind: str
    config: Any
    repeat: bool  # trained a second time, in another process, for the hash check


def trainings(all_seeds: bool = False) -> list[Training]:
    """The trainings of the book, with the configurations the chapters pass (keep them in step)."""
    out = []
    # ch. 9: ToyConfig() for seeds 0-4 (experiment.run_seeds), and the "Try it" model.
    for seed in range(5) if all_seeds else [0]:
        out.append(Training("9", f"toy encoder, seed {seed}", "encoder",
                            toy.ToyConfig(seed=seed), seed == 0))  # fmt: skip
    if all_seeds:
        mine = toy.ToyConfig(seed=7, d_model=32, num_layers=2, num_heads=4, d_ff=64,
                             n_train=4000, n_test=600, steps=200, snapshot_every=50, n_probe=200)  # fmt: skip
        out.append(Training("9", "Try it encoder", "encoder", mine, False))
    # ch. 12: the decoder LM, and the induction models of induction_study(seeds=(0, 1, 2)).
    out.append(Training("12", "decoder LM", "decoder", DecoderConfig(), True))
    for seed in (0, 1, 2):
        out.append(Training("12", f"induction, seed {seed}", "induction",
                            InductionConfig(seed=seed), seed == 0))  # fmt: skip
    # ch. 13: the translator for seeds 0-2, and the "Try it" model.
    for seed in (0, 1, 2):
        out.append(Training("13", f"translator, seed {seed}", "translator",
                            tr.TranslatorConfig(seed=seed), seed == 0))  # fmt: skip
    if all_seeds:
        mine = tr.TranslatorConfig(seed=7, d_model=32, num_layers=1, num_heads=2, d_ff=64,
                                   n_train=3000, n_test=200, steps=150)  # fmt: skip
        out.append(Training("13", "Try it translator", "translator", mine, False))
    # ch. 14: the toy decoder with 8, 2 and 1 key/value heads, seeds 0 and 1.
    for kv in (8, 2, 1):
        for seed in (0, 1) if all_seeds else (0,):
            config = DecoderConfig(num_heads=8, num_kv_heads=kv, steps=300, seed=seed)
            out.append(
                Training(
                    "14", f"{kv} KV head{'s' * (kv > 1)}, seed {seed}", "decoder", config, seed == 0
                )
            )
    return out


def forget_cached_data() -> None:
    """Empty the in-memory caches of attnbook.toy (splits, encoded corpora), as in a new process."""
    for name, module in list(sys.modules.items()):
        if name.startswith("attnbook.toy"):
            for obj in list(vars(module).values()):
                if callable(getattr(obj, "cache_clear", None)):
                    obj.cache_clear()


def train_from_scratch(training: Training) -> tuple[Any, float, float]:
    """(result, CPU seconds, wall seconds) of one training with a new, empty cache."""
    forget_cached_data()
    directory = tempfile.mkdtemp(prefix="attnbook-bench-toy-")
    previous = os.environ.get("ATTNBOOK_CACHE")
    os.environ["ATTNBOOK_CACHE"] = directory
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        result = LOADERS[training.kind](training.config)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        written = [p for p in os.listdir(os.path.join(directory, "toy")) if p.endswith(".pt")]
    finally:
        if previous is None:
            del os.environ["ATTNBOOK_CACHE"]
        else:
            os.environ["ATTNBOOK_CACHE"] = previous
        shutil.rmtree(directory, ignore_errors=True)
    if result.from_cache or len(written) != 1:
        raise RuntimeError(f"{training.name}: expected one training into an empty cache")
    return result, cpu, wall


def child(indices: list[int], all_seeds: bool) -> int:
    """The second process: train the given trainings again, print one JSON line per hash."""
    torch.set_num_threads(1)
    todo = trainings(all_seeds)
    for i in indices:
        result, cpu, _ = train_from_scratch(todo[i])
        print(json.dumps({"index": i, "hash": result.weights_hash, "cpu": cpu}), flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=60.0, help="CPU seconds per training")
    parser.add_argument("--all-seeds", action="store_true", help="every seed the book trains")
    parser.add_argument("--parallel", action="store_true", help="the hash check beside the timings")
    parser.add_argument("--only", nargs="+", metavar="WORD", help="trainings whose name has WORD")
    parser.add_argument("--child", type=int, nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        return child(args.child, args.all_seeds)

    torch.set_num_threads(1)  # as the chapters: one thread, the same weights everywhere
    todo = trainings(args.all_seeds)
    chosen = [i for i, t in enumerate(todo) if not args.only or any(w in t.name for w in args.only)]
    repeat = [i for i in chosen if todo[i].repeat]
    command = [sys.executable, __file__, "--child", *map(str, repeat)]
    command += ["--all-seeds"] if args.all_seeds else []
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # another hash seed than ours (nox: 0)

    def start_check() -> subprocess.Popen:
        return subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)

    check = start_check() if args.parallel else None
    print(
        f"torch {torch.__version__}, 1 thread, {os.cpu_count()} cores; goal <= {args.limit:.0f} s CPU"
    )
    print(f"{'ch.':>3}  {'training':<22} {'CPU s':>6} {'wall s':>7} {'load':>5}  weights hash")
    hashes, slow = {}, []
    for i in chosen:
        training = todo[i]
        result, cpu, wall = train_from_scratch(training)
        hashes[i] = result.weights_hash
        load = os.getloadavg()[0]
        flag = "  OVER THE GOAL" if cpu > args.limit else ""
        print(f"{training.chapter:>3}  {training.name:<22} {cpu:6.1f} {wall:7.1f} {load:5.1f}  "
              f"{result.weights_hash[:16]}{flag}", flush=True)  # fmt: skip
        if cpu > args.limit:
            slow.append(f"{training.name} ({cpu:.1f} s)")
    if check is None:
        check = start_check()
    out, _ = check.communicate()
    again = {row["index"]: row for row in map(json.loads, out.splitlines())}
    print(
        f"\nsame seed, same weights (trained again in another process, PYTHONHASHSEED={env['PYTHONHASHSEED']}):"
    )
    differ = []
    for i in repeat:
        second = again.get(i, {}).get("hash")
        same = second == hashes[i]
        print(
            f"  {todo[i].name:<22} {'same' if same else 'DIFFERENT'} ({(second or 'missing')[:16]})"
        )
        if not same:
            differ.append(todo[i].name)
    total = sum(r["cpu"] for r in again.values())
    print(f"  (the second process: {total:.1f} s CPU)")
    failed = False
    if check.returncode:
        print(f"\nFAIL: the hash check process exited with {check.returncode}")
        failed = True
    if slow:
        print(f"\nFAIL: over {args.limit:.0f} s of CPU time: {', '.join(slow)}")
        failed = True
    if differ:
        print(f"\nFAIL: the same seed gave different weights: {', '.join(differ)}")
        failed = True
    if not failed:
        print(f"\nOK: every training needs at most {args.limit:.0f} s of CPU time; "
              f"the same seed gives the same weights")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
