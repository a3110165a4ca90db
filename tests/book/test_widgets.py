"""Tests of d2lmini.book.widgets: every static slider state is ``render`` at its parameters, and both views agree."""

from __future__ import annotations

import json
import math
import re

import pytest

from d2lmini.book import activations, widgets


def test_control_rejects_a_default_outside_its_values() -> None:
    with pytest.raises(ValueError, match="default"):
        widgets.Control("a", (1, 2), 3)


DEMOS = [
    activations.activation_explorer,
    activations.neuron_demo,
    activations.bump_demo,
    activations.relu_fit_demo,
    activations.vanishing_demo,
]


@pytest.fixture(scope="module", params=DEMOS, ids=lambda f: f.__name__)
def demo(request: pytest.FixtureRequest) -> widgets.Demo:
    return request.param()


def test_every_static_state_is_render_at_its_parameters(demo: widgets.Demo) -> None:
    static = demo.static_states()
    grid = list(demo.grid())
    assert len(static["index"]) == len(grid) == math.prod(len(c.values) for c in demo.controls)
    first = demo.frame()
    for params, k in zip(grid, static["index"], strict=True):
        frame, state = demo.render(**params), static["states"][k]
        assert state["title"] == frame.title
        assert state["y"] == [list(frame.traces[i].y) for i in static["traces"]]
        xs = state.get("x", [list(first.traces[i].x) for i in static["traces"]])
        assert xs == [list(frame.traces[i].x) for i in static["traces"]]
    # the traces left out of the states really never change
    still = set(range(len(first.traces))) - set(static["traces"])
    for params in grid:
        frame = demo.render(**params)
        assert all(frame.traces[i] == first.traces[i] for i in still)


def test_html_is_deterministic_offline_and_carries_the_states(demo: widgets.Demo) -> None:
    html = demo.to_html()
    fields = ("key", "render", "controls", "xlabel", "ylabel", "xrange", "yrange", "ylog", "height")
    assert html == widgets.Demo(**{f: getattr(demo, f) for f in fields}).to_html()  # a fresh copy, same text
    assert f'id="{demo.div_id}"' in html
    assert "cdn" not in html.lower() and "<script src" not in html  # plotly.js comes from the page
    assert "plotly_sliderchange" in html
    payload = json.loads(re.search(r"var S = (\{.*?\});\n", html).group(1))
    assert payload["states"] == demo.static_states()["states"]
    assert payload["index"] == demo.static_states()["index"]
    fig = json.loads(demo.figure().to_json())
    assert fig["layout"]["paper_bgcolor"] == fig["layout"]["plot_bgcolor"] == "white"
    n_sliders = sum(c.kind == "slider" for c in demo.controls)
    assert len(fig["layout"].get("sliders", [])) == n_sliders


def test_mimebundle_has_both_views_and_fixed_text() -> None:
    demo = activations.relu_fit_demo()
    bundle = demo._repr_mimebundle_()
    assert bundle["text/html"] == demo.to_html()
    assert bundle["text/plain"].startswith("<Demo 'relu-fit'")
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_widget_controls_offer_the_same_values_as_the_static_figure() -> None:
    demo = activations.neuron_demo()
    box = demo.widget()
    sliders = box.children[:-1]
    expected = [list(zip(c.texts, c.values, strict=True)) for c in demo.controls]
    assert [list(s.options) for s in sliders] == expected
    assert [s.value for s in sliders] == [c.default for c in demo.controls]
