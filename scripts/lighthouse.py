"""Audit every page of the built book with Lighthouse (mobile) and fail when one misses the book's targets.

``make lighthouse`` runs it on ``_build/html`` after ``make book``; by hand::

    .venv/bin/python scripts/lighthouse.py [--site _build/html] [--pages intro.html ...] [--json report.json]

The site is served from 127.0.0.1 the way a static host such as GitHub Pages
serves it: a text file is sent compressed when the browser accepts it (the
``.gz`` copy ``_ext/site_assets.py`` writes next to it, as nginx's
``gzip_static`` does: scripts/static_host.py).  Each page is
loaded by Lighthouse (``lighthouse`` from the npm registry, fetched by
``make lighthouse`` into ``_vendor/``) in Debian's Chromium with its mobile
preset: a Moto G Power's screen, simulated slow 4G and a 4x slower CPU.

Targets, every page: performance >= 90, accessibility 100, total blocking
time < 200 ms, largest contentful paint < 2.5 s, and under 500 KB
transferred before the reader scrolls (Lighthouse does not scroll, so a
demo further down the page loads nothing).  Simulated throttling scales the
time the page's scripts took on this machine, so a busy machine makes the
numbers worse: a page that misses a target is loaded twice more and judged
on the median of its three runs (by performance score), as Lighthouse's
authors advise.  The table of every page goes to stdout (Markdown), every
run to ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from scripts.static_host import serve

ROOT = Path(__file__).resolve().parents[1]
LIGHTHOUSE = ROOT / "_vendor" / "lighthouse" / "node_modules" / "lighthouse" / "cli" / "index.js"
CHROME = "/usr/bin/chromium"
CHROME_FLAGS = "--headless --no-sandbox --disable-gpu --disable-background-networking"

#: The book's targets for every page (Lighthouse mobile preset).
MIN_PERFORMANCE = 90
MIN_ACCESSIBILITY = 100
MAX_TBT_MS = 200
MAX_LCP_MS = 2500
MAX_BYTES = 500_000


@dataclass(frozen=True)
class Run:
    """What one Lighthouse load of a page measured (scores 0-100, times in ms, bytes transferred)."""

    performance: int
    accessibility: int
    fcp_ms: float
    lcp_ms: float
    tbt_ms: float
    cls: float
    bytes: int
    a11y_failures: tuple[str, ...] = ()


def misses(run: Run) -> list[str]:
    """The targets ``run`` misses, each said with the measured value (empty when it meets them all)."""
    found = []
    if run.performance < MIN_PERFORMANCE:
        found.append(f"performance {run.performance} < {MIN_PERFORMANCE}")
    if run.accessibility < MIN_ACCESSIBILITY:
        found.append(f"accessibility {run.accessibility} < 100 ({', '.join(run.a11y_failures) or 'see the report'})")
    if run.tbt_ms >= MAX_TBT_MS:
        found.append(f"total blocking time {run.tbt_ms:.0f} ms >= {MAX_TBT_MS} ms")
    if run.lcp_ms >= MAX_LCP_MS:
        found.append(f"largest contentful paint {run.lcp_ms / 1000:.2f} s >= {MAX_LCP_MS / 1000} s")
    if run.bytes >= MAX_BYTES:
        found.append(f"{run.bytes / 1000:.0f} KB transferred >= {MAX_BYTES / 1000:.0f} KB")
    return found


def median_run(runs: list[Run]) -> Run:
    """The run with the median performance score (the lower middle one of an even number)."""
    ranked = sorted(runs, key=lambda r: r.performance)
    return ranked[(len(ranked) - 1) // 2]


def parse_report(report: dict[str, Any]) -> Run:
    """A :class:`Run` from a Lighthouse JSON report (``--output=json``)."""
    if report.get("runtimeError"):
        raise RuntimeError(f"Lighthouse could not load the page: {report['runtimeError']}")
    audits, categories = report["audits"], report["categories"]

    def score(name: str) -> int:
        value = categories[name]["score"]
        if value is None:
            raise RuntimeError(f"Lighthouse gave no {name} score: {report.get('runWarnings')}")
        return round(value * 100)

    failed = tuple(
        ref["id"] for ref in categories["accessibility"]["auditRefs"]
        if ref["weight"] > 0 and audits[ref["id"]]["score"] not in (None, 1)
    )  # fmt: skip
    return Run(
        performance=score("performance"),
        accessibility=score("accessibility"),
        fcp_ms=audits["first-contentful-paint"]["numericValue"],
        lcp_ms=audits["largest-contentful-paint"]["numericValue"],
        tbt_ms=audits["total-blocking-time"]["numericValue"],
        cls=audits["cumulative-layout-shift"]["numericValue"],
        bytes=int(audits["total-byte-weight"]["numericValue"]),
        a11y_failures=failed,
    )


def lighthouse(url: str) -> dict[str, Any]:
    """Lighthouse's JSON report of ``url``, loaded once with the mobile preset in Debian's Chromium."""
    if not LIGHTHOUSE.exists():
        raise SystemExit(f"Lighthouse is missing ({LIGHTHOUSE}): run `make lighthouse`, which fetches it from npm")
    cmd = ["node", str(LIGHTHOUSE), url, "--output=json", "--output-path=stdout", "--quiet",
           "--only-categories=performance,accessibility", "--disable-full-page-screenshot",
           f"--chrome-flags={CHROME_FLAGS}"]  # fmt: skip
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "CHROME_PATH": CHROME})  # fmt: skip
    try:
        out, err = process.communicate(timeout=300)
    except BaseException:  # a timeout, Ctrl+C or SIGTERM: Lighthouse closes its Chrome on SIGINT
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"Lighthouse failed on {url}:\n{err[-3000:]}")
    return json.loads(out)


def toc_pages() -> list[str]:
    """Every page named in _toc.yml, in order, as paths of HTML pages."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", [toc]):
        for chapter in part.get("chapters", []):
            pages += [chapter["file"]] + [section["file"] for section in chapter.get("sections", [])]
    return [f"{page}.html" for page in pages]


# ---------------------------------------------------------------------------------------------


def table(results: dict[str, Run]) -> str:
    rows = ["| page | performance | first contentful paint | largest contentful paint | total blocking time "
            "| bytes | accessibility |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for page, r in results.items():
        rows.append(
            f"| {page.removesuffix('.html')} | {r.performance} | {r.fcp_ms / 1000:.1f} s | {r.lcp_ms / 1000:.1f} s "
            f"| {r.tbt_ms:,.0f} ms | {r.bytes / 1000:,.0f} KB | {r.accessibility} |"
        )
    return "\n".join(rows)


def audit(
    site: str, pages: list[str], runs_if_missed: int, min_runs: int = 1, baseline: str | None = None
) -> tuple[dict[str, Run], dict[str, list[Run]], dict[str, list[Run]]]:
    """Each page's judged run and every run made: ``min_runs`` loads of each page, up to ``runs_if_missed``
    while the median misses a target; and, with a ``baseline`` site, a load of the same page there before
    each one (the same conditions for both: a busy machine slows both alike)."""
    judged: dict[str, Run] = {}
    every: dict[str, list[Run]] = {}
    before: dict[str, list[Run]] = {}
    for page in pages:
        runs: list[Run] = []
        base: list[Run] = []

        def load(page: str = page, runs: list[Run] = runs, base: list[Run] = base) -> None:
            if baseline:
                base.append(parse_report(lighthouse(baseline + page)))
            runs.append(parse_report(lighthouse(site + page)))

        for _ in range(max(min_runs, 1)):
            load()
        while misses(median_run(runs)) and len(runs) < runs_if_missed:
            load()
        every[page], judged[page] = runs, median_run(runs)
        if baseline:
            before[page] = base
        status = "; ".join(misses(judged[page])) or "ok"
        print(f"{page}: {len(runs)} run(s), performance {[r.performance for r in runs]}: {status}", file=sys.stderr)
    return judged, every, before


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html", help="the built book (%(default)s)")
    parser.add_argument("--pages", nargs="*", help="pages to audit (default: every page in _toc.yml)")
    parser.add_argument("--runs", type=int, default=3, help="loads of a page that misses a target (default: 3)")
    parser.add_argument("--min-runs", type=int, default=1, help="loads of every page (default: 1)")
    parser.add_argument("--json", type=Path, help="write every run here")
    parser.add_argument("--baseline", type=Path, help="another build of the book (say, before a change), loaded "
                        "before each load of a page and tabled first, not judged")  # fmt: skip
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stopped: close the browser as on Ctrl+C
    if not (args.site / "index.html").is_file():
        raise SystemExit(f"no built book in {args.site}: run `make book` first")
    server, site = serve(args.site)
    base_server, baseline = serve(args.baseline) if args.baseline else (None, None)
    try:
        judged, every, before = audit(site, args.pages or toc_pages(), args.runs, args.min_runs, baseline)
    finally:
        server.shutdown()
        if base_server:
            base_server.shutdown()
    if before:
        print(f"Before ({args.baseline}), median of {args.min_runs} or more loads:\n")
        print(table({page: median_run(runs) for page, runs in before.items()}))
        print(f"\nAfter ({args.site}):\n")
    print(table(judged))
    if args.json:
        record = {"site": {p: [asdict(r) for r in runs] for p, runs in every.items()}}
        record |= {"baseline": {p: [asdict(r) for r in runs] for p, runs in before.items()}} if before else {}
        args.json.write_text(json.dumps(record, indent=1))
    failing = {page: misses(run) for page, run in judged.items() if misses(run)}
    for page, found in failing.items():
        print(f"FAIL {page}: {'; '.join(found)}", file=sys.stderr)
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
