"""The 2-D classification playground: small data sets, tiny MLPs trained on them, their decision regions.

Everything here is pure and seeded, so the same call gives the same numbers:

- :func:`make_data` draws one of the small two-class data sets in the plane
  (``"xor"``, ``"circles"``, ``"moons"``, ``"spiral"``), and
  :func:`held_out_data` more points of the same distribution, never trained on;
- :func:`fit` trains a tiny MLP (hidden ``width`` x ``depth``, activation
  ``"linear"``, ``"relu"`` or ``"tanh"``; width 0 is logistic regression) on
  one data set, full-batch with Adam; :func:`fit_many` trains many of them at
  once, as one batched computation, which is how a notebook precomputes every
  state of the playground in a few seconds;
- :func:`playground_demo` turns the trained states into the book's demo
  (:class:`~d2lmini.book.widgets.Demo`): controls for the data set, the
  activation, the depth and the width over a map of the plane, and a
  sentence per state that says what the map shows, measured by
  :func:`decision_boundary` (how many parts and straight pieces the
  boundary has, whether it curves, bands and islands);
- :func:`logits`, :func:`decision_grid` and :func:`accuracy` evaluate a
  trained :class:`TinyMLP`; :func:`unit_lines` gives the lines on which the
  first hidden layer's units switch on and off (a ReLU unit's output has a
  crease there); :func:`best_line_accuracy` is the exact accuracy of the best
  straight boundary, the ceiling of every linear model.

Batched training is independent training: each model's loss depends on its
own weights only, and Adam updates every weight from that weight's own
gradient history, so stacking models changes how fast the arithmetic runs,
not what it computes.  It is not bit for bit the same: stacked and padded
matrix products add their terms in another order, and training can amplify
those rounding differences (Adam divides by the running size of each
gradient).  The chapter measures them: a few millionths where a network fits
its data, up to about 1e-2 in a weight where it is still far from fitting.

Weights follow the book's convention: examples are rows and a layer computes
``H @ W + b`` with ``W`` of shape ``(fan_in, fan_out)``, as in the scratch lab
(``nn.Linear`` stores the transpose).  Everything lives on the CPU
(:data:`DEVICE`), on purpose and whatever the default device: the networks
have a few hundred weights and 100 points each, far too little work for a
GPU to pay for its launches, so a notebook runs the same on a laptop and on
a CUDA machine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import torch

from d2lmini.book.widgets import Control, Demo, Frame, heatmap, trace

DATASETS = ("xor", "circles", "moons", "spiral")
NOISE = {"xor": 0.1, "circles": 0.1, "moons": 0.1, "spiral": 0.05}  # the spiral's arms are only 1/3 apart
ACTIVATIONS = ("linear", "relu", "tanh")
EXTENT = 1.5  # the plane shown: [-EXTENT, EXTENT] in both coordinates; every data set lies inside it
CLASS_COLORS = ("#2166ac", "#b2182b")  # class 0 blue, class 1 red, as at the ends of the probability shading
DEVICE = torch.device("cpu")  # the networks are tiny: a GPU would only add launch overhead (see the module's doc)
HELD_OUT_POINTS = 200  # held-out points per data set: twice the training set, so held-out accuracy is less noisy
HELD_OUT_SEED = 10_000  # a seed no training sample of the book uses (they use 0 to 9)


def make_data(name: str, n: int = 100, noise: float | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points of data set ``name`` (half of each class) as ``(X, y)``: float32 ``(n, 2)``, int64 ``(n,)``.

    ``noise`` is the standard deviation of the Gaussian jitter added to each
    point, in the units of the plane (the data lie roughly in [-1, 1]^2); by
    default ``NOISE[name]``.

    - ``"xor"``: points in the four quadrants, class 1 where x1 and x2 have the same sign;
    - ``"circles"``: class 1 a disc of radius 0.5 inside a ring (class 0) of radius 1;
    - ``"moons"``: two interleaved half circles;
    - ``"spiral"``: two spiral arms wound around each other, one turn and a half each.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}.")
    if isinstance(n, bool) or not isinstance(n, int) or n < 2 or n % 2:
        raise ValueError(f"n must be an even whole number of points, 2 or more (half per class), not {n!r}.")
    noise = NOISE[name] if noise is None else noise
    if not noise >= 0:
        raise ValueError(f"noise must be a standard deviation, 0 or more, not {noise!r}.")
    gen = torch.Generator(device=DEVICE).manual_seed(seed)
    cpu64 = {"dtype": torch.float64, "device": DEVICE}
    half = n // 2
    y = (torch.arange(n, device=DEVICE) >= half).long()  # the first half class 0, the second class 1
    u = torch.rand(n, generator=gen, **cpu64)
    if name == "xor":
        corner = torch.rand(n, 2, generator=gen, **cpu64) * 0.8 + 0.1  # in (0.1, 0.9): away from the axes
        sign = torch.where(torch.rand(n, generator=gen, device=DEVICE) < 0.5, 1.0, -1.0).double()
        # class 1: both coordinates of the same sign; class 0: opposite signs
        X = corner * torch.stack([sign, torch.where(y == 1, sign, -sign)], dim=1)
    elif name == "circles":
        radius = torch.where(y == 1, 0.5 * u.sqrt(), 1.0)
        angle = 2 * math.pi * torch.rand(n, generator=gen, **cpu64)
        X = radius[:, None] * torch.stack([angle.cos(), angle.sin()], dim=1)
    elif name == "moons":
        angle = math.pi * u
        upper = torch.stack([angle.cos(), angle.sin()], dim=1)
        lower = torch.stack([1 - angle.cos(), 0.5 - angle.sin()], dim=1)
        X = (torch.where((y == 0)[:, None], upper, lower) - torch.tensor([0.5, 0.25], **cpu64)) / 1.2
    else:  # spiral
        turn = 0.15 + 0.85 * u  # distance along the arm, from near the centre outwards
        angle = 3 * math.pi * turn + math.pi * y.double()
        X = turn[:, None] * torch.stack([angle.cos(), angle.sin()], dim=1)
    X = X + noise * torch.randn(n, 2, generator=gen, **cpu64)
    return X.float(), y


def held_out_data(name: str, n: int = HELD_OUT_POINTS) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` held-out points of data set ``name``: the same distribution as :func:`make_data`, another seed.

    No network of the playground trains on them, so the accuracy on them
    estimates how well a network does on new points from the same source.
    """
    return make_data(name, n=n, seed=HELD_OUT_SEED)


@dataclass(frozen=True)
class TinyMLP:
    """A trained 2-D classifier: its architecture, its weights and how well it fits its training data.

    ``weights[i]`` is the book's ``W`` of layer ``i + 1``, shape ``(fan_in,
    fan_out)``: a layer computes ``H @ W + b`` on examples in rows, as in the
    scratch lab (``nn.Linear.weight`` would be its transpose); ``biases[i]``
    has shape ``(fan_out,)``.  The last layer has one output, the logit of
    class 1.  All tensors are on :data:`DEVICE`, the CPU.
    """

    width: int
    depth: int
    activation: str
    weights: tuple[torch.Tensor, ...]
    biases: tuple[torch.Tensor, ...]
    train_accuracy: float
    train_loss: float

    @property
    def num_parameters(self) -> int:
        return sum(w.numel() + b.numel() for w, b in zip(self.weights, self.biases, strict=True))


def _activate(name: str, Z: torch.Tensor) -> torch.Tensor:
    if name == "relu":
        return torch.relu(Z)
    if name == "tanh":
        return torch.tanh(Z)
    return Z


def _on_cpu(X: torch.Tensor, name: str = "X") -> torch.Tensor:
    """``X`` itself if it is on the CPU, where the playground's networks are; otherwise a clear error."""
    if X.device != DEVICE:
        raise ValueError(
            f"{name} is on {X.device}, but the playground's networks live on the CPU (they are too small for a GPU "
            f"to help): pass {name}.cpu()."
        )
    return X


def logits(model: TinyMLP, X: torch.Tensor) -> torch.Tensor:
    """The logit of class 1 for each row of ``X`` (``(n, 2)``, on the CPU); class 1 is predicted where it is > 0."""
    H = _on_cpu(X)
    for W, b in zip(model.weights[:-1], model.biases[:-1], strict=True):
        H = _activate(model.activation, H @ W + b)
    return (H @ model.weights[-1] + model.biases[-1]).squeeze(-1)


def accuracy(model: TinyMLP, X: torch.Tensor, y: torch.Tensor) -> float:
    """Share of the points of ``X`` whose class ``model`` predicts correctly."""
    return ((logits(model, X) > 0).long() == y).double().mean().item()


def grid_points(resolution: int = 61, extent: float = EXTENT) -> tuple[torch.Tensor, torch.Tensor]:
    """The coordinates ``(ticks, points)`` of a square grid over [-extent, extent]^2.

    ``ticks`` has ``resolution`` values; ``points`` has ``resolution**2`` rows,
    x1 varying fastest, so ``values.reshape(resolution, resolution)[i, j]`` is
    the value at x2 = ticks[i], x1 = ticks[j] (the layout images and heatmaps use).
    """
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be a whole number of grid points per side, 2 or more, not {resolution!r}.")
    ticks = torch.linspace(-extent, extent, resolution, device=DEVICE)
    x2, x1 = torch.meshgrid(ticks, ticks, indexing="ij")
    return ticks, torch.stack([x1.flatten(), x2.flatten()], dim=1)


def decision_grid(model: TinyMLP, resolution: int = 61, extent: float = EXTENT) -> torch.Tensor:
    """The model's probability of class 1 on the grid of :func:`grid_points`, shape ``(resolution, resolution)``."""
    _, points = grid_points(resolution, extent)
    with torch.no_grad():
        return torch.sigmoid(logits(model, points)).reshape(resolution, resolution)


def unit_lines(model: TinyMLP, extent: float = EXTENT) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """For each unit of the first hidden layer, the segment of its line ``x w_j + b_j = 0`` inside the square.

    ``x`` is a point as a row ``(x1, x2)`` and ``w_j`` the ``j``-th column of
    the first layer's ``W`` (shape ``(2, width)``).  On one side of the line
    the unit's pre-activation is positive, on the other negative: a ReLU unit
    is off on one side and grows linearly on the other, so its output has a
    crease along the line, and a one-layer network's output can bend only
    there (in a deeper network, also along bent lines of the later units).  Units
    whose line misses the square [-extent, extent]^2 give no segment; a
    network without hidden layers has none.
    """
    if model.depth == 0:
        return []
    segments = []
    for (w1, w2), b in zip(model.weights[0].T.tolist(), model.biases[0].tolist(), strict=True):
        ends = []
        if abs(w2) > 1e-12:  # crossings of the left and right edges, x1 = -extent, extent
            ends += [(x1, -(b + w1 * x1) / w2) for x1 in (-extent, extent)]
        if abs(w1) > 1e-12:  # crossings of the bottom and top edges
            ends += [(-(b + w2 * x2) / w1, x2) for x2 in (-extent, extent)]
        inside = sorted({(round(p, 9), round(q, 9)) for p, q in ends if max(abs(p), abs(q)) <= extent + 1e-9})
        if len(inside) >= 2:
            segments.append((inside[0], inside[-1]))
    return segments


def best_line_accuracy(X: torch.Tensor, y: torch.Tensor) -> float:
    """The accuracy of the best straight boundary for the points ``X`` (n, 2) with labels ``y``: exact.

    A straight boundary classifies by the sign of ``x . u - t``.  The order of
    the projections ``x . u`` changes only where ``u`` is perpendicular to a
    difference of two points, so trying one direction between each pair of
    neighbouring critical angles, and every threshold between consecutive
    projections, tries every way a line can split the points.
    """
    X64, y = X.double(), y.long()
    diff = X64[:, None, :] - X64[None, :, :]
    i, j = torch.triu_indices(len(X64), len(X64), offset=1)
    critical = torch.atan2(diff[i, j, 1], diff[i, j, 0]) + math.pi / 2  # directions perpendicular to a pair
    angles = torch.sort(torch.remainder(critical, math.pi)).values
    between = torch.cat([(angles[:-1] + angles[1:]) / 2, (angles[-1:] + angles[:1] + math.pi) / 2])
    directions = torch.stack([between.cos(), between.sin()], dim=1)
    best = 0
    for chunk in directions.split(4096):
        order = (X64 @ chunk.T).T.argsort(dim=1)  # (directions, n): points sorted along each direction
        ones = y[order]
        # threshold after the k-th point: the first k predicted one class, the rest the other
        ones_before = torch.cat(
            [torch.zeros(len(chunk), 1, dtype=torch.long, device=X64.device), ones.cumsum(dim=1)], dim=1
        )
        k = torch.arange(len(X64) + 1, device=X64.device)
        correct = (k - ones_before) + (ones.sum(dim=1, keepdim=True) - ones_before)  # below: class 0, above: class 1
        best = max(best, int(correct.max()), int((len(X64) - correct).max()))  # and the flipped assignment
    return best / len(X64)


@dataclass(frozen=True)
class Spec:
    """What to train: an architecture on a data set, from initial weights drawn with ``seed``."""

    dataset: str
    width: int
    depth: int
    activation: str
    seed: int = 0

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; choose one of {', '.join(ACTIVATIONS)}.")
        for name in ("width", "depth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number, 0 or more, not {value!r}.")
        if (self.width == 0) != (self.depth == 0):
            raise ValueError(
                f"width {self.width} with depth {self.depth}: a network without hidden units has width 0 and "
                "depth 0 (logistic regression); otherwise both must be 1 or more."
            )

    @property
    def widths(self) -> list[int]:
        """The layer widths from input to output, e.g. ``[2, 8, 8, 1]``."""
        return [2, *[self.width] * self.depth, 1]


def _initial(spec: Spec) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """PyTorch's default start for each layer, U(±1/sqrt(fan_in)) for weights and biases, from ``spec.seed``."""
    gen = torch.Generator(device=DEVICE).manual_seed(spec.seed)
    layers = []
    for fan_in, fan_out in pairwise(spec.widths):
        bound = 1 / math.sqrt(fan_in)
        W = (torch.rand(fan_in, fan_out, generator=gen, device=DEVICE) * 2 - 1) * bound
        b = (torch.rand(fan_out, generator=gen, device=DEVICE) * 2 - 1) * bound
        layers.append((W, b))
    return layers


def fit(spec: Spec, X: torch.Tensor, y: torch.Tensor, steps: int = 300, lr: float = 0.03) -> TinyMLP:
    """Train one tiny MLP on all of ``(X, y)`` at once (full batch) with Adam; see :func:`fit_many`."""
    return fit_many([spec], {spec.dataset: (X, y)}, steps=steps, lr=lr)[0]


def fit_many(
    specs: Sequence[Spec],
    data: dict[str, tuple[torch.Tensor, torch.Tensor]],
    steps: int = 300,
    lr: float = 0.03,
) -> list[TinyMLP]:
    """Train one tiny MLP per spec, full batch, ``steps`` steps of Adam at learning rate ``lr``.

    Each model minimises the mean binary cross-entropy on its data set,
    ``data[spec.dataset]``.  Models of the same depth are trained together:
    their weights are stacked into batched tensors, padded with zeros to the
    largest width (specs are grouped by depth and by width rounded up to a
    power of two, so little is padded).  A padded unit has zero weights in and
    out: its output is 0 (ReLU, tanh and the identity all map 0 to 0) and the
    gradient of each of its weights is a product with that zero output or
    with its zero outgoing weights.  So the padding stays exactly 0 and each
    model is the network its spec describes, trained as if alone up to
    floating-point rounding (see the module's doc for how large that gets).
    """
    missing = sorted({s.dataset for s in specs} - set(data))
    if missing:
        raise ValueError(
            f"no data for data set(s) {missing}: pass them in `data`, e.g. data={{'xor': make_data('xor')}}."
        )
    if not specs:
        return []
    for name, (X, y) in data.items():
        _on_cpu(X, f"data[{name!r}][0]")
        _on_cpu(y, f"data[{name!r}][1]")
    sizes = {len(data[s.dataset][0]) for s in specs}
    if len(sizes) != 1:
        raise ValueError(
            f"all data sets must have the same number of points to be trained together, got {sorted(sizes)}."
        )
    results: dict[int, TinyMLP] = {}
    groups: dict[tuple[int, int], list[int]] = {}
    for i, spec in enumerate(specs):  # same depth, similar width: little padding, few batched steps
        groups.setdefault((spec.depth, 1 << max(spec.width - 1, 0).bit_length()), []).append(i)
    for group in groups.values():
        for i, model in zip(group, _fit_group([specs[i] for i in group], data, steps, lr), strict=True):
            results[i] = model
    return [results[i] for i in range(len(specs))]


def _fit_group(
    specs: list[Spec], data: dict[str, tuple[torch.Tensor, torch.Tensor]], steps: int, lr: float
) -> list[TinyMLP]:
    """Train models of one depth as one batch (see :func:`fit_many`)."""
    depth, top = specs[0].depth, max(max(s.width for s in specs), 1)
    padded = [2, *[top] * depth, 1]
    params = [
        [torch.zeros(len(specs), a, b, device=DEVICE), torch.zeros(len(specs), 1, b, device=DEVICE)]
        for a, b in pairwise(padded)
    ]
    for m, spec in enumerate(specs):
        for layer, (W, b) in enumerate(_initial(spec)):
            params[layer][0][m, : W.shape[0], : W.shape[1]] = W
            params[layer][1][m, 0, : b.shape[0]] = b
    flat = [p.requires_grad_() for layer in params for p in layer]
    X = torch.stack([data[s.dataset][0] for s in specs])  # (models, n, 2)
    y = torch.stack([data[s.dataset][1] for s in specs]).float()  # (models, n)
    kind = torch.tensor([ACTIVATIONS.index(s.activation) for s in specs], device=DEVICE)[:, None, None]

    def forward() -> torch.Tensor:
        H = X
        for layer, (W, b) in enumerate(params):
            Z = torch.baddbmm(b, H, W)
            last = layer == len(params) - 1
            H = Z if last else torch.where(kind == 1, torch.relu(Z), torch.where(kind == 2, torch.tanh(Z), Z))
        return H.squeeze(-1)  # (models, n) logits

    # Adam's step counters too, whatever the default device (PyTorch before 2.13 makes them at the first step).
    with torch.device(DEVICE):
        optimizer = torch.optim.Adam(flat, lr=lr)
        for _ in range(steps):
            per_model = torch.nn.functional.binary_cross_entropy_with_logits(forward(), y, reduction="none")
            optimizer.zero_grad(set_to_none=True)
            per_model.mean(dim=1).sum().backward()  # each model's gradient is that of its own mean loss
            optimizer.step()
    with torch.no_grad():
        out = forward()
        losses = torch.nn.functional.binary_cross_entropy_with_logits(out, y, reduction="none").mean(dim=1)
        accs = ((out > 0).float() == y).float().mean(dim=1)
    models = []
    for m, spec in enumerate(specs):
        sizes = list(pairwise(spec.widths))
        weights = tuple(params[i][0][m, :a, :b].detach().clone() for i, (a, b) in enumerate(sizes))
        biases = tuple(params[i][1][m, 0, :b].detach().clone() for i, (_, b) in enumerate(sizes))
        models.append(TinyMLP(spec.width, spec.depth, spec.activation, weights, biases,
                              accs[m].item(), losses[m].item()))  # fmt: skip
    return models


def is_constant(model: TinyMLP, X: torch.Tensor) -> bool:
    """Whether the model gives every point of ``X`` the same logit (to 1e-6): it has *died*.

    For a ReLU network this happens when every unit of one hidden layer is off
    on every point: from there on nothing depends on the input, and no
    gradient flows back through that layer, so training cannot repair it.
    """
    out = logits(model, X)
    return bool(out.max() - out.min() < 1e-6)


def activation_patterns(model: TinyMLP, X: torch.Tensor) -> torch.Tensor:
    """For each point of ``X``, which units of the first hidden layer are on (pre-activation > 0): bool ``(n, width)``.

    Within a set of points with the same pattern, a one-hidden-layer ReLU
    network is one affine function: the units that are on add their linear
    pieces, the others add nothing.
    """
    if model.depth == 0:
        raise ValueError("a network without hidden layers has no units, so no activation patterns.")
    return X @ model.weights[0] + model.biases[0] > 0


@dataclass(frozen=True)
class State:
    """One setting of the playground's controls, with the network trained for it.

    ``model`` is the best of ``starts`` trainings from different initial
    weights (the lowest training loss); ``died`` counts the starts whose
    output ended constant (see :func:`is_constant`).  ``held_out_accuracy``
    is ``model``'s accuracy on :func:`held_out_data`, which played no part in
    training or in choosing the start.
    """

    dataset: str
    width: int
    depth: int
    activation: str
    model: TinyMLP
    starts: int
    died: int
    held_out_accuracy: float


def train_states(
    datasets: Sequence[str] = DATASETS,
    widths: Sequence[int] = (0, 1, 2, 3, 4, 8, 16, 32),
    depths: Sequence[int] = (1, 2, 3),
    activations: Sequence[str] = ACTIVATIONS,
    starts: int = 3,
    steps: int = 300,
    lr: float = 0.03,
) -> dict[tuple[str, int, int, str], State]:
    """Train every combination of the controls, ``starts`` times each, in one batched run.

    The key is ``(dataset, width, depth, activation)``.  Width 0 means no
    hidden layer, the same network whatever the depth and activation: it is
    trained once per data set and listed under every depth and activation.
    The data are :func:`make_data` with its defaults; each state's held-out
    accuracy is measured on :func:`held_out_data`.
    """
    data = {name: make_data(name) for name in datasets}
    held_out = {name: held_out_data(name) for name in datasets}
    archs = [(w, d, a) for w in widths if w > 0 for d in depths for a in activations]
    archs += [(0, 0, "linear")] if 0 in widths else []
    specs = [Spec(ds, w, d, a, seed) for ds in datasets for (w, d, a) in archs for seed in range(starts)]
    models = fit_many(specs, data, steps=steps, lr=lr)
    states = {}
    for k in range(0, len(specs), starts):
        spec, runs = specs[k], models[k : k + starts]
        best = min(runs, key=lambda m: m.train_loss)
        died = sum(is_constant(m, data[spec.dataset][0]) for m in runs)
        tested = accuracy(best, *held_out[spec.dataset])
        if spec.width == 0:  # logistic regression: the same model under every depth and activation
            keys = [(0, d, a) for d in depths for a in activations]
        else:
            keys = [(spec.width, spec.depth, spec.activation)]
        for w, d, a in keys:
            states[spec.dataset, w, d, a] = State(spec.dataset, w, d, a, best, starts, died, tested)
    return states


def draw_regions(ax: Any, model: TinyMLP, X: torch.Tensor, y: torch.Tensor, resolution: int = 121) -> Any:
    """Draw ``model``'s decision regions on the matplotlib ``ax``: probability shading, boundary, unit lines, data.

    Blue is class 0 and red class 1; the black line is the boundary (probability 1/2); dashed grey lines
    are where the first hidden layer's units switch (drawn for ReLU networks, whose output has a crease there).
    """
    ticks, probability = grid_points(resolution)[0].numpy(), decision_grid(model, resolution).numpy()
    ax.imshow(probability, origin="lower", extent=(-EXTENT, EXTENT, -EXTENT, EXTENT), cmap="RdBu_r", vmin=0,
              vmax=1, alpha=0.6, interpolation="bilinear")  # fmt: skip
    if probability.min() < 0.5 < probability.max():
        ax.contour(ticks, ticks, probability, levels=[0.5], colors="black", linewidths=1.2)
    if model.activation == "relu":
        for (a, b), (c, d) in unit_lines(model):
            ax.plot([a, c], [b, d], color="0.35", linestyle="--", linewidth=0.8)
    for label, color in ((0, CLASS_COLORS[0]), (1, CLASS_COLORS[1])):
        ax.scatter(*X[y == label].T.numpy(), s=12, color=color, edgecolors="white", linewidths=0.4)
    ax.set(xlim=(-EXTENT, EXTENT), ylim=(-EXTENT, EXTENT), aspect="equal", xticks=[-1, 0, 1], yticks=[-1, 0, 1])
    return ax


# ---------------------------------------------------------------------------
# The shape of a decision boundary, measured on a grid

STRAIGHT = 0.02  # a curve that stays this close to a segment looks straight: under 1% of the square's side
SMALLEST_PART = 0.1  # boundary parts shorter than this (one step of the book's 31 x 31 map) are too small to see
PARALLEL = 10.0  # degrees: two straight parts closer to parallel than this, and nothing else, bound a band


@dataclass(frozen=True)
class Part:
    """One connected line of a decision boundary inside the square (see :func:`decision_boundary`)."""

    pieces: int  # the straight segments that follow it to within STRAIGHT
    closed: bool  # a loop inside the square, around an island of one class
    inside: int | None  # the class a loop encloses; None for a line that runs from edge to edge
    centre: tuple[float, float]  # the mean of its traced points
    direction: tuple[float, float]  # its principal direction, a unit vector


@dataclass(frozen=True)
class Boundary:
    """The shape of a model's decision boundary in the square, as :func:`decision_boundary` measures it."""

    everywhere: int | None  # the class predicted on the whole grid when no boundary crosses the square, else None
    parts: tuple[Part, ...]
    band: int | None  # the class between two nearly parallel straight parts, when they are the whole boundary

    @property
    def pieces(self) -> int:
        """The straight pieces of all parts together."""
        return sum(part.pieces for part in self.parts)


def _segments(points: np.ndarray, tolerance: float) -> int:
    """How many segments the Douglas-Peucker algorithm keeps for the open polyline ``points``.

    It keeps the chord from the first to the last point if every point lies
    within ``tolerance`` of it; otherwise it splits at the farthest point and
    treats the two halves the same way.
    """
    chord = points[-1] - points[0]
    offsets = points - points[0]
    length = math.hypot(*chord)
    if length > 1e-12:
        distance = np.abs(offsets[:, 0] * chord[1] - offsets[:, 1] * chord[0]) / length
    else:
        distance = np.hypot(offsets[:, 0], offsets[:, 1])
    far = int(distance.argmax())
    if distance[far] <= tolerance:
        return 1
    return _segments(points[: far + 1], tolerance) + _segments(points[far:], tolerance)


def _part(line: np.ndarray, z: np.ndarray, points: np.ndarray) -> Part:
    """Measure one traced line of the boundary: its pieces, whether it closes, what it encloses, where it runs."""
    from matplotlib.path import Path

    closed = bool(np.allclose(line[0], line[-1]))
    centre = line.mean(axis=0)
    direction = np.linalg.svd(line - centre, full_matrices=False)[2][0]
    inside = None
    if closed:
        loop = line[:-1]
        corner = int(np.hypot(*(loop - centre).T).argmax())  # farthest from the centre: a corner of a polygon
        loop = np.roll(loop, -corner, axis=0)
        opposite = int(np.hypot(*(loop - loop[0]).T).argmax())  # farthest from that corner: another corner
        pieces = _segments(loop[: opposite + 1], STRAIGHT) + _segments(np.vstack([loop[opposite:], loop[:1]]), STRAIGHT)
        box = ((points >= line.min(axis=0)) & (points <= line.max(axis=0))).all(axis=1).nonzero()[0]
        enclosed = box[Path(line).contains_points(points[box])]
        if len(enclosed):  # the class of most grid points inside the loop
            inside = int((z[enclosed] > 0).mean() > 0.5)
        else:  # a loop smaller than a grid cell: it encloses the class its surroundings lack
            inside = int(z[np.hypot(*(points - centre).T).argmin()] <= 0)
    else:
        pieces = _segments(line, STRAIGHT)
    return Part(
        pieces, closed, inside, (float(centre[0]), float(centre[1])), (float(direction[0]), float(direction[1]))
    )


def decision_boundary(model: TinyMLP, resolution: int = 201) -> Boundary:
    """Measure the shape of ``model``'s decision boundary (logit 0) in the square, from its logits on a grid.

    The boundary is traced on a ``resolution`` x ``resolution`` grid with the
    algorithm matplotlib draws contours with (``contourpy``), and each of its
    connected parts is reduced to straight *pieces* by Douglas-Peucker
    simplification: as few segments as stay within :data:`STRAIGHT` of it.
    A ReLU network's boundary is made of straight pieces, one per linear
    region it crosses; the count is what a reader can see (two pieces that
    meet at an angle too small to notice count as one).  A tanh network's
    boundary is smooth: more than one piece means it visibly curves.  Parts
    shorter than :data:`SMALLEST_PART` are left out: the book's map cannot
    show them.  At the default resolution (a grid step of 0.015) the traced
    corners are close enough to the true ones that the pieces counted never
    exceed the linear regions the boundary crosses (the tests check every
    state of the playground); on a coarser grid a corner can cost a piece.
    """
    import contourpy

    ticks, points = grid_points(resolution)
    with torch.no_grad():
        z = logits(model, points).double().numpy()
    if (z > 0).all() or (z <= 0).all():
        return Boundary(int(z[0] > 0), (), None)
    axis = ticks.double().numpy()
    lines = contourpy.contour_generator(axis, axis, z.reshape(resolution, resolution)).lines(0.0)
    parts = tuple(_part(line, z, points.double().numpy()) for line in lines  # type: ignore[union-attr]
                  if np.hypot(*np.diff(line, axis=0).T).sum() >= SMALLEST_PART)  # fmt: skip
    if not parts:  # only specks of one class, too small to show: the map shows the other class everywhere
        return Boundary(int((z > 0).mean() > 0.5), (), None)
    band = None
    if len(parts) == 2 and all(p.pieces == 1 and not p.closed for p in parts):
        cosine = abs(float(np.dot(parts[0].direction, parts[1].direction)))
        if cosine > math.cos(math.radians(PARALLEL)):
            middle = torch.tensor(
                [[(a + b) / 2 for a, b in zip(parts[0].centre, parts[1].centre, strict=True)]], device=DEVICE
            )
            with torch.no_grad():
                band = int(logits(model, middle).item() > 0)
    return Boundary(None, parts, band)


def unit_line_crossings(model: TinyMLP, extent: float = EXTENT) -> int:
    """How many pairs of the first hidden layer's unit lines (see :func:`unit_lines`) cross inside the square."""
    if model.depth == 0:
        return 0
    W, b = model.weights[0].double(), model.biases[0].double()
    crossings = 0
    for j in range(W.shape[1]):
        for k in range(j + 1, W.shape[1]):
            A = torch.stack([W[:, j], W[:, k]], dim=1)  # the crossing x solves x A = -(b_j, b_k)
            if abs(torch.linalg.det(A)) < 1e-12:  # parallel lines never cross
                continue
            x = torch.linalg.solve(A.T, -torch.stack([b[j], b[k]]))
            crossings += bool(x.abs().max() <= extent)
    return crossings


def describe_boundary(boundary: Boundary, activation: str) -> str:
    """The boundary's shape in words, from what :func:`decision_boundary` measured.

    ``activation`` decides the vocabulary: a ReLU network's boundary is made
    of straight pieces; a tanh network's curves, and is at best nearly straight.
    """
    if boundary.everywhere is not None:
        return f"it predicts class {boundary.everywhere} everywhere in the square"
    straight = "nearly straight" if activation == "tanh" else "straight"
    parts = boundary.parts
    if boundary.band is not None:
        return (f"its boundary is two {straight}, nearly parallel lines, with class {boundary.band} in the band "
                "between them")  # fmt: skip
    if len(parts) == 1 and parts[0].closed:
        line = f"a closed line of {parts[0].pieces} straight pieces" if activation == "relu" else "a closed curve"
        return f"its boundary is {line} around a region of class {parts[0].inside}"
    in_parts = f" in {len(parts)} parts" if len(parts) > 1 else ""
    if boundary.pieces == len(parts):
        shape = f"its boundary is {'one' if len(parts) == 1 else len(parts)} {straight} line{'s' * (len(parts) > 1)}"
    elif activation == "relu":
        shape = f"its boundary is made of {boundary.pieces} straight pieces{in_parts}"
    else:
        shape = f"its boundary curves{',' if in_parts else ''}{in_parts}"
    loops = [part.inside for part in parts if part.closed]
    for label in (0, 1):
        if loops.count(label) == 1:
            shape += f", one of them closed around a region of class {label}"
        elif loops.count(label) > 1:
            shape += f", {loops.count(label)} of them closed around regions of class {label}"
    return shape


# ---------------------------------------------------------------------------
# The demo: every trained state as a map of the plane

NAMES = {"xor": "XOR", "circles": "circles", "moons": "moons", "spiral": "spiral",
         "linear": "linear", "relu": "ReLU", "tanh": "tanh"}  # fmt: skip


def describe(state: State, boundary: Boundary | None = None) -> tuple[str, str]:
    """The title and the one-sentence description of a state: the network, its fit, and its boundary's shape.

    The shape is measured (``boundary``, by default :func:`decision_boundary`
    of the state's network) and, where theory decides it, explained: a linear
    network, or one with a single unit per layer, draws one straight line.
    """
    boundary = decision_boundary(state.model) if boundary is None else boundary
    if state.width == 0:
        network = "no hidden layer (logistic regression)"
    else:
        layers = "1 hidden layer" if state.depth == 1 else f"{state.depth} hidden layers"
        network = f"{layers} of {state.width} {NAMES[state.activation]} unit{'s' if state.width > 1 else ''}"
    title = f"{NAMES[state.dataset]}: {network}"
    fit = (f"{state.model.num_parameters} parameters, training accuracy {state.model.train_accuracy:.2f}, "
           f"held-out accuracy {state.held_out_accuracy:.2f}")  # fmt: skip
    deaths = f" ({state.died} of {state.starts} starts died)" if 0 < state.died < state.starts else ""
    if boundary.everywhere is not None:
        shape = describe_boundary(boundary, state.activation)
        shape = f"all {state.starts} starts died, so {shape}" if state.died == state.starts else shape
    elif state.width == 0 or state.activation == "linear":
        shape = "a linear network, so its boundary is one straight line"
    elif state.width == 1:
        shape = "one unit per layer passes on a single number, x w + b, so its boundary is one straight line"
    else:
        shape = describe_boundary(boundary, state.activation)
    return title, f"{NAMES[state.dataset]}, {network}, {fit}{deaths}: {shape}."


def state_frame(state: State, X: torch.Tensor, y: torch.Tensor, held_out: tuple[torch.Tensor, torch.Tensor],
                resolution: int = 31) -> Frame:  # fmt: skip
    """What the playground shows for one state: the probability of class 1, the unit lines, the training data,
    and the held-out points the network gets wrong."""
    ticks, _ = grid_points(resolution)
    xs: list[float | None] = []
    ys: list[float | None] = []
    if state.activation == "relu":
        for (a, b), (c, d) in unit_lines(state.model):
            xs += [a, c, None]
            ys += [b, d, None]
    title, description = describe(state)
    with torch.no_grad():
        wrong = (logits(state.model, held_out[0]) > 0).long() != held_out[1]
    traces = (
        heatmap("probability of class 1", ticks, ticks, decision_grid(state.model, resolution), colors=(
            CLASS_COLORS[0], "#f7f7f7", CLASS_COLORS[1])),
        trace("unit lines of layer 1" if xs else "unit lines: none", xs, ys, color="#333333", dash="dash", width=1.5),
        trace("class 0", X[y == 0, 0], X[y == 0, 1], color=CLASS_COLORS[0], mode="markers"),
        trace("class 1", X[y == 1, 0], X[y == 1, 1], color=CLASS_COLORS[1], mode="markers"),
        trace(f"held-out points it gets wrong: {int(wrong.sum())} of {len(wrong)}", held_out[0][wrong, 0],
              held_out[0][wrong, 1], color="#000000", mode="markers"),
    )  # fmt: skip
    return Frame(traces, title, description)


def playground_demo(states: dict[tuple[str, int, int, str], State]) -> Demo:
    """The playground figure over ``states`` (from :func:`train_states`): its controls offer what was trained."""
    datasets = tuple(dict.fromkeys(key[0] for key in states))
    widths = tuple(sorted({key[1] for key in states}))
    depths = tuple(sorted({key[2] for key in states}))
    activations = tuple(a for a in ACTIVATIONS if any(key[3] == a for key in states))
    data = {name: make_data(name) for name in datasets}
    held_out = {name: held_out_data(name) for name in datasets}
    controls = [
        Control("dataset", datasets, datasets[0], label="data set", kind="buttons",
                labels=tuple(NAMES[d] for d in datasets)),
        Control("activation", activations, "relu" if "relu" in activations else activations[0], label="activation",
                kind="buttons", labels=tuple(NAMES[a] for a in activations)),
        Control("depth", depths, depths[0], label="hidden layers"),
        Control("width", widths, 3 if 3 in widths else widths[len(widths) // 2], label="units per layer"),
    ]  # fmt: skip

    frames: dict[tuple[str, int, int, str], Frame] = {}  # each state is measured and described once

    def render(dataset: str, activation: str, depth: int, width: int) -> Frame:
        key = (dataset, width, depth, activation)
        if key not in frames:
            frames[key] = state_frame(states[key], *data[dataset], held_out[dataset])
        return frames[key]

    caption = ("The 2-D playground: choose a data set and an activation, then the number of hidden layers and of "
               "units per layer, and see the decision regions of the trained network, its training points and the "
               "held-out points it gets wrong.")  # fmt: skip
    return Demo("playground", render, controls, caption, xlabel="x1", ylabel="x2", xrange=(-EXTENT, EXTENT),
                yrange=(-EXTENT, EXTENT), height=480, square=True)  # fmt: skip
