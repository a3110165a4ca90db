"""The checkers of the exercises on generalization: dropout, weight decay, and choosing a setting on validation.

- :func:`check_dropout` judges ``dropout(X, p, training)``, inverted dropout written from scratch. It draws on
  100,000 elements, so it can tell the real mistakes apart by what they do: survivors not divided by ``1 - p``,
  scaling at evaluation, ``p`` taken as the probability of keeping, one mask shared by all rows (or a whole row
  dropped at once, or one random number for the whole tensor), a mask that ignores ``p``, dropping in evaluation,
  the same mask on two calls (a generator seeded inside, a mask drawn once and reused), a mask made on the CPU
  (torch or NumPy) or put on 'cuda' whatever the input's device, a mask of two dimensions only, NaN at ``p = 1``,
  an input changed in place, a result cut off from the gradient.
- :func:`check_weight_decay` judges ``add_weight_decay(model, weight_decay)``, which adds ``weight_decay * W``
  to the gradient of every weight matrix: it names a wrong factor (``2λ``, ``λ/2``, ``λ`` times a learning rate, a
  fixed number), the wrong sign, the gradient of another penalty (L1, the norm, the penalty's value), decayed
  biases, weights picked by name or by layer instead of by shape, a crash on a frozen parameter, a gradient
  replaced instead of added to, new gradients returned instead of stored, and weights changed directly.
- :func:`check_choose_weight_decay` judges an experiment that trains one model per weight decay and chooses one
  on the validation set: the results must be plausible and the protocol right (a fresh model per setting, the
  same number of epochs for each, the decay reaching the model and its optimizer, the final models rather than
  kept best epochs, no look at the test set, the choice made on the final validation accuracy rather than the
  training accuracy, the loss, the gap or the best epoch). It keeps what the experiment returned in
  ``check_choose_weight_decay.results``, so the histories can be drawn without training again.

The machinery (time limits, captured output, random state, messages) is :mod:`d2lmini.book.checking`.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from d2lmini.book.checking import Fail, Forbidden, Trial, checker, expect_tensor, fmt, wrong
from d2lmini.book.experiment_checks import _as_number, experiment_checker
from d2lmini.history import History

__all__ = ["WEIGHT_DECAYS", "check_choose_weight_decay", "check_dropout", "check_weight_decay"]

# ---------------------------------------------------------------------------
# Dropout from scratch

_NO_DROPOUT = Forbidden(
    said="PyTorch's dropout (F.dropout, nn.Dropout or torch.dropout)",
    instead="draw the mask yourself, e.g. torch.rand_like(X) >= p, and divide the survivors by 1 - p.",
    torch_names=frozenset({"dropout", "dropout_", "feature_dropout", "feature_dropout_", "alpha_dropout",
                           "native_dropout"}),
)  # fmt: skip

_ROWS, _COLUMNS = 400, 250  # 100,000 elements: the share of dropped ones is within 0.002 of p (one SE)


def _large_input() -> torch.Tensor:
    """Values between 1 and 2, none zero, the same on every check (a private generator)."""
    return 1 + torch.rand(_ROWS, _COLUMNS, generator=torch.Generator().manual_seed(2024))


_SMALL = torch.tensor([[0.5, -1.25, 2.0, 3.5, -0.75], [1.5, 0.25, -2.5, 4.0, 1.0], [-3.0, 2.25, 0.75, -1.5, 5.0]],
                      dtype=torch.float64)  # fmt: skip


def _takes_three(dropout: Callable[..., Any]) -> None:
    try:
        inspect.signature(dropout).bind(_SMALL, 0.5, True)
    except TypeError:
        raise wrong(
            f"dropout must take three arguments, dropout(X, p, training); yours takes "
            f"({', '.join(inspect.signature(dropout).parameters)})."
        ) from None
    except ValueError:  # no signature to read (a builtin): let the calls tell
        pass


def _call(dropout: Callable[..., Any], trial: Trial, X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """One call of the answer on a copy of X; its result checked for type, shape, dtype and device."""
    try:
        got = trial.call(dropout, X.clone(), p, training, forbid=_NO_DROPOUT)
    except Fail as fail:
        if fail.error is not None and "cuda" in str(fail.error).lower():
            raise wrong(
                f"{fail.why} It puts a tensor on the GPU ('cuda') whatever X's device, so it fails when X is on the "
                "CPU, as here (or on a computer without a GPU). Make the mask where X is: torch.rand_like(X), or "
                "torch.rand(X.shape, device=X.device)."
            ) from None
        raise
    if trial.take_mutated():
        raise wrong(
            f"It changes X in place (with p = {p}, training={training}): in a network that would change the layer "
            "below's output, which autograd needs for the backward pass. Build a new tensor, e.g. X * mask / (1 - p)."
        )
    if isinstance(got, tuple | list):
        raise wrong(f"It returns a {type(got).__name__} of {len(got)} values; return only the output tensor.")
    return expect_tensor(got, X, what=f"With p = {p} and training={training} it")


def _judge_evaluation(got: torch.Tensor, X: torch.Tensor, p: float, drops_nothing_in_training: bool) -> None:
    if torch.equal(got, X):
        return
    if drops_nothing_in_training and (got == 0).any():
        raise wrong(
            "It drops elements with training=False and none with training=True: the `training` flag is read the "
            "wrong way round. Drop only when training is True."
        )
    if torch.allclose(got, X * (1 - p)):
        raise wrong(
            f"With training=False it multiplies X by 1 - p = {1 - p:g}. That is the original dropout's rule for "
            "evaluation; inverted dropout does all its scaling in training (dividing the survivors by 1 - p), so "
            "in evaluation it returns X unchanged."
        )
    if torch.allclose(got, X / (1 - p)):
        raise wrong(
            f"With training=False it divides X by 1 - p = {1 - p:g}; in evaluation nothing is dropped and nothing "
            "is scaled: return X unchanged. (The division by 1 - p belongs to training only.)"
        )
    if ((got == 0) & (X != 0)).any():
        raise wrong(
            "With training=False it sets some elements to 0: in evaluation (model.eval()) dropout is switched off. "
            "Return X unchanged when training is False."
        )
    raise wrong(f"With training=False it should return X unchanged; at X = {fmt(X[0])} it returns {fmt(got[0])}.")


def _scale_hint(ratio: float, p: float) -> str:
    """Why the survivors' factor ``ratio`` is not 1 / (1 - p), for the common mistakes."""
    keep = 1 - p
    if math.isclose(ratio, 1, rel_tol=1e-3):
        return (f"The survivors keep their values: divide them by 1 - p = {keep:g}. Without it the output's "
                f"expected value is (1 - p)·X = {keep:g}·X, not X.")  # fmt: skip
    if math.isclose(ratio, keep, rel_tol=1e-3):
        return f"It multiplies the survivors by 1 - p = {keep:g}; divide them by it instead."
    if math.isclose(ratio, 1 / p, rel_tol=1e-3):
        return (f"It divides the survivors by p = {p:g}. They are the elements kept, with probability 1 - p, so "
                f"divide them by 1 - p = {keep:g}.")  # fmt: skip
    if math.isclose(ratio, p, rel_tol=1e-3):
        return f"It multiplies the survivors by p = {p:g}; divide them by 1 - p = {keep:g} instead."
    return f"Every survivor should be divided by 1 - p = {keep:g}, that is multiplied by {1 / keep:.4g}."


_ONE_NUMBER = ("Is its mask one random number for the whole tensor (torch.rand(1), torch.bernoulli(torch.tensor(1 - "
               "p)))? Draw one per element: torch.rand_like(X) >= p.")  # fmt: skip


def _judge_some_dropped(got: torch.Tensor, X: torch.Tensor, p: float) -> None:
    """A training-mode output of the large input must drop some elements and keep others."""
    share = (got == 0).float().mean().item()
    where = f"With p = {p:g} and training=True"
    if share == 0:
        if torch.equal(got, X):
            raise wrong(f"{where} it returns X unchanged: nothing is dropped. Drop each element with probability p "
                        "when training is True.")  # fmt: skip
        if torch.allclose(got, X / (1 - p)):
            raise wrong(f"{where} it keeps every element and divides it by 1 - p: on this call its mask is all ones. "
                        + _ONE_NUMBER)  # fmt: skip
        raise wrong(f"{where} it drops no element at all: each element should be set to 0 with probability p.")
    if share == 1:
        raise wrong(f"{where} it sets every element to 0; each should be dropped with probability p = {p:g} only. "
                    + _ONE_NUMBER)  # fmt: skip


def _judge_fresh_masks(calls: list[tuple[float, torch.Tensor]]) -> None:
    """Every call must draw a new mask: no two calls may drop exactly the same elements."""
    ordinal = ("first", "second", "third", "fourth")
    for j in range(len(calls)):
        for i in range(j):
            if torch.equal(calls[i][1] == 0, calls[j][1] == 0):
                (p_i, _), (p_j, _) = calls[i], calls[j]
                which = (f"the {ordinal[i]} and the {ordinal[j]}, both with p = {p_i:g}" if p_i == p_j else
                         f"the {ordinal[i]} with p = {p_i:g} and the {ordinal[j]} with p = {p_j:g}")  # fmt: skip
                raise wrong(
                    f"It drops exactly the same elements on two calls ({which}): the mask is not drawn anew. Does it "
                    "seed a generator (torch.manual_seed) inside, or draw a mask once and reuse it? Each call must "
                    "draw a new mask, or the same units are dropped at every step of training."
                )


def _judge_training(got: torch.Tensor, X: torch.Tensor, p: float) -> None:
    """Check one training-mode output of the large input (some elements dropped and some kept, see above)."""
    dropped = got == 0
    share = dropped.float().mean().item()
    where = f"With p = {p:g} and training=True"
    if (dropped == dropped[0]).all():
        raise wrong(
            f"{where} it drops the same elements in every row: one mask shared by the whole batch. Every example "
            "needs its own mask: draw one random number per element, a mask of X's full shape (torch.rand_like(X))."
        )
    if (dropped.all(dim=1) | (~dropped).all(dim=1)).all():
        raise wrong(
            f"{where} it drops whole rows (examples) at once: draw one random number per element, a mask of X's "
            "full shape (torch.rand_like(X)), not one per row."
        )
    if abs(share - (1 - p)) < 0.01:
        raise wrong(
            f"{where} it drops {share:.3f} of the elements, about 1 - p: it treats p as the probability of keeping "
            "an element. p is the probability of dropping one, so keep an element where torch.rand_like(X) >= p."
        )
    if abs(share - p) > 0.01:
        normal = 0.5 * (1 + math.erf(p / math.sqrt(2)))  # the share below p of a standard normal law
        hint = (" That is the share of a standard normal law below p: the mask needs torch.rand (uniform in [0, 1)), "
                "not torch.randn." if abs(share - normal) < 0.01 else "")  # fmt: skip
        if not hint and abs(share - 0.5) < 0.01:
            hint = (" That is half of them, whatever p: does the mask ignore p (torch.randint(0, 2, ...) is a coin "
                    "flip; or a mask drawn for p = 0.5)?")  # fmt: skip
        raise wrong(f"{where} it drops {share:.3f} of the elements; expected about {p:g} of them.{hint}")
    ratio = got[~dropped] / X[~dropped]
    if not torch.allclose(ratio, torch.full_like(ratio, 1 / (1 - p)), rtol=1e-4):
        spread = ratio.max() - ratio.min()
        if spread > 1e-3 * ratio.abs().max():
            raise wrong(f"{where} it multiplies the survivors by different factors, from {ratio.min():.4g} to "
                        f"{ratio.max():.4g}: divide every survivor by the same 1 - p = {1 - p:g}.")  # fmt: skip
        raise wrong(f"{where} it multiplies the survivors by {ratio.mean():.4g}. {_scale_hint(ratio.mean().item(), p)}")
    mean_ratio = (got.mean() / X.mean()).item()
    if abs(mean_ratio - 1) > 0.02:  # a net effect the checks above did not name
        raise wrong(f"{where} the mean of its output is {mean_ratio:.3f} times the mean of X; inverted dropout keeps "
                    "every element's expected value, so the means should agree.")  # fmt: skip


class _CpuTensors(TorchFunctionMode):
    """Notes the torch functions that return a CPU tensor of more than one element (while the input is not there)."""

    def __init__(self, seen: list[str]) -> None:
        super().__init__()
        self.seen = seen

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if isinstance(out, torch.Tensor) and out.device.type == "cpu" and out.numel() > 1:
            name = getattr(func, "__name__", "a function")
            if name not in self.seen:
                self.seen.append(name)
        return out


def _judge_device(dropout: Callable[..., Any], trial: Trial) -> None:
    """Run the answer on a tensor of the meta device, which has a shape but no values, as a stand-in for a GPU.

    An answer that makes its mask on the CPU (torch.rand(X.shape)) and combines it with X fails there, as it
    would on a GPU; one that moves its mask to X's device does not.
    """
    seen: list[str] = []
    X = torch.empty(_ROWS, _COLUMNS, device="meta")

    @functools.wraps(dropout)
    def on_meta() -> Any:
        with _CpuTensors(seen):
            return dropout(X, 0.5, True)

    try:
        got = trial.call(on_meta)
    except Fail:
        failed = True
    else:
        failed = isinstance(got, torch.Tensor) and got.device.type == "cpu"
    if failed and seen:
        raise wrong(
            f"It makes a tensor on the CPU whatever X's device (with torch.{seen[0]}), so on a GPU it cannot "
            "combine it with X. Make the mask where X is: torch.rand_like(X), or torch.rand(X.shape, "
            "device=X.device)."
        )
    if failed and _uses_numpy(dropout):
        raise wrong(
            "It makes its mask with NumPy, whose arrays live on the CPU: with X on a GPU, the product with X fails. "
            "Make the mask where X is, with torch: torch.rand_like(X) >= p."
        )


def _uses_numpy(fn: Callable[..., Any]) -> bool:
    """True if ``fn``'s code names NumPy (``np`` or ``numpy``), in its body or in functions nested in it."""
    code = getattr(fn, "__code__", None)
    codes = [code] if code is not None else []
    while codes:
        current = codes.pop()
        if {"np", "numpy", "from_numpy"} & set(current.co_names):
            return True
        codes += [c for c in current.co_consts if inspect.iscode(c)]
    return False


_SHAPE_3D = (20, 50, 100)  # 100,000 elements again, in three dimensions


def _judge_any_shape(dropout: Callable[..., Any], trial: Trial) -> None:
    """Dropout works element by element, so an input of three dimensions must work as well as one of two."""
    X = _large_input().reshape(_SHAPE_3D)
    try:
        got = _call(dropout, trial, X, 0.3, True)
    except Fail as fail:
        raise wrong(
            f"With an input of three dimensions, shape {_SHAPE_3D}: {fail.why} Dropout works element by element, "
            "whatever the number of dimensions: make the mask of X's full shape, torch.rand_like(X)."
        ) from None
    _judge_some_dropped(got, X, 0.3)
    _judge_training(got, X, 0.3)


@checker("dropout", example="check_dropout(dropout)")
def check_dropout(dropout: Callable[..., Any], trial: Trial) -> str:
    """``dropout(X, p, training)``: inverted dropout in training, the identity in evaluation."""
    _takes_three(dropout)
    torch.manual_seed(0)  # the same masks on every check, so a message quotes the same shares (the state is restored)
    X = _large_input()
    in_training = _call(dropout, trial, _SMALL, 0.5, True)
    drops_nothing = torch.equal(in_training, _SMALL)
    for p in (0.5, 0.2):
        _judge_evaluation(_call(dropout, trial, _SMALL, p, False), _SMALL, p, drops_nothing)
    calls = []
    for p in (0.2, 0.7, 0.2):
        got = _call(dropout, trial, X, p, True)
        _judge_some_dropped(got, X, p)
        calls.append((p, got))
    _judge_fresh_masks(calls)
    for p, got in calls:
        _judge_training(got, X, p)
    _judge_any_shape(dropout, trial)
    if not torch.equal(_call(dropout, trial, _SMALL, 0.0, True), _SMALL):
        raise wrong("With p = 0 it changes X: when nothing is dropped, nothing is scaled either (1 - p = 1).")
    try:
        none_kept = _call(dropout, trial, _SMALL, 1.0, True)
    except Fail as fail:
        if isinstance(fail.error, ZeroDivisionError):
            raise wrong(f"{fail.why} With p = 1 every element is dropped: return zeros (torch.zeros_like(X)) "
                        "instead of dividing by 1 - p = 0.") from None  # fmt: skip
        raise
    if not torch.isfinite(none_kept).all():
        raise wrong(
            f"With p = 1 it returns {fmt(none_kept[0, 0])}: dividing by 1 - p = 0. Every element is dropped then; "
            "return zeros (torch.zeros_like(X)) for p = 1."
        )
    if (none_kept != 0).any():
        raise wrong("With p = 1 every element must be dropped, but some are not 0.")
    leaf = _SMALL.clone().requires_grad_(True)
    got = trial.call(dropout, leaf, 0.5, True, forbid=_NO_DROPOUT)
    if not isinstance(got, torch.Tensor) or not got.requires_grad:
        raise wrong(
            "Its output carries no gradient back to X (was it computed under torch.no_grad(), with .detach() or "
            ".data, or through NumPy?). Compute it from X with tensor operations, so that the layers below learn."
        )
    (grad,) = torch.autograd.grad(got.sum(), leaf, allow_unused=True)
    expected = (got.detach() != 0).to(leaf.dtype) / 0.5
    if grad is None or not torch.allclose(grad, expected):
        raise wrong("Its output does not pass the gradient back as X * mask / (1 - p) would: the gradient of a kept "
                    "element should be 1 / (1 - p), of a dropped one 0.")  # fmt: skip
    _judge_device(dropout, trial)
    return (
        "It drops each element with probability p, divides the survivors by 1 - p (the expected value is kept), "
        "draws a new mask for every element and every call, and returns X unchanged in evaluation."
    )


# ---------------------------------------------------------------------------
# Weight decay as a gradient term


class _ScratchMLP(nn.Module):
    """The scratch lab's model: weight matrices W1, W2 (inputs by outputs) and biases b1, b2 as plain parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.W1 = nn.Parameter(torch.randn(6, 5) * 0.5)
        self.b1 = nn.Parameter(torch.randn(5) * 0.5)
        self.W2 = nn.Parameter(torch.randn(5, 3) * 0.5)
        self.b2 = nn.Parameter(torch.randn(3) * 0.5)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return torch.relu(X @ self.W1 + self.b1) @ self.W2 + self.b2


def _sequential() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))


def _frozen_first() -> nn.Module:
    net = _sequential()
    net[0].requires_grad_(False)
    return net


# (what the model is, how to build it, the weight decay)
_WEIGHT_DECAY_CASES: tuple[tuple[str, Callable[[], nn.Module], float], ...] = (
    ("a 6-5-3 nn.Sequential MLP, weight_decay=0.1", _sequential, 0.1),
    ("the same MLP with weight_decay=0.03", _sequential, 0.03),
    ("the scratch lab's model (parameters W1, b1, W2, b2), weight_decay=0.05", _ScratchMLP, 0.05),
    ("an MLP whose first layer is frozen (requires_grad=False), weight_decay=0.1", _frozen_first, 0.1),
    ("an MLP with weight_decay=0", _sequential, 0.0),
)


def _with_gradients(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """A model built from ``seed`` whose parameters hold the gradient of a loss on 8 random examples."""
    torch.manual_seed(seed)
    model = build()
    X, y = torch.randn(8, 6), torch.randint(0, 3, (8,))
    nn.functional.cross_entropy(model(X), y).backward()
    return model


def _multiple(a: torch.Tensor, b: torch.Tensor) -> float | None:
    """c if ``a`` is c times ``b`` (to float precision), else None."""
    if b.abs().max() == 0:
        return None
    c = (a * b).sum() / (b * b).sum()
    return c.item() if torch.allclose(a, c * b, rtol=1e-4, atol=1e-7) else None


def _explain_weight(
    name: str,
    p: torch.Tensor,
    g: torch.Tensor,
    got: torch.Tensor,
    decay: float,
    case: str,
    factor_with: Callable[[float], float | None],
) -> str:
    """Why the gradient ``got`` of the weight matrix ``name`` is not ``g + decay * p``.

    ``factor_with(other)`` runs the answer again, on the same model with weight_decay ``other``, and returns the
    multiple of W it then adds (None if it adds no multiple of W): it tells a factor proportional to the weight
    decay (a learning rate multiplied in) from a fixed number.
    """
    difference = got - g
    where = f"For {case}, the gradient of {name}"
    factor = _multiple(difference, p)
    if factor is not None:
        for multiple, how, why in (
            (2, "twice too much", "the gradient of (λ/2)·‖W‖² is λ·W, the 1/2 cancels the 2 of the square (or is it "
                "added twice, in two loops?)"),
            (0.5, "half of it", "the gradient of the penalty (λ/2)·‖W‖² is λ·W, not (λ/2)·W"),
            (-1, "with the wrong sign", "the penalty's gradient is +λ·W; the optimizer subtracts the gradient, and "
                 "that is what shrinks the weights"),
        ):  # fmt: skip
            if decay and math.isclose(factor, multiple * decay, rel_tol=1e-3):
                return f"{where} gets {fmt(factor)}·W added with weight_decay = {fmt(decay)}, {how}: {why}."
        norm = p.pow(2).sum().sqrt().item()
        if decay and math.isclose(factor, decay / norm, rel_tol=1e-3):
            return (f"{where} gets λ·W/‖W‖ added: that is the gradient of λ·‖W‖, the norm itself. The penalty is "
                    "(λ/2)·‖W‖², the squared norm, whose gradient is λ·W.")  # fmt: skip
        if decay:
            other = factor_with(3 * decay)
            if other is not None and math.isclose(other, 3 * factor, rel_tol=1e-3):
                return (
                    f"{where} gets {fmt(factor)}·W added with weight_decay = {fmt(decay)}: weight_decay·W times "
                    f"{fmt(factor / decay)}. Is something else multiplied in, such as a learning rate? Add "
                    "weight_decay·W alone; the optimizer multiplies the whole gradient by its learning rate."
                )
        return (f"{where} gets {fmt(factor)}·W added, but weight_decay = {fmt(decay)}: add weight_decay·W, with the "
                "weight_decay the function is given (not a number of your own).")  # fmt: skip
    if _multiple(got, p) is not None and decay:
        return (f"{where} is replaced by {fmt(_multiple(got, p))}·W: add λ·W to the gradient already in p.grad "
                "(the gradient of the loss), do not overwrite it.")  # fmt: skip
    scaled = _multiple(difference, g)
    if scaled is not None and decay:
        return (f"{where} is multiplied by {fmt(1 + scaled)}: weight decay adds λ·W to the gradient, it does not "
                "scale the gradient.")  # fmt: skip
    if _multiple(difference, p * p) is not None and decay:
        return f"{where} gets λ·W² added; the penalty (λ/2)·‖W‖² has the gradient λ·W, not λ·W²."
    if decay and _multiple(difference, p.sign()) is not None:
        return (f"{where} gets λ·sign(W) added: that is the gradient of an L1 penalty, λ·Σ|w|. Weight decay is the "
                "L2 penalty (λ/2)·‖W‖², whose gradient is λ·W.")  # fmt: skip
    first = difference.reshape(-1)[0]
    if first != 0 and torch.allclose(difference, first.expand_as(difference), rtol=1e-4, atol=1e-7):
        return (f"{where} gets the same number, {fmt(first.item())}, added to every element: a single number, such "
                "as the penalty's value (λ/2)·‖W‖², instead of its gradient, the matrix λ·W.")  # fmt: skip
    return (f"{where} should be the loss's gradient plus {fmt(decay)}·W; it is off by up to "
            f"{fmt((got - g - decay * p).abs().max().item())}.")  # fmt: skip


def _factor_added(
    add_weight_decay: Callable[..., Any], trial: Trial, index: int, name: str, decay: float
) -> float | None:
    """Run the answer on case ``index``'s model with another ``decay``; the multiple of W it adds to ``name``."""
    model = _with_gradients(_WEIGHT_DECAY_CASES[index][1], seed=index)
    parameter = dict(model.named_parameters())[name]
    value, g = parameter.detach().clone(), parameter.grad.clone()
    try:
        trial.call(add_weight_decay, model, decay)
    except Fail:
        return None
    return None if parameter.grad is None else _multiple(parameter.grad.detach() - g, value)


def _judge_weight_decay(add_weight_decay: Callable[..., Any], trial: Trial, index: int) -> bool:
    """Judge one case; True if the right gradients now carry a computation graph."""
    case, build, decay = _WEIGHT_DECAY_CASES[index]
    model = _with_gradients(build, seed=index)
    before = {n: (p.detach().clone(), None if p.grad is None else p.grad.clone()) for n, p in model.named_parameters()}
    try:
        returned = trial.call(add_weight_decay, model, decay)
    except Fail as fail:
        if build is _frozen_first and isinstance(fail.error, TypeError | AttributeError):
            raise wrong(f"{fail.why} For {case}, the frozen parameters have no gradient (p.grad is None): skip "
                        "them.") from None  # fmt: skip
        raise
    parameters = dict(model.named_parameters())
    changed = [n for n, (value, _) in before.items() if not torch.equal(parameters[n].detach(), value)]
    if changed:
        raise wrong(
            f"For {case}, it changes the weights themselves ({', '.join(changed)}); it should only add to their "
            "gradients. The optimizer's step applies them."
        )
    unchanged = []
    for name, (value, g) in before.items():
        got = parameters[name].grad
        if g is None:
            if got is not None:
                raise wrong(f"For {case}, it gives a gradient to {name}, which is frozen (requires_grad=False): "
                            "skip parameters whose .grad is None.")  # fmt: skip
            continue
        if got is None:
            raise wrong(f"For {case}, it sets the gradient of {name} to None; add to it instead.")
        got = got.detach()
        if value.dim() == 1:
            if not torch.allclose(got, g, rtol=1e-5, atol=1e-8):
                if decay and _multiple(got - g, value) is not None:
                    raise wrong(f"For {case}, it decays the bias {name} too: add λ·p only to the weight matrices, the "
                                "parameters with more than one dimension (p.dim() > 1).")  # fmt: skip
                raise wrong(f"For {case}, it changes the gradient of the bias {name}; leave the biases' gradients "
                            "as they are.")  # fmt: skip
            continue
        if torch.allclose(got, g + decay * value, rtol=1e-5, atol=1e-7):
            continue
        if torch.equal(got, g):
            unchanged.append(name)
            continue
        raise wrong(
            _explain_weight(
                name, value, g, got, decay, case, functools.partial(_factor_added, add_weight_decay, trial, index, name)
            )
        )
    if unchanged:
        if build is _ScratchMLP:
            raise wrong(
                f"For {case}, it leaves the gradients of {' and '.join(unchanged)} unchanged. Are you picking the "
                "weights by name ('weight' in name) or by layer (nn.Linear, m.weight)? This model has no layers and "
                "calls its weight matrices W1 and W2: pick them by shape, p.dim() > 1."
            )
        if len(unchanged) < sum(1 for value, g in before.values() if g is not None and value.dim() > 1):
            raise wrong(f"For {case}, it leaves the gradient of {', '.join(unchanged)} unchanged; every weight "
                        "matrix is decayed.")  # fmt: skip
        if returned is not None:
            raise wrong(
                f"For {case}, it returns a {type(returned).__name__} and leaves every gradient in the model unchanged: "
                "the optimizer reads p.grad, so change p.grad itself (p.grad += weight_decay * p, under "
                "torch.no_grad()) and return nothing."
            )
        raise wrong(
            f"For {case}, it leaves every gradient unchanged. Assigning to a name (g = p.grad, then g = g + ...) "
            "changes the name, not p.grad: change p.grad itself (p.grad += ..., or p.grad.add_(...))."
        )
    return any(p.grad is not None and p.grad.requires_grad for p in model.parameters())


@checker("weight_decay", example="check_weight_decay(add_weight_decay)")
def check_weight_decay(add_weight_decay: Callable[..., Any], trial: Trial) -> str:
    """``add_weight_decay(model, weight_decay)`` adds ``weight_decay * W`` to the gradient of every weight matrix."""
    with_graph = [_judge_weight_decay(add_weight_decay, trial, index) for index in range(len(_WEIGHT_DECAY_CASES))]
    note = (
        " Note: the gradients it makes carry a computation graph (computed from p with gradients on), which keeps "
        "memory alive until the next zero_grad; do it under torch.no_grad(), as optimizers do, or use p.detach()."
        if any(with_graph)
        else ""
    )
    return (
        "It adds λ·W to the gradient of every weight matrix, whatever its name, and leaves the biases, the frozen "
        "parameters and the weights themselves alone." + note
    )


# ---------------------------------------------------------------------------
# Choosing the weight decay on the validation set

WEIGHT_DECAYS = (0.0, 1e-3, 1e-2, 1e-1)
"""The weight decays the experiment exercise tries."""

_PLAUSIBLE = experiment_checker(
    "choose_weight_decay",
    expected_keys=WEIGHT_DECAYS,
    ranges={"train_acc": (0.2, 1.0), "val_acc": (0.2, 1.0), "val_loss": (0.0, None)},
)


def _histories_plausible(histories: Any) -> None:
    """The histories of the four settings, each with plausible final metrics (judged by experiment_checker)."""
    if callable(histories) or not isinstance(histories, Mapping):
        raise wrong(f"results['histories'] is a {type(histories).__name__}; it should be a dict from each weight "
                    f"decay {list(WEIGHT_DECAYS)} to the History of its run.")  # fmt: skip
    for key, value in histories.items():
        if hasattr(value, "fit") and hasattr(value, "history"):
            raise wrong(f"results['histories'][{key!r}] is a {type(value).__name__}: keep the History that its fit "
                        "returns (history = trainer.fit(model, small)).")  # fmt: skip
    verdict = _PLAUSIBLE(histories)
    if not verdict.passed:
        first = str(verdict).splitlines()[0].split("not yet. ", 1)[-1]
        raise wrong(
            "In results['histories']: "
            + first.replace("results[", "results['histories'][").replace("The results should", "It should")
        )
    for key, history in histories.items():
        if not isinstance(history, History):
            raise wrong(f"results['histories'][{key!r}] is a {type(history).__name__}: keep the whole History that "
                        "Trainer.fit returns, so that its curves can be drawn.")  # fmt: skip


def _lookup(mapping: Mapping[Any, Any], decay: float) -> Any:
    return next(value for key, value in mapping.items() if math.isclose(float(key), decay, abs_tol=1e-12))


def _models_fresh(models: Any, histories: Mapping[Any, History]) -> None:
    if not isinstance(models, Mapping) or len(models) != len(WEIGHT_DECAYS):
        raise wrong(f"results['models'] should be a dict from each weight decay {list(WEIGHT_DECAYS)} to the model "
                    "trained with it.")  # fmt: skip
    try:
        trained = [_lookup(models, decay) for decay in WEIGHT_DECAYS]
    except (StopIteration, TypeError, ValueError):
        raise wrong(f"results['models'] should have the keys {list(WEIGHT_DECAYS)}.") from None
    if not all(isinstance(model, nn.Module) for model in trained):
        raise wrong("Every value of results['models'] should be the trained model (an nn.Module).")
    if len({id(model) for model in trained}) < len(trained):
        raise wrong(
            "results['models'] holds the same model for several weight decays: one model trained again and again "
            "starts each setting where the last one ended. Build a fresh model for every setting, inside the loop."
        )
    storages = [{p.untyped_storage().data_ptr() for p in model.parameters()} for model in trained]
    if any(a & b for i, a in enumerate(storages) for b in storages[i + 1 :]):
        raise wrong("Some models share their parameter tensors: every setting needs a fresh model of its own.")
    order = list(histories)  # the order the runs were made in, as far as the dict tells
    first_epochs = [histories[key]["val_acc"][0] for key in order]
    finals = [histories[key].final["val_acc"] for key in order]
    for k in range(1, len(order)):
        if first_epochs[k] > first_epochs[0] + 0.05 and first_epochs[k] >= min(finals[:k]) - 0.02:
            raise wrong(
                f"The run with weight decay {float(order[k]):g} starts where an earlier run ended (validation "
                f"accuracy {first_epochs[k]:.3f} after its first epoch, against {first_epochs[0]:.3f} for "
                f"{float(order[0]):g}): it did not start from fresh weights. Build a new model for every setting, "
                "seeded the same way."
            )
    norms = [sum(p.detach().pow(2).sum() for p in model.parameters() if p.dim() > 1).sqrt().item()
             for model in trained]  # fmt: skip
    curves = {tuple(history["val_acc"]) for history in histories.values()}
    if len(curves) == 1 and len(histories) > 1:
        raise wrong(
            "The runs of all the weight decays are identical, epoch by epoch: the weight decay made no difference at "
            "all, so it never reached the training. Build each model with its own, MLP(weight_decay=λ)."
        )
    if not norms[-1] < 0.9 * norms[0]:
        raise wrong(
            f"The weights of the model trained with weight decay {WEIGHT_DECAYS[-1]:g} are not smaller than those "
            f"of the model trained without (norms {norms[-1]:.3g} and {norms[0]:.3g}): the weight decay did not reach "
            "the optimizer. Build each model with its own, MLP(weight_decay=λ), and in a model of your own pass it "
            "on to the optimizer, e.g. torch.optim.SGD(..., weight_decay=self.weight_decay)."
        )


def _judge_choice(chosen: Any, histories: Mapping[Any, History]) -> float:
    keys = [float(k) for k in histories]
    if isinstance(chosen, torch.Tensor) and chosen.numel() == 1:
        raise wrong(f"results['chosen'] is a tensor ({fmt(chosen)}); return the weight decay as a Python number "
                    "(.item()).")  # fmt: skip
    number = _as_number(chosen)
    if number is None:
        raise wrong(f"results['chosen'] is a {type(chosen).__name__}; it should be the chosen weight decay, one of "
                    f"{list(WEIGHT_DECAYS)}.")  # fmt: skip
    final_val = {k: h.final["val_acc"] for k, h in zip(keys, histories.values(), strict=True)}
    if not any(math.isclose(number, k, rel_tol=1e-6, abs_tol=1e-12) for k in keys):
        if any(math.isclose(number, v, rel_tol=1e-9) for v in final_val.values()):
            raise wrong(f"results['chosen'] is {number:g}, a final validation accuracy: return the weight decay that "
                        "gave it, not the accuracy.")  # fmt: skip
        position = " (a position in the list? return the weight decay itself)" if number in (1, 2, 3) else ""
        raise wrong(f"results['chosen'] is {chosen!r}, not one of the weight decays {list(WEIGHT_DECAYS)}{position}.")
    chosen = next(k for k in keys if math.isclose(number, k, rel_tol=1e-6, abs_tol=1e-12))
    best = max(final_val.values())
    if final_val[chosen] == best:
        return chosen
    argmax = max(final_val, key=final_val.__getitem__)
    said = f"results['chosen'] is {chosen:g}, but {argmax:g} has the highest final validation accuracy ({best:.4f})"

    def final(key: float, metric: str) -> float:
        return _history_of(histories, key).final[metric]

    scores: dict[str, Callable[[float], float]] = {  # what each mistaken criterion maximises
        "the highest training accuracy": lambda k: final(k, "train_acc"),
        "the lowest validation loss": lambda k: -final(k, "val_loss"),
        "the best epoch's validation accuracy (not the final model's)": lambda k: max(
            _history_of(histories, k)["val_acc"]),
        "the smallest gap between training and validation accuracy": lambda k: final(k, "val_acc") - final(
            k, "train_acc"),
        "the lowest validation accuracy (min instead of max?)": lambda k: -final_val[k],
    }  # fmt: skip
    by = {criterion: k for criterion, score in scores.items() for k in keys
          if all(score(k) > score(other) for other in keys if other != k)}  # fmt: skip
    matches = [criterion for criterion, pick in by.items() if pick == chosen]
    if matches:
        raise wrong(f"{said}; {chosen:g} is what choosing by {' or by '.join(matches)} gives. Choose by the final "
                    "validation accuracy: history.final['val_acc'].")  # fmt: skip
    raise wrong(f"{said}. Choose the weight decay whose model has the highest history.final['val_acc'].")


def _history_of(histories: Mapping[Any, History], decay: float) -> History:
    """The History of one weight decay, whatever the exact float key."""
    return _lookup(histories, decay)


_TEST_SET_NAMES = frozenset({"test_dataloader", "test_X", "test_y"})


def _names_used(fn: Any) -> set[str]:
    """The global and attribute names ``fn``'s code uses, with those of the functions and classes nested in it and
    of the notebook's own functions it calls (followed through the same globals)."""
    names: set[str] = set()
    seen: set[Any] = set()
    pending = [fn]
    while pending:
        current = pending.pop()
        code = getattr(current, "__code__", current if inspect.iscode(current) else None)
        if code is None or code in seen:
            continue
        seen.add(code)
        names.update(code.co_names)
        pending += [c for c in code.co_consts if inspect.iscode(c)]
        namespace = getattr(current, "__globals__", None)
        if namespace is not None:
            pending += [namespace[n] for n in code.co_names if inspect.isfunction(namespace.get(n))
                        and namespace[n].__globals__ is namespace]  # fmt: skip
    return names


def _no_test_set(answer: Any) -> None:
    """The test set plays no part in choosing: the experiment's code must not read it."""
    used = sorted(_TEST_SET_NAMES & _names_used(answer)) if callable(answer) else []
    if used:
        raise wrong(
            f"Your experiment reads the test set ({', '.join(used)}). The test set plays no part in choosing, not even "
            "for a look: a choice made after seeing it makes its score optimistic, and nothing is left to measure the "
            "final model honestly. Choose on the validation set alone."
        )


def _final_models(histories: Mapping[Any, History]) -> None:
    """The exercise compares the final models: no run may keep its best epoch or stop early."""
    kept = [key for key, history in histories.items() if history.best_epoch is not None or history.stopped_early]
    if kept:
        raise wrong(
            f"The run with weight decay {float(kept[0]):g} kept its best epoch (Trainer(keep_best=...)): its model is "
            "not the final one, and its history.final no longer describes it. This exercise compares the final models "
            "after the same number of epochs: train with Trainer(max_epochs=EPOCHS, seed=0, progress='none')."
        )


@checker(
    "choose_weight_decay", example="check_choose_weight_decay(choose_weight_decay)", expects="any", time_limit=600.0
)
def check_choose_weight_decay(answer: Any, trial: Trial) -> str:
    """The experiment's results: plausible histories, fresh models, the decay applied, the choice made on validation.

    ``answer`` is the function that runs the experiment (called once) or what it returned. What it returned is
    kept in ``check_choose_weight_decay.results`` for drawing the histories without training again.
    """
    check_choose_weight_decay.results = None  # type: ignore[attr-defined]
    if answer is None:
        raise wrong("You passed None: pass your function, as in check_choose_weight_decay(choose_weight_decay).")
    results = trial.call(answer, doing="Running your experiment") if callable(answer) else answer
    check_choose_weight_decay.results = results  # type: ignore[attr-defined]
    if results is None:
        raise wrong("Your function returns None: did you forget the `return` statement?")
    if not isinstance(results, Mapping) or set(results) != {"histories", "models", "chosen"}:
        got = sorted(map(str, results)) if isinstance(results, Mapping) else f"a {type(results).__name__}"
        raise wrong(f"Return a dict with the keys 'histories', 'models' and 'chosen'; got {got}.")
    histories = results["histories"]
    _histories_plausible(histories)
    _no_test_set(answer)
    _final_models(histories)
    lengths = {len(h) for h in histories.values()}
    if len(lengths) > 1:
        raise wrong(f"The runs lasted different numbers of epochs ({sorted(lengths)}): compare the settings on the "
                    "same budget, the same number of epochs for each.")  # fmt: skip
    if lengths.pop() < 2:
        raise wrong("Each run lasted a single epoch; train for the number of epochs the exercise asks for.")
    _models_fresh(results["models"], histories)
    _judge_choice(results["chosen"], histories)
    return (
        "A fresh model for each weight decay, the same number of epochs for each, the decay visibly shrinking the "
        "weights, and the choice made on the final validation accuracy."
    )


check_choose_weight_decay.results = None  # type: ignore[attr-defined]
