"""Checkers for the exercises of "Activation functions": ReLU by hand, the derivatives of tanh and pReLU.

These functions are exact, so they are compared where an approximation differs from them: ReLU at its kink
and at inputs a hair away from it (a smooth approximation such as softplus or x * sigmoid(kx) is close
elsewhere), the derivatives to within rounding (a finite difference agrees with tanh' to about 10 digits, a
derived formula to 15), and pReLU's derivative on both sides of 0 and at 0 itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from d2lmini.book.checking import Fail, Forbidden, Trial, checker, expect_close, expect_tensor, wrong

__all__ = ["check_prelu_grad", "check_relu", "check_tanh_grad"]

_RELU_INPUTS = (
    torch.tensor([[-3.0, -1.5, -0.25, 0.0], [0.5, 1.0, 2.0, 7.5], [1e-12, -1e-12, 3e-9, -3e-9]], dtype=torch.float64),
    torch.tensor([-0.5, 3.25, -7.0, 0.0, 1e-3, -1e-3, 2e-7, -2e-7, 1e-30, -1e-30], dtype=torch.float32),
)
_NEAR_KINK = 1e-2  # where a smooth approximation of ReLU may differ; it must agree away from it

_NO_RELU = Forbidden(
    said="PyTorch's ReLU (torch.relu, F.relu, x.relu() or nn.ReLU)",
    instead="build the result yourself, e.g. with torch.where or clamp.",
    torch_names=frozenset({"relu", "relu_"}),
)


def _dtype_hint(got: Any, like: torch.Tensor) -> str:
    """Why a tensor may have come out in the default dtype where the input's float64 was expected."""
    if isinstance(got, torch.Tensor) and like.dtype == torch.float64 and got.dtype == torch.float32:
        return (
            " A tensor made from Python numbers (torch.tensor([...]), torch.where(cond, 1.0, 0.0), torch.full(...)) "
            f"gets PyTorch's default dtype, {got.dtype}; make it from the input instead (torch.ones_like(x), "
            "torch.full_like(x, value)) or convert the result with .to(x.dtype)."
        )
    return ""


def expect_input_dtype(got: Any, like: torch.Tensor) -> torch.Tensor:
    """:func:`expect_tensor` for a result with the input's shape and dtype, saying why float32 may have come out."""
    try:
        return expect_tensor(got, like)
    except Fail as fail:
        hint = _dtype_hint(got, like) if "dtype" in fail.why else ""
        raise wrong(fail.why + hint) from None


def _smooth_near_kink(x: torch.Tensor, got: torch.Tensor, expected: torch.Tensor) -> bool:
    """True if ``got`` is off near 0 (within :data:`_NEAR_KINK`) far more than away from it: a smooth
    approximation of a kink (a constant added everywhere, or a scaled result, is off alike on both sides)."""
    near = x.abs() < _NEAR_KINK
    error = (got - expected).abs()
    near_error, far_error = float(error[near].max()), float(error[~near].max())
    return far_error <= 1e-3 and near_error > 10 * far_error


def _relu_shape_hint(got: Any, x: torch.Tensor) -> None:
    """Explain a result of ReLU that is a reduction or a selection, not an element-wise map."""
    if type(got).__module__ == "torch.return_types":
        raise wrong(
            f"It returns a torch.return_types.{type(got).__name__} (values and indices): torch.max(x, 0) or "
            "torch.min(x, 0) reduces over a dimension. Compare element by element instead: torch.maximum(x, "
            "torch.zeros_like(x)), torch.where or clamp."
        )
    if isinstance(got, torch.Tensor) and got.dim() == 1 and got.shape != x.shape:
        for kept in (x[x > 0], x[x >= 0]):
            if got.shape == kept.shape and torch.equal(got.detach().cpu(), kept.cpu()):
                raise wrong(
                    f"It returns shape {tuple(got.shape)}: x[x > 0] keeps only the positive entries, in a 1-D "
                    f"tensor. ReLU keeps the shape {tuple(x.shape)} and puts 0 where x <= 0: torch.where(x > 0, x, "
                    "torch.zeros_like(x))."
                )


@checker("relu", example="check_relu(relu)")
def check_relu(relu: Callable[..., Any], trial: Trial) -> str:
    """``relu(x)`` must return ``max(x, 0)`` element-wise, exactly, same shape and dtype, input untouched."""
    for x in _RELU_INPUTS:
        expected = x.clamp(min=0)
        got = trial.call(relu, x.clone(), forbid=_NO_RELU)
        _relu_shape_hint(got, x)
        got = expect_input_dtype(got, expected)
        hint = ""
        if _smooth_near_kink(x, got, expected):
            hint = (
                "Away from 0 it is close to ReLU, but near 0 it is not ReLU: a smooth approximation (softplus, "
                "x * sigmoid(k * x), a large slope) rounds off the kink. ReLU is exact: max(x, 0), as torch.where "
                "or clamp compute it."
            )
        expect_close(x, got, expected, atol=0.0, rtol=0.0, hint=hint)
        if trial.take_mutated():
            raise wrong(
                "The values are right but your function changed its input in place; "
                "build a new tensor instead (e.g. with torch.where or clamp)."
            )
    return "It keeps positive inputs, zeroes the others, and keeps shape and dtype."


_GRAD_POINTS = (
    torch.tensor([-4.0, -1.3, -0.2, 0.3, 0.9, 2.5], dtype=torch.float64),
    torch.tensor([[-2.2, -0.7, 0.0], [0.05, 1.1, 3.3]], dtype=torch.float64),
)
# A formula for tanh' computed in float64 agrees with autograd to a few 1e-16 at these points; a central finite
# difference is off by 2e-11 at best (its step's rounding and truncation errors balance there), Richardson's
# extrapolation by 5e-13.
_DERIVATIVE_ATOL = 1e-14


def _autograd(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x).sum(), x)
    return grad


_NO_AUTOGRAD = Forbidden(
    said="autograd (torch.autograd.grad, .backward() or torch.func)",
    instead="code the formula you derived, in terms of torch.tanh(x).",
    torch_names=frozenset({"grad", "backward"}),
)


def _approximation_hint(got: torch.Tensor, expected: torch.Tensor) -> str:
    """Why values within 1e-3 of the derivative but not within rounding of it are not accepted."""
    gap = float((got - expected).abs().max())
    if gap > 1e-3:
        return ""
    return (
        f"Close, but off by up to {gap:.1g}, far more than rounding: a formula computed in float64 is exact to "
        "about 1e-16. That is what a numerical approximation gives, such as a finite difference "
        "(f(x + h) - f(x - h)) / 2h, or a computation in float32: code the exact formula you derived, in the "
        "input's dtype."
    )


@checker("tanh_grad", example="check_tanh_grad(tanh_grad)")
def check_tanh_grad(tanh_grad: Callable[..., Any], trial: Trial) -> str:
    """``tanh_grad(x)`` must equal d tanh / dx, compared with autograd to within rounding."""
    for x in _GRAD_POINTS:
        expected = _autograd(torch.tanh, x)
        got = expect_input_dtype(trial.call(tanh_grad, x.clone(), forbid=_NO_AUTOGRAD), x)
        t = x.tanh()
        slips = {
            "Those are the values of tanh itself, not of its derivative.": t,
            "That is 1 - x**2, in terms of x: the derivative is in terms of tanh(x), 1 - tanh(x)**2.": 1 - x**2,
            "That is (1 - tanh(x))**2: the square applies to tanh(x) alone, 1 - tanh(x)**2.": (1 - t) ** 2,
            "That is 1 + tanh(x)**2: the derivative is 1 - tanh(x)**2, at most 1.": 1 + t**2,
            "That is 1 - tanh(x), without the square: the derivative is 1 - tanh(x)**2.": 1 - t,
        }
        hint = next((why for why, value in slips.items() if torch.allclose(got, value)), "")
        hint = hint or _approximation_hint(got, expected)
        expect_close(x, got, expected, atol=_DERIVATIVE_ATOL, rtol=0.0, hint=hint)
    return "Your formula agrees with autograd at every test point."


_PRELU_CASES = (
    (torch.tensor([-4.0, -1.3, -0.2, 0.0, 0.3, 0.9, 2.5, 1e-9, -1e-9], dtype=torch.float64), 0.25),
    (torch.tensor([[-2.5, 0.0, 1.5], [0.7, -0.01, 4.0], [1e-12, -1e-12, 5e-7]], dtype=torch.float64), 0.1),
)


@checker("prelu_grad", example="check_prelu_grad(prelu_grad)")
def check_prelu_grad(prelu_grad: Callable[..., Any], trial: Trial) -> str:
    """``prelu_grad(x, alpha)``: 1 for x > 0, alpha for x < 0 and, as the task asks, alpha at x = 0."""
    for x, alpha in _PRELU_CASES:
        expected = _autograd(lambda t, a=alpha: torch.where(t > 0, t, a * t), x)  # alpha at 0: the left side
        got = expect_input_dtype(trial.call(prelu_grad, x.clone(), alpha), x)
        at_zero = x == 0
        hint = f"(alpha = {alpha})"
        if torch.allclose(got, torch.where(x > 0, x, alpha * x)):
            hint += " Those are the values of pReLU itself, not of its derivative."
        elif torch.allclose(got[x != 0], torch.where(x > 0, alpha, 1.0).to(x.dtype)[x != 0]):
            hint += " The two sides are swapped: the slope is 1 for x > 0 and alpha for x < 0."
        elif at_zero.any() and torch.allclose(got[~at_zero], expected[~at_zero]) and bool((got[at_zero] == 1).all()):
            raise wrong(
                f"Right everywhere except at x = 0, where it returns 1; the task asks for alpha ({alpha}) there, "
                "the derivative from the left (use x > 0, not x >= 0, to pick 1)."
            )
        elif _smooth_near_kink(x, got, expected):
            hint += (
                " Away from 0 it is right, but near 0 it blends 1 and alpha: the derivative jumps at 0, from alpha "
                "on the left to 1 on the right, however close to 0 the input is. A finite difference or a smooth "
                "step (a sigmoid) does not jump; pick the value with torch.where(x > 0, ...)."
            )
        expect_close(x, got, expected, atol=_DERIVATIVE_ATOL, rtol=0.0, hint=hint)
    return "Your derivative agrees with autograd for alpha = 0.25 and 0.1."
