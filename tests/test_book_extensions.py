"""Tests of the book's own Sphinx extensions in _ext/: the per-page scripts and the accessibility fixes.

They call the extensions' ``html-page-context`` handlers on a page context
like the one Sphinx passes, without building the book (tests/test_book.py
checks the built book in a browser).
"""

from __future__ import annotations

import importlib.util
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

MATHJAX = "../mathjax/tex-chtml.js"
WIDGET_JS = "https://cdn.example/embed-amd.js"


class FakeApp:
    """What the handlers use of a Sphinx application: its builder's format, its config, add_js_file."""

    def __init__(self, scripts: list) -> None:
        self.builder = SimpleNamespace(format="html")
        self.config = SimpleNamespace(
            mathjax_path=MATHJAX, page_assets_plotly_js="../plotly-cartesian.min.js", nb_ipywidgets_js={WIDGET_JS: {}}
        )
        self.scripts = scripts

    def add_js_file(self, filename: str, **kwargs: str) -> None:  # during a page: to this page only
        self.scripts.append(_JavaScript(filename, **kwargs))


def page_scripts() -> list:
    """The scripts Sphinx, MathJax and myst-nb put on every page of the book."""
    return [
        _JavaScript("_static/doctools.js"),
        _JavaScript("", body='window.MathJax = {"options": {}}'),
        _JavaScript(f"_static/{MATHJAX}", defer="defer"),
        _JavaScript(None, type="application/vnd.jupyter.widget-state+json", body='{"state": {}}'),
        _JavaScript(WIDGET_JS),
    ]


def scripts_for(body: str) -> list:
    scripts = page_scripts()
    app = FakeApp(scripts)
    page_assets.choose_scripts(app, "page", "page.html", {"body": body, "script_files": scripts}, None)
    return scripts


def names(scripts: list) -> list[str]:
    return [s.filename or s.attributes.get("type") or s.attributes["body"][:14] for s in scripts]


def test_a_page_without_math_plotly_or_widgets_loads_none_of_them() -> None:
    assert names(scripts_for("<p>Just text.</p>")) == ["_static/doctools.js"]


def test_math_keeps_mathjax_and_its_configuration() -> None:
    kept = names(scripts_for('<div class="math notranslate nohighlight">\\[x\\]</div>'))
    assert kept == ["_static/doctools.js", "window.MathJax", f"_static/{MATHJAX}"]


def test_a_widget_view_keeps_the_widget_state_and_scripts() -> None:
    body = '<script type="application/vnd.jupyter.widget-view+json">{"model_id": "1"}</script>'
    assert names(scripts_for(body)) == ["_static/doctools.js", "application/vnd.jupyter.widget-state+json", WIDGET_JS]


@pytest.mark.parametrize("figure", ['<div class="d2lmini-demo-plot" id="x">', '<div class="plotly-graph-div">'])
def test_plotly_is_added_async_only_with_a_plotly_figure(figure: str) -> None:
    added = scripts_for(f"<p>text</p>{figure}</div>")[-1]
    assert added.filename == "../plotly-cartesian.min.js" and added.attributes == {"loading_method": "async"}
    assert "../plotly-cartesian.min.js" not in names(scripts_for("<p>no figure, only the word plotly-graph-div</p>"))


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
        {}, {"defer": "defer"}, {"body": "let toggleHintShow = 'Click to show';"}, {"async": "async"}, {}
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
        '<p>An MLP has hidden layers between its input and output.</p>'
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
