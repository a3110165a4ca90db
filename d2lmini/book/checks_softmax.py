"""Checkers for the exercises of "Recap: softmax regression": a stable softmax and cross-entropy on logits."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from d2lmini.book.checking import (
    Fail,
    Forbidden,
    Trial,
    checker,
    expect_close,
    expect_tensor,
    failing_line,
    fmt,
    wrong,
)

__all__ = ["check_cross_entropy", "check_softmax"]

_LOGITS = torch.tensor([[1.2, 5.1, 2.7], [0.0, 0.0, 0.0], [-1.0, 2.0, 0.5]], dtype=torch.float32)
# Large scores, and a row whose spread overflows exp unless the row's maximum (not its minimum) is subtracted.
_LARGE = torch.tensor([[1000.0, 1001.0, 1002.0], [-1000.0, -999.0, -1001.0], [-500.0, 500.0, 0.0]], dtype=torch.float32)
# Not square: 2 examples of 5 classes (an answer that assumes 3 rows or 3 columns shows here).
_WIDE = torch.tensor([[0.5, -1.0, 2.0, 0.0, 1.5], [3.0, 3.0, -2.0, 1.0, 0.25]], dtype=torch.float32)

_NO_SOFTMAX = Forbidden(
    said="PyTorch's softmax (torch.softmax, F.softmax, X.softmax() or nn.Softmax)",
    instead="exponentiate the shifted scores and divide by each row's sum yourself.",
    torch_names=frozenset({"softmax", "special_softmax", "_softmax"}),
)


def _max_without_keepdim(X: torch.Tensor, keep_sum: bool) -> torch.Tensor:
    """Softmax with the row maxima subtracted without keepdim (row j's maximum from column j)."""
    e = torch.exp(X - X.max(dim=1).values)
    return e / (e.sum(dim=1, keepdim=True) if keep_sum else e.sum(dim=1))


def _softmax_mistake(got: torch.Tensor, expected: torch.Tensor) -> str:
    """What a softmax of :data:`_LOGITS` that is off did instead, if it is a known mistake."""
    ones = torch.ones(len(got), dtype=got.dtype)
    if torch.allclose(got.sum(), ones[0], atol=1e-5):
        return "All entries together sum to 1; each row (one example) should sum to 1."
    if torch.allclose(got, expected.T, atol=1e-5):
        return (
            "It returns the right probabilities, transposed: row i must hold the probabilities of example i "
            "(row i of X), one per class."
        )
    for keep_sum in (True, False):
        if torch.allclose(got, _max_without_keepdim(_LOGITS, keep_sum), atol=1e-5):
            also = "" if keep_sum else " The same goes for the sum: .sum(dim=1, keepdim=True)."
            return (
                "X.max(dim=1).values has shape (batch,), so broadcasting subtracts row j's maximum from column "
                "j, not row i's maximum from row i, and that changes the result. Keep the dimension: "
                f"X.max(dim=1, keepdim=True).values.{also}"
            )
    if torch.allclose(got.sum(dim=0), ones, atol=1e-5):
        return "Each column sums to 1: you normalised over dim=0. Sum over each row (dim=1, keepdim=True) instead."
    ratio = got / expected  # a sum without keepdim divides entry [i, j] by row j's sum: ratio s_i / s_j
    if torch.allclose(ratio.diagonal(), ones) and torch.allclose(ratio, ratio[:, :1] * ratio[:1, :]):
        return (
            "Entry [i, j] is divided by the sum of row j, not of row i: .sum(dim=1) gives shape (batch,), which "
            "broadcasting lines up with the columns. Keep the summed dimension: .sum(dim=1, keepdim=True)."
        )
    if torch.allclose(got, torch.log_softmax(_LOGITS, dim=1), atol=1e-5):
        return "Those are log-probabilities (log-softmax); return the probabilities themselves."
    scale = got / expected  # the same factor across each row: the right shape of probabilities, wrongly normalised
    if torch.allclose(scale, scale[:, :1].expand_as(scale), rtol=1e-6, atol=0.0):
        sums = ", ".join(f"{float(s):.6g}" for s in got.sum(dim=1))
        return (
            f"Each row is proportional to the right probabilities, but the rows sum to {sums}, not exactly 1: "
            "divide each exponential by its row's exact sum (nothing added to it, nothing left out)."
        )
    return ""


@checker("softmax", example="check_softmax(softmax)")
def check_softmax(softmax: Callable[..., Any], trial: Trial) -> str:
    """``softmax(X)`` on a (batch, classes) matrix: each row becomes probabilities, stably."""
    expected = torch.softmax(_LOGITS, dim=1)
    got = expect_tensor(trial.call(softmax, _LOGITS.clone(), forbid=_NO_SOFTMAX), expected)
    if not torch.allclose(got, expected, rtol=1e-4, atol=1e-5):  # expect_close's tolerance
        mistake = _softmax_mistake(got, expected)
        if mistake:
            raise wrong(mistake)
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
_CE_LARGE = torch.tensor([[1000.0, 1001.0, 1002.0], [0.0, 200.0, -50.0]], dtype=torch.float32)
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
        (_LOGITS[:1], _CE_Y[:1], float(F.cross_entropy(_LOGITS[:1], _CE_Y[:1]))),
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


def _loss_mistakes(logits: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """The values typical mistakes give on ``(logits, y)``, each with what to change."""
    log_probs = torch.log_softmax(logits, dim=1)
    rows = torch.arange(len(y))
    lse_over_batch = logits - torch.logsumexp(logits, dim=0, keepdim=True)
    return {
        " The sign is wrong: the loss is minus the log-probability of the true class, so it is >= 0.": (
            log_probs[rows, y].mean()
        ),
        " That is the mean over every pair of example and label: log_probs[:, y] takes column y[j] from every row, "
        "an (n, n) matrix. Take one entry per row, the true class's: log_probs[torch.arange(len(y)), y].": (
            -log_probs[:, y].mean()
        ),
        " That picks rows by label (log_probs[y]); take one entry per row, at the true class: "
        "log_probs[torch.arange(len(y)), y].": -log_probs[y].mean(),
        " That averages the log-probabilities of every class; the loss takes only the true class's, one entry per "
        "row: log_probs[torch.arange(len(y)), y].": -log_probs.mean(),
        " That is minus the true class's logit: the logits still need their log-softmax first (subtract "
        "torch.logsumexp(logits, dim=1, keepdim=True)).": -logits[rows, y].mean(),
        " The log-sum-exp is taken over dim=0, over the examples; take it over each row's classes, dim=1 "
        "(keepdim=True).": -lse_over_batch[rows, y].mean(),
        " That divides the sum over the batch by the number of classes; the mean is over the examples: divide by "
        "len(y), or take .mean() of the per-example losses.": -log_probs[rows, y].sum() / logits.shape[1],
        " It takes the log-probability of class y - 1: the labels are counted from 0, so index with y itself.": (
            -log_probs[rows, y - 1].mean()
        ),
        " That gathers along dim 0 (it picks log_probs[y[i], 0]); gather along the classes, dim 1: "
        "log_probs.gather(1, y[:, None]), or log_probs[torch.arange(len(y)), y].": -log_probs[y, 0].mean(),
    }


# A batch on which the mistakes above all give different values (the check's first batch has one label per class,
# where several of them coincide): it decides which one an answer made.
_CE_PROBE = torch.tensor(
    [[0.3, -1.2, 2.0, 0.7, -0.4], [1.5, 0.2, -0.8, 0.0, 2.2], [-0.6, 1.1, 0.4, -1.9, 0.9], [2.4, -0.3, 0.1, 1.0, -1.1]],
    dtype=torch.float32,
)
_CE_PROBE_Y = torch.tensor([3, 1, 1, 0])  # below 4 as well: log_probs[y] (a mistake) picks rows


def _mistake_made(loss: Callable[..., Any], trial: Trial, value: torch.Tensor, logits: torch.Tensor,
                  y: torch.Tensor) -> str:  # fmt: skip
    """The hint for the one known mistake that explains ``value`` on ``(logits, y)``, asking the probe batch
    when several would; ``""`` if none does (or the probe cannot tell)."""
    made = [hint for hint, mistaken in _loss_mistakes(logits, y).items() if torch.allclose(value, mistaken)]
    if len(made) > 1:
        try:
            got = trial.call(loss, _CE_PROBE.clone(), _CE_PROBE_Y.clone(), forbid=_NO_CROSS_ENTROPY)
        except Fail:
            return ""
        if not isinstance(got, torch.Tensor) or got.numel() != 1:
            return ""
        probe = _loss_mistakes(_CE_PROBE, _CE_PROBE_Y)
        made = [hint for hint in made if torch.allclose(got.detach().reshape(()).float(), probe[hint])]
    return made[0] if len(made) == 1 else ""


def _keepdim_hint(error: BaseException | None) -> str:
    """For a failed broadcast on a line that reduces over dim 1 without keepdim=True: what went wrong."""
    line = failing_line(error)[0] if isinstance(error, RuntimeError) else ""
    if re.search(r"\b(logsumexp|sum|max|amax|mean)\([^)]*dim\s*=\s*1", line) and "keepdim" not in line:
        return (
            " Reducing over dim=1 leaves shape (batch,), which broadcasting lines up with the classes, not the rows: "
            "keep the dimension, keepdim=True, so that each row is shifted by its own value."
        )
    return ""


def _loss_and_grad(loss: Callable[..., Any], trial: Trial, logits: torch.Tensor, y: torch.Tensor) -> None:
    """Check one call of the reader's loss on (logits, y): value first, then the gradient it carries.

    The loss gets logits that are not a leaf of the graph (a copy of one), like logits that come out of a network:
    an in-place operation on them works as it would in training (and earns the note about changed arguments).
    """
    leaf = logits.clone().requires_grad_(True)
    expected = F.cross_entropy(leaf, y)
    (expected_grad,) = torch.autograd.grad(expected, leaf)
    expected = expected.detach()
    try:
        got = trial.call(loss, leaf.clone(), y.clone(), forbid=_NO_CROSS_ENTROPY)
    except Fail as fail:
        raise fail.hinted(_keepdim_hint(fail.error)) from None
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
        made = _mistake_made(loss, trial, value, logits, y)
        if made:
            why += made
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
