"""Load on each page only the JavaScript it uses.

Out of the box every page of the book loads plotly.js (4.7 MB, render-blocking
in ``<head>``), and a page built from a notebook executed with widgets carries
the ipywidgets state as a JSON blob.  The book's demos load plotly.js
themselves when the reader comes near them (lazy_demos.py), math is typeset
when the book is built (katex_math.py), and the book never shows a widget
view.  This extension decides per page, from the page's HTML body, in an
``html-page-context`` handler that runs after myst-nb's and lazy_demos.py's
handlers:

- plotly.js (``page_assets_plotly_js``, relative to ``_static/``) is added,
  ``async``, only to a page with a plotly figure that does not load it
  itself: a plain plotly output, or a demo lazy_demos.py left as it was; the
  book serves plotly.js's 1.5 MB cartesian bundle (see the Makefile's assets);
- the ipywidgets state (``application/vnd.jupyter.widget-state+json``) and
  the widget scripts are removed when the body shows no widget view;
- the theme's and extensions' script files are deferred (they act once the
  page is parsed), except ``documentation_options.js``, which inline scripts
  in ``<head>`` use at once, and except on the search page;
- the theme's ``fontawesome.js`` (1.5 MB on every page, there to turn icon
  ``<i>`` elements into SVGs) is left out: the theme's CSS already draws the
  same icons from Font Awesome's web fonts.  The theme writes that script
  in its template, so ``_templates/layout.html`` removes it with the
  ``without_script`` filter this extension adds.
"""

from __future__ import annotations

import re
from typing import Any

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PLOTLY_MARKER = 'class="plotly-graph-div'
#: Set on the page context by lazy_demos.py when a demo on the page did not become lazy.
DEMOS_NEED_PLOTLY = "demos_need_plotly"
KEEP_BLOCKING = ("documentation_options.js",)


def without_script(html: str, name: str) -> str:
    """``html`` without the ``<script>`` elements whose ``src`` file is ``name`` (a Jinja filter for templates)."""
    pattern = rf'\s*<script\b[^>]*\bsrc="(?:[^"]*/)?{re.escape(name)}(?:\?[^"]*)?"[^>]*>\s*</script>'
    return re.sub(pattern, "", html)


def add_template_filter(app: Any) -> None:
    templates = getattr(app.builder, "templates", None)
    if templates is not None and hasattr(templates, "environment"):
        templates.environment.filters["without_script"] = without_script


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


def choose_scripts(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    if app.builder.format != "html":
        return
    body = context.get("body", "")
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
    app.connect("html-page-context", choose_scripts, priority=800)
    app.connect("builder-inited", add_template_filter)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
