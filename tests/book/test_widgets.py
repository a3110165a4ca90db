"""Tests of d2lmini.book.widgets: every static state is ``render`` at its parameters, both views agree,
the HTML controls are native and labelled, and the live view reuses what it drew."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import pytest

from d2lmini.book import activations, widgets


def test_control_rejects_a_default_outside_its_values() -> None:
    with pytest.raises(ValueError, match="default"):
        widgets.Control("a", (1, 2), 3)


def test_a_frame_without_a_description_is_an_error() -> None:
    traces = (widgets.trace("y", [0, 1], [0, 1]),)
    with pytest.raises(ValueError, match="needs a description"):
        widgets.Frame(traces, "title", "")
    with pytest.raises(TypeError):
        widgets.Frame(traces, "title")  # type: ignore[call-arg]


def test_a_demo_without_a_caption_is_an_error() -> None:
    render = lambda a: widgets.Frame((widgets.trace("y", [0, 1], [0, a]),), f"a = {a}", f"a line of slope {a}")
    with pytest.raises(ValueError, match="caption"):
        widgets.Demo("d", render, [widgets.Control("a", (1, 2), 1)], "")


def test_significant_keeps_tiny_values_and_snap_noise_removes_only_noise() -> None:
    assert widgets.significant([9.8234e-18, 123456.0, -0.000123456]) == (9.823e-18, 123500.0, -0.0001235)
    assert widgets.snap_noise([1.0, 4e-16, -0.5, 2e-3]) == [1.0, 0.0, -0.5, 2e-3]
    torch = pytest.importorskip("torch")
    snapped = widgets.snap_noise(torch.tensor([1.0, -3e-15, 0.25], dtype=torch.float64))
    assert snapped.tolist() == [1.0, 0.0, 0.25]


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
        assert state["description"] == frame.description
        assert state["names"] == [t.name for t in frame.traces]
        assert state["y"] == [list(frame.traces[i].y) for i in static["traces"]]
        xs = state.get("x", [list(first.traces[i].x) for i in static["traces"]])
        assert xs == [list(frame.traces[i].x) for i in static["traces"]]
    # the traces left out of the states really never change
    still = set(range(len(first.traces))) - set(static["traces"])
    for params in grid:
        frame = demo.render(**params)
        assert all(frame.traces[i] == first.traces[i] for i in still)


def test_states_that_look_different_read_differently(demo: widgets.Demo) -> None:
    """A screen-reader user hears a new description whenever the plot changes."""
    states = demo.static_states()["states"]
    by_description: dict[str, list] = {}
    for state in states:
        by_description.setdefault(state["description"], []).append((state["y"], state.get("x")))
    assert all(len(plots) == 1 for plots in by_description.values())


def payload(html: str) -> dict:
    return json.loads(re.search(r"var S = (\{.*?\});\n", html).group(1))


def test_html_is_deterministic_offline_and_carries_the_states(demo: widgets.Demo) -> None:
    html = demo.to_html()
    fields = ("key", "render", "controls", "caption", "xlabel", "ylabel", "xrange", "yrange", "ylog", "height")
    assert html == widgets.Demo(**{f: getattr(demo, f) for f in fields}).to_html()  # a fresh copy, same text
    assert f'id="{demo.div_id}"' in html and f'id="{demo.div_id}-plot"' in html
    assert "cdn" not in html.lower() and "<script src" not in html  # plotly.js comes from the page
    data = payload(html)
    assert data["states"] == demo.static_states()["states"]
    assert data["index"] == demo.static_states()["index"]
    assert data["config"]["displayModeBar"] is False  # no toolbar, no dead "Share chart" button
    assert data["layout"]["paper_bgcolor"] == data["layout"]["plot_bgcolor"] == "white"
    assert "sliders" not in data["layout"] and "updatemenus" not in data["layout"]  # the controls are HTML
    assert "window.addEventListener('load', start)" in html  # waits for an async or deferred plotly.js


def test_html_controls_are_native_labelled_and_match_the_controls(demo: widgets.Demo) -> None:
    html = demo.to_html()
    assert re.search(r'<figure [^>]*aria-labelledby="([^"]+)"', html).group(1) == f"{demo.div_id}-caption"
    assert f">{demo.caption}</figcaption>".replace("'", "&#x27;") in html
    assert f'aria-live="polite">{demo.frame().description}</p>'.replace("'", "&#x27;") in html
    for c in demo.controls:
        cid = f"{demo.div_id}-{c.name}"
        at = c.values.index(c.default)
        if c.kind == "slider":
            assert f'<label for="{cid}">' in html
            tag = re.search(rf'<input type="range" id="{cid}"[^>]*>', html).group(0)
            assert f'max="{len(c.values) - 1}"' in tag and f'value="{at}"' in tag
            assert f'aria-valuetext="{c.texts[at]}"' in tag
        else:
            radios = re.findall(rf'<input type="radio" name="{cid}" value="(\d+)"( checked)?', html)
            assert [int(v) for v, _ in radios] == list(range(len(c.values)))
            assert [bool(on) for _, on in radios] == [i == at for i in range(len(c.values))]
            assert f"<legend>{c.title}</legend>" in html


def test_the_figure_starts_at_the_default_state(demo: widgets.Demo) -> None:
    data = payload(demo.to_html())
    frame = demo.frame()
    assert [t["y"] for t in data["data"]] == [list(t.y) for t in frame.traces]
    assert [t["name"] for t in data["data"]] == [t.name for t in frame.traces]


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


def test_live_view_shows_each_state_and_reuses_a_state_seen_before(monkeypatch: pytest.MonkeyPatch) -> None:
    demo = activations.neuron_demo()
    box = demo.widget()
    weight, image = box.children[0], box.children[-1]
    first = bytes(image.value)
    weight.value = 2.0
    second = bytes(image.value)
    assert second != first and second.startswith(b"\x89PNG")
    assert second == demo.png(w=2.0)  # the same picture as the state drawn directly
    draws = []
    monkeypatch.setattr(widgets._LiveFigure, "_draw", lambda self, frame: draws.append(frame) or b"")
    weight.value = 1.0  # back to states already drawn: nothing is drawn again
    weight.value = 2.0
    assert draws == [] and bytes(image.value) == second
    weight.value = 4.0  # a new state is drawn once
    assert [f.title for f in draws] == [demo.frame(w=4.0).title]


@pytest.mark.parametrize("make, state", [
    (activations.bump_demo, {"center": -1.0, "width": 0.5}),  # legend texts change
    (lambda: activations.neuron_demo("tanh"), {"w": -2.0, "b": 3.0}),  # no fixed y range: rescaled
])  # fmt: skip
def test_redrawing_in_place_gives_the_picture_of_a_fresh_drawing(make, state) -> None:
    moved = make()
    moved.png()  # the default state first, then move
    in_place = moved.png(**state)
    starts_there = make()
    starts_there.controls = [dataclasses.replace(c, default=state[c.name]) for c in starts_there.controls]
    assert in_place == starts_there.png()  # drawn fresh, straight at that state
    assert in_place != moved.png()
