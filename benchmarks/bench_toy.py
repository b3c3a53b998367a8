"""Benchmark: training the default toy model takes at most 60 s, the toy translator at most 15 s.

Trains ``ToyConfig()`` for each seed (never from the cache: the point is the
training time), prints wall-clock and CPU time per seed, then the best head
against the best fixed offset per group and relation for each seed and the
spread across seeds. Exits 1 if any training run exceeds the limit.

The toy model is tiny, so one thread is fastest (a second thread mostly adds
synchronisation, and other processes usually want the other core);
``--threads`` overrides. CPU time and the load average are printed beside
wall time, so a run slowed down by other processes on the machine can be told
apart from a slow model; ``--gate cpu`` applies the limit to CPU time instead
of wall time (for a machine that is known to be busy).

With ``--models induction`` (default: ``encoder induction``) it trains the
induction-head decoder (``InductionConfig()``, chapter 12) for each of
``--induction-seeds`` (0 1 2), prints its time, the best layer-0
previous-token and layer-1 prefix-matching heads, trained and untrained, and
the number of seeds in which both appear, and gates it at
``--induction-limit`` seconds (default 15).

With ``--models translator`` (or ``encoder translator``) it also trains the
toy English -> Japanese translator (``TranslatorConfig()``, chapter 13) for
each seed, prints its time, exact-match and alignment counts, and gates it at
``--translator-limit`` seconds (default 15).

    python benchmarks/bench_toy.py [--seeds 0 1 2 3 4] [--threads 1] [--limit 60] [--gate wall]
                                   [--store] [--models encoder induction translator]
                                   [--translator-limit 15] [--induction-seeds 0 1 2]
                                   [--induction-limit 15]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import pandas as pd
import torch

from attnbook.toy import ToyConfig, clark_table, particle_heads, store, train
from attnbook.toy import translate as tr
from attnbook.toy.circuit import APPEARS_AT, InductionStudy, seed_induction
from attnbook.toy.experiment import seed_summary
from attnbook.toy.induction import InductionConfig, train_induction
from attnbook.toy.induction import store as store_induction


def bench_translator(seeds, threads: int, limit: float, gate: str) -> list[tuple[int, float]]:
    """Train the toy translator per seed (never from the cache); the runs over ``limit``."""
    slow = []
    print(f"\n== toy translator: {tr.TranslatorConfig()} ==")
    for seed in seeds:
        cpu = time.process_time()
        result = tr.train_translator(tr.TranslatorConfig(seed=seed), num_threads=threads)
        cpu = time.process_time() - cpu
        _, test = result.pairs()
        exact = tr.exact_match(result.model, test)
        scores = tr.alignment_scores(tr.cross_attentions(result.model, test), test)
        best = scores[scores.kind == "head"].iloc[0]
        diag = scores[scores.kind == "diagonal"].iloc[0]
        print(
            f"seed {seed}: {result.seconds:.1f} s wall, {cpu:.1f} s CPU "
            f"(load average {os.getloadavg()[0]:.1f}), weights {result.weights_hash[:16]}, "
            f"exact {exact.correct.sum()}/{exact.total.sum()}, best head "
            f"{best.layer}-{best['head']} {best.correct}/{best.total}, diagonal "
            f"{diag.correct}/{diag.total}",
            flush=True,
        )
        spent = result.seconds if gate == "wall" else cpu
        if spent > limit:
            slow.append((seed, round(spent, 1)))
    return slow


def bench_induction(seeds, threads: int, limit: float, gate: str, keep: bool) -> list:
    """Train the induction-head decoder per seed (never from the cache); the runs over ``limit``."""
    config = InductionConfig()
    print(f"\n== induction heads: {config} ==")
    slow, summaries = [], []
    for seed in seeds:
        cpu = time.process_time()
        result = train_induction(config.replace(seed=seed), num_threads=threads)
        cpu = time.process_time() - cpu
        s = seed_induction(result)
        summaries.append(s)
        print(
            f"seed {seed}: {result.seconds:.1f} s wall, {cpu:.1f} s CPU "
            f"(load average {os.getloadavg()[0]:.1f}), weights {result.weights_hash[:16]}\n"
            f"  loss first/second occurrence {s.loss_first:.2f}/{s.loss_second:.2f} nats "
            f"(untrained {s.untrained_loss_first:.2f}/{s.untrained_loss_second:.2f})\n"
            f"  layer 0 head {s.previous_head}: previous-token {s.previous_score:.3f} "
            f"(untrained best {s.untrained_previous_score:.3f})\n"
            f"  layer 1 head {s.induction_head}: prefix-matching {s.induction_score:.3f} "
            f"(untrained best {s.untrained_induction_score:.3f}); both from step {s.emerged_at}",
            flush=True,
        )
        if keep:
            print(f"  stored in {store_induction(result)}")
        spent = result.seconds if gate == "wall" else cpu
        if spent > limit:
            slow.append((seed, round(spent, 1)))
    study = InductionStudy(config=config, seeds=tuple(summaries))
    print(
        f"previous-token head in {study.n_previous}, induction head in {study.n_induction}, "
        f"both in {study.n_both} of {study.n} seeds (threshold {APPEARS_AT}; "
        f"untrained best {study.untrained_best:.3f})"
    )
    return slow


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--limit", type=float, default=60.0, help="seconds per training run")
    parser.add_argument("--gate", choices=["wall", "cpu"], default="wall")
    parser.add_argument(
        "--store",
        action="store_true",
        help="put the trained models into the cache ($ATTNBOOK_CACHE), so the book reuses them",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        choices=["encoder", "induction", "translator"],
        default=["encoder", "induction"],
    )
    parser.add_argument("--translator-limit", type=float, default=15.0)
    parser.add_argument("--induction-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--induction-limit", type=float, default=15.0)
    args = parser.parse_args()
    if "induction" in args.models:
        slow_induction = bench_induction(
            args.induction_seeds, args.threads, args.induction_limit, args.gate, args.store
        )
        if slow_induction:
            print(
                f"\nFAIL: the induction model took longer than {args.induction_limit:.0f} s "
                f"{args.gate} for {slow_induction}"
            )
            return 1
        print(f"\nOK: every induction run took at most {args.induction_limit:.0f} s {args.gate}")
    slow_translator = []
    if "translator" in args.models:
        slow_translator = bench_translator(
            args.seeds, args.threads, args.translator_limit, args.gate
        )
    if "encoder" not in args.models:
        if slow_translator:
            print(
                f"\nFAIL: the translator took longer than {args.translator_limit:.0f} s "
                f"{args.gate} for {slow_translator}"
            )
            return 1
        if "translator" in args.models:
            print(
                f"\nOK: every translator run took at most {args.translator_limit:.0f} s {args.gate}"
            )
        return 0

    config = ToyConfig()
    print(f"config: {config}")
    print(f"torch {torch.__version__}, {args.threads} thread(s)")
    tables, particles, slow = [], [], []
    for seed in args.seeds:
        cpu = time.process_time()
        result = train(config.replace(seed=seed), num_threads=args.threads)
        cpu = time.process_time() - cpu
        load = os.getloadavg()[0]
        print(
            f"seed {seed}: {result.seconds:.1f} s wall, {cpu:.1f} s CPU "
            f"(load average {load:.1f} on {os.cpu_count()} cores), "
            f"final loss {result.final_loss:.4f}, weights {result.weights_hash[:16]}",
            flush=True,
        )
        if args.store:
            print(f"  stored in {store(result)}")
        spent = result.seconds if args.gate == "wall" else cpu
        if spent > args.limit:
            slow.append((seed, round(spent, 1)))
        _, test = result.sentences()
        for target in ("noun", "noun_or_particle"):
            t = clark_table(result.model, test, target=target)
            t.insert(0, "target", target)
            t.insert(0, "seed", seed)
            tables.append(t)
            p = particle_heads(result.model, test, target=target).groupby("relation").head(1)
            p.insert(0, "target", target)
            p.insert(0, "seed", seed)
            particles.append(p)

    table = pd.concat(tables, ignore_index=True)
    with pd.option_context("display.width", 200, "display.max_rows", 500, "display.precision", 3):
        for target in ("noun", "noun_or_particle"):
            print(f"\n== best head vs best fixed offset (target={target}), per seed ==")
            print(table[table.target == target].drop(columns="target").to_string(index=False))
            print(f"\n== spread across seeds (target={target}) ==")
            print(seed_summary(table[table.target == target]).to_string(index=False))
        print("\n== best particle-following head per relation, per seed ==")
        print(pd.concat(particles, ignore_index=True).to_string(index=False))
    if slow_translator:
        print(
            f"\nFAIL: the translator took longer than {args.translator_limit:.0f} s "
            f"{args.gate} for {slow_translator}"
        )
        return 1
    if slow:
        print(f"\nFAIL: training took longer than {args.limit:.0f} s {args.gate} for {slow}")
        return 1
    print(f"\nOK: every training run took at most {args.limit:.0f} s {args.gate} time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
