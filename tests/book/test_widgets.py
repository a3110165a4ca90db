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
    assert widgets.snap_noise([]) == [] and widgets.snap_noise(torch.zeros(0)).numel() == 0


def map_frame(shift: float = 0.0, steep: int = 1) -> widgets.Frame:
    """A map over a 4 x 3 grid (x across, y up) that rises along x, and two segments in one trace."""
    xs, ys = (-1.5, -0.5, 0.5, 1.5), (-1.0, 0.0, 1.0)
    z = [[1 / (1 + math.exp(-steep * (x - shift + 0.2 * y))) for x in xs] for y in ys]
    traces = (
        widgets.heatmap("probability", xs, ys, z),
        widgets.trace("two segments", [-1, 1, None, shift, shift], [0.5, 0.5, None, -1, 1], dash="dash"),
        widgets.trace("points", [-1, 1], [-1, 1], mode="markers"),
    )
    return widgets.Frame(traces, f"shift {shift}, steepness {steep}", f"The map rises along x around {shift}, "
                         f"with steepness {steep}.")


def map_demo() -> widgets.Demo:
    controls = [widgets.Control("shift", (-0.5, 0.0, 0.5), 0.0), widgets.Control("steep", (1, 4), 1, kind="buttons")]
    return widgets.Demo("map", map_frame, controls, "A map of the plane with a boundary", xrange=(-1.5, 1.5),
                        yrange=(-1.0, 1.0), square=True)


DEMOS = [
    map_demo,
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
        assert state.get("z", []) == [frame.traces[i].codes() for i in static["heatmaps"]]
    # the traces left out of the states really never change
    still = set(range(len(first.traces))) - set(static["traces"]) - set(static["heatmaps"])
    for params in grid:
        frame = demo.render(**params)
        assert all(frame.traces[i] == first.traces[i] for i in still)


def test_states_that_look_different_read_differently(demo: widgets.Demo) -> None:
    """A screen-reader user hears a new description whenever the plot changes."""
    states = demo.static_states()["states"]
    by_description: dict[str, list] = {}
    for state in states:
        by_description.setdefault(state["description"], []).append((state["y"], state.get("x"), state.get("z")))
    assert all(len(plots) == 1 for plots in by_description.values())


def payload(html: str) -> dict:
    return json.loads(re.search(r"var S = (\{.*?\});\n", html).group(1))


def unshared(data: dict) -> list[dict]:
    """The payload's states with their lists of numbers looked up in the shared ``arrays`` (as the script does)."""
    look = lambda refs: [data["arrays"][i] for i in refs]
    return [{**s, "y": look(s["y"]), **({"x": look(s["x"])} if "x" in s else {})} for s in data["states"]]


def test_html_is_deterministic_offline_and_carries_the_states(demo: widgets.Demo) -> None:
    html = demo.to_html()
    fields = [f.name for f in dataclasses.fields(widgets.Demo) if f.init]
    assert html == widgets.Demo(**{f: getattr(demo, f) for f in fields}).to_html()  # a fresh copy, same text
    assert f'id="{demo.div_id}"' in html and f'id="{demo.div_id}-plot"' in html
    assert "cdn" not in html.lower() and "<script src" not in html  # plotly.js comes from the page
    data = payload(html)
    assert unshared(data) == demo.static_states()["states"]
    assert len(data["arrays"]) == len({json.dumps(a) for a in data["arrays"]})  # each list stored once
    assert data["index"] == demo.static_states()["index"]
    assert data["config"]["displayModeBar"] is False  # no toolbar, no dead "Share chart" button
    assert data["layout"]["paper_bgcolor"] == data["layout"]["plot_bgcolor"] == "white"
    assert "sliders" not in data["layout"] and "updatemenus" not in data["layout"]  # the controls are HTML
    assert "window.addEventListener('load', start)" in html  # waits for an async or deferred plotly.js
    # A front end that runs no scripts (a saved notebook in JupyterLab) says what to do in the plot's place.
    assert re.search(r'class="d2lmini-demo-plot"[^>]*><p class="d2lmini-demo-waiting">Run this cell', html)


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
    with pytest.raises(TypeError, match="unknown parameters"):  # even where the other values were drawn
        demo.png(w=2.0, wieght=1.0)


@pytest.mark.parametrize("make, state", [
    (map_demo, {"shift": 0.5, "steep": 4}),  # the map and its contour are redrawn
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



# ---------------------------------------------------------------------------
# Maps (heatmaps with a boundary) and curves with gaps


def test_heatmap_refuses_values_it_cannot_show() -> None:
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        widgets.heatmap("m", [0, 1], [0], [[0.5, 1.5]])
    with pytest.raises(ValueError, match="one row per y"):
        widgets.heatmap("m", [0, 1], [0, 1], [[0.5, 0.5]])
    with pytest.raises(ValueError, match="levels must be between 2 and 36"):
        widgets.heatmap("m", [0], [0], [[0.5]], levels=40)


def test_heatmap_values_are_rounded_to_its_levels_and_encoded_one_character_each() -> None:
    map_ = widgets.heatmap("m", [0, 1, 2], [0, 1], [[0.0, 0.26, 0.5], [0.74, 0.99, 1.0]], levels=5)
    assert map_.z == ((0.0, 0.25, 0.5), (0.75, 1.0, 1.0))
    assert map_.codes() == "012344"
    decoded = [int(c, 36) / (map_.levels - 1) for c in map_.codes()]  # what the page's script does
    assert decoded == [v for row in map_.z for v in row]


def test_significant_keeps_the_gaps_of_a_curve() -> None:
    assert widgets.significant([1.23456, None, 2.0]) == (1.235, None, 2.0)


def test_every_state_must_draw_the_same_kinds_of_traces() -> None:
    def render(a: int) -> widgets.Frame:
        shown = widgets.heatmap("m", [0, 1], [0], [[0.2, 0.8]]) if a else widgets.trace("m", [0, 1], [0, 1])
        return widgets.Frame((shown,), f"a = {a}", f"state number {a} of two")

    demo = widgets.Demo("kinds", render, [widgets.Control("a", (0, 1), 0)], "traces of changing kinds")
    with pytest.raises(ValueError, match="same traces, of the same kinds"):
        demo.static_states()


def test_map_states_carry_the_codes_and_the_page_rebuilds_the_map() -> None:
    demo = map_demo()
    static = demo.static_states()
    assert static["heatmaps"] == [0] and static["traces"] == [1]  # the points never move
    data = payload(demo.to_html())
    assert data["maps"] == [{"cols": 4, "levels": 21}]
    for params, k in zip(demo.grid(), static["index"], strict=True):
        frame, state = demo.render(**params), data["states"][k]
        codes, cols = state["z"][0], data["maps"][0]["cols"]
        rows = [[int(c, 36) / 20 for c in codes[i : i + cols]] for i in range(0, len(codes), cols)]
        assert rows == [list(row) for row in frame.traces[0].z]
        assert [data["arrays"][i] for i in state["y"]] == [list(frame.traces[1].y)]
    first = data["data"][0]
    assert first["type"] == "contour" and first["contours"]["start"] == first["contours"]["end"] == 0.5
    assert first["showscale"] is False and first["zmin"] == 0 and first["zmax"] == 1
    assert data["layout"]["yaxis"]["scaleanchor"] == "x"  # one unit of x as long as one of y
    assert data["data"][1]["x"][2] is None  # the gap between the two segments reaches plotly as null


def test_live_view_draws_the_map_its_boundary_and_the_gaps() -> None:
    demo = map_demo()
    live = widgets._LiveFigure(demo)
    assert len(live.images) == 1 and len(live.contours) == 1
    line = live.lines[0]
    assert math.isnan(line.get_xdata()[2])  # the gap: two segments, no line between them
    flat = demo.png(shift=0.0, steep=1)
    moved = demo.png(shift=0.5, steep=4)
    assert flat != moved
    assert live.axes.get_aspect() == 1.0


def test_a_map_that_never_crosses_its_boundary_draws_no_contour() -> None:
    below = widgets.heatmap("m", [0, 1], [0, 1], [[0.1, 0.2], [0.3, 0.4]])
    frame = widgets.Frame((below,), "low", "all below one half")
    demo = widgets.Demo("low", lambda a: frame, [widgets.Control("a", (0,), 0)], "a map below its boundary")
    live = widgets._LiveFigure(demo)
    assert live.contours == [] and len(live.images) == 1
