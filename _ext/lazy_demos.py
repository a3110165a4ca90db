"""Demos load when the reader comes near them: their states and plotly.js stay out of the page until then.

A demo (:class:`d2lmini.book.widgets.Demo`) is stored in its notebook as one
HTML fragment: a figure with its caption, its controls, the title and
description of the default state, a plot area, and a script that holds every
precomputed state (the activation chapter's five demos: 200 KB; the
playground's: 370 KB) and draws the plot with plotly.js (1.5 MB).  Shipped as
they are, a phone downloads and runs all of it before the reader has scrolled
to the first demo.  This extension rewrites each demo's fragment in the
page, when the book is built (the notebooks and their stored outputs are
not touched):

- the states move into a script file of their own, ``_static/demos/<id>-<hash>.js``;
- the demo's script stays in the page, wrapped in a function that
  ``_static/lazy_demos.js`` calls with the states once the figure comes
  within a screen's height of the window (or a control in it gets the
  keyboard focus), after loading that file and plotly.js (once per page).
  Script files, not ``fetch``, so the book also works opened from disk;
- until then the plot's place shows a picture of the default state
  (``_static/demos/<id>-<hash>.svg``, drawn here by :mod:`demo_frame`), under
  the state's title and its description, which are in the page as before.

The controls, their labels and values, the figure's name and the ``aria-live``
description are the same elements as before, so keyboard and screen-reader
use is unchanged; arrow keys pressed before the states arrive are honoured
when they do.  A demo whose script does not have the shape this extension
knows (``var S = {...};`` first, as widgets.py writes it) is left as it is,
with a build warning, and its page loads plotly.js as before (page_assets.py).
"""

from __future__ import annotations

import hashlib
import html
import json
import posixpath
import re
import sys
from pathlib import Path
from typing import Any

from sphinx.util import logging

if str(Path(__file__).parent) not in sys.path:  # Sphinx puts _ext/ on the path; a test may load this file alone
    sys.path.insert(0, str(Path(__file__).parent))
from demo_frame import frame_svg, svg_settings

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
LOADER = "lazy_demos.js"
FOLDER = "_static/demos"
#: Set on a page context when a demo on it stays as it was (page_assets.py then adds plotly.js to the page).
EAGER = "demos_need_plotly"

FIGURE = re.compile(r'<figure class="d2lmini-demo" id="(?P<id>[^"]+)".*?</figure>', re.S)
SCRIPT = re.compile(
    r"<script>\n\(function \(\) \{\n"
    r"  var fig = document\.getElementById\('(?P<id>[^']+)'\);\n"
    r"  var S = (?P<states>\{[^\n]*\});\n"
    r"(?P<rest>.*)\}\)\(\);\n</script>",
    re.S,
)
WAITING = re.compile(r'<p class="d2lmini-demo-waiting">.*?</p>', re.S)
PLOT_HEIGHT = re.compile(r'class="d2lmini-demo-plot"[^>]*style="height: (\d+)px"')


def write_once(path: Path, data: bytes) -> None:
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def first_frame(states_js: str, height: int, demo: str, location: str) -> bytes:
    """The SVG picture of a demo's default state, from the plotly figure in its states."""
    import matplotlib

    states = json.loads(states_js.replace("<\\/", "</"))
    with matplotlib.rc_context(svg_settings()):
        svg, skipped = frame_svg({"data": states.get("data", []), "layout": states.get("layout", {})}, height)
    if skipped:
        logger.warning(f"demo {demo}: its first frame leaves out traces of type {sorted(set(skipped))} "
                       "(_ext/demo_frame.py draws scatter, contour and heatmap)", location=location)  # fmt: skip
    return svg


def lazy_figure(figure: str, outdir: Path, pathto: Any, plotly_js: str, location: str) -> str | None:
    """The figure's HTML with its states moved out and its script deferred; None if its script is unknown."""
    script = SCRIPT.search(figure)
    if script is None:
        return None
    demo, states = script["id"], script["states"]
    digest = hashlib.sha256(states.encode()).hexdigest()[:12]
    name = f"{demo}-{digest}"
    write_once(outdir / FOLDER / f"{name}.js", f"window.d2lminiDemos.loaded({json.dumps(name)}, {states});\n".encode())
    height = int(m[1]) if (m := PLOT_HEIGHT.search(figure)) else 400
    write_once(outdir / FOLDER / f"{name}.svg", first_frame(states, height, demo, location))
    frame = (
        f'<img class="d2lmini-demo-frame" src="{html.escape(pathto(f"{FOLDER}/{name}.svg", 1))}" alt="" '
        f'width="720" height="{height}" loading="lazy" decoding="async">'
    )
    entry = {"id": demo, "name": name, "data": pathto(f"{FOLDER}/{name}.js", 1), "plotly": plotly_js}
    wrapped = (
        "<script>\n"
        f"(window.d2lminiDemos = window.d2lminiDemos || []).push({json.dumps(entry)[:-1]}, run: function (S) {{\n"
        f"  var fig = document.getElementById('{demo}');\n"
        f"{script['rest']}}}}});\n"
        "</script>"
    )
    figure = figure[: script.start()] + wrapped + figure[script.end() :]
    figure = figure.replace('<figure class="d2lmini-demo"', '<figure class="d2lmini-demo" data-lazy-demo=""', 1)
    return WAITING.sub(frame, figure, count=1) if WAITING.search(figure) else figure


def defer_demos(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    body = context.get("body", "")
    if app.builder.format != "html" or 'class="d2lmini-demo"' not in body:
        return
    pathto = context["pathto"]
    plotly_js = pathto(posixpath.normpath(f"_static/{app.config.page_assets_plotly_js}"), 1)
    location = app.env.doc2path(pagename) if pagename in app.env.all_docs else pagename
    lazy = 0

    def rewrite(match: re.Match[str]) -> str:
        nonlocal lazy
        figure = lazy_figure(match[0], Path(app.outdir), pathto, plotly_js, str(location))
        if figure is None:
            logger.warning(f"demo {match['id']}: its script is not the one lazy_demos.py knows (`var S = {{...}};` "
                           "first), so it loads with the page", location=str(location))  # fmt: skip
            context[EAGER] = True
            return match[0]
        lazy += 1
        return figure

    context["body"] = FIGURE.sub(rewrite, body)
    if lazy:
        app.add_js_file(LOADER, loading_method="defer")


def prune(app: Any, exception: Exception | None) -> None:
    """Remove the states and pictures of demos (from earlier builds) that no page uses any more."""
    folder = Path(app.outdir) / FOLDER
    if exception is not None or app.builder.format != "html" or not folder.is_dir():
        return
    pages = [p for p in Path(app.outdir).rglob("*.html") if not p.is_relative_to(Path(app.outdir) / "_static")]
    used = {name for page in pages for name in re.findall(r"_static/demos/([\w.-]+)", page.read_text(encoding="utf-8"))}
    for path in folder.iterdir():
        if path.name.removesuffix(".gz") not in used:
            path.unlink()


def add_static(app: Any) -> None:
    if str(STATIC) not in app.config.html_static_path:
        app.config.html_static_path.append(str(STATIC))


def setup(app: Any) -> dict:
    app.connect("builder-inited", add_static)
    app.connect("html-page-context", defer_demos, priority=700)
    app.connect("build-finished", prune)  # before site_assets.py compresses the site
    return {"parallel_read_safe": True, "parallel_write_safe": True}
