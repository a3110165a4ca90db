"""Typeset every formula when the book is built, so that no reader's browser runs a math engine.

Sphinx's MathJax renderer writes the TeX into the page and MathJax (1.2 MB of
JavaScript) typesets it in the reader's browser: on a phone that cost the
activation chapter 2.1 s of scripting.  This extension registers a math
renderer, ``katex``, that typesets each formula while the page is written,
with KaTeX (``katex`` from the npm registry, run in Node: ``make setup`` puts
it in ``_vendor/node-build/``, see ``_ext/node/``).  A formula arrives in the
page as

- HTML and CSS for the eye (``<span class="katex-html" aria-hidden="true">``);
- MathML for screen readers (``<span class="katex-mathml"><math>...``), which
  carries the TeX as an annotation; the formula is not a tab stop.

Inline math (``$...$``, ``{math}``, math in notebook markdown cells and in
Markdown printed by code) and display math (``$$...$$``, ``{math}`` blocks,
amsmath environments) all pass through Sphinx's math nodes, so all of it is
typeset here; numbered equations keep their number and permalink.  A formula
KaTeX cannot typeset is a build warning that names the page and the line (an
error under ``--warningiserror``) and shows as its TeX in the page.

KaTeX's stylesheet and fonts (WOFF2 only, ``font-display: swap``) are
copied into ``_static/katex/`` and the stylesheet is linked from the pages
that have math, and only those.

Configuration (``_config.yml``, ``sphinx.config``): ``html_math_renderer:
katex``; ``katex_math_dir``, the folder of KaTeX's ``dist`` files, relative to
the book (default ``_vendor/node-build/node_modules/katex/dist``);
``katex_math_macros``, TeX macros for every formula (``{"\\\\R": "\\\\mathbb{R}"}``).
"""

from __future__ import annotations

import atexit
import html
import json
import re
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.locale import _
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number

logger = logging.getLogger(__name__)

RENDERER = Path(__file__).parent / "node" / "katex-render.js"
CSS = "katex/katex.css"
#: The class that marks typeset math in a page's body (page_assets.py and the browser test look for it).
MARKER = 'class="katex'
FONT_FACE_SRC = re.compile(r"src:\s*url\((fonts/[^)]+\.woff2)\)\s*format\([\"']woff2[\"']\)[^;}]*")


class Katex:
    """One Node process running KaTeX, started on first use and kept for the build; answers are cached."""

    def __init__(self, katex_js: Path) -> None:
        if not katex_js.is_file():
            raise FileNotFoundError(
                f"KaTeX is missing ({katex_js}): run `make setup` (it installs the book's build tools from "
                "the npm registry into _vendor/node-build/), or set katex_math_dir"
            )
        if shutil.which("node") is None:
            raise FileNotFoundError("Node.js is needed to typeset the book's math with KaTeX: install `nodejs`")
        self.katex_js = katex_js
        self.process: subprocess.Popen[str] | None = None
        self.cache: dict[tuple[str, bool], tuple[str | None, str | None]] = {}
        self.lock = threading.Lock()

    def render(self, tex: str, display: bool, macros: dict[str, str]) -> tuple[str | None, str | None]:
        """``(html, None)`` for a formula KaTeX typesets, ``(None, message)`` for one it cannot."""
        key = (tex, display)
        if key not in self.cache:
            with self.lock:
                if self.process is None or self.process.poll() is not None:
                    self.process = subprocess.Popen(
                        ["node", str(RENDERER), str(self.katex_js)],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8",
                    )  # fmt: skip
                    atexit.register(self.process.kill)
                assert self.process.stdin and self.process.stdout
                self.process.stdin.write(json.dumps({"tex": tex, "display": display, "macros": macros}) + "\n")
                self.process.stdin.flush()
                line = self.process.stdout.readline()
                if not line:
                    raise RuntimeError(f"the KaTeX process ({RENDERER}) stopped while typesetting {tex!r}")
                answer = json.loads(line)
                self.cache[key] = (answer.get("html"), answer.get("error"))
        return self.cache[key]


def display_tex(node: nodes.math_block) -> str:
    """The TeX of a display formula as Sphinx's MathJax renderer hands it over: paragraphs become aligned
    lines, a paragraph with line breaks a ``split`` (an amsmath environment, ``nowrap``, goes as written)."""
    if node["nowrap"]:
        return node.astext()
    parts = [part for part in node.astext().split("\n\n") if part.strip()]
    lines = [rf"\begin{{split}}{part}\end{{split}}" if r"\\" in part else part for part in parts]
    if len(lines) == 1:
        return lines[0]
    return r"\begin{align}\begin{aligned}" + r"\\".join(lines) + r"\end{aligned}\end{align}"


def typeset(translator: Any, node: nodes.Element, tex: str, display: bool) -> str:
    """The formula's HTML; on an error, a warning with the formula's place and its TeX shown as code."""
    app = translator.builder.app
    katex: Katex = app.katex_math
    markup, error = katex.render(tex, display, dict(app.config.katex_math_macros))
    if markup is not None:
        return markup
    logger.warning(f"KaTeX cannot typeset {tex!r}: {error}", location=node, type="katex", subtype="error")
    return f'<code class="katex-error">{html.escape(tex)}</code>'


def visit_math(translator: Any, node: nodes.math) -> None:
    translator.body.append(translator.starttag(node, "span", "", CLASS="math notranslate nohighlight"))
    translator.body.append(typeset(translator, node, node.astext(), display=False))
    translator.body.append("</span>")
    raise nodes.SkipNode


def visit_displaymath(translator: Any, node: nodes.math_block) -> None:
    translator.body.append(translator.starttag(node, "div", CLASS="math notranslate nohighlight"))
    if node["number"]:
        number = get_node_equation_number(translator, node)
        translator.body.append(f'<span class="eqno">({number})')
        translator.add_permalink_ref(node, _("Link to this equation"))
        translator.body.append("</span>")
    translator.body.append(typeset(translator, node, display_tex(node), display=True))
    translator.body.append("</div>\n")
    raise nodes.SkipNode


# ---------------------------------------------------------------------------------------------


def katex_dir(app: Any) -> Path:
    return (Path(app.srcdir) / app.config.katex_math_dir).resolve()


def uses_katex(app: Any) -> bool:
    return getattr(app.builder, "math_renderer_name", "") == "katex"


def start(app: Any) -> None:
    if uses_katex(app):
        app.katex_math = Katex(katex_dir(app) / "katex.min.js")


def woff2_only(css: str) -> str:
    """KaTeX's stylesheet with each font offered as WOFF2 alone (every browser that runs the book reads
    WOFF2; the WOFF and TrueType copies would be dead weight in the site)."""
    return FONT_FACE_SRC.sub(lambda m: f'src:url({m[1]}) format("woff2")', css)


def copy_assets(app: Any, exception: Exception | None) -> None:
    """KaTeX's stylesheet (fonts shown as they arrive) and its WOFF2 fonts into ``_static/katex/``."""
    if exception is not None or app.builder.format != "html" or not uses_katex(app):
        return
    source = katex_dir(app)
    target = Path(app.outdir) / "_static" / "katex"
    (target / "fonts").mkdir(parents=True, exist_ok=True)
    css = (source / "katex-swap.min.css").read_text(encoding="utf-8")
    (target / "katex.css").write_text(woff2_only(css), encoding="utf-8")
    for font in (source / "fonts").glob("*.woff2"):
        shutil.copyfile(font, target / "fonts" / font.name)


def link_stylesheet(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """KaTeX's stylesheet on the pages that show math (their body holds typeset formulas)."""
    if app.builder.format == "html" and MARKER in context.get("body", ""):
        app.add_css_file(CSS)


def setup(app: Any) -> dict:
    app.add_html_math_renderer("katex", (visit_math, None), (visit_displaymath, None))
    app.add_config_value("katex_math_dir", "_vendor/node-build/node_modules/katex/dist", "html")
    app.add_config_value("katex_math_macros", {}, "html")
    app.connect("builder-inited", start)
    app.connect("html-page-context", link_stylesheet)
    app.connect("build-finished", copy_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
