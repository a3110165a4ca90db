"""Tests of d2lmini.widgets: the pure functions, and that every static slider state is ``render`` there."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch

from d2lmini import widgets

X = torch.arange(-500, 501, dtype=torch.float64) / 100  # contains 0 exactly


CLOSED_FORMS = {
    "relu": lambda t, a: (t > 0).double(),
    "leaky_relu": lambda t, a: torch.where(t > 0, torch.ones_like(t), torch.full_like(t, a)),
    "sigmoid": lambda t, a: torch.sigmoid(t) * (1 - torch.sigmoid(t)),
    "tanh": lambda t, a: 1 - torch.tanh(t) ** 2,
    "gelu": lambda t, a: (
        0.5 * (1 + torch.erf(t / math.sqrt(2))) + t * torch.exp(-(t**2) / 2) / math.sqrt(2 * math.pi)
    ),
    "silu": lambda t, a: torch.sigmoid(t) * (1 + t * (1 - torch.sigmoid(t))),
}


@pytest.mark.parametrize("name", list(widgets.ACTIVATIONS))
def test_derivative_matches_closed_form(name: str) -> None:
    assert set(CLOSED_FORMS) == set(widgets.ACTIVATIONS)
    err = (widgets.derivative(name, X, 0.2) - CLOSED_FORMS[name](X, 0.2)).abs().max().item()
    assert err < 1e-12


def test_unknown_activation_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown activation"):
        widgets.activation("softplus", X)


def test_relu_hat_is_a_hat_made_of_three_relus() -> None:
    hat = widgets.relu_hat(X, center=1.0, width=0.5, height=2.0)
    assert abs(hat.max().item() - 2.0) < 1e-12 and X[hat.argmax()].item() == 1.0
    assert hat[(X <= 0.5) | (X >= 1.5)].abs().max().item() < 1e-12


def test_relu_fit_is_exact_on_a_piecewise_linear_target() -> None:
    target = lambda t: torch.relu(t) - 2 * torch.relu(t - 1)  # kinks at 0 and 1 = knots for n=4 on [-2, 2]
    knots, v, b = widgets.fit_relu_units(target, 4, -2.0, 2.0)
    assert knots.tolist() == [-2.0, -1.0, 0.0, 1.0]
    grid = torch.linspace(-2, 2, 101, dtype=torch.float64)
    assert (widgets.relu_net(grid, knots, v, b) - target(grid)).abs().max().item() < 1e-10


def test_layer_grad_norms_vanish_for_sigmoid_and_not_for_relu() -> None:
    sig = widgets.layer_grad_norms("sigmoid", depth=10, gain=1.0)
    rel = widgets.layer_grad_norms("relu", depth=10, gain=math.sqrt(2))
    assert len(sig) == len(rel) == 10
    assert sig[0] / sig[-1] < 1e-4 and 0.1 < rel[0] / rel[-1] < 10


def test_control_rejects_a_default_outside_its_values() -> None:
    with pytest.raises(ValueError, match="default"):
        widgets.Control("a", (1, 2), 3)


DEMOS = [
    widgets.activation_explorer,
    widgets.neuron_demo,
    widgets.bump_demo,
    widgets.relu_fit_demo,
    widgets.vanishing_demo,
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
    demo = widgets.relu_fit_demo()
    bundle = demo._repr_mimebundle_()
    assert bundle["text/html"] == demo.to_html()
    assert bundle["text/plain"].startswith("<Demo 'relu-fit'")
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_widget_controls_offer_the_same_values_as_the_static_figure() -> None:
    demo = widgets.neuron_demo()
    box = demo.widget()
    sliders = box.children[:-1]
    expected = [list(zip(c.texts, c.values, strict=True)) for c in demo.controls]
    assert [list(s.options) for s in sliders] == expected
    assert [s.value for s in sliders] == [c.default for c in demo.controls]
