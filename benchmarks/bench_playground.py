"""Benchmark: the playground's size, speed and fidelity in headless chromium.

Serves the built site from localhost (network otherwise blocked), opens the
English playground with an empty browser cache and measures:

* the weight of the page before the model: its HTML and the playground's
  files (scripts, styles, vocabulary), as ``tests/test_playground_browser.py``
  counts it; the theme's shared files (its scripts, style sheets, fonts,
  the search index), loaded once for the whole site and cached, are printed
  on their own, as ``bench_page_weight.py`` does,
* the model + runtime download (bytes of the files the button loads),
* the time from pressing the button to the first map (download from
  localhost, inflate, widen, start the runtime, first sentence), cold, and
  the part of it after the download finished (the goal: the page's
  ``performance.measure`` "attnbook:after-download"), with where that time
  goes (the page's ``performance.mark`` "attnbook:<phase>", seconds after
  the button: the runtime's wasm inflated, its modules imported, the
  runtime started, last byte downloaded, everything inflated and widened,
  session created, first run, first map drawn). ``--runs N`` repeats this cold
  start N times (a new browser, empty cache, each time), printing
  each run with the load average beside it; the goal applies to the median,
  the worst run is printed too,
* the time per further sentence of 32 tokens (median of 10),
* the largest difference of any weight to ``attnbook.attend``.

Goals (issue "live playground"): page <= 2 MB, model + runtime <= 50 MB,
first map <= 3 s after the download, a 32-token sentence <= 300 ms, difference
<= 0.01. Prints one row per measure and exits 1 on a miss (or 2 when the site
or chromium is missing). The machine is shared: read the load average printed
beside each run.

    python benchmarks/bench_playground.py [--site docs/_build/html] [--runs 3]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import statistics
import sys
import threading
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

GOALS = {
    "page before the model (MB)": 2.0,
    "model + runtime (MB)": 50.0,
    "first map after the download (s)": 3.0,
    "32-token sentence (ms)": 300.0,
    "largest difference to attend()": 0.01,
}


def _sentence(n_tokens: int) -> str:
    words = "the dog chased a cat across quiet gardens while owners slept soundly upstairs".split()
    return " ".join(words[i % len(words)] for i in range(n_tokens - 2))


def _cold_start(browser, base: str, sizes: dict[str, int], blocked: list[str]):
    """Open the playground in a fresh context, press the button, wait for the first map."""
    from browser import block_network

    context = browser.new_context()
    block_network(context, (base, "data:", "blob:"), blocked)
    page = context.new_page()
    page.on(
        "requestfinished",
        lambda r: sizes.__setitem__(r.url.split("?")[0], r.sizes()["responseBodySize"]),
    )
    page.goto(base + "en/playground.html")
    page.wait_for_function(
        "document.querySelector('#attnbook-playground').dataset.state === 'idle'"
    )
    page.wait_for_load_state("networkidle")
    before = dict(sizes)
    t0 = time.perf_counter()
    page.click("button[data-role=load]")
    page.wait_for_function(
        "document.querySelector('#attnbook-playground').dataset.rendered",
        timeout=300_000,
    )
    wall = time.perf_counter() - t0
    # The browser's own timeline: marks "attnbook:<phase>", relative to "attnbook:load".
    marks = page.evaluate(
        """() => { const t0 = performance.getEntriesByName('attnbook:load')[0].startTime;
        const out = {};
        for (const m of performance.getEntriesByType('mark'))
          if (m.name.startsWith('attnbook:') && m.name !== 'attnbook:load')
            out[m.name.slice(9)] = m.startTime - t0;
        out.afterDownload = performance.getEntriesByName('attnbook:after-download')[0].duration;
        return out; }"""
    )
    return context, page, before, wall, marks


def measure(site: Path, runs: int = 1) -> dict[str, float]:
    import playwright.sync_api as api
    from browser import launch_chromium

    import attnbook

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(site))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    out: dict[str, float] = {}
    blocked: list[str] = []
    try:
        starts: list[tuple[float, float, dict]] = []

        def record(run: int, wall: float, marks: dict) -> None:
            load = os.getloadavg()[0]
            starts.append((marks["afterDownload"] / 1e3, wall, marks))
            phases = ", ".join(
                f"{k} {v / 1e3:.2f}"
                for k, v in sorted(marks.items(), key=lambda kv: kv[1])
                if k != "afterDownload"
            )
            print(
                f"run {run + 1}: first map {marks['afterDownload'] / 1e3:.2f} s after the "
                f"download ({wall:.2f} s after the button), load {load:.1f}; "
                f"s after the button: {phases}",
                flush=True,
            )

        # A new browser for every run: chromium shares compiled wasm between the
        # pages of one process, so a second page in the same browser starts warm.
        for run in range(runs - 1):
            with launch_chromium(api) as other:
                _, _, _, wall, marks = _cold_start(other, base, {}, blocked)
                record(run, wall, marks)
        with launch_chromium(api) as browser:
            sizes: dict[str, int] = {}
            context, page, before, wall, marks = _cold_start(browser, base, sizes, blocked)
            record(runs - 1, wall, marks)
            own = {
                k: v for k, v in before.items() if "/playground-assets/" in k or k.endswith(".html")
            }
            out["page before the model (MB)"] = sum(own.values()) / 1e6
            out["  the theme's shared files (MB)"] = (
                sum(before.values()) - sum(own.values())
            ) / 1e6
            median = statistics.median(s[0] for s in starts)
            middle = min(starts, key=lambda s: abs(s[0] - median))
            out["first map after pressing the button (s)"] = statistics.median(s[1] for s in starts)
            out["first map after the download (s)"] = median
            if runs > 1:
                out["  worst run, after the download (s)"] = max(s[0] for s in starts)
            for phase, value in sorted(middle[2].items(), key=lambda kv: kv[1]):
                if phase != "afterDownload":
                    out[f"  {phase} (s after the button)"] = value / 1e3
            out["model + runtime (MB)"] = sum(v for k, v in sizes.items() if k not in before) / 1e6
            text = _sentence(32)
            times = page.evaluate(
                """async (t) => { const ms = [];
                for (let i = 0; i < 10; i++) ms.push((await attnbook.attend(t + ' ' + i)).ms);
                return ms; }""",
                text,
            )
            out["32-token sentence (ms)"] = statistics.median(times)
            worst = 0.0
            for t in (text, "The dog chased the cat.", "Café naïve résumé: 3.14 apples!"):
                got = page.evaluate("t => attnbook.attend(t)", t)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    want = attnbook.attend(t).attentions
                import numpy as np

                worst = max(
                    worst, float(np.abs(np.asarray(got["attentions"]) - want.numpy()).max())
                )
            out["largest difference to attend()"] = worst
            if blocked:
                raise SystemExit(f"requests left the machine: {blocked}")
    finally:
        server.shutdown()
        server.server_close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--site", default=os.environ.get("ATTNBOOK_SITE", ROOT / "docs" / "_build" / "html")
    )
    parser.add_argument(
        "--runs", type=int, default=1, help="cold starts to measure (the goal is on the median)"
    )
    args = parser.parse_args(argv)
    site = Path(args.site)
    if not (site / "playground-assets" / "manifest.json").exists():
        print(f"no playground in {site}: run `nox -s docs` first")
        return 2
    manifest = json.loads((site / "playground-assets" / "manifest.json").read_text())
    print(
        f"model {manifest['model']}, {manifest['runtime']['name']} {manifest['runtime']['version']}"
    )
    out = measure(site, max(1, args.runs))
    missed = 0
    for name, value in out.items():
        goal = GOALS.get(name)
        if goal is None:
            print(f"{name:<42} {value:>10.4g}")
            continue
        ok = value <= goal
        missed += not ok
        print(f"{name:<42} {value:>10.4g}   goal <= {goal:g}   {'ok' if ok else 'MISSED'}")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average while measuring (1, 5, 15 min): {load} on {os.cpu_count()} cores")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
