"""Checkers for the exercises of "Hidden layers" and "The linear collapse": counting parameters, collapsing two
linear layers into one, and evaluating a classifier on the playground's grid."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from d2lmini.book.checking import Fail, Forbidden, Trial, checker, expect_int, expect_tensor, fmt, wrong
from d2lmini.book.playground import grid_points
from d2lmini.module import count_parameters

__all__ = ["check_collapse", "check_count_params", "check_decision_grid"]


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


def _count_mistakes(net: nn.Module) -> dict[str, int | tuple[int, ...]]:
    """What each typical mistake counts for ``net`` (any of several counts, for a tuple), with what to change."""
    learnable = [p for p in net.parameters() if p.requires_grad]
    return {
        " That is the number of parameter tensors; add up their sizes (numel()) instead.": len(list(net.parameters())),
        " That counts the weights only; the biases are learnable parameters too.": (
            sum(p.numel() for p in learnable if p.dim() > 1),
            sum(p.numel() for p in net.parameters() if p.dim() > 1),  # frozen ones too
        ),
        " That includes frozen parameters (requires_grad=False); count only learnable ones.": count_parameters(
            net, trainable_only=False
        ),
        " That includes its buffers, which are not parameters: count module.parameters() only.": count_parameters(net)
        + sum(b.numel() for b in net.buffers()),
        " That is the number of modules (layers); add up the sizes of their parameters instead.": len(
            list(net.modules())
        ),
        " len(p) is the size of a tensor's first dimension only; p.numel() is the number of entries.": sum(
            len(p) for p in learnable
        ),
        " It counts nothing: if it tests p.grad, that is None until a backward pass; test p.requires_grad.": 0,
        " That counts every tensor of module.state_dict(), frozen parameters and buffers too; count the "
        "parameters that require gradients.": count_parameters(net, trainable_only=False)
        + sum(b.numel() for b in net.buffers()),
    }


def _gives(mistake: int | tuple[int, ...], count: int) -> bool:
    return count in mistake if isinstance(mistake, tuple) else count == mistake


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
    counts = []  # per case: its name, the answer's count, the right count, what each mistake counts
    for name, net in cases:
        try:
            got = expect_int(trial.call(count_params, net, forbid=_NO_COUNT_PARAMETERS), "their total, one int")
        except Fail:
            if any(n != want for _, n, want, _, _ in counts):
                break  # already wrong on an earlier net: that comes first
            raise
        counts.append((name, got, count_parameters(net), _count_mistakes(net), net))
    off = [case for case in counts if case[1] != case[2]]
    if off:
        name, got, want, _, net = off[0]
        why = f"For {name} it returns {got}, expected {want}."
        # A hint names a mistake only if it gives the answer's count in every case.
        made = [hint for hint in counts[0][3] if all(_gives(mistakes[hint], n) for _, n, _, mistakes, _ in counts)]
        if made:
            why += made[0]
        elif isinstance(net, _OwnParameters):
            why += (
                " It has parameters that belong to no nn.Linear layer, and a layer without bias: count every tensor "
                "that module.parameters() yields, whatever module it sits in."
            )
        raise wrong(why)
    return "The 6-4-3-1 net has 47 parameters and the lab model 203,530."


def _collapse_pair(got: Any, W_shape: tuple[int, ...], q: int) -> tuple[Any, Any]:
    """The (W, b) an answer returned, after the checks of what it returned as a whole."""
    if got is None:
        raise wrong("It returns None: did you forget the `return` statement?")
    if not isinstance(got, tuple | list):
        raise wrong(f"It returns a value of type {type(got).__name__}; return a pair `W, b`.")
    if len(got) != 2:
        raise wrong(f"It returns {len(got)} values; return a pair `W, b`.")
    first, second = got
    if (
        isinstance(first, torch.Tensor)
        and isinstance(second, torch.Tensor)
        and tuple(second.shape) == W_shape
        and first.numel() == q
        and W_shape != (q,)
    ):
        raise wrong("It returns the pair in the order (b, W); return W first, then b, as in `return W, b`.")
    return first, second


def _expect_collapsed_W(W: torch.Tensor, W1: torch.Tensor, W2: torch.Tensor, sizes: str) -> None:
    """Refuse a W that is not W1 @ W2, naming the mistake it is."""
    want = W1 @ W2
    if torch.allclose(W, want, atol=1e-4):
        return
    hint = ""
    square = W1.shape[0] == W1.shape[1] == W2.shape[1]
    if square and torch.allclose(W, W2 @ W1, atol=1e-4):
        hint = " That is W2 @ W1: check the order of the product, rows go through W1 first."
    elif W.shape == want.T.shape and torch.allclose(W, want.T, atol=1e-4):
        hint = (
            " That is (W1 @ W2).T, the transpose: with examples as rows, X @ W needs W of shape (d, q), "
            "W1 @ W2 itself."
        )
    elif square and torch.allclose(W, W1 * W2, atol=1e-4):
        hint = " That is W1 * W2, entry by entry; the layers compose by matrix product, W1 @ W2."
    raise wrong(f"{sizes} its W is not W1 @ W2's equivalent.{hint}")


@checker("collapse", example="check_collapse(collapse)")
def check_collapse(collapse: Callable[..., Any], trial: Trial) -> str:
    """``collapse(W1, b1, W2, b2)`` must return ``(W, b)`` with ``X @ W + b`` equal to the two layers."""
    gen = torch.Generator().manual_seed(0)
    for d, h, q in ((4, 4, 4), (3, 5, 2)):
        W1, b1 = torch.randn(d, h, generator=gen), torch.randn(h, generator=gen)
        W2, b2 = torch.randn(h, q, generator=gen), torch.randn(q, generator=gen)
        want_W, want_b = W1 @ W2, b1 @ W2 + b2
        sizes = f"For d={d}, h={h}, q={q}"
        got = trial.call(collapse, W1.clone(), b1.clone(), W2.clone(), b2.clone())
        W, b = _collapse_pair(got, (d, q), q)
        W = expect_tensor(W, want_W, what=f"{sizes} its W")
        _expect_collapsed_W(W, W1, W2, sizes)
        if not isinstance(b, torch.Tensor) or b.shape not in ((q,), (1, q)):
            shape = tuple(b.shape) if isinstance(b, torch.Tensor) else type(b).__name__
            raise wrong(f"{sizes} its b has shape {shape}, expected ({q},).")
        if b.device.type == "meta":
            raise wrong(
                f"{sizes} its b has shape {tuple(b.shape)} but is a tensor on the meta device, which has a shape "
                "but no values; return one with real values."
            )
        b = expect_tensor(b.reshape(-1), want_b, what=f"{sizes} its b")
        if not torch.allclose(b, want_b, atol=1e-4):
            why = f"W is right but b is off: expected {fmt(want_b)}, got {fmt(b)}."
            if torch.allclose(b, b2, atol=1e-4):
                why += " That is b2 alone: the first bias also passes through W2."
            elif h == q and torch.allclose(b, b1 + b2, atol=1e-4):
                why += " That is b1 + b2: the first bias passes through W2 before b2 is added."
            elif torch.allclose(b, b1 @ W2, atol=1e-4):
                why += " That is b1 @ W2 alone: the second bias b2 is still added after it."
            elif d == h and torch.allclose(b, b1 @ W1 + b2, atol=1e-4):
                why += " That is b1 @ W1 + b2: the first bias goes through the second layer, W2."
            raise wrong(why)
    return "W is W1 @ W2 and b is b1 @ W2 + b2, so X @ W + b equals the two stacked layers."


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
        integers = isinstance(got, torch.Tensor) and got.shape == expected.shape and not got.is_floating_point()
        if integers and torch.equal(got.cpu().long(), (expected > 0).long()):
            raise wrong(
                f"{what} returns class labels, 1 where predict is positive and 0 elsewhere: return predict's "
                "outputs themselves."
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


