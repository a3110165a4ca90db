"""Instant feedback for the exercise notebooks.

Each ``check_*`` function takes the reader's answer (usually a function),
tries it on a few fixed inputs and returns a :class:`CheckResult` whose text
says, in one paragraph, either that the answer is correct or what is wrong
with it: not attempted yet, raises an error, returns ``None`` or the wrong
type, the wrong shape or dtype, NaN or infinity for large inputs, or values
that are off at some inputs (shown with the expected and the received value).

A checker never raises, whatever the answer does, and its messages are
deterministic, so a notebook's stored outputs can be compared by nbval.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "CheckResult",
    "check_build_mlp",
    "check_collapse",
    "check_count_params",
    "check_cross_entropy",
    "check_mlp_forward",
    "check_prelu_grad",
    "check_relu",
    "check_softmax",
    "check_tanh_grad",
]


@dataclass(frozen=True)
class CheckResult:
    """The verdict of a check: ``passed`` is true only for a correct answer.

    ``status`` is ``"correct"``, ``"not attempted"`` or ``"wrong"``; the
    notebook shows ``message``.
    """

    task: str
    status: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "correct"

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return self.message


class _Fail(Exception):
    """Raised inside a checker to stop at the first problem found."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.message)
        self.result = result


def _correct(task: str, detail: str = "") -> CheckResult:
    return CheckResult(task, "correct", f"✔ {task}: correct. {detail}".rstrip())


def _wrong(task: str, why: str) -> _Fail:
    return _Fail(CheckResult(task, "wrong", f"✘ {task}: not yet. {why}"))


def _not_attempted(task: str) -> _Fail:
    return _Fail(
        CheckResult(
            task,
            "not attempted",
            f"… {task}: not attempted yet. Replace `raise NotImplementedError` with your code, "
            "run that cell, then run this check again.",
        )
    )


def _fmt(x: Any) -> str:
    """A short, deterministic rendering of a number or a small tensor."""
    if isinstance(x, torch.Tensor):
        x = x.detach()
        if x.dim() == 0:
            return _fmt(x.item())
        if x.numel() <= 6:
            return "[" + ", ".join(_fmt(v) for v in x.reshape(-1).tolist()) + "]"
        return f"tensor of shape {tuple(x.shape)}"
    if isinstance(x, float):
        return f"{x:.4g}"
    return repr(x)


def _run(task: str, fn: Any, *args: Any) -> Any:
    """Call the reader's ``fn``; turn every way it can fail into a verdict."""
    if fn is None:
        raise _wrong(task, "You passed None: pass your function itself, e.g. `check(relu)`, not its result.")
    if not callable(fn):
        raise _wrong(task, f"Expected a function, got a value of type {type(fn).__name__}.")
    try:
        return fn(*args)
    except NotImplementedError:
        raise _not_attempted(task) from None
    except Exception as err:  # the reader's code may raise anything
        raise _wrong(task, f"Calling it raised {type(err).__name__}: {_first_line(err)}") from None


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else "(no message)"


def _tensor(task: str, got: Any, expected: torch.Tensor, what: str = "It") -> torch.Tensor:
    """Check that ``got`` is a tensor with the shape and dtype of ``expected``."""
    if got is None:
        raise _wrong(task, f"{what} returns None: did you forget the `return` statement?")
    if not isinstance(got, torch.Tensor):
        raise _wrong(task, f"{what} returns a value of type {type(got).__name__}; expected a torch.Tensor.")
    if got.shape != expected.shape:
        raise _wrong(
            task,
            f"{what} returns shape {tuple(got.shape)}, expected {tuple(expected.shape)}.",
        )
    if got.dtype != expected.dtype:
        raise _wrong(
            task, f"{what} returns dtype {got.dtype}, expected {expected.dtype} (the input's dtype)."
        )
    return got.detach()


def _close(
    task: str,
    inputs: torch.Tensor,
    got: torch.Tensor,
    expected: torch.Tensor,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    hint: str = "",
) -> None:
    """Compare element-wise; report up to three inputs where the values are off."""
    if not torch.isfinite(got).all() and torch.isfinite(expected).all():
        raise _wrong(task, f"It returns NaN or inf at {_fmt(inputs)}. {hint}".rstrip())
    bad = ~torch.isclose(got, expected, atol=atol, rtol=rtol)
    if bad.any():
        idx = bad.nonzero()[:3]
        same_shape = inputs.shape == got.shape
        rows = []
        for i in idx.tolist():
            where = f"at input {_fmt(inputs[tuple(i)])}" if same_shape else f"at index {tuple(i)}"
            rows.append(f"{where}: expected {_fmt(expected[tuple(i)])}, got {_fmt(got[tuple(i)])}")
        more = f" ({int(bad.sum())} of {bad.numel()} values are off)"
        raise _wrong(task, "Off " + "; ".join(rows) + more + "." + (f" {hint}" if hint else ""))


def _guard(task: str, body: Callable[[], CheckResult]) -> CheckResult:
    """Run a checker's body so that nothing escapes as an exception."""
    try:
        return body()
    except _Fail as fail:
        return fail.result
    except Exception as err:  # a bug in an unusual answer's path must not show a traceback
        return CheckResult(
            task,
            "wrong",
            f"✘ {task}: not yet. Your answer could not be checked ({type(err).__name__}: "
            f"{_first_line(err)}).",
        )


# ---------------------------------------------------------------------------
# Activation functions and their derivatives

_RELU_INPUTS = torch.tensor([[-3.0, -1.5, -0.25, 0.0], [0.5, 1.0, 2.0, 7.5]], dtype=torch.float64)


def check_relu(relu: Any) -> CheckResult:
    """``relu(x)`` must return ``max(x, 0)`` element-wise, same shape and dtype, input untouched."""
    task = "relu"

    def body() -> CheckResult:
        for x in (_RELU_INPUTS.clone(), _RELU_INPUTS.float().reshape(-1)):  # fresh copies every time
            original = x.clone()
            got = _tensor(task, _run(task, relu, x), x)
            if not torch.equal(x, original):
                raise _wrong(
                    task,
                    "The values are right but your function changed its input in place; "
                    "build a new tensor instead (e.g. with torch.where or clamp).",
                )
            _close(task, x, got, x.clamp(min=0))
        return _correct(task, "It keeps positive inputs, zeroes the others, and keeps shape and dtype.")

    return _guard(task, body)


_GRAD_POINTS = torch.tensor([-4.0, -1.3, -0.2, 0.3, 0.9, 2.5], dtype=torch.float64)


def _autograd(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x).sum(), x)
    return grad


def check_tanh_grad(tanh_grad: Any) -> CheckResult:
    """``tanh_grad(x)`` must equal d tanh / dx, compared with autograd."""
    task = "tanh_grad"

    def body() -> CheckResult:
        x = _GRAD_POINTS.clone()
        got = _tensor(task, _run(task, tanh_grad, x), x)
        hint = ""
        if torch.allclose(got, torch.tanh(x), atol=1e-6):
            hint = "Those are the values of tanh itself, not of its derivative."
        _close(task, x, got, _autograd(torch.tanh, x), hint=hint)
        return _correct(task, "Your formula agrees with autograd at every test point.")

    return _guard(task, body)


def check_prelu_grad(prelu_grad: Any) -> CheckResult:
    """``prelu_grad(x, alpha)`` must equal d pReLU / dx away from 0, for several alphas."""
    task = "prelu_grad"

    def body() -> CheckResult:
        x = _GRAD_POINTS.clone()
        for alpha in (0.25, 0.1):
            got = _tensor(task, _run(task, prelu_grad, x, alpha), x)
            expected = _autograd(lambda t, a=alpha: torch.where(t > 0, t, a * t), x)
            hint = f"(alpha = {alpha})"
            if torch.allclose(got, torch.where(x > 0, x, alpha * x)):
                hint += " Those are the values of pReLU itself, not of its derivative."
            _close(task, x, got, expected, hint=hint)
        return _correct(task, "Your derivative agrees with autograd for alpha = 0.25 and 0.1.")

    return _guard(task, body)


# ---------------------------------------------------------------------------
# Softmax and cross-entropy

_LOGITS = torch.tensor([[1.2, 5.1, 2.7], [0.0, 0.0, 0.0], [-1.0, 2.0, 0.5]])
_LARGE = torch.tensor([[1000.0, 1001.0, 1002.0], [-1000.0, -999.0, -1001.0]])


def check_softmax(softmax: Any) -> CheckResult:
    """``softmax(X)`` on a (batch, classes) matrix: each row becomes probabilities, stably."""
    task = "softmax"

    def body() -> CheckResult:
        X = _LOGITS.clone()
        expected = torch.softmax(X, dim=1)
        got = _tensor(task, _run(task, softmax, X), expected)
        if not torch.allclose(got, expected, atol=1e-5):
            if torch.allclose(got.sum(), torch.tensor(1.0), atol=1e-5):
                raise _wrong(task, "All entries together sum to 1; each row (one example) should sum to 1.")
            if torch.allclose(got.sum(dim=0), torch.ones(3), atol=1e-5):
                raise _wrong(
                    task,
                    "Each column sums to 1: you normalised over dim=0. Sum over each row "
                    "(dim=1, keepdim=True) instead.",
                )
        _close(task, X, got, expected)
        Y = _LARGE.clone()
        got = _tensor(task, _run(task, softmax, Y), Y)
        if not torch.isfinite(got).all():
            raise _wrong(
                task,
                f"It returns NaN or inf for large inputs such as {_fmt(Y[0])} and {_fmt(Y[1])}: "
                "exp overflows (or every term underflows to 0). Subtract each row's own maximum "
                "(X.max(dim=1, keepdim=True).values) before exponentiating; softmax does not change.",
            )
        _close(task, Y, got, torch.softmax(Y, dim=1))
        return _correct(task, "Rows sum to 1, and large inputs give no NaN or inf.")

    return _guard(task, body)


_CE_Y = torch.tensor([1, 0, 2])
# Large logits; the second row's label has probability exp(-200), which is 0 in float32.
_CE_LARGE = torch.tensor([[1000.0, 1001.0, 1002.0], [0.0, 200.0, -50.0]])


def check_cross_entropy(cross_entropy: Any) -> CheckResult:
    """``cross_entropy(logits, y)``: mean of -log softmax(logits)[i, y_i], stable, differentiable."""
    task = "cross_entropy"

    def body() -> CheckResult:
        logits = _LOGITS.clone().requires_grad_(True)
        y = _CE_Y.clone()
        expected = F.cross_entropy(logits.detach(), y)
        got = _run(task, cross_entropy, logits, y)
        if isinstance(got, torch.Tensor) and got.shape == (3,):
            raise _wrong(task, "It returns one loss per example (shape (3,)); return their mean, a scalar.")
        if isinstance(got, float | int) and not isinstance(got, bool):
            raise _wrong(
                task, "It returns a Python number; return a 0-dim tensor (no .item()) so gradients can flow."
            )
        got_t = _tensor(task, got, expected)
        if torch.allclose(got_t, 3 * expected, rtol=1e-4):
            raise _wrong(task, f"It returns {_fmt(got_t)}, the sum over the batch; return the mean instead.")
        if not torch.allclose(got_t, expected, rtol=1e-4, atol=1e-5):
            hint = ""
            if not torch.isfinite(got_t):
                hint = " (The log of a number <= 0? Take log-softmax of the logits, not their log.)"
            raise _wrong(
                task,
                f"On logits {_fmt(_LOGITS[0])} (label 1), {_fmt(_LOGITS[1])} (label 0), "
                f"{_fmt(_LOGITS[2])} (label 2) the mean loss is {_fmt(expected)}, got {_fmt(got_t)}.{hint}",
            )
        if not got.requires_grad:
            raise _wrong(
                task, "The value is right but carries no gradient: avoid .item(), .detach() and numpy."
            )
        big = _CE_LARGE.clone().requires_grad_(True)
        y2 = torch.tensor([0, 0])
        got2 = _tensor(task, _run(task, cross_entropy, big, y2), expected, what="On large logits it")
        if not torch.isfinite(got2).all():
            raise _wrong(
                task,
                f"It returns {_fmt(got2)} for large logits {_fmt(_CE_LARGE[0])}, {_fmt(_CE_LARGE[1])} "
                "(labels 0, 0). "
                "Compute log-softmax directly as X - max - log(sum(exp(X - max))), without "
                "taking the log of a softmax that may be exactly 0.",
            )
        want2 = F.cross_entropy(big.detach(), y2)
        if not torch.allclose(got2, want2, rtol=1e-4, atol=1e-5):
            raise _wrong(task, f"For large logits the mean loss is {_fmt(want2)}, got {_fmt(got2)}.")
        return _correct(task, "It matches F.cross_entropy, including for large logits.")

    return _guard(task, body)


# ---------------------------------------------------------------------------
# Counting parameters, collapsing linear layers


def _mlp(widths: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(widths):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def check_count_params(count_params: Any) -> CheckResult:
    """``count_params(module)`` must return the number of learnable scalars as an int."""
    task = "count_params"

    def body() -> CheckResult:
        frozen = _mlp([5, 3, 2])
        frozen[0].requires_grad_(False)  # 5*3 + 3 frozen, 3*2 + 2 = 8 learnable
        cases = [("the 6-4-3-1 net", _mlp([6, 4, 3, 1])), ("the lab model 784-256-10", _mlp([784, 256, 10]))]
        cases.append(("a 5-3-2 net whose first layer is frozen", frozen))
        for name, net in cases:
            want = sum(p.numel() for p in net.parameters() if p.requires_grad)
            got = _run(task, count_params, net)
            if got is None:
                raise _wrong(task, "It returns None: did you forget the `return` statement?")
            if isinstance(got, torch.Tensor) and got.numel() == 1:
                raise _wrong(task, f"It returns a tensor ({_fmt(got)}); return a Python int (int(...)).")
            if isinstance(got, bool) or not isinstance(got, int):
                raise _wrong(task, f"It returns a value of type {type(got).__name__}; expected an int.")
            if got == want:
                continue
            why = f"For {name} it returns {got}, expected {want}."
            weights_only = sum(p.numel() for p in net.parameters() if p.requires_grad and p.dim() > 1)
            if got == len(list(net.parameters())):
                why += " That is the number of parameter tensors; add up their sizes (numel()) instead."
            elif got == weights_only:
                why += " That counts the weights only; the biases are learnable parameters too."
            elif got == sum(p.numel() for p in net.parameters()):
                why += " That includes frozen parameters (requires_grad=False); count only learnable ones."
            raise _wrong(task, why)
        return _correct(task, "The 6-4-3-1 net has 47 parameters and the lab model 203,530.")

    return _guard(task, body)


def check_collapse(collapse: Any) -> CheckResult:
    """``collapse(W1, b1, W2, b2)`` must return ``(W, b)`` with ``X @ W + b`` equal to the two layers."""
    task = "collapse"

    def body() -> CheckResult:
        gen = torch.Generator().manual_seed(0)
        for d, h, q in ((4, 4, 4), (3, 5, 2)):
            W1, b1 = torch.randn(d, h, generator=gen), torch.randn(h, generator=gen)
            W2, b2 = torch.randn(h, q, generator=gen), torch.randn(q, generator=gen)
            X = torch.randn(6, d, generator=gen)
            got = _run(task, collapse, W1, b1, W2, b2)
            if got is None:
                raise _wrong(task, "It returns None: did you forget the `return` statement?")
            if not isinstance(got, tuple | list) or len(got) != 2:
                raise _wrong(task, f"It returns a value of type {type(got).__name__}; return a pair `W, b`.")
            W = _tensor(task, got[0], W1 @ W2, what=f"For d={d}, h={h}, q={q} its W")
            b = got[1]
            if not isinstance(b, torch.Tensor) or b.shape not in ((q,), (1, q)):
                shape = tuple(b.shape) if isinstance(b, torch.Tensor) else type(b).__name__
                raise _wrong(task, f"For d={d}, h={h}, q={q} its b has shape {shape}, expected ({q},).")
            expected = (X @ W1 + b1) @ W2 + b2
            if not torch.allclose(W, W1 @ W2, atol=1e-4):
                hint = " Check the order of the product: rows go through W1 first." if d == q else ""
                raise _wrong(task, f"For d={d}, h={h}, q={q} its W is not W1 @ W2's equivalent.{hint}")
            if not torch.allclose(X @ W + b, expected, atol=1e-4):
                raise _wrong(
                    task,
                    f"W is right but b is off: expected {_fmt(b1 @ W2 + b2)}, got {_fmt(b.reshape(-1))}. "
                    "The first bias also passes through W2.",
                )
        return _correct(task, "X @ W + b equals the two stacked layers on random inputs.")

    return _guard(task, body)


# ---------------------------------------------------------------------------
# The two labs' models


def check_mlp_forward(model_class: Any) -> CheckResult:
    """``model_class(num_inputs, num_outputs, num_hiddens, lr)`` whose ``forward`` gives the MLP's logits."""
    task = "forward"

    def body() -> CheckResult:
        if not isinstance(model_class, type):
            raise _wrong(task, f"Pass the class itself (MLPScratch), not a {type(model_class).__name__}.")
        try:
            torch.manual_seed(0)
            model = model_class(num_inputs=784, num_outputs=10, num_hiddens=16, lr=0.1)
            W1, b1, W2, b2 = (getattr(model, n) for n in ("W1", "b1", "W2", "b2"))
        except Exception as err:
            raise _wrong(
                task, f"Creating the model raised {type(err).__name__}: {_first_line(err)}"
            ) from None
        gen = torch.Generator().manual_seed(1)
        with torch.no_grad():  # larger weights than at init, so that every mistake shows
            for p in (W1, b1, W2, b2):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
        X = torch.rand(4, 1, 28, 28, generator=gen)
        flat = X.reshape(-1, 784)
        with torch.no_grad():
            expected = torch.relu(flat @ W1 + b1) @ W2 + b2
            try:
                out = _run(task, model, X)
            except _Fail as fail:
                if "cannot be multiplied" in fail.result.message:
                    hint = " Did you flatten the images first, with X.reshape(-1, 784)?"
                    raise _wrong(task, fail.result.message.split("not yet. ", 1)[1] + hint) from None
                raise
            got = _tensor(task, out, expected, what="On images of shape (4, 1, 28, 28) it")
        if torch.allclose(got, expected, atol=1e-4):
            return _correct(task, "It flattens the images, applies W1, b1, ReLU, W2, b2 and returns logits.")
        with torch.no_grad():
            no_relu = (flat @ W1 + b1) @ W2 + b2
            no_bias = torch.relu(flat @ W1) @ W2
        if torch.allclose(got, torch.softmax(expected, dim=1), atol=1e-4):
            why = "It returns probabilities (softmax); return logits, the loss applies the softmax."
        elif torch.allclose(got, no_relu, atol=1e-4):
            why = "There is no ReLU between the layers, so the model collapses to one linear layer."
        elif torch.allclose(got, no_bias, atol=1e-4):
            why = "The biases b1 and b2 are missing."
        else:
            why = (
                f"The logits of the first image are off: expected {_fmt(expected[0, :3])}... "
                f"got {_fmt(got[0, :3])}..."
            )
        raise _wrong(task, why)

    return _guard(task, body)


def check_build_mlp(build_mlp: Any) -> CheckResult:
    """``build_mlp(num_hiddens)`` must return an nn.Module: flatten, hidden layer, ReLU, 10 logits."""
    task = "build_mlp"

    def body() -> CheckResult:
        torch.manual_seed(0)
        net = _run(task, build_mlp, 32)
        if net is None:
            raise _wrong(task, "It returns None: did you forget the `return` statement?")
        if not isinstance(net, nn.Module):
            raise _wrong(
                task, f"It returns a {type(net).__name__}; expected an nn.Module such as nn.Sequential."
            )
        X = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(1))
        try:
            with torch.no_grad():
                out = net(X)
        except Exception as err:
            raise _wrong(
                task,
                f"Running it on images of shape (8, 1, 28, 28) raised {type(err).__name__}: "
                f"{_first_line(err)}",
            ) from None
        if isinstance(out, torch.Tensor) and out.dim() > 2:
            raise _wrong(
                task,
                f"On images of shape (8, 1, 28, 28) it returns shape {tuple(out.shape)}, "
                "expected (8, 10): start with nn.Flatten().",
            )
        out = _tensor(task, out, torch.empty(8, 10), what="On images of shape (8, 1, 28, 28) it")
        n = sum(p.numel() for p in net.parameters())
        want = 784 * 32 + 32 + 32 * 10 + 10
        if n != want:
            raise _wrong(task, f"With 32 hidden units it has {n} parameters, expected {want} (784-32-10).")
        if not any(isinstance(m, nn.ReLU) for m in net.modules()):
            raise _wrong(task, "There is no nn.ReLU between the layers, so it collapses to one linear layer.")
        if torch.allclose(out.sum(dim=1), torch.ones(8), atol=1e-4):
            raise _wrong(task, "Its rows sum to 1: it ends in a softmax. Return logits; the loss applies it.")
        return _correct(task, "Flatten, 784 -> 32 -> ReLU -> 10 logits: the right shape and parameter count.")

    return _guard(task, body)
