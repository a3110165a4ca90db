"""Instant feedback for the exercise notebooks.

Each ``check_*`` function takes the reader's answer (usually a function), tries it on at least two different
inputs and returns a :class:`CheckResult` whose first line says either that the answer is correct or what is
wrong with it: not attempted yet, raises an error (naming the reader's line), never returns, returns ``None``
or the wrong type, shape, dtype or device, NaN or infinity for large inputs, values that are off at some
inputs (shown with the expected and the received value), a model whose outputs carry no gradient to its weights,
or a call of a function the exercise forbids (``torch.relu`` where the reader writes ReLU). Expected values are
computed from the checker's own copies before the answer runs, so an answer that changes its inputs in place is
judged on what it returns.

The shared machinery (time limits, captured output, random state, error messages) is in
:mod:`d2lmini.book.checking`; :func:`experiment_checker` (from :mod:`d2lmini.book.experiment_checks`) builds
checkers for the results of experiment exercises; the labs' experiment checkers are defined at the end.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from d2lmini.book.checking import (
    CheckResult,
    Fail,
    Forbidden,
    Trial,
    checker,
    expect_close,
    expect_int,
    expect_tensor,
    fmt,
    wrong,
)
from d2lmini.book.experiment_checks import experiment_checker
from d2lmini.book.playground import grid_points
from d2lmini.module import count_parameters, mlp_parameter_count

__all__ = [
    "CheckResult",
    "check_build_mlp",
    "check_collapse",
    "check_count_dead",
    "check_count_params",
    "check_cross_entropy",
    "check_decision_grid",
    "check_depth_at_fixed_size",
    "check_gelu_gain",
    "check_lr_sweep",
    "check_mlp_forward",
    "check_one_unit",
    "check_prelu_grad",
    "check_relu",
    "check_softmax",
    "check_tanh_grad",
    "experiment_checker",
]

# ---------------------------------------------------------------------------
# Activation functions and their derivatives

_RELU_INPUTS = (
    torch.tensor([[-3.0, -1.5, -0.25, 0.0], [0.5, 1.0, 2.0, 7.5]], dtype=torch.float64),
    torch.tensor([-0.5, 3.25, -7.0, 0.0, 1e-3, -1e-3]),
)


_NO_RELU = Forbidden(
    said="PyTorch's ReLU (torch.relu, F.relu, x.relu() or nn.ReLU)",
    instead="build the result yourself, e.g. with torch.where or clamp.",
    torch_names=frozenset({"relu", "relu_"}),
)


def _dtype_hint(got: Any, like: torch.Tensor) -> str:
    """Why a tensor may have come out in the default dtype where the input's float64 was expected."""
    if isinstance(got, torch.Tensor) and like.dtype == torch.float64 and got.dtype == torch.get_default_dtype():
        return (
            " A tensor made from Python numbers (torch.tensor([...]), torch.where(cond, 1.0, 0.0), torch.full(...)) "
            f"gets PyTorch's default dtype, {got.dtype}; make it from the input instead (torch.ones_like(x), "
            "torch.full_like(x, value)) or convert the result with .to(x.dtype)."
        )
    return ""


def _expect_input_dtype(got: Any, like: torch.Tensor) -> torch.Tensor:
    """:func:`expect_tensor` for a result with the input's shape and dtype, saying why float32 may have come out."""
    try:
        return expect_tensor(got, like)
    except Fail as fail:
        hint = _dtype_hint(got, like) if "dtype" in fail.why else ""
        raise wrong(fail.why + hint) from None


@checker("relu", example="check_relu(relu)")
def check_relu(relu: Callable[..., Any], trial: Trial) -> str:
    """``relu(x)`` must return ``max(x, 0)`` element-wise, same shape and dtype, input untouched."""
    for x in _RELU_INPUTS:
        expected = x.clamp(min=0)
        got = _expect_input_dtype(trial.call(relu, x.clone(), forbid=_NO_RELU), expected)
        expect_close(x, got, expected)
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


def _autograd(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x).sum(), x)
    return grad


_NO_AUTOGRAD = Forbidden(
    said="autograd (torch.autograd.grad, .backward() or torch.func)",
    instead="code the formula you derived, in terms of torch.tanh(x).",
    torch_names=frozenset({"grad", "backward"}),
)


@checker("tanh_grad", example="check_tanh_grad(tanh_grad)")
def check_tanh_grad(tanh_grad: Callable[..., Any], trial: Trial) -> str:
    """``tanh_grad(x)`` must equal d tanh / dx, compared with autograd."""
    for x in _GRAD_POINTS:
        expected = _autograd(torch.tanh, x)
        got = _expect_input_dtype(trial.call(tanh_grad, x.clone(), forbid=_NO_AUTOGRAD), x)
        hint = "Those are the values of tanh itself, not of its derivative." if torch.allclose(got, x.tanh()) else ""
        expect_close(x, got, expected, hint=hint)
    return "Your formula agrees with autograd at every test point."


_PRELU_CASES = (
    (torch.tensor([-4.0, -1.3, -0.2, 0.0, 0.3, 0.9, 2.5], dtype=torch.float64), 0.25),
    (torch.tensor([[-2.5, 0.0, 1.5], [0.7, -0.01, 4.0]], dtype=torch.float64), 0.1),
)


@checker("prelu_grad", example="check_prelu_grad(prelu_grad)")
def check_prelu_grad(prelu_grad: Callable[..., Any], trial: Trial) -> str:
    """``prelu_grad(x, alpha)``: 1 for x > 0, alpha for x < 0 and, as the task asks, alpha at x = 0."""
    for x, alpha in _PRELU_CASES:
        expected = _autograd(lambda t, a=alpha: torch.where(t > 0, t, a * t), x)  # alpha at 0: the left side
        got = _expect_input_dtype(trial.call(prelu_grad, x.clone(), alpha), x)
        at_zero = x == 0
        hint = f"(alpha = {alpha})"
        if torch.allclose(got, torch.where(x > 0, x, alpha * x)):
            hint += " Those are the values of pReLU itself, not of its derivative."
        elif at_zero.any() and torch.allclose(got[~at_zero], expected[~at_zero]) and bool((got[at_zero] == 1).all()):
            raise wrong(
                f"Right everywhere except at x = 0, where it returns 1; the task asks for alpha ({alpha}) there, "
                "the derivative from the left (use x > 0, not x >= 0, to pick 1)."
            )
        expect_close(x, got, expected, hint=hint)
    return "Your derivative agrees with autograd for alpha = 0.25 and 0.1."


# ---------------------------------------------------------------------------
# Softmax and cross-entropy

_LOGITS = torch.tensor([[1.2, 5.1, 2.7], [0.0, 0.0, 0.0], [-1.0, 2.0, 0.5]])
# Large scores, and a row whose spread overflows exp unless the row's maximum (not its minimum) is subtracted.
_LARGE = torch.tensor([[1000.0, 1001.0, 1002.0], [-1000.0, -999.0, -1001.0], [-500.0, 500.0, 0.0]])
# Not square: 2 examples of 5 classes (an answer that assumes 3 rows or 3 columns shows here).
_WIDE = torch.tensor([[0.5, -1.0, 2.0, 0.0, 1.5], [3.0, 3.0, -2.0, 1.0, 0.25]])

_NO_SOFTMAX = Forbidden(
    said="PyTorch's softmax (torch.softmax, F.softmax, X.softmax() or nn.Softmax)",
    instead="exponentiate the shifted scores and divide by each row's sum yourself.",
    torch_names=frozenset({"softmax", "special_softmax", "_softmax"}),
)


def _max_without_keepdim(X: torch.Tensor, keep_sum: bool) -> torch.Tensor:
    """Softmax with the row maxima subtracted without keepdim (row j's maximum from column j)."""
    e = torch.exp(X - X.max(dim=1).values)
    return e / (e.sum(dim=1, keepdim=True) if keep_sum else e.sum(dim=1))


@checker("softmax", example="check_softmax(softmax)")
def check_softmax(softmax: Callable[..., Any], trial: Trial) -> str:
    """``softmax(X)`` on a (batch, classes) matrix: each row becomes probabilities, stably."""
    expected = torch.softmax(_LOGITS, dim=1)
    got = expect_tensor(trial.call(softmax, _LOGITS.clone(), forbid=_NO_SOFTMAX), expected)
    if not torch.allclose(got, expected, atol=1e-5):
        if torch.allclose(got.sum(), torch.tensor(1.0), atol=1e-5):
            raise wrong("All entries together sum to 1; each row (one example) should sum to 1.")
        if torch.allclose(got, expected.T, atol=1e-5):
            raise wrong(
                "It returns the right probabilities, transposed: row i must hold the probabilities of example i "
                "(row i of X), one per class."
            )
        for keep_sum in (True, False):
            if torch.allclose(got, _max_without_keepdim(_LOGITS, keep_sum), atol=1e-5):
                also = "" if keep_sum else " The same goes for the sum: .sum(dim=1, keepdim=True)."
                raise wrong(
                    "X.max(dim=1).values has shape (batch,), so broadcasting subtracts row j's maximum from column "
                    "j, not row i's maximum from row i, and that changes the result. Keep the dimension: "
                    f"X.max(dim=1, keepdim=True).values.{also}"
                )
        if torch.allclose(got.sum(dim=0), torch.ones(3), atol=1e-5):
            raise wrong(
                "Each column sums to 1: you normalised over dim=0. Sum over each row (dim=1, keepdim=True) instead."
            )
        ratio = got / expected  # a sum without keepdim divides entry [i, j] by row j's sum: ratio s_i / s_j
        if torch.allclose(ratio.diagonal(), torch.ones(3)) and torch.allclose(ratio, ratio[:, :1] * ratio[:1, :]):
            raise wrong(
                "Entry [i, j] is divided by the sum of row j, not of row i: .sum(dim=1) gives shape (batch,), which "
                "broadcasting lines up with the columns. Keep the summed dimension: .sum(dim=1, keepdim=True)."
            )
    expect_close(_LOGITS, got, expected)
    expected = torch.softmax(_LARGE, dim=1)
    got = expect_tensor(trial.call(softmax, _LARGE.clone(), forbid=_NO_SOFTMAX), expected)
    broken = [fmt(row) for row, finite in zip(_LARGE, torch.isfinite(got).all(dim=1), strict=True) if not finite]
    if broken:
        raise wrong(
            f"It returns NaN or inf for large inputs such as {' and '.join(broken[:2])}: "
            "exp overflows (or every term underflows to 0). Subtract each row's own maximum "
            "(X.max(dim=1, keepdim=True).values) before exponentiating; softmax does not change."
        )
    expect_close(_LARGE, got, expected)
    expected = torch.softmax(_WIDE, dim=1)
    got = expect_tensor(
        trial.call(softmax, _WIDE.clone(), forbid=_NO_SOFTMAX), expected, what="On a batch of 2 rows and 5 classes it"
    )
    expect_close(_WIDE, got, expected)
    return "Rows sum to 1, and large inputs give no NaN or inf."


_CE_Y = torch.tensor([1, 0, 2])
# Large logits; the second row's label has probability exp(-200), which is 0 in float32.
_CE_LARGE = torch.tensor([[1000.0, 1001.0, 1002.0], [0.0, 200.0, -50.0]])
_CE_LARGE_Y = torch.tensor([0, 0])

_NO_CROSS_ENTROPY = Forbidden(
    said="PyTorch's cross-entropy or log-softmax (F.cross_entropy, nn.CrossEntropyLoss, F.log_softmax or "
    "torch.log_softmax)",
    instead="compute the log-softmax as X - m - log(sum(exp(X - m))) yourself (torch.logsumexp is allowed).",
    torch_names=frozenset({"cross_entropy", "log_softmax", "special_log_softmax", "_log_softmax"}),
)


def _describe_batch(logits: torch.Tensor, y: torch.Tensor) -> str:
    return ", ".join(f"{fmt(row)} (label {int(label)})" for row, label in zip(logits, y, strict=True))


def _floors_zero_probability(loss: Callable[..., Any], trial: Trial) -> bool:
    """True if the loss is right on one ordinary example but well below 200 on logits (0, 200, -50), label 0.

    That example's probability, exp(-200), is 0 in float32: an answer that takes the log of a softmax which it
    clamps, or adds a small number to, returns a finite loss far below 200 there.
    """
    probes = (
        (torch.tensor([[1.2, 5.1, 2.7]]), torch.tensor([1]), float(F.cross_entropy(_LOGITS[:1], _CE_Y[:1]))),
        (_CE_LARGE[1:], _CE_LARGE_Y[1:], 200.0),
    )
    values = []
    for logits, y, _ in probes:
        try:
            got = trial.call(loss, logits.clone(), y.clone(), forbid=_NO_CROSS_ENTROPY)
        except Fail:
            return False
        if not isinstance(got, torch.Tensor) or got.numel() != 1:
            return False
        values.append(float(got.detach().reshape(())))
    (_, _, right), _ = probes
    ordinary, large = values
    return abs(ordinary - right) <= 1e-4 * right and 0 < large < 190


def _loss_and_grad(loss: Callable[..., Any], trial: Trial, logits: torch.Tensor, y: torch.Tensor) -> None:
    """Check one call of the reader's loss on (logits, y): value first, then the gradient it carries.

    The loss gets logits that are not a leaf of the graph (a copy of one), like logits that come out of a network:
    an in-place operation on them works as it would in training (and earns the note about changed arguments).
    """
    leaf = logits.clone().requires_grad_(True)
    expected = F.cross_entropy(leaf, y)
    (expected_grad,) = torch.autograd.grad(expected, leaf)
    expected = expected.detach()
    got = trial.call(loss, leaf.clone(), y.clone(), forbid=_NO_CROSS_ENTROPY)
    if isinstance(got, torch.Tensor) and got.shape == y.shape:
        raise wrong(f"It returns one loss per example (shape {tuple(y.shape)}); return their mean, a scalar.")
    if isinstance(got, float | int) and not isinstance(got, bool):
        raise wrong("It returns a Python number; return a 0-dim tensor (no .item()) so gradients can flow.")
    value = expect_tensor(got, expected, what="On logits " + _describe_batch(logits, y) + " it")
    if not torch.isfinite(value):
        big = logits.abs().max() >= 100
        raise wrong(
            f"It returns {fmt(value)} on logits {_describe_batch(logits, y)}. "
            + (
                "Compute log-softmax directly as X - m - log(sum(exp(X - m))), with m each row's own maximum "
                "(or use torch.logsumexp), without taking the log of a softmax that may be exactly 0."
                if big
                else "The log of a number <= 0? Take log-softmax of the logits, not their log."
            )
        )
    if torch.allclose(value, len(y) * expected, rtol=1e-4):
        raise wrong(f"It returns {fmt(value)}, the sum over the batch; return the mean instead.")
    if not torch.allclose(value, expected, rtol=1e-4, atol=1e-5):
        why = f"On logits {_describe_batch(logits, y)} the mean loss is {fmt(expected)}, got {fmt(value)}."
        if torch.allclose(value, -expected, rtol=1e-4, atol=1e-5):
            why += " The sign is wrong: the loss is minus the log-probability of the true class, so it is >= 0."
        elif _floors_zero_probability(loss, trial):
            why += (
                " The second example's label has probability exp(-200), which is 0 in float32: its loss is 200, "
                "but the log of that probability, clamped or with a small number added, gives far less. Compute "
                "log-softmax directly as X - m - log(sum(exp(X - m))), with m each row's own maximum (or use "
                "torch.logsumexp), without taking the log of a softmax."
            )
        raise wrong(why)
    if not got.requires_grad:
        raise wrong("The value is right but carries no gradient: avoid .item(), .detach() and numpy.")
    (grad,) = trial.call(torch.autograd.grad, got, leaf, allow_unused=True, doing="Computing its gradient")
    if grad is None:
        raise wrong(
            "The value is right but no gradient reaches the logits: the result is not computed from them "
            "(a tensor rebuilt with torch.tensor(...) or from .item() starts a new graph). Compute the loss "
            "from `logits` with torch operations."
        )
    if not torch.allclose(grad, expected_grad, rtol=1e-4, atol=1e-6):
        raise wrong(
            f"The value is right but its gradient with respect to the logits is off: for the first example "
            f"autograd through F.cross_entropy gives {fmt(expected_grad[0])}, yours {fmt(grad[0])}."
        )


@checker("cross_entropy", example="check_cross_entropy(cross_entropy)")
def check_cross_entropy(cross_entropy: Callable[..., Any], trial: Trial) -> str:
    """``cross_entropy(logits, y)``: mean of -log softmax(logits)[i, y_i], stable, with autograd's gradient."""
    _loss_and_grad(cross_entropy, trial, _LOGITS, _CE_Y)
    _loss_and_grad(cross_entropy, trial, _CE_LARGE, _CE_LARGE_Y)
    return "It matches F.cross_entropy, including for large logits."


# ---------------------------------------------------------------------------
# Counting parameters, collapsing linear layers


def _mlp(widths: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(widths):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def _frozen_first_layer(widths: Sequence[int]) -> nn.Sequential:
    net = _mlp(widths)
    net[0].requires_grad_(False)
    return net


class _OwnParameters(nn.Module):
    """A module with parameters of its own (like the lab's MLPScratch), a layer without bias and a buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.W = nn.Parameter(torch.randn(4, 3))
        self.b = nn.Parameter(torch.zeros(3))
        self.out = nn.Linear(3, 2, bias=False)
        self.register_buffer("scale", torch.ones(5))  # a buffer is no parameter

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(X @ self.W + self.b)) * self.scale[:2]


_NO_COUNT_PARAMETERS = Forbidden(
    said="d2lmini.count_parameters",
    instead="add up the sizes of the module's parameters that require gradients yourself.",
    functions=(count_parameters,),
)


@checker("count_params", example="check_count_params(count_params)")
def check_count_params(count_params: Callable[..., Any], trial: Trial) -> str:
    """``count_params(module)`` must return the number of learnable scalars as an int."""
    torch.manual_seed(0)  # the nets' initial values do not matter, but the check stays deterministic
    cases = [
        ("the 6-4-3-1 net", _mlp([6, 4, 3, 1])),
        ("the lab model 784-256-10", _mlp([784, 256, 10])),
        ("a 5-3-2 net whose first layer is frozen", _frozen_first_layer([5, 3, 2])),
        ("a module with nn.Parameter tensors of its own and a linear layer without bias", _OwnParameters()),
    ]
    for name, net in cases:
        want, everything = count_parameters(net), count_parameters(net, trainable_only=False)
        weights_only = sum(p.numel() for p in net.parameters() if p.requires_grad and p.dim() > 1)
        tensors = len(list(net.parameters()))
        got = expect_int(trial.call(count_params, net, forbid=_NO_COUNT_PARAMETERS), "their total, one int")
        if got == want:
            continue
        why = f"For {name} it returns {got}, expected {want}."
        if got == tensors:
            why += " That is the number of parameter tensors; add up their sizes (numel()) instead."
        elif got == weights_only:
            why += " That counts the weights only; the biases are learnable parameters too."
        elif got == everything:
            why += " That includes frozen parameters (requires_grad=False); count only learnable ones."
        elif got == want + sum(b.numel() for b in net.buffers()):
            why += " That includes its buffers, which are not parameters: count module.parameters() only."
        elif isinstance(net, _OwnParameters):
            why += (
                " It has parameters that belong to no nn.Linear layer, and a layer without bias: count every tensor "
                "that module.parameters() yields, whatever module it sits in."
            )
        raise wrong(why)
    return "The 6-4-3-1 net has 47 parameters and the lab model 203,530."


@checker("collapse", example="check_collapse(collapse)")
def check_collapse(collapse: Callable[..., Any], trial: Trial) -> str:
    """``collapse(W1, b1, W2, b2)`` must return ``(W, b)`` with ``X @ W + b`` equal to the two layers."""
    gen = torch.Generator().manual_seed(0)
    for d, h, q in ((4, 4, 4), (3, 5, 2)):
        W1, b1 = torch.randn(d, h, generator=gen), torch.randn(h, generator=gen)
        W2, b2 = torch.randn(h, q, generator=gen), torch.randn(q, generator=gen)
        X = torch.randn(6, d, generator=gen)
        want_W, want_b = W1 @ W2, b1 @ W2 + b2
        sizes = f"For d={d}, h={h}, q={q}"
        got = trial.call(collapse, W1.clone(), b1.clone(), W2.clone(), b2.clone())
        if got is None:
            raise wrong("It returns None: did you forget the `return` statement?")
        if not isinstance(got, tuple | list):
            raise wrong(f"It returns a value of type {type(got).__name__}; return a pair `W, b`.")
        if len(got) != 2:
            raise wrong(f"It returns {len(got)} values; return a pair `W, b`.")
        W = expect_tensor(got[0], want_W, what=f"{sizes} its W")
        b = got[1]
        if not isinstance(b, torch.Tensor) or b.shape not in ((q,), (1, q)):
            shape = tuple(b.shape) if isinstance(b, torch.Tensor) else type(b).__name__
            raise wrong(f"{sizes} its b has shape {shape}, expected ({q},).")
        if b.device.type == "meta":
            raise wrong(
                f"{sizes} its b has shape {tuple(b.shape)} but is a tensor on the meta device, which has a shape "
                "but no values; return one with real values."
            )
        b = expect_tensor(b.reshape(-1), want_b, what=f"{sizes} its b")
        if not torch.allclose(W, want_W, atol=1e-4):
            hint = ""
            if d == h == q and torch.allclose(W, W2 @ W1, atol=1e-4):
                hint = " That is W2 @ W1: check the order of the product, rows go through W1 first."
            elif d == q and torch.allclose(W, want_W.T, atol=1e-4):
                hint = (
                    " That is (W1 @ W2).T, the transpose: with examples as rows, X @ W needs W of shape (d, q), "
                    "W1 @ W2 itself."
                )
            raise wrong(f"{sizes} its W is not W1 @ W2's equivalent.{hint}")
        if not torch.allclose(X @ W + b, X @ want_W + want_b, atol=1e-4):
            why = f"W is right but b is off: expected {fmt(want_b)}, got {fmt(b)}."
            if torch.allclose(b, b2, atol=1e-4):
                why += " That is b2 alone: the first bias also passes through W2."
            elif h == q and torch.allclose(b, b1 + b2, atol=1e-4):
                why += " That is b1 + b2: the first bias passes through W2 before b2 is added."
            elif torch.allclose(b, b1 @ W2, atol=1e-4):
                why += " That is b1 @ W2 alone: the second bias b2 is still added after it."
            raise wrong(why)
    return "X @ W + b equals the two stacked layers on random inputs."


# ---------------------------------------------------------------------------
# The two labs' models


def _product_shapes(error: BaseException | None) -> tuple[int, int, int, int] | None:
    """The shapes ``(a, b, c, d)`` in "mat1 and mat2 shapes cannot be multiplied (axb and cxd)", if that is it."""
    found = re.search(r"cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)", str(error)) if error else None
    return tuple(int(n) for n in found.groups()) if found else None  # type: ignore[return-value]


def _expect_learnable(params: dict[str, torch.Tensor], out: torch.Tensor, *, frozen: str, detached: str) -> None:
    """Refuse parameters that do not require gradients (``frozen`` names up to four of them as ``{names}``) and
    an output ``out`` that carries no gradient (``detached``): training could change neither."""
    names = [name for name, p in params.items() if not p.requires_grad]
    if names:
        raise wrong(frozen.format(names=", ".join(names[:4])))
    if not out.requires_grad:
        raise wrong(detached)


def _expect_gradients(model: nn.Module, out: torch.Tensor, flat: torch.Tensor, batch: int, trial: Trial) -> None:
    """Check that the lab model's logits ``out`` on the flattened images ``flat`` carry autograd's gradient to
    each of its four parameters, as training needs."""
    names = ("W1", "b1", "W2", "b2")
    params = {n: getattr(model, n) for n in names}
    _expect_learnable(
        params,
        out,
        frozen="The model's {names} do not require gradients, so training could not change them: keep "
        "the lab's __init__, which makes them nn.Parameters.",
        detached="The logits are right but carry no gradient, so training could not change the weights: compute "
        "them from the parameters with torch operations, without torch.no_grad(), .detach(), .data or NumPy.",
    )
    refs = {n: p.detach().clone().requires_grad_(True) for n, p in params.items()}
    reference = torch.relu(flat @ refs["W1"] + refs["b1"]) @ refs["W2"] + refs["b2"]
    weights = torch.randn(reference.shape, generator=torch.Generator().manual_seed(batch))
    expected = torch.autograd.grad(reference, list(refs.values()), weights)
    grads = trial.call(
        torch.autograd.grad, out, list(params.values()), weights, allow_unused=True, doing="Computing its gradient"
    )
    for name, grad, want in zip(names, grads, expected, strict=True):
        if grad is None or not torch.allclose(grad, want, rtol=1e-3, atol=1e-5):
            how = "no gradient reaches" if grad is None else "the gradient is off for"
            raise wrong(
                f"The logits are right but {how} self.{name}, so training would not update it as it should: use "
                f"self.{name} itself in the computation, without .detach(), .data or torch.no_grad()."
            )


@checker("forward", example="check_mlp_forward(MLPScratch)", expects="class")
def check_mlp_forward(model_class: type, trial: Trial) -> str:
    """``model_class(num_inputs, num_hiddens, num_outputs, lr)`` whose ``forward`` gives the MLP's logits."""
    torch.manual_seed(0)
    model = trial.call(model_class, num_inputs=784, num_outputs=10, num_hiddens=16, lr=0.1, doing="Creating the model")
    missing = [n for n in ("W1", "b1", "W2", "b2") if not isinstance(getattr(model, n, None), torch.Tensor)]
    if missing:
        raise wrong(f"The model has no tensor attribute {', '.join(missing)}: keep the lab's __init__ as it is.")
    gen = torch.Generator().manual_seed(1)
    params = [model.W1, model.b1, model.W2, model.b2]
    with torch.no_grad():  # larger weights than at init, so that every mistake shows
        for p in params:
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    W1, b1, W2, b2 = (p.detach().clone() for p in params)
    for batch in (4, 3):
        X = torch.rand(batch, 1, 28, 28, generator=gen)
        flat = X.reshape(-1, 784)
        expected = torch.relu(flat @ W1 + b1) @ W2 + b2
        try:
            out = trial.call(model, X.clone())
        except Fail as fail:
            shapes = _product_shapes(fail.error)
            if shapes is not None and shapes[0] != batch:
                raise wrong(fail.why + " Did you flatten the images first, with X.reshape(-1, 784)?") from None
            if shapes is not None:
                raise wrong(
                    fail.why + " The images are flattened already (one row per image); look at the other factor: "
                    f"self.W1 has shape {tuple(W1.shape)} and self.W2 {tuple(W2.shape)}, so X @ self.W1 and "
                    "H @ self.W2 need no transpose."
                ) from None
            raise
        got = expect_tensor(out, expected, what=f"On images of shape ({batch}, 1, 28, 28) it")
        if torch.allclose(got, expected, atol=1e-4):
            _expect_gradients(model, out, flat, batch, trial)
            continue
        z1, no_softmax = flat @ W1, "return logits, the loss applies the softmax."
        mistakes = {
            f"It returns probabilities (softmax); {no_softmax}": torch.softmax(expected, dim=1),
            f"It returns log-probabilities (log_softmax); {no_softmax}": torch.log_softmax(expected, dim=1),
            "There is no ReLU between the layers, so the model collapses to one linear layer.": (z1 + b1) @ W2 + b2,
            "The biases b1 and b2 are missing.": torch.relu(z1) @ W2,
            "The bias b1 is missing.": torch.relu(z1) @ W2 + b2,
            "The bias b2 is missing.": torch.relu(z1 + b1) @ W2,
            "It applies a ReLU to the logits too; they must stay free to be negative.": torch.relu(expected),
        }
        for why, mistaken in mistakes.items():
            if torch.allclose(got, mistaken, atol=1e-4):
                raise wrong(why)
        raise wrong(
            f"The logits of the first image are off: expected {fmt(expected[0, :3])}... got {fmt(got[0, :3])}..."
        )
    return "It flattens the images, applies W1, b1, ReLU, W2, b2 and returns logits."


def _is_affine(f_a: torch.Tensor, f_b: torch.Tensor, f_mid: torch.Tensor) -> bool:
    """True if the outputs at midpoints are the averages of the outputs at the ends (up to float error)."""
    scale = float(torch.cat([f_a, f_b]).abs().max())
    return bool(((f_mid - (f_a + f_b) / 2).abs().max()) <= 1e-5 + 1e-4 * scale)


def _layer_size_hint(error: BaseException | None, batch: int) -> str:
    """What a failed matrix product in a network built for images of shape (batch, 1, 28, 28) says about it."""
    if "must have the same dtype" in str(error):
        return " The images are float32: keep the network in PyTorch's default dtype (no .double())."
    shapes = _product_shapes(error)
    if shapes is None:
        return ""
    rows, columns, inputs, _ = shapes
    if rows != batch:
        return (
            " Each image must become one row of 784 numbers before the first linear layer: start with nn.Flatten(), "
            "which keeps the batch dimension and flattens the rest."
        )
    if columns == 784:
        return (
            " Each image has 28 x 28 = 784 pixels, so the first linear layer takes 784 inputs (nn.LazyLinear finds "
            "out)."
        )
    return (
        f" A layer receives {columns} numbers per image but expects {inputs}: each linear layer's number of inputs "
        "must be the number of outputs of the layer before it (nn.LazyLinear finds out)."
    )


def _expect_trainable(net: nn.Module, out: torch.Tensor, trial: Trial) -> None:
    """Check that training could change every parameter of ``net``, whose output on a batch is ``out``."""
    _expect_learnable(
        dict(net.named_parameters()),
        out,
        frozen="Its parameters {names} do not require gradients (requires_grad=False), so training could not "
        "change them: leave them learnable.",
        detached="Its logits carry no gradient, so training could not change its weights: do not compute them "
        "under torch.no_grad() or detach them.",
    )
    named = list(net.named_parameters())
    grads = trial.call(
        torch.autograd.grad, out.sum(), [p for _, p in named], allow_unused=True, doing="Computing its gradient"
    )
    unused = [name for (name, _), grad in zip(named, grads, strict=True) if grad is None]
    if unused:
        raise wrong(
            f"No gradient reaches its parameters {', '.join(unused[:4])}, so training could not change them: does "
            "its forward detach something, or leave a layer out?"
        )


def _probe_network(net: nn.Module, trial: Trial, h: int, gen: torch.Generator) -> str:
    """Judge the function one built network computes; return the names of its hidden nonlinearity."""
    ends = torch.rand(16, 1, 28, 28, generator=gen)
    batch = torch.cat([ends, (ends[:8] + ends[8:]) / 2])  # 8 pairs of images, then their 8 midpoints
    shape = tuple(batch.shape)
    ran: list[tuple[nn.Module, torch.Tensor | None]] = []  # leaf modules in the order they ran, with outputs

    def record(module: nn.Module, args: Any, output: Any) -> None:
        ran.append((module, output.detach() if isinstance(output, torch.Tensor) else None))

    leaves = [m for m in net.modules() if not list(m.children()) or list(m.parameters(recurse=False))]
    hooks = [m.register_forward_hook(record) for m in leaves]
    modes = {m: m.training for m in net.modules()}
    net.eval()  # dropout off: the same image must always give the same logits
    try:
        out = trial.call(net, batch, doing=f"Running it on images of shape {shape}")
    except Fail as fail:
        raise wrong(fail.why + _layer_size_hint(fail.error, shape[0])) from None
    finally:
        for hook in hooks:
            hook.remove()
        for m, mode in modes.items():
            m.training = mode
    if isinstance(out, torch.Tensor) and out.dim() > 2:
        raise wrong(
            f"On images of shape {shape} it returns shape {tuple(out.shape)}, expected "
            f"({shape[0]}, 10): start with nn.Flatten()."
        )
    raw, out = out, expect_tensor(out, torch.empty(shape[0], 10), what=f"On images of shape {shape} it")
    n, want = count_parameters(net, trainable_only=False), mlp_parameter_count([784, h, 10])
    if n != want:
        raise wrong(f"With {h} hidden units it has {n} parameters, expected {want} (784-{h}-10).")
    if torch.allclose(out.sum(dim=1), torch.ones(len(out)), atol=1e-4):
        raise wrong("Its rows sum to 1: it ends in a softmax. Return logits; the loss applies it.")
    if torch.allclose(out, out[:1].expand_as(out)):
        raise wrong(
            "It gives the same logits for every image, so it cannot tell them apart: are its weights all zero "
            "(or all equal)? Keep PyTorch's random initialisation."
        )
    if _is_affine(out[:8], out[8:16], out[16:]):
        raise wrong(
            "On images it computes an affine function of the pixels (at the midpoint of two images its logits "
            "are the average of theirs), so its two linear layers collapse into one. Put a nonlinearity such as "
            "nn.ReLU() between them (before the first linear layer it would only see pixels, which are >= 0 "
            "already, and change nothing)."
        )
    with_params = [i for i, (m, _) in enumerate(ran) if list(m.parameters(recurse=False))]
    last_output = ran[with_params[-1]][1] if with_params else None
    if last_output is not None and last_output.shape == out.shape and not torch.allclose(last_output, out):
        after = [type(m).__name__ for m, _ in ran[with_params[-1] + 1 :]]
        culprit = ", ".join(after) if after else "something"
        raise wrong(
            f"After its last layer with parameters, {culprit} changes the outputs. The logits must be that layer's "
            "raw outputs, free to be negative: put the nonlinearity between the linear layers, not after them."
        )
    _expect_trainable(net, raw, trial)
    # What runs between the first two layers with parameters: the hidden nonlinearity, if it is a module.
    between = [type(m).__name__ for m, _ in ran[with_params[0] + 1 : with_params[1]]] if len(with_params) > 1 else []
    return ", ".join(between) or "a nonlinearity"


@checker("build_mlp", example="check_build_mlp(build_mlp)")
def check_build_mlp(build_mlp: Callable[..., Any], trial: Trial) -> str:
    """``build_mlp(num_hiddens)`` must return an nn.Module: flatten, a nonlinear hidden layer, 10 logits."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    names = []
    for h in (32, 20):
        try:
            net = trial.call(build_mlp, h)
        except Fail as fail:
            if isinstance(fail.error, TypeError) and "is not a Module subclass" in str(fail.error):
                raise wrong(
                    fail.why + " Create each layer with parentheses, as in nn.ReLU(): nn.Sequential takes layers, "
                    "not their classes."
                ) from None
            raise
        if net is None:
            raise wrong("It returns None: did you forget the `return` statement?")
        if not isinstance(net, nn.Module):
            raise wrong(f"It returns a {type(net).__name__}; expected an nn.Module such as nn.Sequential.")
        if isinstance(net, nn.ModuleList | nn.ModuleDict):
            raise wrong(
                f"It returns an nn.{type(net).__name__}, which holds layers but cannot run them (it has no forward): "
                "use nn.Sequential, which runs its layers in order."
            )
        names.append(_probe_network(net, trial, h, gen))
    return f"Flatten, 784 -> 32 -> {names[0]} -> 10 logits: the right shape and parameter count."


# ---------------------------------------------------------------------------
# The 2-D playground: evaluating a classifier on a grid


def _tilted_plane(points: torch.Tensor) -> torch.Tensor:
    """The test classifier: a logit that changes differently along x1 and x2, so every mix-up shows."""
    if not isinstance(points, torch.Tensor) or points.dim() != 2 or points.shape[1] != 2:
        shape = tuple(points.shape) if isinstance(points, torch.Tensor) else type(points).__name__
        raise ValueError(f"predict takes points as rows, a tensor of shape (n, 2); it got {shape}")
    return points[:, 0] - 2 * points[:, 1] + 0.25


@checker("decision_grid", example="check_decision_grid(decision_grid)")
def check_decision_grid(decision_grid: Callable[..., Any], trial: Trial) -> str:
    """``decision_grid(predict, resolution, extent)``: ``predict`` on the grid, ``[i, j]`` at x2 = t[i], x1 = t[j]."""
    for resolution, extent in ((5, 1.0), (7, 1.5)):
        ticks, points = grid_points(resolution, extent)  # the playground's own grid: x1 varies fastest
        expected = _tilted_plane(points).reshape(resolution, resolution)
        calls: list[int] = []

        def predict(points: torch.Tensor, calls: list[int] = calls) -> torch.Tensor:
            calls.append(1)
            return _tilted_plane(points)

        got = trial.call(decision_grid, predict, resolution, extent)
        what = f"With resolution {resolution} and extent {extent} it"
        if isinstance(got, torch.Tensor) and got.shape != expected.shape and got.numel() == expected.numel():
            raise wrong(
                f"{what} returns shape {tuple(got.shape)}; return the values as a ({resolution}, {resolution}) "
                "grid: .reshape(resolution, resolution), row i for the i-th value of x2."
            )
        got = expect_tensor(got, expected, what=what, dtype_from="that of ticks, made by torch.linspace")
        if torch.allclose(got, expected, atol=1e-5):
            if len(calls) > 1:
                raise wrong(
                    f"{what} returns the right grid, but calls predict {len(calls)} times; call it once, on all "
                    f"{resolution * resolution} points as the rows of one ({resolution * resolution}, 2) tensor: a "
                    "network computes a whole batch at once far faster than point by point."
                )
            continue
        right = "returns the right values, but"
        mixups = {
            f"{right} it is transposed: row i must hold the points with x2 = ticks[i] (the height), column j those "
            "with x1 = ticks[j]. Put x1 in the first column of the points and let it vary fastest.": expected.T,
            f"{right} it is upside down: row 0 must be the lowest x2, -extent, as in a plot whose y axis points up "
            "(plt.imshow(grid, origin='lower') draws it that way).": expected.flip(0),
            f"{right} it is mirrored left to right: column 0 must be the smallest x1, -extent.": expected.flip(1),
            f"{right} it is turned by half a turn: row 0 must be the lowest x2, -extent, and column 0 the smallest "
            "x1, -extent.": expected.flip(0).flip(1),
            "returns the sigmoid of predict's values: those are probabilities: return predict's outputs "
            "themselves.": torch.sigmoid(expected),
            "returns class labels, 1 where predict is positive and 0 elsewhere: return predict's outputs "
            "themselves.": (expected > 0).to(got.dtype),
        }
        for why, mixed in mixups.items():
            if torch.allclose(got, mixed, atol=1e-5):
                raise wrong(f"{what} {why}")
        i, j = (~torch.isclose(got, expected, atol=1e-5)).nonzero()[0].tolist()
        if torch.allclose(got.flatten().sort().values, expected.flatten().sort().values, atol=1e-5):
            raise wrong(
                f"{what} holds predict's values on the grid points, but not in their places: at row {i}, column {j} "
                f"it holds {fmt(got[i, j])}, where predict gives {fmt(expected[i, j])} (the point x1 = "
                f"{fmt(ticks[j])}, x2 = {fmt(ticks[i])}). Entry [i, j] belongs to the point x1 = ticks[j], "
                "x2 = ticks[i]."
            )
        raise wrong(
            f"{what} is off at row {i}, column {j}, the point x1 = {fmt(ticks[j])}, x2 = {fmt(ticks[i])}: predict "
            f"gives {fmt(expected[i, j])} there, the grid holds {fmt(got[i, j])}. The grid points are ticks = "
            f"torch.linspace(-extent, extent, resolution) in both coordinates, both ends included."
        )
    return "predict's values on every grid point, row i at x2 = ticks[i] and column j at x1 = ticks[j]."


# ---------------------------------------------------------------------------
# Inside a trained MLP: dead units


def _dead_unit_case(
    inputs: int, units: int, rows: int, dead_by_bias: Sequence[int], zero_unit: int, once_unit: int, seed: int
) -> tuple[nn.Linear, torch.Tensor]:
    """A linear layer and inputs X >= 0 with known dead units.

    The units in ``dead_by_bias`` have a bias of -100: off on every row. ``zero_unit`` has zero weights and
    bias: its pre-activation is exactly 0 on every row, so ReLU gives 0 and passes no gradient (dead too).
    ``once_unit`` fires on exactly one row (alive). The other units have random weights and biases.
    """
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(rows, inputs, generator=gen)
    layer = nn.Linear(inputs, units)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(units, inputs, generator=gen))
        layer.bias.copy_(torch.rand(units, generator=gen))  # > 0: the random units fire on some rows
        layer.bias[list(dead_by_bias)] = -100.0
        layer.weight[zero_unit] = 0.0
        layer.bias[zero_unit] = 0.0
        layer.weight[once_unit] = 0.0
        layer.weight[once_unit, 0] = 1.0
        top = X[:, 0].topk(2).values
        layer.bias[once_unit] = -(top[0] + top[1]) / 2  # positive on the row with the largest first input only
    return layer, X


# (inputs, units, rows, units dead by their bias, the unit with zero weights, the unit firing once, seed)
# Chosen so that within each case the right count and the counts of the mistakes below all differ, and that no
# mistake gives the same count in every case (the third case has rows on which every unit is off). A hint names a
# mistake only if that mistake gives the answer's count in every case, so a constant, or an answer wrong in another
# way, is never told of a mistake it did not make.
_DEAD_CASES = ((6, 8, 10, (0, 3), 5, 6, 12), (4, 9, 7, (2, 7, 8), 4, 1, 2), (2, 6, 8, (0,), 1, 2, 226))


def _dead_counts(layer: nn.Linear, X: torch.Tensor) -> tuple[int, dict[str, int]]:
    """How many units of ``layer`` are dead on ``X``, and what each typical mistake counts instead."""
    with torch.no_grad():
        Z, no_bias = layer(X), X @ layer.weight.T
    want = int((Z <= 0).all(dim=0).sum())
    return want, {
        "That leaves out a unit whose pre-activation is exactly 0 on every row: ReLU gives 0 there too and passes "
        "no gradient, so it is dead as well. Test z <= 0 (or relu(z) == 0).": int((Z < 0).all(dim=0).sum()),
        "That counts the units that are off on at least one row; a dead unit is off on every row: use .all(dim=0), "
        "not .any(...).": int((Z <= 0).any(dim=0).sum()),
        "That counts the rows on which every unit is off; count units (columns) instead, reducing over the rows: "
        ".all(dim=0).": int((Z <= 0).all(dim=1).sum()),
        "That is the count without the biases: the pre-activation is X @ layer.weight.T + layer.bias, or simply "
        "layer(X).": int((no_bias <= 0).all(dim=0).sum()),
        "That is the number of units that fire on some row: the live ones, not the dead.": Z.shape[1] - want,
    }


@checker("count_dead", example="check_count_dead(count_dead)")
def check_count_dead(count_dead: Callable[..., Any], trial: Trial) -> str:
    """``count_dead(layer, X)``: how many units of ``layer`` have a pre-activation <= 0 on every row of ``X``."""
    cases = []  # per case: units, rows, the answer's count, the right count, what each mistake counts
    for inputs, units, rows, by_bias, zero_unit, once_unit, seed in _DEAD_CASES:
        layer, X = _dead_unit_case(inputs, units, rows, by_bias, zero_unit, once_unit, seed)
        want, mistakes = _dead_counts(layer, X)
        try:
            got = trial.call(count_dead, layer, X.clone())
        except Fail as fail:
            if _product_shapes(fail.error) == (rows, inputs, units, inputs):
                raise wrong(
                    fail.why + f" layer.weight has shape (units, inputs) = ({units}, {inputs}), one row per unit: "
                    "use X @ layer.weight.T + layer.bias, or simply layer(X)."
                ) from None
            raise
        got = expect_int(got, "how many units are dead, one int (e.g. int(mask.sum()))")
        cases.append((units, rows, got, want, mistakes))
    off = [case for case in cases if case[2] != case[3]]
    if off:
        units, rows, got, want, _ = off[0]
        why = f"For a layer of {units} units on {rows} rows it returns {got}, expected {want}."
        made = [hint for hint in cases[0][4] if all(mistakes[hint] == got for _, _, got, _, mistakes in cases)]
        raise wrong(" ".join([why, *made[:1]]))
    return "It counts the units that are off on every row, including one whose pre-activation is exactly 0."


# ---------------------------------------------------------------------------
# Experiments of the lab exercises: the shape and plausibility of the reported results, not exact values

check_one_unit = experiment_checker(
    "one_unit", expected_keys=["val_acc", "active"], ranges={"val_acc": (0.0, 0.7), "active": (0.0, 1.0)},
    summary="Both numbers are there, and plausible for a network with a single hidden unit.",
)
check_lr_sweep = experiment_checker(
    "lr_sweep", expected_keys=[0.01, 0.1, 1.0], ranges={"val_acc": (0.0, 1.0), "train_loss": (0.0, None)},
    summary="A history for each of the three learning rates, with plausible final numbers.",
)
# The parameter counts must be within 2% of the lab model's 203,530.
check_gelu_gain = experiment_checker(
    "gelu_gain", expected_keys=["default", "gain"], ranges=(0.0, 1.0),
    summary="A validation accuracy for each initialisation, both plausible.",
)
check_depth_at_fixed_size = experiment_checker(
    "depth_at_fixed_size", expected_keys=[1, 2, 3], ranges={"params": (199_459, 207_601), "val_acc": (0.0, 1.0)},
    summary="Three depths of (nearly) the lab model's size, each with a plausible accuracy.",
)
