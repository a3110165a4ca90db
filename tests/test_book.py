"""The built book, opened page by page in a real browser (Debian's Chromium via Playwright).

The book is built once per test session from the notebooks' stored outputs
(execution switched off: nbval checks elsewhere in this suite that those
outputs are what the code produces), into ``_build/test/``, and served on
127.0.0.1.  Every page in the table of contents is opened; screenshots go to
``_build/screenshots/`` for people to look at.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "_build" / "test"
HTML = OUT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)")


def toc_pages() -> list[str]:
    """Every document named in _toc.yml, in order, as paths of HTML pages."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [chapter["file"] for chapter in part["chapters"]]
    return [f"{page}.html" for page in pages]


def build_book() -> None:
    """Build the book from stored outputs, warnings as errors."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"
    extensions = config["sphinx"].get("local_extensions", {})  # paths are relative to the config file
    config["sphinx"]["local_extensions"] = {name: str(ROOT / path) for name, path in extensions.items()}
    OUT.mkdir(parents=True, exist_ok=True)
    config_path = OUT / "_config.yml"
    config_path.write_text(yaml.safe_dump(config))
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jupyter_book), "build", str(ROOT), "--config", str(config_path),
           "--path-output", str(OUT), "--warningiserror", "--keep-going"]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, f"book build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    build_book()
    handler = functools.partial(QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, site: str):  # type: ignore[no-untyped-def]
    """A fresh page that records every request it makes."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.requests = []  # type: ignore[attr-defined]
    page.errors = []  # type: ignore[attr-defined]
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def outside_requests(page, site: str) -> list[str]:  # type: ignore[no-untyped-def]
    local = (site, "data:", "blob:", "about:")
    return [url for url in page.requests if not url.startswith(local)]


@pytest.mark.parametrize("path", toc_pages())
def test_page(page, site: str, path: str) -> None:  # type: ignore[no-untyped-def]
    response = page.goto(site + path, wait_until="networkidle")
    assert response is not None and response.ok, f"{path} did not load"
    text = page.inner_text("main")

    # No Python error output shown to the reader.
    assert "Traceback (most recent call last)" not in text, f"{path} shows a traceback"
    assert page.locator(".output.error, .output.traceback").count() == 0
    for stderr in page.locator(".output.stderr").all_inner_texts():
        assert not re.search(r"Error|Exception", stderr), f"{path} shows an error on stderr: {stderr[:300]}"

    # Math was typeset by MathJax (served locally), not left as raw TeX.
    n_math = page.locator(".math").count()
    if n_math:
        page.wait_for_function("document.querySelectorAll('mjx-container').length > 0", timeout=20000)
        assert page.locator("mjx-container").count() >= n_math
        assert page.locator("mjx-merror").count() == 0, f"{path} has math MathJax could not parse"

    # Every interactive figure rendered (plotly draws asynchronously, after MathJax).
    page.wait_for_function(
        "[...document.querySelectorAll('.plotly-graph-div')].every(d => d.querySelector('svg.main-svg'))",
        timeout=30000,
    )

    # Every image loaded (a zero natural width means a broken image).
    broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
    assert broken == [], f"{path}: images that did not load: {broken}"

    # Nothing was fetched from outside the book, and no script failed.
    assert outside_requests(page, site) == [], f"{path} tried to load from outside"
    assert page.errors == [], f"{path}: JavaScript errors: {page.errors[:5]}"

    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / (path.replace("/", "__").removesuffix(".html") + ".png")), full_page=True)


def test_figures_are_opaque(site: str) -> None:
    """Figures must not be transparent, or they vanish on the dark theme."""
    from PIL import Image

    pngs = sorted((HTML / "_images").glob("*.png"))
    assert pngs, "the book has no figures"
    for png in pngs:
        with Image.open(png) as img:
            if "A" in img.getbands():
                assert img.getchannel("A").getextrema()[0] == 255, f"{png.name} has transparent pixels"


def test_activation_slider_changes_the_figure(page, site: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(site + "chapters/activations.html", wait_until="networkidle")
    page.wait_for_function(
        "[...document.querySelectorAll('.plotly-graph-div')].every(d => d.querySelector('svg.main-svg'))",
        timeout=30000,
    )
    sliders = page.locator(".js-plotly-plot:has(g.slider-container)")
    assert sliders.count() >= 3, "expected at least three plotly figures with sliders"
    figure = page.locator("#d2lmini-neuron-sigmoid")  # one neuron: sliders for w and b
    figure.scroll_into_view_if_needed()

    def curves() -> str:
        return figure.locator(".scatterlayer path.js-line").evaluate_all(
            "paths => paths.map(p => p.getAttribute('d')).join('|')"
        )

    before = curves()
    rail = figure.locator("rect.slider-rail-rect").first.bounding_box()
    assert rail is not None
    page.mouse.click(rail["x"] + rail["width"] * 0.97, rail["y"] + rail["height"] / 2)
    page.wait_for_timeout(600)
    assert curves() != before, "moving the slider did not change the plotted curve"
    assert page.errors == []
    assert outside_requests(page, site) == []


def test_exercise_solutions_hidden_until_toggled(page, site: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(site + "exercises/activations.html", wait_until="networkidle")
    solutions = page.locator(".solution")
    assert solutions.count() >= 1, "the exercises page shows no solutions at all"
    first = solutions.first
    body = first.locator(".toggle-details__container, .admonition-body, section, p").last
    assert not body.is_visible(), "a solution is visible before it is toggled"
    first.locator("button, summary, .toggle-button").first.click()
    page.wait_for_timeout(400)
    assert body.is_visible(), "the solution did not open when toggled"


def test_search_finds_a_term(page, site: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(site + "search.html?q=perceptron", wait_until="networkidle")
    page.wait_for_selector("#search-results li", timeout=20000)
    assert page.locator("#search-results li").count() >= 1


def teardown_module() -> None:
    shutil.rmtree(OUT / "_build" / ".doctrees", ignore_errors=True)
