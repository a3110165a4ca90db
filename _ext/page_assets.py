"""Load on each page only the scripts and figures it uses, when it needs them.

Out of the box every page of the book loads plotly.js (4.7 MB, render-blocking
in ``<head>``), and a page built from a notebook executed with widgets carries
the ipywidgets state as a JSON blob.  The book's demos load plotly.js
themselves when the reader comes near them (lazy_demos.py), math is typeset
when the book is built (katex_math.py), and the book never shows a widget
view.  This extension decides per page, from the page's HTML body, in an
``html-page-context`` handler that runs after myst-nb's, lazy_demos.py's and
accessibility.py's handlers:

- plotly.js (``page_assets_plotly_js``, relative to ``_static/``) is added,
  ``async``, only to a page with a plotly figure that does not load it
  itself: a plain plotly output, or a demo lazy_demos.py left as it was; the
  book serves plotly.js's 1.5 MB cartesian bundle (see the Makefile's assets);
- the ipywidgets state (``application/vnd.jupyter.widget-state+json``) and
  the widget scripts are removed when the body shows no widget view;
- the figures (images of ``_images/``) after the first get ``loading="lazy"``,
  so that a phone fetches them as the reader scrolls to them, and all of
  them their width and height, so that the text does not jump when they
  arrive (``_static/book.css`` keeps them scaling with the column);
- the theme's and extensions' script files are deferred (they act once the
  page is parsed), except ``documentation_options.js``, which inline scripts
  in ``<head>`` use at once, and except on the search page;
- the theme's script (``pydata-sphinx-theme.js``) no longer measures every
  code box and output of the page once it has loaded (to make the ones that
  scroll tab stops): with sections far from the window not laid out
  (``content-visibility`` in ``_static/book.css``), that pass laid out the
  whole page, a second of a slow phone's time.  ``book_a11y.js`` does the
  same job a section at a time (a build warning says when a new theme
  version writes that pass differently);
- the theme's ``fontawesome.js`` (1.5 MB on every page, there to turn icon
  ``<i>`` elements into SVGs) is left out: the theme's CSS already draws the
  same icons from Font Awesome's web fonts.  The theme writes that script
  in its template, so ``_templates/layout.html`` removes it with the
  ``without_script`` filter this extension adds;
- Sphinx's search tools and the search index (73 KB), which the theme loads
  on every page for a search-as-you-type box the book leaves off, load on the
  search page only (``without_script`` in ``_templates/layout.html``);
- the theme's ``<link rel="preload">`` of its two deferred scripts goes
  (``without_script_preloads``): on a slow connection they shared the
  bandwidth with the stylesheet that the first paint waits for, and a
  deferred script runs only once the page is parsed anyway.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sphinx.util import logging

logger = logging.getLogger(__name__)

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PLOTLY_MARKER = 'class="plotly-graph-div'
#: Set on the page context by lazy_demos.py when a demo on the page did not become lazy.
DEMOS_NEED_PLOTLY = "demos_need_plotly"
KEEP_BLOCKING = ("documentation_options.js",)
FIGURE = re.compile(r'<img (?P<attrs>[^>]*?\bsrc="(?:\.\./)*_images/(?P<name>[^"]+)"[^>]*?)\s*/?>')


def without_script(html: str, name: str) -> str:
    """``html`` without the ``<script>`` elements whose ``src`` file is ``name`` (a Jinja filter for templates)."""
    pattern = rf'\s*<script\b[^>]*\bsrc="(?:[^"]*/)?{re.escape(name)}(?:\?[^"]*)?"[^>]*>\s*</script>'
    return re.sub(pattern, "", html)


def without_script_preloads(html: str) -> str:
    """``html`` without ``<link rel="preload" as="script">`` elements (a Jinja filter for templates)."""
    return re.sub(r'\s*<link\b(?=[^>]*\brel="preload")(?=[^>]*\bas="script")[^>]*>', "", html)


def add_template_filter(app: Any) -> None:
    templates = getattr(app.builder, "templates", None)
    if templates is not None and hasattr(templates, "environment"):
        templates.environment.filters["without_script"] = without_script
        templates.environment.filters["without_script_preloads"] = without_script_preloads


def needs_plotly(body: str, context: dict) -> bool:
    """True when the page has a plotly figure that does not load plotly.js itself."""
    return PLOTLY_MARKER in body or bool(context.get(DEMOS_NEED_PLOTLY))


def is_widget_script(script: Any, widget_js: set[str]) -> bool:
    return script.attributes.get("type") == WIDGET_STATE or script.filename in widget_js


def deferred(script: Any) -> Any:
    """A copy of a local script file that loads with ``defer``; inline scripts and async/deferred files as they are."""
    name = str(script.filename or "")
    if not name or "://" in name or name.endswith(KEEP_BLOCKING) or {"async", "defer"} & set(script.attributes):
        return script
    return type(script)(script.filename, priority=script.priority, **{**script.attributes, "defer": "defer"})


def lazy_figures(body: str, size: Callable[[str], tuple[int, int] | None]) -> str:
    """Every figure with its ``width`` and ``height`` (``size(name)`` of the file in ``_images/``), and
    ``loading="lazy"`` from the second on (the first may be on the first screen); attributes already
    there are kept."""
    seen = 0

    def rewrite(match: re.Match[str]) -> str:
        nonlocal seen
        seen += 1
        attrs = match["attrs"]
        extra = []
        if " width=" not in f" {attrs}" and (found := size(match["name"])):
            extra.append(f'width="{found[0]}" height="{found[1]}"')
        if seen > 1 and "loading=" not in attrs:
            extra.append('loading="lazy"')
        if "decoding=" not in attrs:
            extra.append('decoding="async"')
        return f"<img {' '.join([attrs, *extra])} />"

    return FIGURE.sub(rewrite, body)


def image_sizes(app: Any) -> Callable[[str], tuple[int, int] | None]:
    """The pixel size of an image Sphinx copies to ``_images/`` under ``name``, read from its source."""
    sources = {dest: src for src, dest in getattr(app.builder, "images", {}).items()}

    def size(name: str) -> tuple[int, int] | None:
        from PIL import Image

        source = Path(app.srcdir) / sources.get(name, "")
        if name not in sources or not source.is_file():
            return None
        with Image.open(source) as image:
            return image.size

    return size


#: How the theme's built script starts its pass over scrollable boxes (addTabStopsToScrollableElements).
THEME_SCRIPT = "_static/scripts/pydata-sphinx-theme.js"
THEME_TAB_STOP_PASS = re.compile(r'"complete"===document\.readyState\?(\w+)\(\):window\.addEventListener\("load",\1\)')
PASS_OFF = "void 0/* the book's book_a11y.js makes scrolling boxes tab stops (_ext/page_assets.py) */"


def without_theme_tab_stop_pass(script: str) -> str | None:
    """The theme's script without the call of its pass over scrollable boxes; None if it is not found."""
    if PASS_OFF in script:
        return script
    switched_off, found = THEME_TAB_STOP_PASS.subn(PASS_OFF, script)
    return switched_off if found == 1 else None


def switch_off_theme_tab_stop_pass(app: Any, exception: Exception | None) -> None:
    path = Path(app.outdir) / THEME_SCRIPT
    if exception is not None or app.builder.format != "html" or not path.exists():
        return
    script = without_theme_tab_stop_pass(path.read_text(encoding="utf-8"))
    if script is None:
        logger.warning(f"{THEME_SCRIPT}: the theme's pass over scrollable boxes was not found (a new theme version?): "
                       "see _ext/page_assets.py and keep book_a11y.js the only one", type="page_assets")  # fmt: skip
    else:
        path.write_text(script, encoding="utf-8")


def choose_scripts(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    if app.builder.format != "html":
        return
    body = context["body"] = lazy_figures(context.get("body", ""), image_sizes(app))
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    keep = list(scripts)
    if WIDGET_VIEW not in body:
        widget_js = set(getattr(app.config, "nb_ipywidgets_js", {}) or {})
        keep = [s for s in keep if not is_widget_script(s, widget_js)]
    # The search page loads Sphinx's search tools in its body, blocking, and they need doctools.js first.
    scripts[:] = keep if pagename == "search" else [deferred(s) for s in keep]
    if needs_plotly(body, context):
        app.add_js_file(app.config.page_assets_plotly_js, loading_method="async")


def setup(app: Any) -> dict:
    app.add_config_value("page_assets_plotly_js", "../plotly-cartesian.min.js", "html")
    # after accessibility.py (800), which links each figure to itself by matching its plain <img> tag
    app.connect("html-page-context", choose_scripts, priority=850)
    app.connect("builder-inited", add_template_filter)
    app.connect("build-finished", switch_off_theme_tab_stop_pass)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
