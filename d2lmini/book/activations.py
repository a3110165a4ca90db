"""Activation functions and the slider demos of the activation-function chapter.

Each function here is pure: it takes numbers or tensors and returns tensors
or a :class:`~d2lmini.book.widgets.Frame` (what one state of a demo shows).
The ``*_demo`` functions wrap those frames into
:class:`~d2lmini.book.widgets.Demo` objects, which show live ipywidgets
sliders in Jupyter and, in the built book, the same controls as native HTML
inputs over a plotly plot.  torch is imported inside the functions, so
importing this module is instant.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from d2lmini.book.widgets import Control, Demo, Frame, snap_noise, trace

if TYPE_CHECKING:
    import torch

# ---------------------------------------------------------------------------
# Activation functions and their derivatives
# ---------------------------------------------------------------------------

#: Activation names understood by :func:`activation`, with their display names.
ACTIVATIONS: dict[str, str] = {
    "relu": "ReLU",
    "leaky_relu": "leaky ReLU",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "gelu": "GELU",
    "silu": "SiLU",
}


def activation(name: str, x: torch.Tensor, alpha: float = 0.1) -> torch.Tensor:
    """Apply the activation ``name`` (a key of :data:`ACTIVATIONS`) to ``x``.

    ``alpha`` is the slope for negative inputs of the leaky ReLU (a pReLU with
    a fixed, not learned, slope); the other activations ignore it.
    """
    import torch
    import torch.nn.functional as F

    functions: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "relu": torch.relu,
        "leaky_relu": lambda t: F.leaky_relu(t, alpha),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "gelu": F.gelu,
        "silu": F.silu,
    }
    if name not in functions:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(functions)}")
    return functions[name](x)


def derivative(name: str, x: torch.Tensor, alpha: float = 0.1) -> torch.Tensor:
    """The derivative of activation ``name`` at every element of ``x``, by autograd.

    Because the activation acts element by element, the gradient of the sum of
    its outputs is exactly the vector of the pointwise derivatives.
    """
    import torch

    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(activation(name, x, alpha).sum(), x)
    return grad


# ---------------------------------------------------------------------------
# The activation chapter's demos
# ---------------------------------------------------------------------------

BLUE, ORANGE, GREEN, GRAY, RED = "#1f77b4", "#ff7f0e", "#2ca02c", "#7f7f7f", "#d62728"


def fmt(value: float, digits: int = 3) -> str:
    """A number for a figure's text: ``digits`` significant digits, a real minus sign, ``× 10^k`` when large or small.

    ``fmt(-0.5) == "−0.5"``, ``fmt(1.23e9) == "1.23 × 10^9"``: read out
    sensibly by a screen reader, unlike ``1.23e+09``.
    """
    value = float(value)
    if value == 0:
        return "0"
    if not math.isfinite(value):
        return f"{value:g}"
    # The exponent after rounding to ``digits`` digits: 999.7 is 1.00e3, so it is written 1 × 10^3.
    mantissa, power = f"{value:.{digits - 1}e}".split("e")
    if -3 <= int(power) < digits:
        text = f"{value:.{digits}g}"
    else:
        text = f"{mantissa.rstrip('0').rstrip('.')} × 10^{int(power)}"
    return text.replace("-", "−")


def shifted(offset: float) -> str:
    """``x + offset`` written the way a person would: ``x``, ``x + 1``, ``x − 1`` (never ``x - -1``)."""
    if offset == 0:
        return "x"
    return f"x {'+' if offset > 0 else '−'} {fmt(abs(offset))}"


def _grid(lo: float, hi: float, num: int) -> torch.Tensor:
    """``num`` evenly spaced points from ``lo`` to ``hi``, exact where they can be (0 is 0, not 2.8e-16)."""
    import torch

    return lo + torch.arange(num, dtype=torch.float64) * (hi - lo) / (num - 1)


def _kink_grid(lo: float, hi: float, kinks: Any) -> torch.Tensor:
    """``lo``, ``hi`` and the kinks between them, sorted: all a piecewise linear curve needs."""
    import torch

    inside = [float(k) for k in kinks if lo < float(k) < hi]
    return torch.tensor(sorted({lo, hi, *inside}), dtype=torch.float64)


#: How each activation looks, in words, for the explorer's description.
SHAPES: dict[str, str] = {
    "relu": "0 for negative x and equal to x for positive x",
    "leaky_relu": "α x for negative x and equal to x for positive x",
    "sigmoid": "an S-shaped curve rising from 0 to 1, equal to 0.5 at x = 0",
    "tanh": "an S-shaped curve rising from −1 to 1 through 0",
    "gelu": "close to 0 for very negative x, dipping just below 0, and close to x for positive x",
    "silu": "close to 0 for very negative x, dipping just below 0, and close to x for positive x",
}


def explorer_frame(name: str = "relu", alpha: float = 0.1) -> Frame:
    """An activation and its autograd derivative on [-5, 5]."""
    x = _grid(-5, 5, 201)
    y, dy = activation(name, x, alpha), derivative(name, x, alpha)
    title = ACTIVATIONS[name] + (f", α = {fmt(alpha)}" if name == "leaky_relu" else "")
    description = (
        f"{title}: {SHAPES[name].replace('α', fmt(alpha))}. On [−5, 5] it ranges from {fmt(y.min())} to "
        f"{fmt(y.max())}; its derivative (dashed) ranges from {fmt(dy.min())} to {fmt(dy.max())}."
        + ("" if name == "leaky_relu" else " The α slider changes only the leaky ReLU.")
    )
    return Frame(
        (trace("f(x)", x, y, color=BLUE), trace("f'(x) by autograd", x, dy, color=ORANGE, dash="dash")),
        title,
        description,
    )


def activation_explorer() -> Demo:
    """Demo 1: pick an activation, see it and its derivative; α for the leaky ReLU."""
    alphas = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
    return Demo(
        "activation-explorer",
        explorer_frame,
        [
            Control("name", tuple(ACTIVATIONS), "relu", "activation", "buttons", tuple(ACTIVATIONS.values())),
            Control("alpha", alphas, 0.1, "α (leaky ReLU only)"),
        ],
        "Activation explorer: choose an activation function to see its graph and its derivative; "
        "α sets the leaky ReLU's slope for negative inputs.",
        xlabel="x",
        xrange=(-5, 5),
        yrange=(-1.6, 3.0),
    )


def neuron_frame(w: float = 1.0, b: float = 0.0, name: str = "sigmoid") -> Frame:
    """One neuron ``f(w x + b)`` against ``f(x)``; ``w`` sets the steepness, ``b`` the shift."""
    x = _grid(-6, 6, 121)
    y = activation(name, w * x + b)
    f = ACTIVATIONS[name]
    if w == 0:
        where = ", constant"
        description = (
            f"w = 0, b = {fmt(b)}: the input w x + b is {fmt(b)} for every x, so the neuron outputs the "
            f"constant {f}({fmt(b)}) = {fmt(activation(name, y.new_tensor(b)))}."
        )
    else:
        centre = fmt(-b / w + 0.0)
        where = f", centre at x = {centre}"
        if abs(w) < 1:
            steepness = f"flatter than ({fmt(abs(w))} times as steep as)"
        elif abs(w) == 1:
            steepness = "as steep as"
        else:
            steepness = f"{fmt(abs(w))} times as steep as"
        turned = ", mirrored left to right" if w < 0 else ""
        description = (
            f"w = {fmt(w)}, b = {fmt(b)}: {f}(w x + b) is {steepness} {f}(x){turned}, "
            f"centred at x = {centre}, where w x + b = 0."
        )
    return Frame(
        (
            trace(f"{f}(x)", x, activation(name, x), color=GRAY, dash="dot"),
            trace(f"{f}(w x + b)", x, y, color=BLUE, width=3),
        ),
        f"w = {fmt(w)}, b = {fmt(b)}{where}",
        description,
    )


def neuron_demo(name: str = "sigmoid") -> Demo:
    """Demo 2: sliders for the weight and bias of one neuron ``f(w x + b)``."""
    ws = (-4.0, -2.0, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
    bs = (-4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0)
    render = lambda w, b: neuron_frame(w, b, name)
    return Demo(
        f"neuron-{name}", render, [Control("w", ws, 1.0, "weight w"), Control("b", bs, 0.0, "bias b")],
        f"One {ACTIVATIONS[name]} neuron, {ACTIVATIONS[name]}(w x + b): the weight w sets how steep it is "
        "and the bias b shifts it.",
        xlabel="x", ylabel="activation", xrange=(-6, 6), yrange=(-0.1, 1.1) if name == "sigmoid" else None,
    )  # fmt: skip


def relu_hat(x: torch.Tensor, center: float, width: float, height: float = 1.0) -> torch.Tensor:
    """A hat of the given half-``width`` and ``height`` at ``center``, made of three ReLUs.

    ``(h / w) * (relu(x - c + w) - 2 relu(x - c) + relu(x - c - w))``: the slope
    goes 0, then ``h/w``, then ``-h/w``, then back to 0.
    """
    import torch

    s = height / width
    return s * (torch.relu(x - center + width) - 2 * torch.relu(x - center) + torch.relu(x - center - width))


def bump_frame(center: float = 0.0, width: float = 1.0) -> Frame:
    """The three scaled ReLUs of :func:`relu_hat` and their sum, drawn exactly through their kinks."""
    import torch

    kinks = (center - width, center, center + width)
    x = _kink_grid(-4, 4, kinks)
    s = 1.0 / width
    parts = (
        (f"+{fmt(s)} relu({shifted(-kinks[0])})", s * torch.relu(x - kinks[0]), GREEN),
        (f"−{fmt(2 * s)} relu({shifted(-kinks[1])})", -2 * s * torch.relu(x - kinks[1]), RED),
        (f"+{fmt(s)} relu({shifted(-kinks[2])})", s * torch.relu(x - kinks[2]), ORANGE),
    )
    traces = [trace(name, x, y, color=color, dash="dot", width=1.5) for name, y, color in parts]
    bump = relu_hat(x, center, width)
    traces.append(trace("sum: a bump", x, bump, color=BLUE, width=3))
    lo, mid, hi = (fmt(k) for k in kinks)
    description = (
        f"Centre {fmt(center)}, half-width {fmt(width)}: three ReLUs with kinks at x = {lo}, {mid} and {hi}, "
        f"scaled by {fmt(s)}, {fmt(-2 * s)} and {fmt(s)}, add up to a bump that is 0 outside [{lo}, {hi}] "
        f"and rises in straight lines to height {fmt(bump.max())} at x = {mid}."
    )
    return Frame(tuple(traces), f"centre {fmt(center)}, half-width {fmt(width)}", description)


def bump_demo() -> Demo:
    """Demo 3a: three ReLUs make a hat-shaped bump; slide its centre and width."""
    centers = (-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0)
    widths = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
    return Demo(
        "relu-bump", bump_frame,
        [Control("center", centers, 0.0, "centre"), Control("width", widths, 1.0, "half-width")],
        "Three ReLUs make a bump: slide the bump's centre and half-width and watch the three scaled ReLUs "
        "that add up to it.",
        xlabel="x", xrange=(-4, 4), yrange=(-3.0, 3.0),
    )  # fmt: skip


def relu_features(x: torch.Tensor, knots: torch.Tensor) -> torch.Tensor:
    """The hidden layer ``relu(x - t_k)`` for every knot ``t_k``: shape ``(len(x), len(knots))``."""
    import torch

    return torch.relu(x[:, None] - knots[None, :])


def fit_relu_units(
    target: Callable[[torch.Tensor], torch.Tensor], n_units: int, lo: float, hi: float, num: int = 401
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fit ``b + sum_k v_k relu(x - t_k)`` to ``target`` on ``[lo, hi]`` by least squares.

    The ``n_units`` knots ``t_k`` are evenly spaced from ``lo`` (fixed hidden
    layer); only the output weights ``v`` and bias ``b`` are fitted, which is
    a linear least-squares problem with an exact solution.  Returns
    ``(knots, v, b)`` in float64.
    """
    import torch

    x = _grid(lo, hi, num)
    knots = lo + (hi - lo) * torch.arange(n_units, dtype=torch.float64) / n_units
    features = torch.cat([torch.ones(num, 1, dtype=torch.float64), relu_features(x, knots)], dim=1)
    coef = torch.linalg.lstsq(features, target(x)[:, None], driver="gelsd").solution[:, 0]
    return knots, coef[1:], coef[0]


def relu_net(x: torch.Tensor, knots: torch.Tensor, v: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Evaluate the one-hidden-layer ReLU net ``b + sum_k v_k relu(x - t_k)``."""
    return relu_features(x, knots) @ v + b


def relu_fit_frame(n_units: int = 4) -> Frame:
    """``sin`` on [-π, π] and its best fit by ``n_units`` hidden ReLUs, with the kinks marked.

    The fit comes from a least-squares solve: where its true value is 0 it
    comes out as noise of about 1e-15 whose digits change with the number of
    threads, so such values are snapped to 0 (:func:`~d2lmini.book.widgets.snap_noise`).
    """
    import torch

    lo, hi = -math.pi, math.pi
    knots, v, b = fit_relu_units(torch.sin, n_units, lo, hi)
    x = _grid(lo, hi, 401)
    rmse = float((relu_net(x, knots, v, b) - torch.sin(x)).pow(2).mean().sqrt())
    x_fit = _kink_grid(lo, hi, knots)  # the fit is piecewise linear: its kinks draw it exactly
    x_sin = _grid(lo, hi, 121)
    kinks = "1 kink" if n_units == 1 else f"{n_units} kinks"
    return Frame(
        (
            trace("target sin(x)", x_sin, torch.sin(x_sin), color=GRAY, dash="dash"),
            trace(f"{n_units} ReLU units", x_fit, snap_noise(relu_net(x_fit, knots, v, b)), color=BLUE, width=3),
            trace("kinks", knots, snap_noise(relu_net(knots, knots, v, b)), color=RED, mode="markers"),
        ),
        f"N = {n_units} hidden units, RMS error {fmt(rmse)}",
        f"N = {n_units} hidden ReLU units: the fit (solid line) is a broken line with {kinks} (red dots) "
        f"that follows sin(x) on [−π, π] with a root-mean-square error of {fmt(rmse)}.",
    )


def relu_fit_demo() -> Demo:
    """Demo 3b: N hidden ReLU units approximate sin; slide N."""
    return Demo(
        "relu-fit", relu_fit_frame, [Control("n_units", tuple(range(1, 21)), 4, "hidden units N")],
        "Hidden ReLU units approximate sin(x): slide the number N of units and watch the error shrink.",
        xlabel="x", xrange=(-3.3, 3.3), yrange=(-1.3, 1.3),
    )  # fmt: skip


class GradientFactors(NamedTuple):
    """Per layer of a deep stack, from layer 1 (next to the input) to the top, as in ``layer_grad_factors``."""

    inputs: tuple[float, ...]  # RMS of the layer's input H_{l-1}
    backward: tuple[float, ...]  # RMS of the backward signal dL/dZ_l at its pre-activations
    weights: tuple[float, ...]  # norm of dL/dW_l = H_{l-1}^T dL/dZ_l


@functools.lru_cache(maxsize=256)
def layer_grad_factors(
    name: str, depth: int = 20, width: int = 64, gain: float = 1.0, batch: int = 64, seed: int = 0
) -> GradientFactors:
    """The two factors of every layer's weight gradient in a deep bias-free stack, and the gradient itself.

    The stack computes ``Z_l = H_{l-1} W_l`` and ``H_l = f(Z_l)`` with one example
    per row (the book's convention) and weights from N(0, gain² / width).  A
    fixed random signal is back-propagated from the top (the loss is a random
    projection of the last layer), so the numbers reflect only how the layers
    pass the signal on.  The weight gradient of layer l is ``H_{l-1}ᵀ dL/dZ_l``:
    its size follows from the layer's input (forward) and the signal arriving
    at its pre-activations (backward), both returned.  Computed in float64 for
    reproducible digits; cached, since the demos and the text ask for the same stacks.
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    scale = gain / math.sqrt(width)
    weights = [
        (torch.randn(width, width, generator=gen, dtype=torch.float64) * scale).requires_grad_()
        for _ in range(depth)
    ]
    h = torch.randn(batch, width, generator=gen, dtype=torch.float64)
    probe = torch.randn(batch, width, generator=gen, dtype=torch.float64)
    inputs, pre_activations = [], []
    for weight in weights:
        inputs.append(h)
        pre_activations.append(h @ weight)
        h = activation(name, pre_activations[-1])
    grads = torch.autograd.grad((h * probe).sum() / batch, pre_activations + weights)

    def rms(t: torch.Tensor) -> float:
        return float(t.detach().pow(2).mean().sqrt())

    return GradientFactors(
        tuple(rms(t) for t in inputs),
        tuple(rms(g) for g in grads[:depth]),
        tuple(float(g.norm()) for g in grads[depth:]),
    )


def layer_grad_norms(
    name: str, depth: int = 20, width: int = 64, gain: float = 1.0, batch: int = 64, seed: int = 0
) -> tuple[float, ...]:
    """Gradient norm of every layer's weights in the stack of :func:`layer_grad_factors`, layer 1 first."""
    return layer_grad_factors(name, depth, width, gain, batch, seed).weights


def _change(first: float, last: float) -> str:
    """How a gradient norm changes from the top layer (``last``) down to layer 1 (``first``), in words."""
    factor = first / last
    if factor < 1:
        return f"shrinks by a factor of {fmt(1 / factor)}, from {fmt(last)} to {fmt(first)}"
    return f"grows by a factor of {fmt(factor)}, from {fmt(last)} to {fmt(first)}"


def vanishing_frame(gain: float = 1.0, depth: int = 20) -> Frame:
    """Per-layer gradient norms of a sigmoid stack and a ReLU stack with the same weights."""
    import torch

    layers = torch.arange(1, depth + 1)
    sig, rel = layer_grad_norms("sigmoid", depth, gain=gain), layer_grad_norms("relu", depth, gain=gain)
    return Frame(
        (
            trace("sigmoid", layers, sig, color=ORANGE, width=3),
            trace("ReLU", layers, rel, color=BLUE, width=3),
        ),
        f"gain {fmt(gain)}: layer 1 / layer {depth} = {fmt(sig[0] / sig[-1], 2)} (sigmoid), "
        f"{fmt(rel[0] / rel[-1], 2)} (ReLU)",
        f"Weight gain {fmt(gain)}: from layer {depth} down to layer 1 the sigmoid stack's gradient norm "
        f"{_change(sig[0], sig[-1])}; the ReLU stack's {_change(rel[0], rel[-1])}.",
    )


def vanishing_demo() -> Demo:
    """Demo 4: slide the weight scale and watch the gradient shrink layer by layer."""
    gains = (0.5, 0.75, 1.0, 1.25, 2**0.5, 1.5, 1.75, 2.0, 3.0, 4.0)
    gain = Control("gain", gains, 2**0.5, "weight gain", labels=tuple(fmt(g) for g in gains))
    return Demo(
        "vanishing-gradients", vanishing_frame, [gain],
        "Vanishing gradients: the gradient norm of every layer of a 20-layer sigmoid network and a 20-layer "
        "ReLU network, on a log scale; slide the gain of the random weights.",
        xlabel="layer (1 = next to the input)", ylabel="‖∂L/∂W‖", xrange=(0.5, 20.5), yrange=(-18, 10),
        ylog=True,
    )  # fmt: skip
