"""Load on each page only the JavaScript it uses.

Out of the box every page of the book loads plotly.js (4.7 MB, render-blocking
in ``<head>``) and MathJax, and a page built from a notebook executed with
widgets carries the ipywidgets state as a JSON blob.  Only the pages with a
demo (the activation chapter, the playground) have plotly figures, several
pages have no math, and the book never shows a widget view.  This extension
decides per page, from the page's HTML body, in an ``html-page-context``
handler that runs after Sphinx's MathJax and myst-nb's handlers have added
their scripts:

- plotly.js (``page_assets_plotly_js``, relative to ``_static/``) is added
  only when the body holds a plotly figure, ``async``: it blocks neither the
  first paint nor MathJax (a deferred script would hold back
  DOMContentLoaded, and so MathJax's typesetting, until it arrived); the
  book serves plotly.js's 1.5 MB cartesian bundle (see the Makefile's assets);
  the demos draw their plots once it has run (see d2lmini.book.widgets);
- MathJax and its configuration are removed when the body holds no math
  (Sphinx keeps them on a page whose toctree includes a page with math);
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

import posixpath
import re
from typing import Any

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PLOTLY_MARKERS = ('class="d2lmini-demo-plot', 'class="plotly-graph-div')
MATH_MARKER = 'class="math'
KEEP_BLOCKING = ("documentation_options.js",)


def without_script(html: str, name: str) -> str:
    """``html`` without the ``<script>`` elements whose ``src`` file is ``name`` (a Jinja filter for templates)."""
    pattern = rf'\s*<script\b[^>]*\bsrc="(?:[^"]*/)?{re.escape(name)}(?:\?[^"]*)?"[^>]*>\s*</script>'
    return re.sub(pattern, "", html)


def add_template_filter(app: Any) -> None:
    templates = getattr(app.builder, "templates", None)
    if templates is not None and hasattr(templates, "environment"):
        templates.environment.filters["without_script"] = without_script


def has_plotly(body: str) -> bool:
    return any(marker in body for marker in PLOTLY_MARKERS)


def is_mathjax(script: Any, mathjax_path: str) -> bool:
    """True for the MathJax loader and for the inline ``window.MathJax = ...`` configuration.

    Sphinx stores a local script's name under ``_static/`` (``_static/../mathjax/tex-chtml.js``).
    """
    body = script.attributes.get("body", "") or ""
    if body.lstrip().startswith(("window.MathJax", "MathJax.Hub.Config")):
        return True
    name = str(script.filename or "")
    return name == mathjax_path or posixpath.normpath(name) == posixpath.normpath(f"_static/{mathjax_path}")


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
    if MATH_MARKER not in body:
        keep = [s for s in keep if not is_mathjax(s, app.config.mathjax_path)]
    if WIDGET_VIEW not in body:
        widget_js = set(getattr(app.config, "nb_ipywidgets_js", {}) or {})
        keep = [s for s in keep if not is_widget_script(s, widget_js)]
    # The search page loads Sphinx's search tools in its body, blocking, and they need doctools.js first.
    scripts[:] = keep if pagename == "search" else [deferred(s) for s in keep]
    if has_plotly(body):
        app.add_js_file(app.config.page_assets_plotly_js, loading_method="async")


def setup(app: Any) -> dict:
    app.add_config_value("page_assets_plotly_js", "../plotly-cartesian.min.js", "html")
    app.connect("html-page-context", choose_scripts, priority=800)
    app.connect("builder-inited", add_template_filter)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
