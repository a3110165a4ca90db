"""Tests of d2lmini.book.activations: the activation functions, derivatives and fitting helpers."""

from __future__ import annotations

import math

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
