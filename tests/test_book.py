"""The built book, opened page by page in a real browser (Debian's Chromium via Playwright).

The book is built once per test session from the notebooks' stored outputs
(execution switched off: nbval checks elsewhere in this suite that those
outputs are what the code produces), into ``_build/test/``, and served on
127.0.0.1.  Every page in the table of contents is opened once, as a student
would meet it, and audited:

- it renders (every formula typeset when the book was built, with MathML for
  screen readers and no TeX left raw; plotly figures drawn once scrolled to;
  images loaded), fetches nothing from outside, logs no error and requests
  nothing that is missing;
- axe-core (``_vendor/axe-core-*.min.js``, fetched by ``make assets``) finds
  no WCAG 2.0/2.1 A or AA violation: all rules in light mode on a 1280 px
  screen and on a 390 px phone, the colour rules again in dark mode;
- every content image has real alt text, every interactive figure a name,
  and no formula is a tab stop;
- on the phone nothing in the content is cut off or sticks out sideways,
  except inside code and math boxes that scroll on their own;
- it loads no math engine, and plotly.js and a demo's states only once the
  reader scrolls near the demo, never render-blocking; before that it
  transfers under 500 KB (served compressed, as ``scripts/static_host.py``
  serves the ``.gz`` copies a static host would).  Every page's weight and
  request count go to ``_build/test/page-weights.json``;
- its purged stylesheet (``_ext/site_assets.py``) draws every element exactly
  as the full stylesheets do, in light and dark mode, on a screen and a phone.

Keyboard-only tests drive every demo with Tab and the arrow keys, and reach a
demo that has not loaded yet.  Screenshots go to ``_build/screenshots/``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from scripts.static_host import serve
from tests.helpers import CHROMIUM, chromium

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "_build" / "test"
HTML = OUT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
WEIGHTS = OUT / "page-weights.json"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
COLOUR_RULES = ["color-contrast", "link-in-text-block"]
#: What a page may transfer before the reader scrolls (Lighthouse's target is checked by `make lighthouse`).
FIRST_LOAD_BYTES = 500_000
#: No transitions or animations while auditing: colours are checked as they end, not halfway.
NO_MOTION = "*, *::before, *::after { transition: none !important; animation: none !important; }"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)")


def toc_pages() -> list[str]:
    """Every document named in _toc.yml, in order, as paths of HTML pages."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        for chapter in part["chapters"]:
            pages += [chapter["file"]] + [section["file"] for section in chapter.get("sections", [])]
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


def axe_source() -> str:
    found = sorted((ROOT / "_vendor").glob("axe-core-*.min.js"))
    assert found, "axe-core is missing: run `make assets` (it packs axe-core from the npm registry into _vendor/)"
    return found[-1].read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    build_book()
    server, url = serve(HTML)
    yield url
    server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def weights() -> Iterator[dict]:
    """Every audited page's weight, written to _build/test/page-weights.json at the end."""
    record: dict[str, dict] = {}
    yield record
    if record:
        WEIGHTS.write_text(json.dumps(dict(sorted(record.items())), indent=1))


@pytest.fixture
def page(browser, site: str):  # type: ignore[no-untyped-def]
    """A fresh page (empty cache) that records its requests, their sizes, failures and errors."""
    context = browser.new_context(viewport=DESKTOP, color_scheme="light")
    page = context.new_page()
    page.requests = []  # type: ignore[attr-defined]
    page.loaded = []  # type: ignore[attr-defined]  # (url, bytes) of every finished request
    page.failed = []  # type: ignore[attr-defined]  # requests that failed or got an HTTP error
    page.errors = []  # type: ignore[attr-defined]  # uncaught exceptions and console errors
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("requestfinished", lambda r: page.loaded.append((r.url, r.sizes()["responseBodySize"])))
    page.on("requestfailed", lambda r: page.failed.append(f"{r.url}: {r.failure}"))
    page.on("response", lambda r: r.status >= 400 and page.failed.append(f"{r.url}: HTTP {r.status}"))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda msg: msg.type == "error" and page.errors.append(f"console: {msg.text}"))
    yield page
    context.close()


def outside_requests(page, site: str) -> list[str]:  # type: ignore[no-untyped-def]
    local = (site, "data:", "blob:", "about:")
    return [url for url in page.requests if not url.startswith(local)]


def scroll_to(locator) -> None:  # type: ignore[no-untyped-def]
    """Scroll ``locator`` to the middle of the window as a reader's browser does (a link to it, find in page),
    so that the section around it is laid out (book.css: ``content-visibility: auto``); Playwright's own
    scrolling can leave that section unrendered."""
    locator.evaluate("el => el.scrollIntoView({block: 'center'})")


def wait_until_rendered(page) -> None:  # type: ignore[no-untyped-def]
    """Until the page's fonts and figures are in (lazy ones fetched at once) and every plotly figure is drawn
    (a demo loads when the reader comes near it)."""
    from playwright.sync_api import expect

    page.evaluate(LOAD_EVERY_IMAGE)
    plots = page.locator(".d2lmini-demo-plot, .plotly-graph-div")
    for plot in plots.all():
        scroll_to(plot)
        expect(plot.locator("svg.main-svg").first).to_be_attached(timeout=30000)
    if plots.count():
        page.evaluate("window.scrollTo(0, 0)")


#: Fetch the figures that load lazily (page_assets.py) at once, then wait for every image and font.
LOAD_EVERY_IMAGE = """async () => {
  document.querySelectorAll('img[loading=lazy]').forEach(img => { img.loading = 'eager'; });
  await Promise.all([...document.images].map(img => img.decode().catch(() => null)));
  await document.fonts.ready;
  return true;
}"""

#: The figures (_images/) without their width and height, and those after the first that do not load lazily.
FIGURES_UNSIZED = """() => [...document.querySelectorAll('article img[src*="_images/"]')].map((img, i) =>
  (!img.getAttribute('width') || !img.getAttribute('height') || (i > 0) !== (img.getAttribute('loading') === 'lazy'))
    ? img.getAttribute('src') : null).filter(Boolean)"""


# ---------------------------------------------------------------------------------------------
# What the audit checks in the browser
# ---------------------------------------------------------------------------------------------

RUN_AXE = """async (runOnly) => {
  const result = await axe.run(document, {runOnly, resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5), count: v.nodes.length}));
}"""

#: Content images whose alt text is missing, a file name or a word or two (a demo's picture of its first
#: frame is decoration inside the plot, which is an image named by the demo's description).
BAD_ALTS = """() => [...document.querySelectorAll('article.bd-article img:not(.d2lmini-demo-frame)')].map(img => {
  const alt = (img.getAttribute('alt') || '').trim();
  const fileish = /\\.(png|jpe?g|svg|gif)$|_images\\/|^[0-9a-f]{16,}/i.test(alt);
  return (alt.split(/\\s+/).length < 3 || fileish) ? `${img.getAttribute('src')}: alt=${JSON.stringify(alt)}` : null;
}).filter(Boolean)"""

#: Elements of the content that are cut off or stick out sideways.  An element may run past the
#: edge only inside a box that scrolls sideways on its own (code, display math, a table) and that a
#: keyboard can focus; every other clipping box must hold its content, and without one the content
#: must fit in the window.  Formulas and plots count as one box each.
OVERFLOW = """() => {
  const scrollers = 'pre, .katex-display, div.pst-scrollable-table-container';
  const skip = '.katex *, .d2lmini-demo-plot *, .visually-hidden, .sr-only, script, style';
  const view = document.documentElement.clientWidth;
  const name = el => el.tagName.toLowerCase() + (typeof el.className === 'string' && el.className
    ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const clipper = el => {
    let box = el.parentElement;
    while (box && box !== document.body && getComputedStyle(box).overflowX === 'visible') box = box.parentElement;
    return box === document.body ? null : box;
  };
  const bad = [];
  if (document.documentElement.scrollWidth > view + 1) {
    bad.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} > ${view} px`);
  }
  for (const el of document.querySelectorAll('article.bd-article *')) {
    if (el.closest(skip)) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
    const box = clipper(el);
    const limit = box ? box.getBoundingClientRect() : {left: 0, right: view};
    if (r.left >= limit.left - 1 && r.right <= limit.right + 1) continue;
    const overflow = box ? getComputedStyle(box).overflowX : 'visible';
    if (['auto', 'scroll'].includes(overflow) && box.matches(scrollers) && box.tabIndex >= 0) continue;
    const where = box ? `${name(box)} (overflow-x: ${overflow})` : 'the window';
    const text = (el.textContent || '').trim().slice(0, 60);
    bad.push(`${name(el)} [${Math.round(r.left)}, ${Math.round(r.right)}] runs past ${where} ` +
             `[${Math.round(limit.left)}, ${Math.round(limit.right)}]: ${text}`);
  }
  return bad.slice(0, 10);
}"""

DUPLICATE_IDS = """() => {
  const seen = {};
  for (const el of document.querySelectorAll('[id]')) seen[el.id] = (seen[el.id] || 0) + 1;
  return Object.keys(seen).filter(id => seen[id] > 1);
}"""

#: The theme's icons (Font Awesome <i> elements drawn by its CSS): how many are drawn, the visible ones with
#: no glyph (their web font did not load), and those a screen reader would announce.
ICONS = """async () => {
  await document.fonts.ready;
  const shown = [...document.querySelectorAll("i[class*='fa-']")].filter(i => i.getClientRects().length > 0);
  const glyph = i => { const s = getComputedStyle(i, '::before');
    return /Font Awesome/.test(s.fontFamily) && s.content !== 'none' && s.content !== 'normal' &&
      i.getBoundingClientRect().width > 0 && document.fonts.check(`${s.fontWeight} 16px ${s.fontFamily}`); };
  return {drawn: shown.filter(glyph).length, blank: shown.filter(i => !glyph(i)).map(i => i.className),
          announced: [...document.querySelectorAll("i[class*='fa-']")]
            .filter(i => i.getAttribute('aria-hidden') !== 'true').map(i => i.className)};
}"""

#: TeX left raw in the page's text (outside code): \( \) \[ \] $$, $...$ holding TeX, or a TeX command
#: (\mathbf), as when Markdown breaks a formula (a line of a $...$ formula starting with "+" is a list item).
RAW_TEX = r"""() => {
  const main = document.querySelector('main').cloneNode(true);
  main.querySelectorAll('pre, code, kbd, script, style, .katex').forEach(el => el.remove());
  const text = main.textContent;
  const found = [];
  for (const re of [/\\[()\[\]]/g, /\$\$/g, /\$[^$\n]{0,200}?[\\^_{}][^$\n]{0,200}?\$/g, /\\[a-zA-Z]{2,}\b/g]) {
    for (const m of text.matchAll(re)) found.push(text.slice(Math.max(0, m.index - 40), m.index + m[0].length + 40));
  }
  return found.slice(0, 5);
}"""

#: Every formula: typeset (KaTeX's HTML, hidden from screen readers) with its MathML for screen readers.
FORMULAS = """() => [...document.querySelectorAll('.math')].map(m => ({
  typeset: !!m.querySelector('.katex .katex-html[aria-hidden="true"]'),
  mathml: !!m.querySelector('.katex .katex-mathml math annotation[encoding="application/x-tex"]'),
  error: !!m.querySelector('.katex-error'),
  text: m.textContent.slice(0, 80),
}))"""

#: Where the demos start, against the window's height: a demo within a screen's height loads at once.
DEMO_TOPS = """() => [...document.querySelectorAll('figure.d2lmini-demo')]
  .map(f => f.getBoundingClientRect().top / window.innerHeight)"""

#: Script tags that block rendering: in <head>, with a src, neither deferred nor async.
BLOCKING_SCRIPTS = """() => [...document.head.querySelectorAll('script[src]')]
  .filter(s => !s.defer && !s.async && s.type !== 'module').map(s => s.getAttribute('src'))"""


def set_mode(page, mode: str) -> None:  # type: ignore[no-untyped-def]
    """Switch the reader's system colour scheme; the book follows it ("auto" mode)."""
    page.emulate_media(color_scheme=mode)
    page.wait_for_function(f"document.documentElement.dataset.theme === '{mode}'", timeout=5000)


def axe_violations(page, label: str, colours_only: bool = False) -> list[str]:  # type: ignore[no-untyped-def]
    """What axe finds against WCAG 2.0/2.1 A and AA; ``colours_only`` runs just the rules that a colour
    mode can change (the same page in dark mode has the same structure)."""
    run_only = {"type": "rule", "values": COLOUR_RULES} if colours_only else {"type": "tag", "values": WCAG_TAGS}
    return [
        f"[{label}] {v['id']} ({v['impact']}, {v['count']}x): {v['help']} -- {v['nodes']}"
        for v in page.evaluate(RUN_AXE, run_only)
    ]


def settle(page, width: int) -> None:  # type: ignore[no-untyped-def]
    """Until the page has reacted to a new window width (the scroll boxes re-checked, see book_a11y.js)."""
    page.wait_for_function(f"document.documentElement.dataset.scrollBoxes === '{width}'", timeout=10000)


def screenshot(page, path: str, suffix: str = "") -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    name = path.replace("/", "__").removesuffix(".html") + suffix + ".png"
    page.screenshot(path=str(SHOTS / name), full_page=True)


@pytest.mark.parametrize("path", toc_pages())
def test_page(page, site: str, path: str, weights: dict) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    response = page.goto(site + path, wait_until="networkidle")
    assert response is not None and response.ok, f"{path} did not load"
    first_load = list(page.loaded)
    unsized = page.evaluate(FIGURES_UNSIZED)
    assert unsized == [], f"{path}: figures without width and height, or loaded at once after the first: {unsized}"
    demos_near = any(top < 2 for top in page.evaluate(DEMO_TOPS))
    wait_until_rendered(page)
    text = page.text_content("main") or ""  # not inner_text: it reads nothing in sections not laid out

    # No Python error output shown to the reader.
    assert "Traceback (most recent call last)" not in text, f"{path} shows a traceback"
    assert page.locator(".output.error, .output.traceback").count() == 0
    for stderr in page.locator(".output.stderr").all_text_contents():
        assert not re.search(r"Error|Exception", stderr), f"{path} shows an error on stderr: {stderr[:300]}"

    # Every formula was typeset when the book was built (KaTeX), with its MathML for screen readers;
    # no TeX is left raw, and no formula is a tab stop.
    formulas = page.evaluate(FORMULAS)
    untypeset = [f["text"] for f in formulas if not (f["typeset"] and f["mathml"]) or f["error"]]
    assert untypeset == [], f"{path}: formulas not typeset, or without MathML: {untypeset[:5]}"
    raw_tex = page.evaluate(RAW_TEX)
    assert raw_tex == [], f"{path}: TeX left raw in the text (a formula Markdown broke?): {raw_tex}"
    tab_stops = page.locator(".math [tabindex]:not([data-scroll-focus]), .math[tabindex]:not([data-scroll-focus])")
    assert tab_stops.count() == 0, f"{path}: {tab_stops.count()} formulas are tab stops"

    # Every image loaded (a zero natural width means a broken image) and says what it shows.
    broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
    assert broken == [], f"{path}: images that did not load: {broken}"
    bad_alts = page.evaluate(BAD_ALTS)
    assert bad_alts == [], f"{path}: images without real alt text (cell metadata mystnb.image.alt): {bad_alts}"

    # Ids are unique (sphinx-exercise repeats one), and search engines get a description of the page.
    duplicates = page.evaluate(DUPLICATE_IDS)
    assert duplicates == [], f"{path}: ids used more than once: {duplicates}"
    description = page.get_attribute('meta[name="description"]', "content") or ""
    assert len(description.split()) >= 5, f"{path}: no page description: {description!r}"

    # Every interactive figure, and the plot inside it, has an accessible name.
    for figure in page.locator("figure.d2lmini-demo").all():
        expect(figure).to_have_accessible_name(re.compile(r"\w+\W+\w+\W+\w+"))
        expect(figure.locator(".d2lmini-demo-plot")).to_have_accessible_name(re.compile(r"\w+\W+\w+\W+\w+"))

    # Only what the page uses is loaded, and nothing blocks the first paint: no math engine, plotly.js
    # and a demo's states only once the reader comes near a demo, under 500 KB before scrolling.
    loaded = [url for url, _ in page.loaded]
    has_plotly = page.locator(".d2lmini-demo-plot, .plotly-graph-div").count() > 0
    assert any("plotly" in url for url in loaded) == has_plotly, f"{path} loads plotly.js: {not has_plotly}"
    engines = [url for url in loaded if re.search(r"mathjax|katex[^/]*\.js", url, re.I)]
    assert engines == [], f"{path} loads a math engine: {engines}"
    if not demos_near:
        early = [url for url, _ in first_load if "plotly" in url or "/_static/demos/" in url]
        assert early == [], f"{path} loads demos before the reader scrolls to them: {early}"
    first_bytes = sum(size for _, size in first_load)
    assert first_bytes < FIRST_LOAD_BYTES, f"{path}: {first_bytes:,} bytes before scrolling (> {FIRST_LOAD_BYTES:,})"
    assert not any("fontawesome.js" in url for url in loaded), f"{path} loads the theme's fontawesome.js"
    icons = page.evaluate(ICONS)
    assert icons["drawn"] > 0 and icons["blank"] == [] and icons["announced"] == [], f"{path}: icons {icons}"
    blocking = page.evaluate(BLOCKING_SCRIPTS)
    assert not any("plotly" in src or "mathjax" in src for src in blocking), f"{path}: blocking scripts {blocking}"
    weights[path] = {
        "requests": len(page.loaded),
        "bytes": sum(size for _, size in page.loaded),
        "bytes_before_scrolling": first_bytes,
        "requests_before_scrolling": len(first_load),
        "plotly": has_plotly,
        "math": len(formulas) > 0,
        "blocking_scripts": len(blocking),
    }

    # Nothing was fetched from outside the book or missing, and nothing failed or logged an error.
    assert outside_requests(page, site) == [], f"{path} tried to load from outside"
    assert page.failed == [], f"{path}: failed requests: {page.failed}"
    assert page.errors == [], f"{path}: JavaScript errors: {page.errors[:5]}"

    # No WCAG 2.0/2.1 A or AA violation, in light and dark mode, on a screen and on a phone.
    page.add_script_tag(content=axe_source())
    page.add_style_tag(content=NO_MOTION)
    page.keyboard.press("Tab")  # as a keyboard user does: every box that scrolls is measured (book_a11y.js)
    settle(page, DESKTOP["width"])
    violations = axe_violations(page, "light, 1280 px")
    screenshot(page, path)
    set_mode(page, "dark")
    violations += axe_violations(page, "dark, 1280 px", colours_only=True)
    set_mode(page, "light")
    page.set_viewport_size(PHONE)
    settle(page, PHONE["width"])
    violations += axe_violations(page, "light, 390 px")
    assert violations == [], f"{path}: accessibility violations:\n" + "\n".join(violations)

    # On the phone nothing is cut off or sticks out, except inside boxes that scroll on their own.
    overflow = page.evaluate(OVERFLOW)
    screenshot(page, path, "-390px")
    assert overflow == [], f"{path} at 390 px:\n" + "\n".join(overflow)
    assert page.errors == [], f"{path}: JavaScript errors: {page.errors[:5]}"


# ---------------------------------------------------------------------------------------------
# The purged stylesheet draws the page as the full stylesheets do
# ---------------------------------------------------------------------------------------------

#: What the reader sees of every element of the page (and of its ::before and ::after): the computed value
#: of each property below, one line per element, in document order (plotly's plots, styled by plotly, aside).
STYLE_PROPERTIES = [
    "display", "position", "top", "left", "float", "width", "height", "max-width", "margin-top", "margin-right",
    "margin-bottom", "margin-left", "padding-top", "padding-right", "padding-bottom", "padding-left",
    "border-top-width", "border-top-style", "border-top-color", "border-left-width", "border-left-style",
    "border-left-color", "border-bottom-width", "border-radius", "color", "background-color", "background-image",
    "font-family", "font-size", "font-weight", "font-style", "line-height", "text-align", "text-decoration-line",
    "text-transform", "white-space", "vertical-align", "overflow-x", "overflow-y", "visibility", "opacity",
    "z-index", "flex-direction", "flex-wrap", "justify-content", "align-items", "gap", "grid-template-columns",
    "box-shadow", "transform", "list-style-type", "cursor", "outline-style", "content",
]  # fmt: skip
STYLES = """(properties) => {
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const lines = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('.d2lmini-demo-plot, script, style')) continue;
    for (const pseudo of [null, '::before', '::after']) {
      const s = getComputedStyle(el, pseudo);
      if (pseudo && (s.content === 'none' || s.content === 'normal')) continue;
      lines.push(name(el) + (pseudo || '') + ' ' + properties.map(p => p + ':' + s.getPropertyValue(p)).join(';'));
    }
  }
  return lines;
}"""


def full_stylesheet(bundle: str) -> str:
    """The stylesheets a purged bundle was made from, bundled without purging (see _ext/site_assets.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("site_assets_for_test", ROOT / "_ext" / "site_assets.py")
    assert spec and spec.loader
    site_assets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(site_assets)
    sheets = json.loads(site_assets.manifest_path(HTML).read_text())[bundle]
    return "\n".join(site_assets.css_with_imports(HTML, sheet) for sheet in sheets)


def styles_shown(page, site: str, path: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Every element's styles on ``path``: in light mode on a screen, then in dark mode on a phone."""
    page.set_viewport_size(DESKTOP)
    page.emulate_media(color_scheme="light")
    page.goto(site + path, wait_until="networkidle")
    page.add_style_tag(content=NO_MOTION)
    page.evaluate("document.fonts.ready.then(() => true)")
    lines = ["[light, 1280 px] " + line for line in page.evaluate(STYLES, STYLE_PROPERTIES)]
    page.set_viewport_size(PHONE)
    set_mode(page, "dark")
    settle(page, PHONE["width"])
    return lines + ["[dark, 390 px] " + line for line in page.evaluate(STYLES, STYLE_PROPERTIES)]


def changed_styles(mine: str, theirs: str) -> dict[str, str]:
    """The properties whose values differ between two lines of STYLES for the same element."""

    def values(line: str) -> dict[str, str]:
        return dict(part.split(":", 1) for part in line.split(" ", 4)[4].split(";") if ":" in part)

    new, old = values(mine), values(theirs)
    return {p: f"{old.get(p)} -> {new.get(p)}" for p in STYLE_PROPERTIES if new.get(p) != old.get(p)}


#: One page of each kind (every kind of content and every script the book has), as comparing every
#: element's styles takes 20-50 s a page on a busy machine; every page passed when this test was written.
PURGE_CHECKED = ["intro.html", "chapters/linear-collapse.html", "chapters/mlp-scratch.html",
                 "exercises/linear-collapse.html", "search.html", "genindex.html"]  # fmt: skip


@pytest.mark.parametrize("path", PURGE_CHECKED)
def test_the_purged_stylesheet_draws_every_element_as_the_full_ones_do(page, site: str, path: str) -> None:  # type: ignore[no-untyped-def]
    """_ext/site_assets.py drops the CSS rules no page uses: nothing a page shows may look different."""
    page.goto(site + path)
    href = page.get_attribute('link[rel="stylesheet"]', "href") or ""
    assert re.search(r"_static/styles-[0-9a-f]{12}\.css$", href), f"{path} links {href!r}, not one bundle"
    bundle = "_static/" + href.rsplit("_static/", 1)[1]
    purged = styles_shown(page, site, path)
    full = full_stylesheet(bundle)
    assert len(full) > 2 * (HTML / bundle).stat().st_size, "the bundle was not purged at all"
    page.route("**/" + bundle, lambda route: route.fulfill(body=full, content_type="text/css"))
    unpurged = styles_shown(page, site, path)
    assert len(purged) == len(unpurged), f"{path}: the page differs between loads ({len(purged)} vs {len(unpurged)})"
    differ = [
        f"{' '.join(mine.split(' ', 4)[:4])}: {changed_styles(mine, theirs)}"
        for mine, theirs in zip(purged, unpurged, strict=True)
        if mine != theirs
    ]
    assert differ == [], f"{path}: {len(differ)} elements look different purged:\n" + "\n".join(differ[:15])
    assert page.errors == []


def test_figures_are_opaque(site: str) -> None:
    """Figures must not be transparent, or they vanish on the dark theme."""
    from PIL import Image

    pngs = sorted((HTML / "_images").glob("*.png"))
    assert pngs, "the book has no figures"
    for png in pngs:
        with Image.open(png) as img:
            if "A" in img.getbands():
                assert img.getchannel("A").getextrema()[0] == 255, f"{png.name} has transparent pixels"


# ---------------------------------------------------------------------------------------------
# The demos, by keyboard and by mouse
# ---------------------------------------------------------------------------------------------

#: What the reader sees and hears of a demo: its plotted curves, its description and control values.
DEMO_STATE = """(fig) => ({
  curves: [...fig.querySelectorAll('.scatterlayer path.js-line, .scatterlayer path.point')]
    .map(p => p.getAttribute('d')).join('|') + JSON.stringify(
      ((fig.querySelector('.d2lmini-demo-plot') || {}).data || []).filter(t => t.z).map(t => t.z)),
  description: fig.querySelector('.d2lmini-demo-description').textContent,
  values: [...fig.querySelectorAll('input[type=range]')].map(i => i.getAttribute('aria-valuetext')),
})"""

#: Where the keyboard focus is: the demo and the control it is on, if any.
FOCUS = """() => {
  const el = document.activeElement, fig = el && el.closest('figure.d2lmini-demo');
  if (!fig) return null;
  const control = el.closest('[data-control]') || el;
  return {demo: fig.id, control: control.dataset.control || el.name, kind: el.type,
          atMax: el.type === 'range' && +el.value === +el.max};
}"""


@pytest.mark.parametrize(("path", "at_least"), [("chapters/activations.html", 5), ("chapters/playground.html", 1)])
def test_demos_work_by_keyboard_alone(page, site: str, path: str, at_least: int) -> None:  # type: ignore[no-untyped-def]
    """From the top of the page, Tab reaches every control of every demo; an arrow key changes the
    figure, its description and the announced value."""
    page.goto(site + path, wait_until="networkidle")
    wait_until_rendered(page)
    demos = page.eval_on_selector_all(
        "figure.d2lmini-demo",
        "figs => figs.map(f => ({id: f.id, controls: [...f.querySelectorAll('[data-control]')]"
        ".map(c => c.dataset.control)}))",
    )
    assert len(demos) >= at_least, f"expected {at_least} demo(s) on {path}"
    expected = {(d["id"], c) for d in demos for c in d["controls"]}
    reached: set[tuple[str, str]] = set()
    for _ in range(600):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS)
        if focus is None or (focus["demo"], focus["control"]) in reached:
            continue
        reached.add((focus["demo"], focus["control"]))
        figure = page.locator(f"#{focus['demo']}")
        before = figure.evaluate(DEMO_STATE)
        page.keyboard.press("ArrowLeft" if focus["atMax"] else "ArrowRight")
        page.wait_for_timeout(150)
        after = figure.evaluate(DEMO_STATE)
        where = f"{focus['demo']}, control {focus['control']}"
        assert after["curves"] != before["curves"], f"{where}: the arrow key did not change the plot"
        assert after["description"] != before["description"], f"{where}: the description did not change"
        if focus["kind"] == "range":
            assert after["values"] != before["values"], f"{where}: the announced value did not change"
        if reached == expected:
            break
    assert reached == expected, f"controls that Tab never reached: {sorted(expected - reached)}"
    assert page.locator(".d2lmini-demo-waiting").count() == 0, "the 'run this cell' note must go once scripts run"
    live = page.locator("figure.d2lmini-demo .d2lmini-demo-description[aria-live=polite]").count()
    assert live == len(demos), "every demo announces its new state"
    assert page.errors == []
    assert outside_requests(page, site) == []


def test_demo_buttons_work_with_a_mouse_and_at_390_px(page, site: str) -> None:  # type: ignore[no-untyped-def]
    page.set_viewport_size(PHONE)
    page.goto(site + "chapters/activations.html", wait_until="networkidle")
    wait_until_rendered(page)
    figure = page.locator("#d2lmini-activation-explorer")
    scroll_to(figure)
    before = figure.evaluate(DEMO_STATE)
    box = figure.bounding_box()
    for label in figure.locator("fieldset label").all():  # every button inside the figure, none cut off
        button = label.bounding_box()
        assert box["x"] <= button["x"] and button["x"] + button["width"] <= box["x"] + box["width"]
    figure.locator("fieldset label", has_text="SiLU").click()
    page.wait_for_timeout(300)
    after = figure.evaluate(DEMO_STATE)
    assert after["curves"] != before["curves"] and after["description"].startswith("SiLU")
    assert figure.locator("input[type=radio]:checked + span").inner_text() == "SiLU"
    assert page.locator(".modebar").count() == 0, "plotly's toolbar is shown"
    assert page.errors == []


#: What is drawn on top at the middle of a demo's plot: plotly's plot, or the picture of the first frame.
ON_TOP = """(plot) => { const r = plot.getBoundingClientRect();
  const el = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return el.closest('.d2lmini-demo-frame') ? 'picture' : el.closest('.plot-container') ? 'plot' : el.tagName; }"""


def test_a_demo_waits_for_the_reader_and_starts_when_the_keyboard_reaches_it(page, site: str) -> None:  # type: ignore[no-untyped-def]
    """Until the reader comes near, a demo shows a picture of its first frame under its title, with its
    description, and neither plotly.js nor its states are fetched; Tab onto its first control (from the top
    of the page) starts it, and the arrow keys then change the plot and the spoken description."""
    from playwright.sync_api import expect

    page.goto(site + "chapters/activations.html", wait_until="networkidle")
    figure = page.locator("figure.d2lmini-demo").first
    demo = figure.get_attribute("id")
    assert figure.get_attribute("data-demo") == "waiting"
    fetched = [url for url in page.requests if "plotly" in url or re.search(r"/_static/demos/.*\.js$", url)]
    assert fetched == [], f"a demo far down the page was fetched at once: {fetched}"
    picture = figure.locator(".d2lmini-demo-plot > img.d2lmini-demo-frame")
    assert picture.get_attribute("alt") == "", "the picture is decoration: the plot is named by its description"
    expect(figure.locator(".d2lmini-demo-description")).to_have_text(re.compile(r"\w+\W+\w+\W+\w+"))
    for _ in range(600):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS)
        if focus and focus["demo"] == demo:
            break
    else:
        pytest.fail(f"Tab never reached demo {demo}")
    expect(figure).to_have_attribute("data-demo", "ready", timeout=30000)
    plot = figure.locator(".d2lmini-demo-plot")
    expect(plot.locator("svg.main-svg").first).to_be_attached(timeout=30000)
    scroll_to(plot)
    assert plot.evaluate(ON_TOP) == "plot", "the picture of the first frame hides the plot"
    before = figure.evaluate(DEMO_STATE)
    page.keyboard.press("ArrowLeft" if focus["atMax"] else "ArrowRight")
    page.wait_for_timeout(150)
    after = figure.evaluate(DEMO_STATE)
    assert after["curves"] != before["curves"] and after["description"] != before["description"]
    assert page.errors == []


def test_a_demo_keeps_its_first_frame_and_says_so_when_plotly_cannot_load(page, site: str) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.route("**/plotly-cartesian.min.js", lambda route: route.abort())
    page.goto(site + "chapters/activations.html", wait_until="networkidle")
    figure = page.locator("figure.d2lmini-demo").first
    scroll_to(figure)
    expect(figure).to_have_attribute("data-demo", "failed", timeout=30000)
    expect(figure.locator(".d2lmini-demo-error")).to_contain_text("could not load")
    plot = figure.locator(".d2lmini-demo-plot")
    picture = plot.locator("img.d2lmini-demo-frame")
    expect(picture).to_be_visible()
    assert picture.evaluate("img => img.complete && img.naturalWidth > 0"), "the first frame's picture did not load"
    assert plot.evaluate(ON_TOP) == "picture"
    assert picture.bounding_box() == plot.bounding_box(), "the picture does not fill the plot's place"


def test_a_focused_box_in_a_section_laid_out_late_shows_its_whole_outline(page, site: str) -> None:  # type: ignore[no-untyped-def]
    """Sections are contained (content-visibility in book.css), and containment clips what is drawn outside:
    the outline of a focused box that spans the column (3px, 2px outside the box, book.css) must show whole on
    every side, not a pixel of it or none."""
    from io import BytesIO

    from PIL import Image, ImageChops

    page.set_viewport_size(PHONE)
    page.goto(site + "chapters/activations.html", wait_until="networkidle")
    page.keyboard.press("Tab")  # a keyboard user: every box that scrolls becomes a tab stop (book_a11y.js)
    box = page.locator("article.bd-article > section > section [data-scroll-focus]").first
    scroll_to(box)
    edges = box.bounding_box()
    assert edges, "no code box that scrolls in a section of the activations chapter"
    margin = 8  # px around the box in the picture: the outline reaches 5 px out
    ring = {"x": edges["x"] - margin, "y": edges["y"] - margin, "width": edges["width"] + 2 * margin,
            "height": min(edges["height"], 150) + margin}  # fmt: skip
    page.evaluate("document.activeElement && document.activeElement.blur()")
    unfocused = Image.open(BytesIO(page.screenshot(clip=ring))).convert("RGB")
    box.focus()
    focused = Image.open(BytesIO(page.screenshot(clip=ring))).convert("RGB")
    changed = ImageChops.difference(unfocused, focused).convert("L").point(lambda v: 255 if v > 24 else 0)
    width, height = changed.size
    middle_row, middle_column = margin + (height - margin) // 2, width // 2
    # Pixels outside the box that the focus changed, on a line across each side through its middle.
    outside = {
        "left": [changed.getpixel((x, middle_row)) for x in range(margin)],
        "right": [changed.getpixel((x, middle_row)) for x in range(width - margin, width)],
        "top": [changed.getpixel((middle_column, y)) for y in range(margin)],
    }
    for side, line in outside.items():
        shown = sum(1 for v in line if v)
        assert shown >= 3, f"the 3px focus outline of {box.get_attribute('aria-label')} shows {shown}px on the {side}"


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
