"""Tests of d2lmini.book.activations: the activation functions, derivatives and fitting helpers."""

from __future__ import annotations

import math
from itertools import pairwise

import pytest
import torch

from d2lmini.book import activations

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


@pytest.mark.parametrize("name", list(activations.ACTIVATIONS))
def test_derivative_matches_closed_form(name: str) -> None:
    assert set(CLOSED_FORMS) == set(activations.ACTIVATIONS)
    err = (activations.derivative(name, X, 0.2) - CLOSED_FORMS[name](X, 0.2)).abs().max().item()
    assert err < 1e-12


def test_unknown_activation_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown activation"):
        activations.activation("softplus", X)


def test_relu_hat_is_a_hat_made_of_three_relus() -> None:
    hat = activations.relu_hat(X, center=1.0, width=0.5, height=2.0)
    assert abs(hat.max().item() - 2.0) < 1e-12 and X[hat.argmax()].item() == 1.0
    assert hat[(X <= 0.5) | (X >= 1.5)].abs().max().item() < 1e-12


def test_relu_fit_is_exact_on_a_piecewise_linear_target() -> None:
    target = lambda t: torch.relu(t) - 2 * torch.relu(t - 1)  # kinks at 0 and 1 = knots for n=4 on [-2, 2]
    knots, v, b = activations.fit_relu_units(target, 4, -2.0, 2.0)
    assert knots.tolist() == [-2.0, -1.0, 0.0, 1.0]
    grid = torch.linspace(-2, 2, 101, dtype=torch.float64)
    assert (activations.relu_net(grid, knots, v, b) - target(grid)).abs().max().item() < 1e-10


def test_layer_grad_norms_vanish_for_sigmoid_and_not_for_relu() -> None:
    sig = activations.layer_grad_norms("sigmoid", depth=10, gain=1.0)
    rel = activations.layer_grad_norms("relu", depth=10, gain=math.sqrt(2))
    assert len(sig) == len(rel) == 10
    assert sig[0] / sig[-1] < 1e-4 and 0.1 < rel[0] / rel[-1] < 10


def test_layer_grad_factors_scale_as_positive_homogeneity_says() -> None:
    """Weights times c scale layer l's input by c^(l-1) and its backward signal by c^(L-l) (ReLU is homogeneous)."""
    depth, c = 8, 1.5
    one = activations.layer_grad_factors("relu", depth, gain=1.0)
    scaled = activations.layer_grad_factors("relu", depth, gain=c)
    for layer in range(1, depth + 1):
        assert scaled.inputs[layer - 1] / one.inputs[layer - 1] == pytest.approx(c ** (layer - 1), rel=1e-9)
        assert scaled.backward[layer - 1] / one.backward[layer - 1] == pytest.approx(c ** (depth - layer), rel=1e-9)
        assert scaled.weights[layer - 1] / one.weights[layer - 1] == pytest.approx(c ** (depth - 1), rel=1e-9)
    assert activations.layer_grad_norms("relu", depth, gain=c) == scaled.weights


def test_layer_grad_factors_of_a_sigmoid_stack_keep_the_input_and_lose_the_backward_signal() -> None:
    f = activations.layer_grad_factors("sigmoid", depth=10, gain=1.0)
    assert all(0.4 < v < 0.6 for v in f.inputs[1:])  # sigmoid outputs: about 1/2 whatever the input
    assert all(3 < top / below < 5 for below, top in pairwise(f.backward))  # about 4 per layer


def test_vanishing_demo_keeps_every_point_of_a_log_axis() -> None:
    """Tiny gradient norms are the point of the demo: none may be rounded to 0 (a log axis drops it)."""
    demo = activations.vanishing_demo()
    for state in demo.static_states()["states"]:
        for ys in state["y"]:
            assert len(ys) == 20 and min(ys) > 0
    smallest = min(activations.layer_grad_norms("sigmoid", 20, gain=0.5))
    assert smallest < 1e-15  # so the check above really covers values below any absolute cutoff
    assert demo.frame(gain=0.5).traces[0].y[0] == float(f"{smallest:.4g}")


def test_relu_fit_has_no_thread_dependent_noise() -> None:
    """Where the fit is 0 in exact arithmetic (x = 0 for sin), it is stored as 0, not as ±1e-15."""
    for n_units in (2, 4, 8, 20):
        frame = activations.relu_fit_frame(n_units)
        fit = frame.traces[1]
        at_zero = fit.y[fit.x.index(0.0)]
        assert at_zero == 0.0
        assert all(y == 0.0 or abs(y) > 1e-6 for y in fit.y)


@pytest.mark.parametrize("center", [-2.0, -1.0, -0.5, 0.0, 1.5])
def test_bump_legend_writes_signs_properly(center: float) -> None:
    names = [t.name for t in activations.bump_frame(center, 0.5).traces]
    assert not any(bad in name for name in names for bad in ("- -", "+ -", "− −", "+ −", "x - 0", "x + 0)"))
    shifts = {-2.0: "x + 2.5", -1.0: "x + 1.5", -0.5: "x + 1", 0.0: "x + 0.5", 1.5: "x − 1"}
    assert f"relu({shifts[center]})" in names[0]


def test_fmt_and_shifted_read_well() -> None:
    assert activations.fmt(-0.5) == "−0.5"
    assert activations.fmt(-0.0) == "0"
    assert activations.fmt(1.234e9) == "1.23 × 10^9"
    assert activations.fmt(4.34e-10) == "4.34 × 10^−10"
    assert activations.fmt(0.00123) == "0.00123" and activations.fmt(123.4) == "123"
    # where rounding to 3 digits reaches the next power of ten, the rounded number decides the form
    assert activations.fmt(999.7) == "1 × 10^3" and activations.fmt(-999.7) == "−1 × 10^3"
    assert activations.fmt(0.0009996) == "0.001"
    assert [activations.shifted(v) for v in (0.0, 1.0, -2.5)] == ["x", "x + 1", "x − 2.5"]


def test_descriptions_follow_the_state() -> None:
    steep = activations.neuron_frame(2.0, 0.0).description
    assert steep.startswith("w = 2, b = 0:") and "2 times as steep" in steep and "centred at x = 0" in steep
    assert "flatter" in activations.neuron_frame(0.5, 1.0).description
    assert "mirrored" in activations.neuron_frame(-1.0, 0.0).description
    assert "constant sigmoid(1) = 0.731" in activations.neuron_frame(0.0, 1.0).description
    assert "RMS" not in activations.relu_fit_frame(4).description  # spelled out for a listener
    assert "4 kinks" in activations.relu_fit_frame(4).description
    assert "1 kink " in activations.relu_fit_frame(1).description
    vanishing = activations.vanishing_frame(0.5).description
    assert "sigmoid stack's gradient norm shrinks by a factor of 8.79 × 10^16" in vanishing
    assert "α = 0.3" in activations.explorer_frame("leaky_relu", 0.3).description
