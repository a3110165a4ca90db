"""Each comparison's tolerance, pinned from both sides: an answer off by three times the tolerance is wrong, one
off by a third of it is right. Loosening any tolerance tenfold (or tightening it tenfold) fails a test here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from d2lmini.book import checking, checks
from d2lmini.book.checks import CheckResult
from tests.book.test_checks import RIGHT, _count_dead, _cross_entropy, _grid, _scratch_forward, _scratch_with, _softmax


def _off_by(right: Callable[..., Any], *, rel: float = 0.0, abs_: float = 0.0) -> Callable[..., Any]:
    """``right``, with every value of its result moved by ``rel`` of itself plus ``abs_``."""

    def answer(*args: Any) -> Any:
        out = right(*args)
        return out * (1 + rel) + abs_

    return answer


def test_expect_close_uses_its_default_tolerances() -> None:
    x = torch.linspace(-2, 2, 9, dtype=torch.float64)
    checking.expect_close(x, x + 0.3e-5, x, rtol=0.0)  # atol = 1e-5
    checking.expect_close(x, x * (1 + 0.3e-4), x, atol=0.0)  # rtol = 1e-4
    with pytest.raises(checking.Fail):
        checking.expect_close(x, x + 3e-5, x, rtol=0.0)
    with pytest.raises(checking.Fail, match=r"Off at input -2: expected -2, got -2.001;"):
        checking.expect_close(x, x * (1 + 3e-4), x, atol=0.0)


def test_expect_close_says_where_and_how_many() -> None:
    x = torch.tensor([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(checking.Fail) as caught:
        checking.expect_close(x, torch.tensor([1.0, 5.0, 6.0, 7.0]), x, hint="A hint.")
    assert caught.value.why == (
        "Off at input 2: expected 2, got 5; at input 3: expected 3, got 6; at input 4: expected 4, got 7 (3 of 4 "
        "values are off). A hint."
    )
    with pytest.raises(checking.Fail) as caught:
        checking.expect_close(x[:2], torch.tensor([[1.0, float("nan")]]), torch.tensor([[1.0, 2.0]]))
    assert caught.value.why == "It returns nan at index (0, 1), where it should be 2."


# (checker, the right answer moved by three times the tolerance, moved by a third of it)
CASES: list[tuple[Callable[..., CheckResult], Any, Any]] = [
    # ReLU is exact: one part in 10^12 is too much, none is fine.
    (checks.check_relu, _off_by(lambda x: x.clamp(min=0), rel=1e-12), _off_by(lambda x: x.clamp(min=0))),
    # Derivatives within 1e-14 (absolute): a finite difference is off by 2e-11 at best.
    (checks.check_tanh_grad, _off_by(RIGHT[checks.check_tanh_grad], abs_=3e-14),
     _off_by(RIGHT[checks.check_tanh_grad], abs_=3e-15)),
    (checks.check_prelu_grad, _off_by(RIGHT[checks.check_prelu_grad], abs_=3e-14),
     _off_by(RIGHT[checks.check_prelu_grad], abs_=3e-15)),
    # Softmax: expect_close's defaults.
    (checks.check_softmax, _off_by(_softmax, rel=3e-4), _off_by(_softmax, rel=3e-5)),
    # Cross-entropy: rtol 1e-4 on the value.
    (checks.check_cross_entropy, _off_by(_cross_entropy, rel=3e-4), _off_by(_cross_entropy, rel=3e-5)),
    # The collapsed layer: atol 1e-4 on W and on X @ W + b.
    (checks.check_collapse, lambda W1, b1, W2, b2: (W1 @ W2 + 3e-4, b1 @ W2 + b2),
     lambda W1, b1, W2, b2: (W1 @ W2 + 3e-5, b1 @ W2 + b2)),
    (checks.check_collapse, lambda W1, b1, W2, b2: (W1 @ W2, b1 @ W2 + b2 + 3e-4),
     lambda W1, b1, W2, b2: (W1 @ W2, b1 @ W2 + b2 + 3e-5)),
    # The decision grid: atol 1e-5.
    (checks.check_decision_grid, _off_by(_grid, abs_=3e-5), _off_by(_grid, abs_=3e-6)),
    # The scratch forward: atol 1e-4 on the logits.
    (checks.check_mlp_forward, _scratch_with(lambda m, X: _scratch_forward(m, X) + 3e-4),
     _scratch_with(lambda m, X: _scratch_forward(m, X) + 3e-5)),
]


@pytest.mark.parametrize(("check", "too_far", "near_enough"), CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_tolerance_from_both_sides(check: Callable[..., CheckResult], too_far: Any, near_enough: Any) -> None:
    assert check(too_far).status == "wrong", "three times the tolerance must be refused"
    assert check(near_enough).passed, check(near_enough).message


def test_the_gradient_of_cross_entropy_within_its_tolerance() -> None:
    """The value is right, the gradient off by 3e-4 (relative) of its size: refused; by 3e-5: accepted."""

    def scaled_gradient(rel: float) -> Callable[..., torch.Tensor]:
        def loss(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            right = _cross_entropy(z, y)
            return right + rel * (right - right.detach())  # same value, gradient times (1 + rel)

        return loss

    assert "its gradient with respect to the logits is off" in checks.check_cross_entropy(scaled_gradient(3e-3)).message
    assert checks.check_cross_entropy(scaled_gradient(3e-5)).passed


def test_the_forward_gradient_within_its_tolerance() -> None:
    def forward(rel: float) -> type:
        def f(m: Any, X: torch.Tensor) -> torch.Tensor:
            out = _scratch_forward(m, X)
            return out + rel * (out - out.detach())

        return _scratch_with(f)

    assert "the gradient is off for self.W1" in checks.check_mlp_forward(forward(3e-2)).message
    assert checks.check_mlp_forward(forward(1e-4)).passed


def test_count_dead_is_exact() -> None:
    assert checks.check_count_dead(_count_dead).passed
    assert not checks.check_count_dead(lambda layer, X: _count_dead(layer, X) + 1).passed
