"""Mend what the theme and the extensions get wrong for screen-reader and keyboard users (WCAG 2.1 AA).

An axe-core audit of the built book found these, fixed here in the HTML that
Sphinx writes (the theme's own buttons are fixed by the templates in
``_templates/``, colours in ``_static/book.css``):

- the sidebar's expand/collapse toggles are ``<summary>`` elements holding
  only an icon: each gets a name, "Sections of <chapter>";
- myst-nb's hidden-cell toggles say "Show code cell source" but are named
  "Toggle hidden content": the visible text becomes the name;
- sphinx-exercise gives every exercise's body the same ``id`` (and every
  solution's); repeated ids are numbered so that each id is unique;
- every page gets a ``<meta name="description">``: its first paragraph;
- a figure (a notebook's PNG output) becomes a link to itself, so that on a
  phone, where it is shrunk to the column's width, a tap opens it full size.

It also adds ``book_a11y.js`` (deferred) to every page: boxes of code or
display math that scroll sideways become focusable regions, so that a
keyboard can scroll them too.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

STATIC = Path(__file__).parent / "static"

SIDEBAR_TOGGLE = re.compile(r'(<a [^>]*>(?P<title>(?:(?!<a ).)*?)</a>\s*<details[^>]*>\s*<summary)(>)', re.S)
HIDDEN_CELL_SUMMARY = re.compile(r'<summary aria-label="Toggle hidden content">')
ELEMENT_ID = re.compile(r' id="([^"]+)"')
OUTPUT_IMAGE = re.compile(r'<img (?P<attrs>alt="[^"]*" src="(?P<src>(?:\.\./)*_images/[^"]+\.png)") */?>')
FIRST_PARAGRAPH = re.compile(r"<p>(.*?)</p>", re.S)
TAG = re.compile(r"<[^>]+>")


def text_of(fragment: str) -> str:
    """The plain text of an HTML fragment, whitespace collapsed."""
    return " ".join(html.unescape(TAG.sub("", fragment)).split())


def name_sidebar_toggles(toctree_html: str) -> str:
    """Give every sidebar ``<summary>`` (an icon alone) a name taken from its chapter's link."""

    def label(match: re.Match[str]) -> str:
        title = html.escape(text_of(match["title"]), quote=True)
        return f'{match[1]} aria-label="Sections of {title}">'

    return SIDEBAR_TOGGLE.sub(label, toctree_html)


def number_repeated_ids(body: str) -> str:
    """Keep the first of two elements with the same id; later ones become ``<id>-2``, ``<id>-3``, ...

    sphinx-exercise gives every exercise ``id="exercise-content"`` and every
    solution ``id="solution-content"``; the same fix holds for any repeat.
    """
    seen: dict[str, int] = {}
    taken = set(ELEMENT_ID.findall(body))

    def unique(match: re.Match[str]) -> str:
        name = match[1]
        seen[name] = seen.get(name, 0) + 1
        if seen[name] == 1:
            return match[0]
        number = seen[name]
        while f"{name}-{number}" in taken:
            number += 1
        taken.add(f"{name}-{number}")
        return f' id="{name}-{number}"'

    return ELEMENT_ID.sub(unique, body)


def link_figures(body: str) -> str:
    """Wrap every PNG figure in a link to the image itself ("tap to open full size")."""
    return OUTPUT_IMAGE.sub(
        r'<a class="figure-full-size" href="\g<src>" title="Open the figure full size"><img \g<attrs> /></a>', body
    )


def description(body: str, limit: int = 160) -> str:
    """The first paragraph of the page as plain text, cut at a word before ``limit`` characters."""
    for match in FIRST_PARAGRAPH.finditer(body):
        text = text_of(match[1])
        if len(text.split()) >= 5:
            if len(text) <= limit:
                return text
            return text[: limit - 1].rsplit(" ", 1)[0] + "…"
    return ""


def mend_page(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    if app.builder.format != "html":
        return
    body = context.get("body", "")
    body = HIDDEN_CELL_SUMMARY.sub("<summary>", body)
    context["body"] = link_figures(number_repeated_ids(body))
    summary = description(body) or context.get("docstitle", "")
    if summary:
        tag = f'<meta name="description" content="{html.escape(summary, quote=True)}" />\n'
        context["metatags"] = context.get("metatags", "") + tag
    toctree = context.get("generate_toctree_html")
    if callable(toctree):

        def named_toctree(kind: str, *args: Any, **kwargs: Any) -> Any:
            tree = toctree(kind, *args, **kwargs)
            return name_sidebar_toggles(str(tree)) if kind == "sidebar" else tree  # "raw": a soup for code

        context["generate_toctree_html"] = named_toctree


def add_static(app: Any) -> None:
    app.config.html_static_path.append(str(STATIC))


def setup(app: Any) -> dict:
    app.connect("builder-inited", add_static)
    app.add_js_file("book_a11y.js", loading_method="defer")
    app.connect("html-page-context", mend_page, priority=800)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
