"""scripts/lighthouse.py (the judge of `make lighthouse`) and scripts/static_host.py (how it serves the book).

The judgement is tested on Lighthouse reports shaped like real ones, at the
edges of every target; the server on real requests; and Lighthouse itself
once, on a small page, when it is installed (``make lighthouse`` fetches it).
"""

from __future__ import annotations

import gzip
import http.client
import shutil
from pathlib import Path

import pytest

from scripts import lighthouse
from scripts.static_host import serve


def report(performance: float = 0.95, accessibility: float = 1.0, lcp: float = 2000, tbt: float = 50,
           total_bytes: float = 300_000, failing: tuple[str, ...] = ()) -> dict:  # fmt: skip
    """A Lighthouse JSON report with the numbers the judge reads (as ``--output=json`` writes them)."""
    a11y_refs = [{"id": "color-contrast", "weight": 7}, {"id": "image-alt", "weight": 10},
                 {"id": "manual", "weight": 0}]  # fmt: skip
    audits = {
        "first-contentful-paint": {"numericValue": 1200.0},
        "largest-contentful-paint": {"numericValue": lcp},
        "total-blocking-time": {"numericValue": tbt},
        "cumulative-layout-shift": {"numericValue": 0.01},
        "total-byte-weight": {"numericValue": total_bytes},
        "color-contrast": {"score": 0 if "color-contrast" in failing else 1},
        "image-alt": {"score": 0 if "image-alt" in failing else None},
        "manual": {"score": 0},
    }
    categories = {"performance": {"score": performance},
                  "accessibility": {"score": accessibility, "auditRefs": a11y_refs}}  # fmt: skip
    return {"audits": audits, "categories": categories}


def test_a_report_becomes_a_run_with_the_failing_accessibility_audits() -> None:
    run = lighthouse.parse_report(report(performance=0.914, accessibility=0.93, failing=("color-contrast",)))
    assert (run.performance, run.accessibility, run.lcp_ms, run.tbt_ms, run.bytes) == (91, 93, 2000, 50, 300_000)
    assert run.a11y_failures == ("color-contrast",), "audits without weight or not applicable do not count"
    with pytest.raises(RuntimeError, match=r"could not load the page: .*NO_FCP"):
        lighthouse.parse_report({"runtimeError": {"code": "NO_FCP"}, "audits": {}, "categories": {}})
    with pytest.raises(RuntimeError, match="no performance score"):
        lighthouse.parse_report(report(performance=None))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("numbers", "missed"),
    [
        ({}, []),
        ({"performance": 0.90, "lcp": 2499, "tbt": 199, "total_bytes": 499_999}, []),
        ({"performance": 0.89}, ["performance 89 < 90"]),
        ({"accessibility": 0.97, "failing": ("color-contrast",)}, ["accessibility 97 < 100 (color-contrast)"]),
        ({"tbt": 200}, ["total blocking time 200 ms >= 200 ms"]),
        ({"lcp": 2500}, ["largest contentful paint 2.50 s >= 2.5 s"]),
        ({"total_bytes": 500_000}, ["500 KB transferred >= 500 KB"]),
    ],
)
def test_every_target_is_judged_at_its_edge(numbers: dict, missed: list[str]) -> None:
    assert lighthouse.misses(lighthouse.parse_report(report(**numbers))) == missed


def test_a_page_is_judged_on_its_median_load() -> None:
    runs = [lighthouse.parse_report(report(performance=p)) for p in (0.5, 0.95, 0.91)]
    assert lighthouse.median_run(runs).performance == 91
    assert lighthouse.median_run(runs[:2]).performance == 50, "of two loads, the worse one"


def test_every_page_of_the_table_of_contents_is_audited() -> None:
    pages = lighthouse.toc_pages()
    assert pages[0] == "intro.html" and "chapters/activations.html" in pages and "exercises/mlp-scratch.html" in pages
    assert all((lighthouse.ROOT / page.replace(".html", ".ipynb")).exists() or page == "intro.html" for page in pages)


def get(url: str, path: str, gzip_ok: bool) -> tuple[int, dict[str, str], bytes]:
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", path, headers={"Accept-Encoding": "gzip, deflate, br"} if gzip_ok else {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def test_the_host_sends_the_gzip_copy_to_browsers_that_accept_it(tmp_path: Path) -> None:
    page = "<p>" + "text " * 500 + "</p>"
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "index.html").write_text(page)
    (tmp_path / "chapters" / "index.html.gz").write_bytes(gzip.compress(page.encode()))
    (tmp_path / "plain.css").write_text("p { color: red; }")
    server, url = serve(tmp_path)
    try:
        status, headers, body = get(url, "/chapters/index.html", gzip_ok=True)
        assert status == 200 and headers["content-encoding"] == "gzip" and headers["content-type"] == "text/html"
        assert gzip.decompress(body).decode() == page and headers["vary"] == "Accept-Encoding"
        status, headers, body = get(url, "/chapters/index.html", gzip_ok=False)
        assert "content-encoding" not in headers and body.decode() == page
        assert get(url, "/chapters/", gzip_ok=True)[1]["content-encoding"] == "gzip"
        assert get(url, "/chapters", gzip_ok=True)[0] == 301, "a folder without its slash is redirected, as before"
        status, headers, body = get(url, "/plain.css", gzip_ok=True)
        assert "content-encoding" not in headers and body == b"p { color: red; }", "no copy: the file itself"
    finally:
        server.shutdown()


@pytest.mark.slow
@pytest.mark.skipif(
    not lighthouse.LIGHTHOUSE.exists() or not Path(lighthouse.CHROME).exists() or shutil.which("node") is None,
    reason="needs Lighthouse (make lighthouse fetches it) and Debian's chromium",
)
def test_lighthouse_audits_a_real_page_and_the_judge_reads_its_report(tmp_path: Path) -> None:
    """A light page meets the targets; the same page with a 600 KB image misses the byte budget."""
    text = "<p>A small page of the book, with enough words to paint some text on the screen.</p>"
    head = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A page</title>'
    head += '<meta name="viewport" content="width=device-width, initial-scale=1"></head><body><main>'
    (tmp_path / "index.html").write_text(head + f"<h1>A page</h1>{text}</main></body></html>")
    (tmp_path / "heavy.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(600_000))
    heavy_page = f'<h1>Heavy</h1>{text}<img src="heavy.png" alt="noise"></main></body></html>'
    (tmp_path / "heavy.html").write_text(head + heavy_page)
    server, url = serve(tmp_path)
    try:
        light = lighthouse.parse_report(lighthouse.lighthouse(url + "index.html"))
        heavy = lighthouse.parse_report(lighthouse.lighthouse(url + "heavy.html"))
    finally:
        server.shutdown()
    assert light.accessibility == 100 and light.bytes < 10_000, light
    assert any("KB transferred" in miss for miss in lighthouse.misses(heavy)), heavy
