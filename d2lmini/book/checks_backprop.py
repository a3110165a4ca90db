"""The checker of the backpropagation exercise: the backward pass of the one-hidden-layer MLP, written by hand.

``backward(X, y, W1, b1, W2, b2)`` returns ``(dW1, db1, dW2, db2)``, the gradients of the mean cross-entropy of
``O = ReLU(X W1 + b1) W2 + b2`` against the labels ``y`` (examples as rows, ``W1`` of shape (inputs, hidden)).
:func:`check_backward` compares them with autograd on five batches chosen so that each usual mistake shows:
sizes that all differ (a transposed gradient has the wrong shape), a square case (where it has the right shape
and only its values tell), dead units and pre-activations exactly 0 (where the ReLU mask matters, and where
``Z >= 0`` differs from ``Z > 0``), a batch of one, and a batch of 256 at the lab's sizes (where summing a bias
over the wrong axis gives the right shape, 256, by coincidence), and the first batch's sizes again with other
values (so that results kept from an earlier call cannot pass). Where CUDA is available, the batch at the lab's
sizes is checked again there, so an answer that makes tensors on the CPU is caught.

The verdict names the first gradient that is off, in the order the backward pass computes them
(``db2``, ``dW2``, ``db1``, ``dW1``), says how (transposed, missing ``1/n``, the mask, the axis of a sum, ...) by
comparing the answer with the results of each known mistake, and lists the other gradients that are off too.
An answer that calls autograd is refused, whatever its values, and whatever goes wrong after the call (an error,
a time-out: the first call of ``torch.func`` can take seconds). Gradients count as equal up to float32 rounding,
or up to the rounding of the matrix products actually in use (TensorFloat-32 on a GPU, if the notebook enabled it),
whichever is larger.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from d2lmini.book.checking import Fail, Forbidden, Trial, checker, expect_tensor, fmt, wrong

__all__ = ["GRADIENTS", "LAB_CASE", "Case", "cases", "check_backward", "hand_backward", "reference_gradients"]

GRADIENTS = ("dW1", "db1", "dW2", "db2")
"""What the answer returns, in this order."""
_BACKWARD_ORDER = ("db2", "dW2", "db1", "dW1")  # the order the backward pass computes them in


@dataclass(frozen=True)
class Case:
    """One batch to check an answer on: ``what`` describes it in messages."""

    what: str
    X: torch.Tensor
    y: torch.Tensor
    W1: torch.Tensor
    b1: torch.Tensor
    W2: torch.Tensor
    b2: torch.Tensor

    def inputs(self) -> tuple[torch.Tensor, ...]:
        return self.X, self.y, self.W1, self.b1, self.W2, self.b2

    def to(self, device: torch.device | str) -> Case:
        moved = (t.to(device) for t in self.inputs())
        return Case(self.what, *moved)

    @property
    def sizes(self) -> dict[str, int]:
        """The batch size and the widths, by the letters the messages use."""
        (n, d), (h, q) = self.X.shape, self.W2.shape
        return {"n": n, "d": d, "h": h, "q": q}


def _random_case(what: str, n: int, d: int, h: int, q: int, seed: int, labels: Sequence[int] | None = None) -> Case:
    """Images-like inputs (in [0, 1], a third of them 0), weights large enough for every mistake to show."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=gen)
    X = X * (torch.rand(n, d, generator=gen) > 1 / 3)
    y = torch.tensor(labels) if labels is not None else torch.randint(0, q, (n,), generator=gen)
    W1 = torch.randn(d, h, generator=gen) / d**0.5
    b1 = 0.5 * torch.randn(h, generator=gen)
    W2 = torch.randn(h, q, generator=gen)
    b2 = 0.5 * torch.randn(q, generator=gen)
    return Case(what, X, y, W1, b1, W2, b2)


def _dead_and_zero_case() -> Case:
    """A batch with two dead units and with pre-activations exactly 0.

    Unit 0 has positive weights and a bias of -100: off on every row, but on for ``X @ W1`` without the bias.
    Unit 1 has zero weights and bias: its pre-activation is exactly 0 on every row (dead too, since ReLU's
    derivative at 0 is 0). Unit 2 reads only input 0, which is 0 on half of the rows: its pre-activation is
    exactly 0 there and positive elsewhere. Units 3 and 4 are ordinary.
    """
    case = _random_case("", n=6, d=5, h=5, q=3, seed=3, labels=[0, 1, 2, 2, 1, 0])
    X, W1, b1 = case.X.clone(), case.W1.clone(), case.b1.clone()
    X[:, 0] = torch.tensor([0.0, 0.7, 0.0, 0.4, 0.0, 0.9])
    W1[:, 0], b1[0] = 1.0, -100.0
    W1[:, 1], b1[1] = 0.0, 0.0
    W1[:, 2], W1[0, 2], b1[2] = 0.0, 1.0, 0.0
    what = "a batch of 6 with two dead units and pre-activations exactly 0"
    return Case(what, X, case.y, W1, b1, case.W2, case.b2)


LAB_CASE = 4
"""The index, in :func:`cases`, of the batch at the lab's sizes (the one checked again on a GPU)."""


def cases() -> list[Case]:
    """The batches of the check, on the CPU, in the order they are tried."""
    return [
        _random_case("a batch of 5 (7 inputs, 6 hidden units, 4 classes)", 5, 7, 6, 4, seed=1, labels=[0, 2, 1, 2, 0]),
        _random_case("a batch of 6 with 6 inputs, 6 hidden units and 6 classes", 6, 6, 6, 6, seed=2),
        _dead_and_zero_case(),
        _random_case("a batch of one (6 inputs, 5 hidden units, 4 classes)", 1, 6, 5, 4, seed=4, labels=[1]),
        _random_case("a batch of 256 at the lab's sizes (784 inputs, 256 hidden units, 10 classes)", 256, 784, 256,
                     10, seed=5),
        _random_case("a second batch of 5 (7 inputs, 6 hidden units, 4 classes), with other values than the first",
                     5, 7, 6, 4, seed=6, labels=[3, 1, 0, 3, 2]),
    ]  # fmt: skip


def reference_gradients(X: torch.Tensor, y: torch.Tensor, *params: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Autograd's ``(dW1, db1, dW2, db2)`` for the mean cross-entropy of the MLP (``torch.relu``: 0 at 0)."""
    leaves = [p.detach().clone().requires_grad_(True) for p in params]
    W1, b1, W2, b2 = leaves
    loss = F.cross_entropy(torch.relu(X @ W1 + b1) @ W2 + b2, y)
    return tuple(g.detach() for g in torch.autograd.grad(loss, leaves))


@dataclass(frozen=True)
class _Way:
    """How to compute each step of the backward pass: the right way, or one of the usual mistakes."""

    activation: str = "ReLU"
    delta: str = "right"
    dW2: str = "right"
    db2: str = "right"
    dH: str = "right"
    mask: str = "Z > 0"
    dW1: str = "right"
    db1: str = "right"


def _one_hot(y: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.one_hot(y, like.shape[1]).to(like.dtype)


def _delta(way: str, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """delta, the gradient of the loss with respect to the logits O, computed the right way or the way ``way`` says."""
    n, q = logits.shape
    P, Y = torch.softmax(logits, dim=1), _one_hot(y, logits)
    return {
        "right": lambda: (P - Y) / n,
        "no 1/n": lambda: P - Y,
        "sign": lambda: (Y - P) / n,
        "logits": lambda: (logits - Y) / n,
        "no one-hot": lambda: P / n,
        "softmax over dim 0": lambda: (torch.softmax(logits, dim=0) - Y) / n,
        "by classes": lambda: (P - Y) / q,
        "log-softmax": lambda: (torch.log_softmax(logits, dim=1) - Y) / n,
        "label values": lambda: (P - y[:, None].to(logits.dtype)) / n,
        "w.r.t. probabilities": lambda: -Y / P / n,
        "softmax diagonal": lambda: -Y * (1 - P) / n,
    }[way]()


def _reduce(way: str, G: torch.Tensor) -> torch.Tensor:
    """A bias gradient from the gradient of the values it is added to: the sum over the rows, or a mistake."""
    return {"right": lambda: G.sum(0), "dim 1": lambda: G.sum(1), "mean": lambda: G.mean(0)}[way]()


def hand_backward(case: Case, way: _Way = _Way()) -> dict[str, torch.Tensor | None]:
    """The four gradients computed by hand, the right way or the way ``way`` says; ``None`` for a gradient that
    the mistake cannot compute here (a product whose shapes do not fit)."""
    X, y, W1, b1, W2, b2 = case.inputs()
    n = len(X)
    Z = X @ W1 + b1
    H = torch.relu(Z) if way.activation == "ReLU" else torch.sigmoid(Z)
    delta = _delta(way.delta, H @ W2 + b2, y)
    grads: dict[str, torch.Tensor | None] = {
        "dW2": (Z if way.dW2 == "Z" else H).T @ delta / (n if way.dW2 == "extra 1/n" else 1),
        "db2": _reduce(way.db2, delta),
    }
    if way.dH == "W2 not transposed" and W2.shape[0] != W2.shape[1]:
        return {**grads, "dW1": None, "db1": None}
    dH = delta @ (W2 if way.dH == "W2 not transposed" else W2.T)
    dZ = {
        "Z > 0": lambda: dH * (Z > 0),
        "sigmoid's": lambda: dH * H * (1 - H),
        "none": lambda: dH,
        "Z >= 0": lambda: dH * (Z >= 0),
        "times H": lambda: dH * H,
        "times Z": lambda: dH * Z,
        "no bias": lambda: dH * (X @ W1 > 0),
        "gradient sign": lambda: dH * (dH > 0),
        "sign of Z": lambda: dH * torch.sign(Z),
        "half at 0": lambda: dH * torch.heaviside(Z, torch.full_like(Z, 0.5)),
    }[way.mask]()
    grads["dW1"] = X.T @ dZ / (n if way.dW1 == "extra 1/n" else 1)
    grads["db1"] = _reduce(way.db1, dZ)
    return grads


_ONE_OVER_N = "The loss is the mean over the n examples, so delta = (softmax(O) - onehot(y)) / n"

# Each usual mistake: how it computes the gradients, and what to tell the reader who made it. Tried in this order;
# the first whose results match the answer's wrong gradient names the mistake.
_MISTAKES: tuple[tuple[_Way, str], ...] = (
    (_Way(activation="sigmoid", mask="sigmoid's"), "it uses the sigmoid as the activation; this network's hidden "
     "layer is a ReLU: H = relu(Z), and dZ = dH * (Z > 0)."),
    (_Way(delta="no 1/n"), f"it is n = {{n}} times too large. {_ONE_OVER_N}, and the 1/n carries into every gradient."),
    (_Way(delta="sign"), "it has the wrong sign: delta = softmax(O) - onehot(y), not onehot(y) - softmax(O). (SGD "
     "subtracts the gradient; the gradient itself points uphill.)"),
    (_Way(delta="logits"), "delta uses the logits O where it needs the probabilities softmax(O): "
     "delta = (softmax(O) - onehot(y)) / n."),
    (_Way(delta="log-softmax"), "delta uses log-probabilities (log_softmax) where it needs the probabilities "
     "softmax(O) themselves."),
    (_Way(delta="no one-hot"), "delta = softmax(O) / n leaves out the labels: subtract onehot(y), the matrix with a 1 "
     "in column y[i] of row i."),
    (_Way(delta="label values"), "it subtracts the label values y[i] from every column; subtract the one-hot matrix "
     "instead (a 1 in column y[i] of row i, 0 elsewhere), e.g. F.one_hot(y, num_classes).to(O.dtype)."),
    (_Way(delta="softmax over dim 0"), "the softmax runs over the batch (dim=0); each row is one example, so "
     "normalise each row: torch.softmax(O, dim=1)."),
    (_Way(delta="by classes"), "delta is divided by the number of classes q = {q}; the loss is the mean over the "
     "n = {n} examples, so divide by n."),
    (_Way(delta="w.r.t. probabilities"), "that is the gradient with respect to the probabilities P, -onehot(y) / P / "
     "n; the softmax stands between P and O, and the two together give delta = (P - onehot(y)) / n."),
    (_Way(delta="softmax diagonal"), "it keeps only the diagonal of the softmax's derivative, p(1 - p): each logit "
     "changes every probability of its row (dp_j/do_k = -p_j p_k for j != k), and with those terms the chain rule "
     "gives delta = (softmax(O) - onehot(y)) / n."),
    (_Way(dW2="Z"), "it uses Z, the pre-activations; the output layer multiplies H = ReLU(Z), so dW2 = H.T @ delta."),
    (_Way(dW2="extra 1/n"), "it is divided by n = {n} once too often: delta already carries the 1/n of the mean."),
    (_Way(db2="dim 1"), "it sums delta over the classes (dim=1). b2 is added to every row of O, so its gradient sums "
     "delta over the rows, the examples: delta.sum(dim=0)."),
    (_Way(db2="mean"), "it averages delta over the rows; delta already carries the 1/n of the mean loss, so sum the "
     "rows: delta.sum(dim=0)."),
    (_Way(dH="W2 not transposed"), "the gradient reaching H is delta @ W2.T: O = H @ W2, so going back from O to H "
     "multiplies by W2 transposed (delta @ W2 only fits when W2 is square, as here)."),
    (_Way(mask="none"), "it has no ReLU derivative: dZ = dH * (Z > 0), zero where the unit was off. (A mask such as "
     "H >= 0 is true everywhere and masks nothing.)"),
    (_Way(mask="Z >= 0"), "it passes gradient where a pre-activation is exactly 0. ReLU has no derivative at 0, and "
     "PyTorch (and this exercise) takes it to be 0 there: use Z > 0 (or H > 0), not Z >= 0."),
    (_Way(mask="times H"), "it multiplies dH by H = ReLU(Z), the activation itself; ReLU's derivative is the 0/1 mask "
     "(Z > 0): dZ = dH * (Z > 0)."),
    (_Way(mask="times Z"), "it multiplies dH by Z; ReLU's derivative is the 0/1 mask (Z > 0): dZ = dH * (Z > 0)."),
    (_Way(mask="no bias"), "its mask leaves out b1: the pre-activation is Z = X @ W1 + b1, and the mask is Z > 0."),
    (_Way(mask="gradient sign"), "its mask comes from the sign of the gradient; it must come from the forward pass: "
     "Z > 0, where the unit was on."),
    (_Way(mask="sign of Z"), "it multiplies dH by torch.sign(Z), which is -1 where Z < 0; ReLU's derivative is 0 "
     "there, not -1: dZ = dH * (Z > 0)."),
    (_Way(mask="half at 0"), "it passes half the gradient where a pre-activation is exactly 0. PyTorch (and this "
     "exercise) takes ReLU's derivative at 0 to be 0: dZ = dH * (Z > 0)."),
    (_Way(dW1="extra 1/n"), "it is divided by n = {n} once too often: delta already carries the 1/n of the mean."),
    (_Way(db1="dim 1"), "it sums dZ over the hidden units (dim=1). b1 is added to every row of Z, so its gradient "
     "sums dZ over the rows, the examples: dZ.sum(dim=0)."),
    (_Way(db1="mean"), "it averages dZ over the rows; delta already carries the 1/n of the mean loss, so sum the rows: "
     "dZ.sum(dim=0)."),
)

_NO_AUTOGRAD = Forbidden(
    said="autograd (loss.backward(), torch.autograd.grad or torch.func)",
    instead="compute the four gradients from the formulas of the chapter, with matrix products, a mask and sums.",
    torch_names=frozenset({"backward", "grad"}),
    functions=(
        torch.autograd.grad,
        torch.autograd.backward,
        torch.Tensor.backward,
        torch.func.grad,
        torch.func.grad_and_value,
        torch.func.vjp,
        torch.func.jacrev,
        torch.func.jacfwd,
        torch.autograd.functional.vjp,
        torch.autograd.functional.jacobian,
    ),
)


def _devices() -> list[torch.device]:
    """Where the check runs the answer: the CPU, and CUDA too where a GPU is available."""
    return [torch.device("cpu"), *([torch.device("cuda")] if torch.cuda.is_available() else [])]


_RTOL = 1e-4
"""Gradients agree if they differ by at most this, relative to the largest entry (float32 rounding, with room)."""


def _close(got: torch.Tensor, want: torch.Tensor, rtol: float = _RTOL) -> bool:
    """Equal up to rounding, ``rtol`` relative to the largest entry of ``want``."""
    if got.shape != want.shape:
        return False
    scale = float(want.abs().max()) if want.numel() else 0.0
    return bool((got - want).abs().max() <= 1e-7 + rtol * scale) if got.numel() else True


def _tolerance(case: Case, want: dict[str, torch.Tensor]) -> dict[str, float]:
    """The relative tolerance of each gradient on ``case``: :data:`_RTOL`, or more where the products in use round more.

    A notebook may have switched on TensorFloat-32 for a GPU's float32 products (10-bit mantissas); a right answer
    computed with them differs from autograd's by far more than float32's rounding (on an H200, with TF32 on,
    autograd's own float32 gradients at the lab's sizes differ from float64 ones by up to about 1e-2 of their largest
    entry). Rather than change the global setting (PyTorch raises if its old and new APIs for it are mixed), the
    check measures, gradient by gradient, how far autograd's float32 results lie from float64 ones on this case, and
    allows several times that.
    """
    exact = reference_gradients(*(t.double() if t.is_floating_point() else t for t in case.inputs()))
    tolerance = {}
    for name, g in zip(GRADIENTS, exact, strict=True):
        rounding = float((want[name] - g).abs().max() / g.abs().max())
        tolerance[name] = max(_RTOL, 8 * rounding)
    return tolerance


def _shape_names(sizes: dict[str, int]) -> dict[tuple[int, ...], str]:
    """What a matrix of each shape is in the backward pass, for the shapes that only one thing has here."""
    n, d, h, q = sizes["n"], sizes["d"], sizes["h"], sizes["q"]
    names = {
        (n, d): "X", (d, n): "X.T", (d, h): "W1", (h, d): "W1.T", (n, h): "Z, H, dH or dZ", (h, n): "H.T or dZ.T",
        (h, q): "W2", (q, h): "W2.T", (n, q): "O, P or delta", (q, n): "delta.T",
    }  # fmt: skip
    shapes = [(n, d), (d, n), (d, h), (h, d), (n, h), (h, n), (h, q), (q, h), (n, q), (q, n)]
    return {shape: name for shape, name in names.items() if shapes.count(shape) == 1}


def _shape_hint(name: str, got: tuple[int, ...], want: tuple[int, ...], sizes: dict[str, int]) -> str:
    """Why ``name`` may have come out with shape ``got`` instead of ``want`` (empty if no reason is known)."""
    n, d, h, q = sizes["n"], sizes["d"], sizes["h"], sizes["q"]
    parameter = name[1:]
    if len(want) == 2 and got == want[::-1]:
        product = "H.T @ delta" if name == "dW2" else "X.T @ dZ"
        return (
            f" That is the transpose: a gradient has its parameter's shape, {want} like {parameter}, so "
            f"{name} = {product}."
        )
    if name == "dW1" and got == (h, h) and d != h:
        return " That is the shape of H.T @ dZ; the first layer's input is X, so dW1 = X.T @ dZ."
    if name == "dW2" and got == (d, q) and d != h:
        return " That is the shape of X.T @ delta; the output layer's input is H, so dW2 = H.T @ delta."
    if len(want) == 1:
        rows = "delta" if name == "db2" else "dZ"
        if got == (1, *want):
            return (
                f" keepdim=True keeps a row of shape (1, {want[0]}); the bias {parameter} has shape {want}, and its "
                "gradient must too (an SGD step with a (1, k) gradient would turn the bias into a matrix)."
            )
        if got == ():
            return f" It sums every entry into one number; sum over the rows only: {rows}.sum(dim=0)."
        if got == (n,):
            return (
                f" That is one number per example: it sums over the wrong axis. The bias is added to every row, so "
                f"sum over the rows: {rows}.sum(dim=0)."
            )
        if got == (n, *want):
            return f" That is one row per example: sum them, {rows}.sum(dim=0)."
    return ""


def _earlier_results(
    got: Any, case: Case, want: dict[str, torch.Tensor], rtol: dict[str, float], earlier: list
) -> str | None:
    """The batch whose results the answer returns again for ``case`` (kept from an earlier call), if it does."""
    if not isinstance(got, tuple | list):
        return None
    for what, returned in earlier:
        if what == case.what:  # the same batch on another device: the same values are right
            continue
        for value in got:
            for old in returned:
                same = value is old or (
                    isinstance(value, torch.Tensor) and value.shape == old.shape and value.device == old.device
                    and value.dtype == old.dtype and torch.equal(value.detach(), old)
                )  # fmt: skip
                right = any(
                    isinstance(value, torch.Tensor) and value.shape == w.shape and value.device == w.device
                    and _close(value.detach(), w, rtol[name]) for name, w in want.items()
                )  # fmt: skip
                if same and not right:
                    return what
    return None


def _expect_four(got: Any, case: Case, want: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The answer's four gradients by name, after checking that they are tensors of the right kind and shape."""
    if got is None:
        raise wrong("It returns None: did you forget the `return` statement?")
    if isinstance(got, dict):
        raise wrong("It returns a dict; return the four gradients as a tuple: `return dW1, db1, dW2, db2`.")
    if not isinstance(got, tuple | list):
        raise wrong(
            f"It returns a value of type {type(got).__name__}; return four tensors: `return dW1, db1, dW2, db2`."
        )
    if len(got) != 4:
        raise wrong(f"It returns {len(got)} values; return four: `return dW1, db1, dW2, db2`.")
    shapes = [tuple(t.shape) if isinstance(t, torch.Tensor) else None for t in got]
    wanted = [tuple(want[name].shape) for name in GRADIENTS]
    if shapes != wanted and sorted(map(str, shapes)) == sorted(map(str, wanted)):
        raise wrong(
            f"On {case.what} it returns tensors of shapes {shapes}, those of the four gradients in another order: "
            "return them as dW1, db1, dW2, db2."
        )
    answer = dict(zip(GRADIENTS, got, strict=True))
    for name, value in answer.items():
        if not isinstance(value, torch.Tensor):
            kind = "None" if value is None else f"a {type(value).__module__}.{type(value).__name__}"
            raise wrong(f"On {case.what}, {name} is {kind}; return four torch tensors: dW1, db1, dW2, db2.")
    for name in _BACKWARD_ORDER:
        value = answer[name]
        if value.device != want[name].device:
            raise wrong(
                f"On {case.what}, {name} is on {value.device}, but the inputs are on {want[name].device}: make every "
                "new tensor on the inputs' device (torch.zeros_like(Z), F.one_hot(y, q), or device=X.device)."
            )
        if value.shape != want[name].shape:
            hint = _shape_hint(name, tuple(value.shape), tuple(want[name].shape), case.sizes)
            raise wrong(
                f"On {case.what}, {name} has shape {tuple(value.shape)}, expected {tuple(want[name].shape)}.{hint}"
            )
        if value.dtype != want[name].dtype and value.dtype.is_floating_point:
            raise wrong(
                f"On {case.what}, {name} has dtype {value.dtype}, expected {want[name].dtype}, that of the inputs. A "
                "tensor made with another dtype (torch.eye(q, dtype=torch.float64), a NumPy array, .double()) turns "
                "every result it touches into its dtype: make new tensors from the inputs, or convert with "
                ".to(X.dtype)."
            )
        checked = expect_tensor(value, want[name], what=f"On {case.what}, {name}", dtype_from="that of the inputs")
        if value.requires_grad and value.grad_fn is None:
            raise wrong(
                f"On {case.what}, {name} requires grad: it is a tensor made to learn (an nn.Parameter, or "
                "requires_grad=True). A gradient is plain data: return the tensor itself, without wrapping it."
            )
        if value.requires_grad:
            raise wrong(
                f"On {case.what}, {name} requires grad: it is part of an autograd graph. Compute the gradients by "
                "hand from the inputs, which need no gradient, and return plain tensors."
            )
        if not torch.isfinite(checked).all():
            raise wrong(
                f"On {case.what}, {name} holds NaN or infinity. Compute softmax stably (torch.softmax, or subtract "
                "each row's maximum before exp)."
            )
        answer[name] = checked
    return answer


def _factor_of(factor: float, sizes: dict[str, int]) -> str | None:
    """What a wrong gradient that is ``factor`` times the right one divides or multiplies by, if it is a usual slip."""
    n, d, q = sizes["n"], sizes["d"], sizes["q"]
    known = {
        n: f"n = {n} times the right gradient. {_ONE_OVER_N}.",
        1 / n: f"1/n = 1/{n} times the right gradient, as if it divided by n once too often.",
        -1: "minus the right gradient: delta = softmax(O) - onehot(y), not onehot(y) - softmax(O).",
        2: "2 times the right gradient. A squared error's gradient has a factor 2; the cross-entropy's has none: "
        "delta = (softmax(O) - onehot(y)) / n.",
        n / d: f"n/d times the right gradient, as if it divided by d = {d}, the number of inputs (X.shape[1]), "
        f"instead of the number of examples, n = X.shape[0] = {n}.",
        1 / d: f"1/d times the right gradient, as if it divided by n * d = {n * d} (X.numel()) instead of the number "
        f"of examples, n = len(X) = {n}.",
        1 / q: f"1/q times the right gradient, as if it divided by n * q = {n * q}, the number of entries of O (a mean "
        f"over every entry); the loss is the mean over the n = {n} examples only, so divide by n.",
        n / 256: f"n/256 times the right gradient, as if it divided by 256, the lab's batch size; this batch has "
        f"n = {n} examples, so divide by len(X).",
    }
    return next((text for value, text in known.items() if abs(factor - value) <= 1e-3 * abs(value)), None)


def _explain(name: str, got: torch.Tensor, want: torch.Tensor, case: Case, rtol: float = _RTOL) -> str:
    """How the wrong gradient ``got`` differs from ``want``: a known mistake, or where and by how much."""
    sizes = case.sizes
    product = "H.T @ delta" if name == "dW2" else "X.T @ dZ"
    if want.dim() == 2 and want.shape[0] == want.shape[1] and _close(got, want.T, rtol):
        return f"it is the transpose of the right gradient (its shape is right only because it is square): {product}."
    if want.dim() == 2 and _close(got, want.T.reshape(want.shape), rtol):
        return (
            "it holds the entries of the transposed gradient, reshaped: reshape (or view) keeps the entries in their "
            f"order and does not transpose. Compute the gradient with its own shape: {product}."
        )
    for way, message in _MISTAKES:
        mistaken = hand_backward(case, way)[name]
        if mistaken is not None and not _close(mistaken, want, rtol) and _close(got, mistaken, rtol):
            return message.format(**sizes)
    flat_got, flat_want = got.reshape(-1).double(), want.reshape(-1).double()
    factor = float(flat_got @ flat_want / (flat_want @ flat_want)) if bool(flat_want.any()) else 0.0
    if factor and _close(got, factor * want, rtol):
        return f"it is {_factor_of(factor, sizes) or fmt(factor) + ' times the right gradient.'}"
    bad = (got - want).abs() > 1e-7 + rtol * float(want.abs().max())
    index = tuple(bad.nonzero()[0].tolist())
    where = f"at index {list(index)}" if index else ""
    return (
        f"{where} it is {fmt(got[index])} where autograd gives {fmt(want[index])} ({int(bad.sum())} of "
        f"{bad.numel()} values are off)."
    ).lstrip()


_PRODUCT = re.compile(r"cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)")
_SIZES = re.compile(r"size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\)")
_LAB_SIZES = (784, 256, 10)

# What to write instead of a product whose factors do not fit, by the names of its factors (see _shape_names).
_PRODUCT_FIXES = {
    ("X", "W1.T"): "In the book's convention W1 is already (d, h), inputs by hidden units: the forward pass is "
    "Z = X @ W1, with no transpose (only nn.Linear's .weight stores W.T).",
    ("H.T or dZ.T", "W2.T"): "In the book's convention W2 is already (h, q): the forward pass is O = H @ W2.",
    ("Z, H, dH or dZ", "W2.T"): "In the book's convention W2 is already (h, q): the forward pass is O = H @ W2.",
    ("X", "Z, H, dH or dZ"): "A weight's gradient multiplies the layer's input, transposed, by the gradient of its "
    "output: dW1 = X.T @ dZ.",
    ("Z, H, dH or dZ", "O, P or delta"): "A weight's gradient multiplies the layer's input, transposed, by the "
    "gradient of its output: dW2 = H.T @ delta.",
    ("O, P or delta", "W2"): "Going back through O = H @ W2 multiplies by W2 transposed: dH = delta @ W2.T.",
    ("Z, H, dH or dZ", "W1"): "dZ stops at the first layer: dW1 = X.T @ dZ, and X needs no gradient.",
}


def _error_hint(error: BaseException | None, case: Case) -> str:
    """What an error raised by the answer on ``case`` says about its code (empty if nothing specific is known)."""
    text = str(error) if error is not None else ""
    sizes = case.sizes
    n, d, h, q = sizes["n"], sizes["d"], sizes["h"], sizes["q"]
    numbers = {int(s) for s in re.findall(r"\d+", text)}
    lab = sorted(set(_LAB_SIZES) & numbers - set(sizes.values()), reverse=True)
    if lab:
        return (
            f" The check also tries other sizes than the lab's: here n, d, h, q = {n}, {d}, {h}, {q}, and the error "
            f"mentions {' and '.join(map(str, lab))}. Take every size from the inputs (len(X), X.shape[1], "
            "W1.shape[1], W2.shape[1]) rather than writing 784, 256 or 10."
        )
    found = _PRODUCT.search(text)
    if found:
        a, b, c, e = map(int, found.groups())
        names = _shape_names(sizes)
        left, right = names.get((a, b)), names.get((c, e))
        factors = f" It multiplies a {a}×{b} matrix ({left or 'unknown'}) by a {c}×{e} one ({right or 'unknown'})."
        fix = _PRODUCT_FIXES.get((left, right), "") if left and right else ""
        return (
            (factors if left or right else "")
            + (f" {fix}" if fix else
               f" Write down each factor's shape: with n examples, d inputs, h hidden units and q classes (here {n}, "
               f"{d}, {h}, {q}), X is (n, d), W1 (d, h), Z, H and dZ (n, h), W2 (h, q) and delta (n, q); each "
               "gradient has its parameter's shape, and going back through a product X @ W multiplies by W.T.")
        )  # fmt: skip
    if "device" in text or "CUDA" in text:
        return (
            " Make every new tensor on the inputs' device: torch.zeros_like(Z), F.one_hot(y, num_classes), or "
            "torch.eye(q, device=X.device), not torch.eye(q) or .cuda()."
        )
    if "dtype" in text or "scalar type" in text:
        return (
            " A tensor of another dtype than the inputs' (.double(), torch.float64, a NumPy array) meets one of them: "
            "make new tensors from the inputs, or convert with .to(X.dtype)."
        )
    found = _SIZES.search(text)
    columns = max(case.y.tolist()) + 1
    if found and {q, columns} == {int(found[1]), int(found[2])} and columns < q:
        return (
            f" A one-hot matrix with max(y) + 1 = {columns} columns (what F.one_hot(y) makes without num_classes) has "
            f"fewer than the {q} classes when the batch lacks the last class: pass the number of classes, "
            f"F.one_hot(y, num_classes={q}) (or O.shape[1])."
        )
    return ""


def _first_cublas_use_silenced(device: torch.device) -> None:
    """Use cuBLAS once from a thread of its own, its one-time warning silenced.

    The check runs the answer in a worker thread, which has no current CUDA context; the first cuBLAS call in such a
    thread makes PyTorch warn once per process ("Attempting to run cuBLAS, but there was no current CUDA context!").
    Printed while the answer runs, the warning would be reported as the reader's output; set off here, it is not.
    """
    if device.type != "cuda":
        return

    def first_use() -> None:
        # A GPU that fails here fails again when the answer runs there, and gets a verdict then.
        with warnings.catch_warnings(), suppress(Exception):
            warnings.filterwarnings("ignore", message="Attempting to run cuBLAS")
            torch.cuda.current_blas_handle()

    thread = threading.Thread(target=first_use, name="d2lmini-check-cublas")
    thread.start()
    thread.join()


@contextmanager
def _default_dtype_kept() -> Iterator[None]:
    """Restore PyTorch's default dtype, which an answer could change for the whole notebook."""
    dtype = torch.get_default_dtype()
    try:
        yield
    finally:
        torch.set_default_dtype(dtype)


def _judge(backward: Callable[..., Any], trial: Trial, case: Case, where: str, earlier: list) -> None:
    """Run the answer on ``case`` and raise :func:`wrong` if any of its four gradients is off.

    ``earlier`` holds ``(case.what, tensors)`` for each earlier call; this call's results are added to it.
    """
    want = dict(zip(GRADIENTS, reference_gradients(*case.inputs()), strict=True))
    rtol = _tolerance(case, want)
    inputs = [t.clone() for t in case.inputs()]
    try:
        got = trial.call(backward, *inputs, forbid=_NO_AUTOGRAD)
    except Fail as fail:
        if fail.status != "wrong":
            raise
        raise wrong(f"On {case.what}{where}: {fail.why}{_error_hint(fail.error, case)}", fail.error) from None
    again = _earlier_results(got, case, want, rtol, earlier)
    if again is not None:
        raise wrong(
            f"On {case.what}{where}, it returns a result it already returned for {again}. Compute every gradient "
            "from this call's inputs, and keep nothing from one call to the next."
        )
    if isinstance(got, tuple | list):
        earlier.append((case.what, [t.detach() for t in got if isinstance(t, torch.Tensor)]))
    answer = _expect_four(got, case, want)
    off = [name for name in _BACKWARD_ORDER if not _close(answer[name], want[name], rtol[name])]
    if off:
        first = off[0]
        why = f"On {case.what}{where}, {first} is off: {_explain(first, answer[first], want[first], case, rtol[first])}"
        if len(off) > 1:
            why += f" Also off: {', '.join(off[1:])}."
        raise wrong(why)


@checker("backward", example="check_backward(backward)")
def check_backward(backward: Callable[..., Any], trial: Trial) -> str:
    """``backward(X, y, W1, b1, W2, b2)`` must return autograd's ``(dW1, db1, dW2, db2)`` without autograd."""
    with _default_dtype_kept():
        every, earlier = cases(), []
        try:
            for case in every:
                _judge(backward, trial, case, "", earlier)
            for device in _devices()[1:]:
                _first_cublas_use_silenced(device)
                _judge(backward, trial, every[LAB_CASE].to(device), f", on {device.type}", earlier)
        except Fail as fail:
            if fail.status == "wrong" and trial.forbidden_seen:  # autograd is the problem, whatever followed
                raise wrong(
                    f"It calls {_NO_AUTOGRAD.said}, which this exercise asks you not to use: {_NO_AUTOGRAD.instead}"
                ) from None
            raise
    return (
        "All four gradients agree with autograd on six batches, among them dead units, pre-activations exactly 0, "
        "a batch of one and a batch of 256 at the lab's sizes."
    )
