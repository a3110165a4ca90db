"""Tests of the book's own Sphinx extensions in _ext/: per-page scripts, accessibility fixes, math typeset
at build time, demos loaded when near, and the site's stylesheets, icon fonts and compressed copies.

They call the extensions' handlers and functions on inputs like the ones Sphinx
passes (and on real demos, fonts and KaTeX), without building the book
(tests/test_book.py checks the built book in a browser).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
from sphinx.builders.html._assets import _JavaScript

EXT = Path(__file__).resolve().parents[1] / "_ext"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"book_ext_{name}", EXT / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


page_assets = load("page_assets")
accessibility = load("accessibility")
dedupe_scripts = load("dedupe_scripts")
katex_math = load("katex_math")
lazy_demos = load("lazy_demos")
demo_frame = load("demo_frame")
site_assets = load("site_assets")

ROOT = EXT.parent
KATEX_JS = ROOT / "_vendor" / "node-build" / "node_modules" / "katex" / "dist" / "katex.min.js"
PURGECSS = ROOT / "_vendor" / "node-build" / "node_modules" / "purgecss"
#: Tests that start Node (KaTeX, PurgeCSS) or build a small book: slow, and skipped without the tools.
needs_node_tools = pytest.mark.skipif(
    shutil.which("node") is None or not KATEX_JS.exists() or not PURGECSS.exists(),
    reason="needs Node.js and the book's build tools (make setup puts them in _vendor/node-build/)",
)
WIDGET_JS = "https://cdn.example/embed-amd.js"


class FakeApp:
    """What the handlers use of a Sphinx application: its builder's format, its config, add_js_file."""

    def __init__(self, scripts: list) -> None:
        self.builder = SimpleNamespace(format="html")
        self.config = SimpleNamespace(
            page_assets_plotly_js="../plotly-cartesian.min.js", nb_ipywidgets_js={WIDGET_JS: {}}
        )
        self.scripts = scripts

    def add_js_file(self, filename: str, **kwargs: str) -> None:  # during a page: to this page only
        self.scripts.append(_JavaScript(filename, **kwargs))


def page_scripts() -> list:
    """The scripts Sphinx and myst-nb put on every page of the book."""
    return [
        _JavaScript("_static/doctools.js"),
        _JavaScript(None, type="application/vnd.jupyter.widget-state+json", body='{"state": {}}'),
        _JavaScript(WIDGET_JS),
    ]


def scripts_for(body: str, **context: object) -> list:
    scripts = page_scripts()
    app = FakeApp(scripts)
    page_assets.choose_scripts(app, "page", "page.html", {"body": body, "script_files": scripts, **context}, None)
    return scripts


def names(scripts: list) -> list[str]:
    return [s.filename or s.attributes.get("type") or s.attributes["body"][:14] for s in scripts]


def test_a_page_without_plotly_or_widgets_loads_none_of_them() -> None:
    assert names(scripts_for("<p>Just text.</p>")) == ["_static/doctools.js"]


def test_a_widget_view_keeps_the_widget_state_and_scripts() -> None:
    body = '<script type="application/vnd.jupyter.widget-view+json">{"model_id": "1"}</script>'
    assert names(scripts_for(body)) == ["_static/doctools.js", "application/vnd.jupyter.widget-state+json", WIDGET_JS]


@pytest.mark.parametrize(
    ("body", "context"),
    [('<div class="plotly-graph-div">', {}), ('<figure class="d2lmini-demo">', {lazy_demos.EAGER: True})],
)
def test_plotly_is_added_async_only_for_a_figure_that_does_not_load_it_itself(body: str, context: dict) -> None:
    added = scripts_for(f"<p>text</p>{body}</div>", **context)[-1]
    assert added.filename == "../plotly-cartesian.min.js" and added.attributes == {"loading_method": "async"}
    assert "../plotly-cartesian.min.js" not in names(scripts_for("<p>no figure, only the word plotly-graph-div</p>"))
    lazy_demo = '<figure class="d2lmini-demo" data-lazy-demo=""><div class="d2lmini-demo-plot"></div></figure>'
    assert "../plotly-cartesian.min.js" not in names(scripts_for(lazy_demo))  # it loads plotly.js when near


def test_script_files_are_deferred_except_what_inline_head_scripts_use() -> None:
    scripts = [
        _JavaScript("_static/documentation_options.js"),
        _JavaScript("_static/doctools.js", priority=200),
        _JavaScript("", body="let toggleHintShow = 'Click to show';"),
        _JavaScript("_static/sphinx-thebe.js", **{"async": "async"}),
        _JavaScript("https://example.org/remote.js"),
    ]
    page_assets.choose_scripts(FakeApp(scripts), "p", "p.html", {"body": "<p>x</p>", "script_files": scripts}, None)
    assert [s.attributes for s in scripts] == [
        {},
        {"defer": "defer"},
        {"body": "let toggleHintShow = 'Click to show';"},
        {"async": "async"},
        {},
    ]
    assert scripts[1].priority == 200
    on_search = [_JavaScript("_static/doctools.js")]
    context = {"body": "", "script_files": on_search}
    page_assets.choose_scripts(FakeApp(on_search), "search", "search.html", context, None)
    assert on_search[0].attributes == {}  # the search page's own search scripts need it at once


# ---------------------------------------------------------------------------------------------


def test_without_script_drops_only_the_named_script_file() -> None:
    """The theme's template writes fontawesome.js with a digest; _templates/layout.html drops it with this filter."""
    head = (
        '<link href="../_static/styles/theme.css?digest=55c2" rel="stylesheet" />\n'
        '  <script defer src="../_static/scripts/fontawesome.js?digest=55c2"></script>\n'
        '  <script defer src="../_static/scripts/not-fontawesome.js"></script>\n'
        '<link rel="preload" as="script" href="../_static/scripts/bootstrap.js?digest=55c2" />'
    )
    kept = page_assets.without_script(head, "fontawesome.js")
    assert "scripts/fontawesome.js" not in kept
    assert kept == head.replace('\n  <script defer src="../_static/scripts/fontawesome.js?digest=55c2"></script>', "")
    assert page_assets.without_script(head, "bootstrap.js") == head  # a preload link is not a script


def test_script_preloads_are_dropped_and_nothing_else() -> None:
    head = (
        '<link rel="stylesheet" href="_static/styles-0123456789ab.css" />\n'
        '  <link rel="preload" as="script" href="_static/scripts/bootstrap.js?digest=1" />\n'
        '<link rel="preload" href="_static/x.woff2" as="font" crossorigin />\n'
        '<link as="script" rel="preload" href="_static/scripts/pydata-sphinx-theme.js" />'
    )
    kept = page_assets.without_script_preloads(head).split("\n")
    assert kept == ['<link rel="stylesheet" href="_static/styles-0123456789ab.css" />',
                    '<link rel="preload" href="_static/x.woff2" as="font" crossorigin />']  # fmt: skip


def test_figures_get_their_size_and_all_but_the_first_load_lazily() -> None:
    body = (
        '<a class="figure-full-size" href="../_images/a.png"><img alt="first figure" src="../_images/a.png" /></a>'
        '<img alt="Binder logo" src="../_static/images/logo_binder.svg">'
        '<img alt="second figure" src="../_images/b.png" />'
        '<img alt="third, sized by hand" src="_images/c.png" width="10" height="5" loading="eager" />'
    )
    sizes = {"a.png": (700, 260), "b.png": (954, 296), "c.png": (1, 1)}
    out = page_assets.lazy_figures(body, sizes.get)
    assert '<img alt="first figure" src="../_images/a.png" width="700" height="260" decoding="async" />' in out
    second = '<img alt="second figure" src="../_images/b.png" width="954" height="296" loading="lazy" decoding="async"'
    third = '<img alt="third, sized by hand" src="_images/c.png" width="10" height="5" loading="eager" decoding'
    assert second in out and third in out
    assert '<img alt="Binder logo" src="../_static/images/logo_binder.svg">' in out, "only figures of _images/"
    unknown = page_assets.lazy_figures('<img alt="x" src="_images/new.png" />', {}.get)
    assert unknown == '<img alt="x" src="_images/new.png" decoding="async" />', "no size known: none written"


def test_the_theme_scan_of_scroll_boxes_is_switched_off_in_its_real_script() -> None:
    theme = Path(importlib.util.find_spec("pydata_sphinx_theme").submodule_search_locations[0])
    script = (theme / "theme" / "pydata_sphinx_theme" / "static" / "scripts" / "pydata-sphinx-theme.js").read_text()
    off = page_assets.without_theme_tab_stop_pass(script)
    assert off is not None, "the installed theme starts its scan differently: update THEME_TAB_STOP_PASS"
    assert page_assets.THEME_TAB_STOP_PASS.search(off) is None and page_assets.PASS_OFF in off
    assert len(off) < len(script) + len(page_assets.PASS_OFF)
    assert page_assets.without_theme_tab_stop_pass(off) == off, "switching it off twice changes nothing"
    assert page_assets.without_theme_tab_stop_pass("console.log('another theme')") is None


def test_sidebar_toggles_get_their_chapter_as_name() -> None:
    tree = (
        '<li><a class="reference internal" href="a.html">1. First</a></li>'
        '<li class="has-children"><a class="reference internal" href="b.html">6. Lab: <code><span>torch.nn</span>'
        '</code> &amp; more</a><details><summary><span class="toctree-toggle"></span></summary><ul></ul></details></li>'
    )
    named = accessibility.name_sidebar_toggles(tree)
    assert '<summary aria-label="Sections of 6. Lab: torch.nn &amp; more">' in named
    assert named.count("aria-label") == 1


def test_repeated_ids_are_numbered_and_stay_unique() -> None:
    body = '<section id="exercise-content"><p id="x"></p></section><section id="exercise-content"></section>' * 2
    fixed = accessibility.number_repeated_ids(body + '<b id="exercise-content-3">')
    ids = accessibility.ELEMENT_ID.findall(fixed)
    assert len(ids) == len(set(ids)) == 7
    assert ids[:3] == ["exercise-content", "x", "exercise-content-2"]


def test_description_is_the_first_real_paragraph_cut_at_a_word() -> None:
    body = "<p>Short.</p><p>This <em>book</em> teaches multilayer perceptrons &amp; more. " + "word " * 60 + "</p>"
    text = accessibility.description(body)
    assert text.startswith("This book teaches multilayer perceptrons & more. word")
    assert len(text) <= 160 and text.endswith("word…")


def test_figures_become_links_to_themselves() -> None:
    body = '<img alt="A plot of the loss falling" src="../_images/ab12.png" />'
    assert accessibility.link_figures(body) == (
        '<a class="figure-full-size" href="../_images/ab12.png" title="Open the figure full size">'
        '<img alt="A plot of the loss falling" src="../_images/ab12.png" /></a>'
    )
    logo = '<img alt="Binder logo" src="../_static/images/logo_binder.svg">'
    assert accessibility.link_figures(logo) == logo


def test_mend_page_fixes_the_body_and_adds_a_description() -> None:
    body = (
        "<p>An MLP has hidden layers between its input and output.</p>"
        '<details class="hide"><summary aria-label="Toggle hidden content"><p>Show code cell source</p></summary>'
        '<section id="solution-content"></section><section id="solution-content"></section>'
    )
    context = {"body": body, "metatags": "", "generate_toctree_html": lambda kind, **kw: "<ul></ul>"}
    accessibility.mend_page(FakeApp([]), "page", "page.html", context, None)
    assert 'aria-label="Toggle hidden content"' not in context["body"]
    assert 'id="solution-content-2"' in context["body"]
    description = "An MLP has hidden layers between its input and output."
    assert context["metatags"] == f'<meta name="description" content="{description}" />\n'
    assert context["generate_toctree_html"]("sidebar") == "<ul></ul>"


def test_a_repeated_inline_script_line_is_dropped_and_nothing_else(tmp_path: Path) -> None:
    thebe = '    <script>const THEBE_JS_URL = "x"</script>\n'
    page = tmp_path / "page.html"
    page.write_text(f"<head>\n{thebe}<script src='a.js'></script>\n<script src='a.js'></script>\n{thebe}</head>\n")
    dedupe_scripts.dedupe_file(page)
    assert page.read_text() == f"<head>\n{thebe}<script src='a.js'></script>\n<script src='a.js'></script>\n</head>\n"
    untouched = tmp_path / "other.html"
    untouched.write_text(f"<head>\n{thebe}</head>\n")
    before = untouched.stat().st_mtime_ns
    dedupe_scripts.dedupe_file(untouched)
    assert untouched.stat().st_mtime_ns == before  # a page without repeats is not rewritten


# ---------------------------------------------------------------------------------------------
# Math typeset when the book is built (katex_math.py)
# ---------------------------------------------------------------------------------------------


def test_display_math_is_wrapped_as_sphinx_hands_it_to_mathjax() -> None:
    from docutils import nodes

    def block(text: str, nowrap: bool = False) -> nodes.math_block:
        return nodes.math_block(text, text, nowrap=nowrap)

    assert katex_math.display_tex(block("x = 1")) == "x = 1"
    assert katex_math.display_tex(block(r"a &= b \\ c &= d")) == r"\begin{split}a &= b \\ c &= d\end{split}"
    two = katex_math.display_tex(block("a = b\n\nc = d"))
    assert two == r"\begin{align}\begin{aligned}a = b\\c = d\end{aligned}\end{align}"
    amsmath = r"\begin{align} a &= b \end{align}"
    assert katex_math.display_tex(block(amsmath, nowrap=True)) == amsmath


@pytest.mark.slow
@needs_node_tools
def test_katex_gives_html_for_the_eye_and_mathml_for_screen_readers_or_the_error() -> None:
    katex = katex_math.Katex(KATEX_JS)
    markup, error = katex.render(r"\frac{1}{1 + e^{-x}}", display=False, macros={})
    assert error is None and markup is not None
    assert '<span class="katex-html" aria-hidden="true">' in markup
    assert re.search(r'<span class="katex-mathml"><math [^>]*>.*<mfrac>', markup)
    assert '<annotation encoding="application/x-tex">\\frac{1}{1 + e^{-x}}</annotation>' in markup
    display, _ = katex.render(r"\R^d", display=True, macros={r"\R": r"\mathbb{R}"})
    assert display is not None and 'class="katex-display"' in display and "mathbb" in display
    assert katex.render(r"\frac{1}{", display=False, macros={}) == (None, katex.cache[(r"\frac{1}{", False)][1])
    assert "KaTeX parse error" in (katex.cache[(r"\frac{1}{", False)][1] or "")
    assert katex.render(r"\mathbb{R}^d", display=False, macros={})[0] == katex.cache[(r"\mathbb{R}^d", False)][0]
    katex.process.kill()


@pytest.mark.slow
@needs_node_tools
def test_a_book_built_with_katex_has_typeset_math_and_a_warning_that_names_a_bad_formula(tmp_path: Path) -> None:
    """A small Sphinx project with the extension: math in prose and display, numbered; a broken formula warns."""
    import io

    from sphinx.application import Sphinx

    (tmp_path / "conf.py").write_text(
        f"import sys; sys.path.insert(0, {str(EXT)!r})\n"
        "extensions = ['katex_math']\nhtml_math_renderer = 'katex'\n"
        f"katex_math_dir = {str(KATEX_JS.parent)!r}\n"
    )
    (tmp_path / "index.rst").write_text(
        "Title\n=====\n\nInline :math:`\\sigma(x)` here.\n\n"
        ".. math::\n   :label: sig\n\n   \\sigma(x) = \\frac{1}{1+e^{-x}}\n"
        "\nSee :eq:`sig`.\n\n.. toctree::\n\n   plain\n   broken\n"
    )
    (tmp_path / "plain.rst").write_text("Plain\n=====\n\nNo math on this page.\n")
    (tmp_path / "broken.rst").write_text("Broken\n======\n\nA formula :math:`\\frac{1}{` left open.\n")
    warnings = io.StringIO()
    app = Sphinx(tmp_path, tmp_path, tmp_path / "_build", tmp_path / "_doctrees", "html",
                 status=None, warning=warnings, freshenv=True)  # fmt: skip
    app.build()
    page = (tmp_path / "_build" / "index.html").read_text()
    assert page.count('class="katex"') == 2, "the inline formula and the display one"
    assert page.count('class="katex-display"') == 1 and '<span class="eqno">(1)' in page
    assert page.count("<math") == 2 and "MathJax" not in page and "katex.min.js" not in page
    assert 'href="_static/katex/katex.css' in page, "a page with math links KaTeX's stylesheet"
    assert "katex.css" not in (tmp_path / "_build" / "plain.html").read_text(), "a page without math does not"
    css = (tmp_path / "_build" / "_static" / "katex" / "katex.css").read_text()
    fonts = re.findall(r"url\(([^)]+)\)", css)
    assert fonts and all(
        f.endswith(".woff2") and (tmp_path / "_build" / "_static" / "katex" / f).exists() for f in fonts
    )
    assert "font-display:swap" in css
    broken = (tmp_path / "_build" / "broken.html").read_text()
    assert '<code class="katex-error">\\frac{1}{</code>' in broken
    assert re.search(
        r"broken\.rst:\d+: WARNING: KaTeX cannot typeset '\\\\frac\{1\}\{': KaTeX parse error", warnings.getvalue()
    )
    app.katex_math.process.kill()


# ---------------------------------------------------------------------------------------------
# Demos loaded when near (lazy_demos.py, demo_frame.py)
# ---------------------------------------------------------------------------------------------


def small_demo() -> object:
    """A real demo, made by d2lmini.book.widgets as the chapters make theirs: a slider moves a line."""
    from d2lmini.book.widgets import Control, Demo, Frame, trace

    def render(w: float) -> Frame:
        return Frame((trace("w x", [0.0, None, 1.0], [0.0, None, w]),), f"w = {w}", f"the line rises by {w} per unit")

    return Demo("slope", render, [Control("w", (1.0, 2.0, 3.0), 2.0, label="slope w")], "A line whose slope you set")


def test_a_demo_made_by_widgets_becomes_lazy_with_its_states_and_first_frame_in_files(tmp_path: Path) -> None:
    figure = lazy_demos.lazy_figure(small_demo().to_html(), tmp_path, lambda path, _: f"../{path}", "../p.js", "page")
    assert figure is not None, "the script widgets.py writes no longer has the shape lazy_demos.py rewrites"
    assert "var S = " not in figure and "Run this cell" not in figure
    assert 'data-lazy-demo=""' in figure
    (states_file,) = (tmp_path / "_static" / "demos").glob("d2lmini-slope-*.js")
    call = re.fullmatch(
        r'window\.d2lminiDemos\.loaded\("(d2lmini-slope-\w+)", (.*)\);\n', states_file.read_text(), re.S
    )
    assert call, states_file.read_text()[:200]
    states = json.loads(call[2].replace("<\\/", "</"))
    assert [s["description"] for s in states["states"]] == [f"the line rises by {w} per unit" for w in (1.0, 2.0, 3.0)]
    assert f'"name": "{call[1]}"' in figure and '"data": "../_static/demos/' in figure
    assert '"plotly": "../p.js"' in figure
    picture = re.search(
        r'<img class="d2lmini-demo-frame" src="\.\./_static/demos/(d2lmini-slope-\w+\.svg)" alt=""', figure
    )
    assert picture and (tmp_path / "_static" / "demos" / picture[1]).read_bytes().startswith(b"<?xml")
    # the controls, the title and the spoken description are the elements widgets.py wrote
    for part in ('<input type="range"', 'aria-live="polite"', "the line rises by 2.0 per unit", "w = 2.0"):
        assert part in figure


@pytest.mark.slow
@needs_node_tools
def test_the_rewritten_demo_script_is_valid_javascript(tmp_path: Path) -> None:
    import subprocess

    figure = lazy_demos.lazy_figure(small_demo().to_html(), tmp_path, lambda p, _: p, "plotly.js", "page") or ""
    script = re.search(r"<script>\n(.*)</script>", figure, re.S)
    assert script and "d2lminiDemos" in script[1]
    checked = subprocess.run(["node", "-e", "new Function(require('fs').readFileSync(0, 'utf8'))"],
                             input=script[1], capture_output=True, text=True)  # fmt: skip
    assert checked.returncode == 0, checked.stderr


def test_a_demo_script_of_another_shape_stays_and_its_page_loads_plotly(tmp_path: Path) -> None:
    changed = small_demo().to_html().replace("  var S = ", "  var STATES = ")
    assert lazy_demos.lazy_figure(changed, tmp_path, lambda p, _: p, "plotly.js", "page") is None
    app = SimpleNamespace(builder=SimpleNamespace(format="html"), outdir=str(tmp_path),
                          config=SimpleNamespace(page_assets_plotly_js="../plotly.js"),
                          env=SimpleNamespace(all_docs={}),
                          add_js_file=lambda *a, **k: pytest.fail("no loader without lazy demos"))  # fmt: skip
    context = {"body": changed, "pathto": lambda p, _: p}
    lazy_demos.defer_demos(app, "page", "page.html", context, None)
    assert context["body"] == changed and context[lazy_demos.EAGER] is True


def test_the_first_frame_draws_lines_with_gaps_points_and_maps() -> None:
    import matplotlib

    figure = {
        "data": [
            {"type": "contour", "x": [0, 1, 2], "y": [0, 1], "z": [[0, 0.4, 1], [0, 0.6, 1]], "zmin": 0, "zmax": 1,
             "colorscale": [[0, "#2166ac"], [0.5, "#f7f7f7"], [1, "#b2182b"]], "opacity": 0.6,
             "contours": {"start": 0.5}, "line": {"color": "black", "width": 2}},
            {"type": "scatter", "mode": "lines", "name": "fold lines", "x": [0, 1, None, 1, 2],
             "y": [0, 1, None, 1, 0], "line": {"color": "#333333", "dash": "dash", "width": 1.5}},
            {"type": "scatter", "mode": "markers", "name": "class 1", "x": [1], "y": [0.5],
             "marker": {"color": "#b2182b"}},
        ],
        "layout": {"xaxis": {"title": {"text": "x1"}, "range": [0, 2]},
                   "yaxis": {"title": {"text": "x2"}, "range": [0, 1]}},
    }  # fmt: skip
    with matplotlib.rc_context(demo_frame.svg_settings()):
        svg, skipped = demo_frame.frame_svg(figure, 400)
        again, _ = demo_frame.frame_svg(figure, 400)
        _, bar = demo_frame.frame_svg({"data": [{"type": "bar", "x": [1], "y": [1]}], "layout": {}}, 300)
    text = svg.decode()
    assert skipped == [] and bar == ["bar"]
    assert svg == again, "the picture is the same for the same figure (no dates, fixed ids)"
    for label in ("fold lines", "class 1", "x1", "x2"):
        assert f">{label}<" in text, f"{label} is not written as text in the picture"
    assert "<image" in text, "the map is drawn as an image"
    assert text.count("stroke-dasharray") >= 1, "the dashed line is dashed"


# ---------------------------------------------------------------------------------------------
# The site's stylesheets, icon fonts and compressed copies (site_assets.py)
# ---------------------------------------------------------------------------------------------

THEME = Path(importlib.util.find_spec("pydata_sphinx_theme").submodule_search_locations[0])
SOLID_TTF = (
    THEME / "theme" / "pydata_sphinx_theme" / "static" / "vendor" / "fontawesome" / "webfonts" / "fa-solid-900.ttf"
)


def small_site(root: Path) -> Path:
    """A built site in miniature: a theme stylesheet importing another, KaTeX's with fonts, two pages."""
    files = {
        "_static/styles/theme.css": '@import "../basic.css";\n.used { background: url(../img/dot.png?v=1#x); }',
        "_static/basic.css": ".base { margin: 0; } .unused { color: red; }",
        "_static/katex/katex.css": "@font-face{font-family:KaTeX_Main;src:url(fonts/KaTeX_Main.woff2) format('woff2')}"
                                   ".katex{font:1.2em KaTeX_Main}"
                                   ".never-shown { background: url(data:image/png;base64,AAAA) }",
        "_static/book.css": ".added-by-script { color: blue; } .bs-tooltip-auto { top: 0; }",
        "_static/book.js": "el.classList.add('added-by-script');",
        "index.html": '<head><link href="_static/styles/theme.css?digest=1" rel="stylesheet" />\n'
                      '<link rel="stylesheet" type="text/css" href="_static/book.css?v=2" />\n</head>'
                      '<body class="base"><p class="used">x</p><script src="_static/book.js"></script></body>',
        "chapters/one.html": '<head><link href="../_static/styles/theme.css" rel="stylesheet" />\n'
                             '<link rel="stylesheet" href="../_static/katex/katex.css" />\n'
                             '<link rel="stylesheet" type="text/css" href="../_static/book.css" />\n</head>'
                             '<body><span class="katex">x</span></body>',
    }  # fmt: skip
    site = root / "html"
    for name, text in files.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(text)
    return site


def test_stylesheets_are_inlined_into_one_with_urls_relative_to_static(tmp_path: Path) -> None:
    site = small_site(tmp_path)
    css = site_assets.css_with_imports(site, "_static/styles/theme.css")
    assert css.index(".base") < css.index(".used"), "the imported sheet comes first, in its place"
    assert 'url("img/dot.png?v=1#x")' in css and "@import" not in css
    katex = site_assets.css_with_imports(site, "_static/katex/katex.css")
    assert 'url("katex/fonts/KaTeX_Main.woff2")' in katex and "url(data:image/png;base64,AAAA)" in katex


def test_each_page_links_one_bundle_of_its_stylesheets_listed_beside_the_site(tmp_path: Path) -> None:
    site = small_site(tmp_path)
    config = SimpleNamespace(site_assets_purge=False, site_assets_purgecss="", site_assets_icon_fonts=[],
                             site_assets_text_fonts=[])  # fmt: skip
    app = SimpleNamespace(srcdir=str(ROOT), config=config)
    site_assets.bundle_stylesheets(app, site)
    index, chapter = (site / "index.html").read_text(), (site / "chapters" / "one.html").read_text()
    (first,) = re.findall(r'<link rel="stylesheet" href="(_static/styles-[0-9a-f]{12}\.css)" />', index)
    (second,) = re.findall(r'<link rel="stylesheet" href="\.\./(_static/styles-[0-9a-f]{12}\.css)" />', chapter)
    assert first != second and index.count("<link") == chapter.count("<link") == 1
    listed = json.loads(site_assets.manifest_path(site).read_text())
    assert listed[first] == ["_static/styles/theme.css", "_static/book.css"]
    assert listed[second] == ["_static/styles/theme.css", "_static/katex/katex.css", "_static/book.css"]
    assert ".katex{" in (site / second).read_text() and ".katex{" not in (site / first).read_text()
    site_assets.bundle_stylesheets(app, site)  # a second pass leaves pages that already link a bundle alone
    assert (site / "index.html").read_text() == index


def test_a_rebuild_links_every_page_to_a_bundle_of_the_stylesheets_as_they_are_now(tmp_path: Path) -> None:
    """An incremental build rewrites only the pages whose source changed; a stylesheet changed too
    (book.css): the pages left alone must not keep the old bundle, with the old rules."""
    site = small_site(tmp_path)
    config = SimpleNamespace(site_assets_purge=False, site_assets_purgecss="", site_assets_icon_fonts=[],
                             site_assets_text_fonts=[])  # fmt: skip
    app = SimpleNamespace(srcdir=str(ROOT), config=config)
    written = (site / "index.html").read_text()
    site_assets.bundle_stylesheets(app, site)
    (site / "_static" / "book.css").write_text(".added-by-script { color: green; }")
    (site / "index.html").write_text(written)  # the one page the rebuild writes
    site_assets.bundle_stylesheets(app, site)
    pages = {"index.html": "", "chapters/one.html": "../"}
    for page, up in pages.items():
        (bundle,) = re.findall(rf'<link rel="stylesheet" href="{up}(_static/styles-[0-9a-f]{{12}}\.css)" />',
                               (site / page).read_text())  # fmt: skip
        assert "color: green" in (site / bundle).read_text(), f"{page} links a bundle of the old book.css"


@pytest.mark.slow
@needs_node_tools
def test_purging_keeps_the_rules_pages_and_their_scripts_use(tmp_path: Path) -> None:
    site = small_site(tmp_path)
    sheets = ["_static/styles/theme.css", "_static/katex/katex.css", "_static/book.css"]
    css = "\n".join(site_assets.css_with_imports(site, sheet) for sheet in sheets)
    content = [site / "index.html", site / "chapters" / "one.html", site / "_static" / "book.js"]
    purged = site_assets.purge(css, content, [r"^bs-"], PURGECSS)
    for kept in (".used", ".base", ".katex", ".added-by-script", ".bs-tooltip-auto", "KaTeX_Main"):
        assert kept in purged, f"{kept} was purged"
    assert ".unused" not in purged
    assert ".never-shown" not in purged
    without_math = site_assets.purge(css, content[:1] + content[2:], [], PURGECSS)
    assert "@font-face" not in without_math and ".bs-tooltip-auto" not in without_math
    config = SimpleNamespace(site_assets_purge=True, site_assets_purgecss=str(PURGECSS), site_assets_keep=[],
                             site_assets_icon_fonts=[], site_assets_text_fonts=[])  # fmt: skip
    site_assets.bundle_stylesheets(SimpleNamespace(srcdir=str(ROOT), config=config), site)
    (bundle,) = re.findall(r'href="(_static/styles-\w+\.css)"', (site / "index.html").read_text())
    css = (site / bundle).read_text()
    assert ".added-by-script" in css, "a class only a script the page loads adds is kept"
    assert ".unused" not in css and ".used" in css


def test_icons_drawn_are_the_one_character_strings_of_the_css() -> None:
    css = (':root{--pst-icon-search:"\\f002";--pst-font:"Segoe UI"}.fa-github{--fa:"\\f09b"}'
           '.x:before{content:""} .y:after{content:"\\f105 "} .z:before{content:"ab"}'
           '.w:before{content:"\uf0c9"}')  # fmt: skip
    assert site_assets.icons_drawn(css) == {0xF002, 0xF09B, 0xF105, 0xF0C9}


def test_a_font_is_cut_to_the_glyphs_wanted_and_its_rule_points_at_the_cut(tmp_path: Path) -> None:
    from fontTools.ttLib import TTFont

    searched = {0xF002, 0xF0C9, 0x10FFFF}  # magnifying glass, bars, and a code point the font lacks
    woff2 = site_assets.subset_font(SOLID_TTF, searched)
    assert woff2 == site_assets.subset_font(SOLID_TTF, searched), "the same glyphs give the same bytes"
    (tmp_path / "icons.woff2").write_bytes(woff2)
    font = TTFont(tmp_path / "icons.woff2")
    assert font.flavor == "woff2" and set(font.getBestCmap()) == {0xF002, 0xF0C9}
    assert len(woff2) < 3000 < SOLID_TTF.stat().st_size // 100
    site = tmp_path / "site"
    webfonts = site / "_static" / "vendor" / "fontawesome" / "webfonts"
    webfonts.mkdir(parents=True)
    shutil.copy(SOLID_TTF, webfonts / "fa-solid-900.woff2")  # TrueType under the WOFF2 name: fontTools reads both
    css = (
        '@font-face{font-family:"Font Awesome 6 Free";font-weight:900;src:url("vendor/fontawesome/webfonts/'
        'fa-solid-900.woff2") format("woff2"),url("vendor/fontawesome/webfonts/fa-solid-900.ttf") format("truetype")}'
        '@font-face{font-family:KaTeX_Main;src:url("katex/fonts/KaTeX_Main.woff2") format("woff2")}'
        '.fa-bars{--fa:"\\f0c9"}'
    )
    wanted = {"Font Awesome 6 Free": site_assets.icons_drawn(css)}
    cut = site_assets.subset_fonts(css, site, wanted.get)
    rule = r'src:url\("(vendor/fontawesome/webfonts/fa-solid-900-[0-9a-f]{12}\.woff2)"\) format\("woff2"\)'
    (src,) = re.findall(rule, cut)
    assert set(TTFont(site / "_static" / src).getBestCmap()) == {0xF0C9}
    assert 'src:url("katex/fonts/KaTeX_Main.woff2")' in cut, "a font no glyphs are asked of is left as it is"


def test_the_text_fonts_keep_every_character_of_the_pages(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text('<p title="ignored">x &lt; &#955;</p><script>var hidden = "Ω";</script><style>b{}</style>σ')
    assert site_assets.text_codepoints([page]) == {ord(c) for c in "x < λσ"}


def test_every_text_file_gets_an_up_to_date_gzip_copy(tmp_path: Path) -> None:
    (tmp_path / "_static").mkdir()
    page, small, picture = tmp_path / "page.html", tmp_path / "_static" / "tiny.css", tmp_path / "figure.png"
    page.write_text("<p>" + "text " * 1000 + "</p>")
    small.write_text("a{}")
    picture.write_bytes(b"\x89PNG" + bytes(4000))
    assert site_assets.compress_site(tmp_path) == 1
    assert gzip.decompress((tmp_path / "page.html.gz").read_bytes()) == page.read_bytes()
    assert not (tmp_path / "_static" / "tiny.css.gz").exists() and not (tmp_path / "figure.png.gz").exists()
    assert site_assets.compress_site(tmp_path) == 0, "an up-to-date copy is not written again"


def test_bundles_fonts_and_demo_files_no_page_uses_are_pruned(tmp_path: Path) -> None:
    site = tmp_path / "html"
    fonts = site / "_static" / "katex" / "fonts"
    demos = site / "_static" / "demos"
    for folder in (fonts, demos, site / "chapters"):
        folder.mkdir(parents=True, exist_ok=True)
    live, stale = "styles-0123456789ab.css", "styles-ba9876543210.css"
    (site / "_static" / live).write_text('@font-face{src:url("katex/fonts/KaTeX_Main-Regular-aaaaaaaaaaaa.woff2")}')
    (site / "_static" / stale).write_text('@font-face{src:url("katex/fonts/KaTeX_Main-Regular-bbbbbbbbbbbb.woff2")}')
    for name in ("Main-Regular-aaaaaaaaaaaa", "Main-Regular-bbbbbbbbbbbb", "AMS-Regular"):
        (fonts / f"KaTeX_{name}.woff2").write_bytes(b"font")
    (site / "_static" / f"{stale}.gz").write_bytes(b"gz")
    for name in ("d2lmini-a-111111111111.js", "d2lmini-a-111111111111.svg", "d2lmini-a-000000000000.js"):
        (demos / name).write_text("x")
    (site / "chapters" / "one.html").write_text(
        f'<link rel="stylesheet" href="../_static/{live}" /><img src="../_static/demos/d2lmini-a-111111111111.svg">'
        '<script>push({"data": "../_static/demos/d2lmini-a-111111111111.js"})</script>'
    )
    removed = site_assets.prune(site)
    assert removed == ["_static/katex/fonts/KaTeX_Main-Regular-bbbbbbbbbbbb.woff2", f"_static/{stale}"]
    assert not (site / "_static" / f"{stale}.gz").exists() and (fonts / "KaTeX_AMS-Regular.woff2").exists()
    app = SimpleNamespace(outdir=str(site), builder=SimpleNamespace(format="html"))
    lazy_demos.prune(app, None)
    assert sorted(p.name for p in demos.iterdir()) == ["d2lmini-a-111111111111.js", "d2lmini-a-111111111111.svg"]
