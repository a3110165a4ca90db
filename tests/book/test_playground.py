"""Tests of d2lmini.book.playground: the 2-D data sets, tiny-MLP training and the geometry of their decisions."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from d2lmini.book import playground as pg
from tests.helpers import CHROMIUM, chromium


def hand_made(weights: list[list[list[float]]], biases: list[list[float]], activation: str = "relu") -> pg.TinyMLP:
    """A TinyMLP with the given weights (fan_in x fan_out per layer) and biases."""
    W = tuple(torch.tensor(w) for w in weights)
    b = tuple(torch.tensor(v) for v in biases)
    width = W[0].shape[1] if len(W) > 1 else 0
    return pg.TinyMLP(width, len(W) - 1, activation, W, b, train_accuracy=0.0, train_loss=0.0)


# -- data sets -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", pg.DATASETS)
def test_data_sets_are_balanced_seeded_and_inside_the_plane(name: str) -> None:
    X, y = pg.make_data(name, n=120, seed=3)
    assert X.shape == (120, 2) and X.dtype == torch.float32 and y.dtype == torch.long
    assert y.bincount().tolist() == [60, 60]
    assert X.abs().max() < pg.EXTENT
    again, _ = pg.make_data(name, n=120, seed=3)
    other, _ = pg.make_data(name, n=120, seed=4)
    assert torch.equal(X, again) and not torch.equal(X, other)


@pytest.mark.parametrize("name", pg.DATASETS)
def test_held_out_points_are_new_points_from_the_same_source(name: str) -> None:
    X, y = pg.make_data(name)
    held_X, held_y = pg.held_out_data(name)
    assert held_X.shape == (pg.HELD_OUT_POINTS, 2) and held_y.bincount().tolist() == [pg.HELD_OUT_POINTS // 2] * 2
    assert torch.cdist(held_X, X).min() > 0  # not one training point among them
    assert torch.equal(held_X, pg.held_out_data(name)[0])  # the same points on every call
    for label in (0, 1):  # the same distribution: each class centred where the training class is
        assert torch.allclose(held_X[held_y == label].mean(dim=0), X[y == label].mean(dim=0), atol=0.15)
    model = pg.fit(pg.Spec(name, 8, 2, "relu"), X, y) if name != "spiral" else None
    if model is not None:  # a network that fits the easy data sets does nearly as well on new points
        assert pg.accuracy(model, held_X, held_y) > model.train_accuracy - 0.1


def test_without_noise_each_data_set_has_its_shape() -> None:
    X, y = pg.make_data("xor", noise=0.0)
    assert torch.equal((X[:, 0] * X[:, 1] > 0).long(), y)
    X, y = pg.make_data("circles", noise=0.0)
    radius = X.norm(dim=1)
    assert radius[y == 1].max() <= 0.5 + 1e-6 and (radius[y == 0] - 1).abs().max() < 1e-6
    X, y = pg.make_data("spiral", noise=0.0)
    radius = X.norm(dim=1)  # the distance along the arm; class 1's arm is class 0's turned by half a turn
    angle = 3 * math.pi * radius + math.pi * y
    assert torch.allclose(X / radius[:, None], torch.stack([angle.cos(), angle.sin()], dim=1), atol=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"name": "swiss roll"}, "unknown data set 'swiss roll'"), ({"name": "xor", "n": 7}, "even whole number"),
     ({"name": "xor", "noise": -0.1}, "standard deviation")],
)  # fmt: skip
def test_bad_data_arguments_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pg.make_data(**kwargs)


# -- the best straight line ----------------------------------------------------------------------------


def sweep_line_accuracy(X: torch.Tensor, y: torch.Tensor, directions: int = 20_000) -> float:
    """Best half-plane accuracy by brute force: many directions, every threshold, both orientations."""
    angles = torch.arange(directions, dtype=torch.float64) * math.pi / directions
    proj = X.double() @ torch.stack([angles.cos(), angles.sin()])  # (n, directions)
    above = proj[None, :, :] >= proj[:, None, :]  # [t, i, k]: point i on or above the threshold at point t
    right = (above == y.bool()[None, :, None]).double().mean(dim=1)  # (thresholds, directions)
    everything_below = (y == 0).double().mean().item()
    return max(right.max().item(), (1 - right).max().item(), everything_below, 1 - everything_below)


def test_best_line_accuracy_on_hand_made_cases() -> None:
    corners = torch.tensor([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    assert pg.best_line_accuracy(corners, torch.tensor([1, 1, 0, 0])) == 0.75  # XOR: one corner must be lost
    separable = torch.tensor([[0.0, 0.0], [1.0, 0.2], [0.0, 1.0], [1.0, 1.2]])
    assert pg.best_line_accuracy(separable, torch.tensor([0, 0, 1, 1])) == 1.0
    assert pg.best_line_accuracy(separable, torch.tensor([1, 1, 0, 0])) == 1.0  # the same line, sides swapped


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_best_line_accuracy_matches_a_brute_force_sweep(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(14, 2, generator=gen)
    y = torch.randint(0, 2, (14,), generator=gen)
    assert pg.best_line_accuracy(X, y) == pytest.approx(sweep_line_accuracy(X, y))


# -- training ---------------------------------------------------------------------------------------------


def test_nothing_depends_on_the_default_device() -> None:
    """On a CUDA machine a notebook may set the default device; the playground stays on the CPU, unmixed."""
    with torch.device("meta"):  # a device nothing can compute on: any tensor left to the default would fail here
        X, y = pg.make_data("xor")
        held_out = pg.held_out_data("xor")
        model = pg.fit(pg.Spec("xor", 3, 2, "relu"), X, y, steps=20)
        boundary = pg.decision_boundary(model)
        grid = pg.decision_grid(model, 5)
        pg.best_line_accuracy(X, y)
        states = pg.train_states(["xor"], widths=(0, 2), depths=(1,), activations=("relu",), starts=1, steps=5)
        frame = pg.playground_demo(states).frame()
    assert {t.device.type for t in (X, *held_out, grid, *model.weights, *model.biases)} == {"cpu"}
    assert boundary.everywhere is not None or boundary.parts
    assert "held-out accuracy" in frame.description


def test_points_on_another_device_are_refused_with_what_to_do() -> None:
    X, y = pg.make_data("xor")
    model = pg.fit(pg.Spec("xor", 2, 1, "relu"), X, y, steps=5)
    with pytest.raises(ValueError, match=r"X is on meta.*live on the CPU.*pass X\.cpu\(\)"):
        pg.logits(model, X.to("meta"))
    with pytest.raises(ValueError, match=r"data\['xor'\]\[0\] is on meta"):
        pg.fit_many([pg.Spec("xor", 2, 1, "relu")], {"xor": (X.to("meta"), y)})


def test_batched_training_agrees_with_training_each_model_alone() -> None:
    """Padding and stacking change only the order of floating-point sums: over 50 steps the weights agree to 1e-5."""
    data = {name: pg.make_data(name, n=40) for name in ("xor", "moons")}
    specs = [pg.Spec("xor", 3, 2, "relu", seed=1), pg.Spec("moons", 2, 2, "tanh"), pg.Spec("xor", 4, 2, "linear")]
    together = pg.fit_many(specs, data, steps=50)
    for spec, model in zip(specs, together, strict=True):
        alone = pg.fit(spec, *data[spec.dataset], steps=50)
        assert [w.shape for w in model.weights] == [(2, spec.width), (spec.width, spec.width), (spec.width, 1)]
        for a, b in zip(model.weights + model.biases, alone.weights + alone.biases, strict=True):
            assert torch.allclose(a, b, atol=1e-5)
        assert model.train_accuracy == alone.train_accuracy


def test_training_fits_separable_data_and_reports_its_accuracy() -> None:
    X, y = pg.make_data("xor", noise=0.0)
    model = pg.fit(pg.Spec("xor", 8, 1, "relu"), X, y)
    assert model.train_accuracy == pg.accuracy(model, X, y) > 0.95
    assert model.num_parameters == 2 * 8 + 8 + 8 + 1


@pytest.mark.parametrize("depth", [1, 3])
def test_a_linear_network_is_one_straight_boundary(depth: int) -> None:
    X, y = pg.make_data("moons")
    model = pg.fit(pg.Spec("moons", 16, depth, "linear"), X, y)
    _, points = pg.grid_points(21)
    out = pg.logits(model, points).double()
    design = torch.cat([points.double(), torch.ones(len(points), 1, dtype=torch.float64)], dim=1)
    plane = torch.linalg.lstsq(design, out[:, None]).solution
    assert (design @ plane - out[:, None]).abs().max() < 1e-4 * out.abs().max()  # an affine function of the input
    assert model.train_accuracy <= pg.best_line_accuracy(X, y)


def test_one_relu_layer_is_affine_within_each_activation_pattern() -> None:
    X, y = pg.make_data("circles")
    model = pg.fit(pg.Spec("circles", 4, 1, "relu"), X, y)
    _, points = pg.grid_points(41)
    patterns = pg.activation_patterns(model, points)
    out = pg.logits(model, points).double()
    codes = (patterns.long() * (2 ** torch.arange(4))).sum(dim=1)
    assert 1 < len(codes.unique()) <= 1 + 4 + 4 * 3 // 2  # four lines cut the plane into at most 11 pieces
    for code in codes.unique():
        inside = codes == code
        if inside.sum() < 3:
            continue
        design = torch.cat([points[inside].double(), torch.ones(int(inside.sum()), 1, dtype=torch.float64)], dim=1)
        plane = torch.linalg.lstsq(design, out[inside, None]).solution
        assert (design @ plane - out[inside, None]).abs().max() < 1e-4


def test_bad_specs_and_missing_data_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown activation 'sigmoid'"):
        pg.Spec("xor", 2, 1, "sigmoid")
    with pytest.raises(ValueError, match="width 0 and depth 0"):
        pg.Spec("xor", 0, 2, "relu")
    with pytest.raises(ValueError, match="whole number"):
        pg.Spec("xor", 2.5, 1, "relu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"no data for data set\(s\) \['moons'\]"):
        pg.fit_many([pg.Spec("moons", 2, 1, "relu")], {"xor": pg.make_data("xor")})


def test_a_relu_network_whose_units_are_all_off_has_died() -> None:
    X, _ = pg.make_data("xor")
    dead = hand_made([[[1.0, 0.5], [0.5, 1.0]], [[1.0], [-1.0]]], [[-5.0, -5.0], [0.3]])
    alive = hand_made([[[1.0, 0.5], [0.5, 1.0]], [[1.0], [-1.0]]], [[0.0, 0.0], [0.3]])
    assert pg.is_constant(dead, X) and not pg.is_constant(alive, X)


def test_train_states_lists_width_zero_under_every_setting_and_counts_deaths() -> None:
    states = pg.train_states(["xor"], widths=(0, 8), depths=(1, 2), activations=("relu", "tanh"), starts=2)
    assert set(states) == {("xor", w, d, a) for w in (0, 8) for d in (1, 2) for a in ("relu", "tanh")}
    logistic = {id(states["xor", 0, d, a].model) for d in (1, 2) for a in ("relu", "tanh")}
    assert len(logistic) == 1  # one network without hidden layers, shared by all four settings
    assert states["xor", 8, 2, "relu"].model.train_accuracy > 0.95
    assert all(0 <= s.died <= s.starts == 2 for s in states.values())
    best = states["xor", 8, 1, "tanh"]
    assert best.held_out_accuracy == pg.accuracy(best.model, *pg.held_out_data("xor")) > 0.9
    runs = pg.fit_many([pg.Spec("xor", 8, 1, "tanh", seed) for seed in (0, 1)], {"xor": pg.make_data("xor")})
    assert best.model.train_loss == pytest.approx(min(m.train_loss for m in runs))


# -- the figure's geometry -------------------------------------------------------------------------------


def test_decision_grid_is_laid_out_like_an_image() -> None:
    rises_with_x1 = hand_made([[[1.0], [0.0]]], [[0.0]])  # no hidden layer: logit = x1
    grid = pg.decision_grid(rises_with_x1, resolution=5)
    ticks, _ = pg.grid_points(5)
    assert grid.shape == (5, 5)
    assert torch.allclose(grid, torch.sigmoid(ticks).expand(5, 5))  # grid[i, j] depends on x1 = ticks[j] only


def test_unit_lines_lie_on_each_units_line_and_end_on_the_square() -> None:
    model = hand_made(
        [[[1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]], [[1.0], [1.0], [1.0], [1.0]]],
        [[-0.5, 0.2, 0.0, 9.0], [0.0]],
    )  # unit 4's line, x1 = -9, misses the square
    segments = pg.unit_lines(model, extent=1.0)
    assert len(segments) == 3
    W, b = model.weights[0], model.biases[0]
    for unit, (start, end) in enumerate(segments):
        for point in (start, end):
            assert abs(point[0] * W[0, unit].item() + point[1] * W[1, unit].item() + b[unit].item()) < 1e-6
            assert max(abs(point[0]), abs(point[1])) == pytest.approx(1.0)
        assert start != end
    assert [c for point in segments[1] for c in point] == pytest.approx([-1, -0.2, 1, -0.2])  # unit 2: x2 = -0.2
    assert pg.unit_lines(hand_made([[[1.0], [0.0]]], [[0.0]])) == []


@pytest.mark.parametrize(("activation", "lines"), [("relu", 3), ("tanh", 0)])
def test_draw_regions_shows_shading_boundary_data_and_relu_folds(activation: str, lines: int) -> None:
    import matplotlib.pyplot as plt

    import d2lmini

    X, y = pg.make_data("circles")
    model = pg.fit(pg.Spec("circles", 3, 1, activation), X, y)
    _, ax = d2lmini.figure()
    pg.draw_regions(ax, model, X, y)
    assert len(ax.images) == 1 and ax.images[0].get_array().shape == (121, 121)
    assert len(ax.collections) == 3  # the boundary, then the points of each class
    assert len(ax.get_lines()) == lines == len(pg.unit_lines(model)) * (activation == "relu")
    assert ax.get_xlim() == ax.get_ylim() == (-pg.EXTENT, pg.EXTENT)
    plt.close(ax.figure)



# -- the shape of the boundary ------------------------------------------------------------------------------


def test_douglas_peucker_keeps_corners_and_drops_small_wiggles() -> None:
    line = np.linspace(0, 1, 50)
    wiggle = 0.5 * pg.STRAIGHT * np.sin(40 * line)
    assert pg._segments(np.stack([line, wiggle], axis=1), pg.STRAIGHT) == 1
    corner = np.concatenate([np.stack([line, 0 * line], 1), np.stack([1 + 0 * line, line], 1)[1:]])
    assert pg._segments(corner, pg.STRAIGHT) == 2  # an L: two pieces
    angle = np.linspace(0, math.pi, 200)
    assert pg._segments(np.stack([np.cos(angle), np.sin(angle)], 1), pg.STRAIGHT) > 5  # a half circle: many


def test_a_band_an_island_a_line_and_nothing_are_measured_as_such() -> None:
    band = hand_made([[[1.0, -1.0], [0.0, 0.0]], [[-1.0], [-1.0]]], [[0.0, 0.0], [0.5]])  # 0.5 - |x1|
    measured = pg.decision_boundary(band)
    assert (measured.everywhere, measured.band, [p.pieces for p in measured.parts]) == (None, 1, [1, 1])
    assert sorted(round(p.centre[0], 3) for p in measured.parts) == [-0.5, 0.5]
    assert pg.describe_boundary(measured, "relu") == (
        "its boundary is two straight, nearly parallel lines, with class 1 in the band between them")
    diamond = hand_made([[[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]], [[-1.0]] * 4], [[0.0] * 4, [0.6]])
    measured = pg.decision_boundary(diamond)  # 0.6 - |x1| - |x2|: a square standing on a corner, around class 1
    assert [(p.pieces, p.closed, p.inside) for p in measured.parts] == [(4, True, 1)]
    assert pg.describe_boundary(measured, "relu") == (
        "its boundary is a closed line of 4 straight pieces around a region of class 1")
    outside = hand_made([[[-1.0, 1.0, 0.0, 0.0], [0.0, 0.0, -1.0, 1.0]], [[1.0]] * 4], [[0.0] * 4, [-0.6]])
    assert [(p.pieces, p.closed, p.inside) for p in pg.decision_boundary(outside).parts] == [(4, True, 0)]
    line = hand_made([[[1.0], [1.0]]], [[-0.2]])  # no hidden layer: x1 + x2 = 0.2
    measured = pg.decision_boundary(line)
    assert [(p.pieces, p.closed) for p in measured.parts] == [(1, False)] and measured.band is None
    assert pg.describe_boundary(measured, "linear") == "its boundary is one straight line"
    speck = hand_made([[[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]], [[-1.0]] * 4], [[0.0] * 4, [0.01]])
    assert pg.decision_boundary(speck).everywhere == 0  # an island of class 1 too small for the map to show
    for value, label in ((2.0, 1), (-2.0, 0)):
        constant = hand_made([[[0.0], [0.0]]], [[value]])
        assert pg.decision_boundary(constant) == pg.Boundary(label, (), None)
        assert pg.describe_boundary(pg.decision_boundary(constant), "relu") == (
            f"it predicts class {label} everywhere in the square")


def test_unit_line_crossings_count_only_crossings_inside_the_square() -> None:
    axes = hand_made([[[1.0, 0.0], [0.0, 1.0]], [[1.0], [1.0]]], [[0.0, 0.0], [0.0]])  # x1 = 0 and x2 = 0
    assert pg.unit_line_crossings(axes) == 1
    parallel = hand_made([[[1.0, 1.0], [0.0, 0.0]], [[1.0], [1.0]]], [[0.0, 0.5], [0.0]])  # x1 = 0 and x1 = -0.5
    assert pg.unit_line_crossings(parallel) == 0
    far = hand_made([[[1.0, 0.0], [0.0, 1.0]], [[1.0], [1.0]]], [[-2.0, 0.0], [0.0]])  # they cross at (2, 0)
    assert pg.unit_line_crossings(far) == 0
    assert pg.unit_line_crossings(hand_made([[[1.0], [0.0]]], [[0.0]])) == 0


# The description of a state is checked against the boundary traced independently of the module: crossings of a
# finer grid's edges, grouped into parts by the cells they share (not contourpy), and for a ReLU network the linear
# regions those points fall in, which bound the straight pieces from above.
TRACE_RESOLUTION = 241
TRACE_STEP = 2 * pg.EXTENT / (TRACE_RESOLUTION - 1)


def traced_parts(model: pg.TinyMLP) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The boundary's points on the edges of a fine grid, as one tensor per connected part, and the grid's logits."""
    ticks, points = pg.grid_points(TRACE_RESOLUTION)
    t = ticks.double()
    with torch.no_grad():
        z = pg.logits(model, points).double().reshape(TRACE_RESOLUTION, TRACE_RESOLUTION)
    positive = z > 0
    ids, found, count = [], [], 0
    for along_x1, changes in ((True, positive[:, :-1] != positive[:, 1:]), (False, positive[:-1] != positive[1:])):
        i, j = torch.nonzero(changes, as_tuple=True)
        after = z[i, j + 1] if along_x1 else z[i + 1, j]
        frac = z[i, j] / (z[i, j] - after)
        x1, x2 = (t[j] + frac * TRACE_STEP, t[i]) if along_x1 else (t[j], t[i] + frac * TRACE_STEP)
        found.append(torch.stack([x1, x2], dim=1))
        grid = torch.full(changes.shape, -1, dtype=torch.long)
        grid[i, j] = torch.arange(count, count + len(i))
        ids.append(grid)
        count += len(i)
    # each grid cell's four edges: bottom and top (along x1), left and right (along x2)
    cells = torch.stack([ids[0][:-1, :], ids[0][1:, :], ids[1][:, :-1], ids[1][:, 1:]], dim=-1).reshape(-1, 4)
    parent = list(range(count))

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for edges in cells[(cells >= 0).sum(dim=1) >= 2].tolist():  # crossings of one cell belong to one part
        first, *rest = [root(e) for e in edges if e >= 0]
        for other in rest:
            parent[root(other)] = root(first)
    groups: dict[int, list[int]] = {}
    for a in range(count):
        groups.setdefault(root(a), []).append(a)
    crossings = torch.cat(found)
    return [crossings[g] for g in groups.values()], z


def traced_length(points: torch.Tensor) -> float:
    return len(points) * TRACE_STEP / 1.2  # about one crossing per grid edge, TRACE_STEP / sqrt(2) to TRACE_STEP apart


def off_line(points: torch.Tensor) -> float:
    """The largest distance of the points from their best-fitting straight line."""
    if len(points) < 3:
        return 0.0
    centred = points - points.mean(dim=0)
    return (centred @ torch.linalg.svd(centred, full_matrices=False).Vh[1]).abs().max().item()


def linear_regions(model: pg.TinyMLP, points: torch.Tensor) -> int:
    """How many linear regions of a ReLU network hold two of the points or more: the most straight pieces they form."""
    H, on = points.float(), []
    for W, b in zip(model.weights[:-1], model.biases[:-1], strict=True):
        Z = H @ W + b
        on.append(Z > 0)
        H = torch.relu(Z)
    _, counts = torch.unique(torch.cat(on, dim=1), dim=0, return_counts=True)
    return int((counts >= 2).sum())


def is_loop(points: torch.Tensor) -> bool:
    return bool((points.abs().max(dim=1).values < pg.EXTENT - 1e-9).all())


def class_at(model: pg.TinyMLP, point: torch.Tensor) -> int:
    with torch.no_grad():
        return int(pg.logits(model, point.float()[None]).item() > 0)


def assert_description_matches_the_traced_boundary(state: pg.State, description: str) -> None:
    """Every claim the description makes about the boundary holds for the independently traced boundary."""
    model, shape = state.model, description.split(": ", 1)[1]
    parts, z = traced_parts(model)
    seen = [p for p in parts if traced_length(p) >= 2 * pg.SMALLEST_PART]  # long enough to be counted for sure
    maybe = [p for p in parts if traced_length(p) >= pg.SMALLEST_PART / 2]  # long enough to be counted perhaps
    straight = 1.5 * pg.STRAIGHT
    if m := re.search(r"predicts class (\d) everywhere", shape):
        assert not seen and int(m[1]) == int((z > 0).double().mean() > 0.5)
        return
    assert seen, "the description gives a boundary, the grid has none"
    if "so its boundary is one straight line" in shape:  # by theory: exactly straight
        assert len(seen) == len(maybe) == 1 and off_line(torch.cat(parts)) < 5e-3
    elif m := re.search(r"two (nearly )?straight, nearly parallel lines, with class (\d) in the band", shape):
        assert len(seen) == len(maybe) == 2 and not any(map(is_loop, seen))
        assert all(off_line(p) <= straight for p in seen)
        first, second = (torch.linalg.svd(p - p.mean(dim=0), full_matrices=False).Vh[0] for p in seen)
        assert abs(first @ second) > math.cos(math.radians(pg.PARALLEL + 3))
        assert class_at(model, (seen[0].mean(dim=0) + seen[1].mean(dim=0)) / 2) == int(m[2])
    elif m := re.search(r"is (one|\d+) (nearly )?straight lines?", shape):
        assert len(seen) <= (1 if m[1] == "one" else int(m[1])) <= len(maybe)
        assert all(off_line(p) <= straight for p in seen)
    elif m := re.search(r"is a closed (line of (\d+) straight pieces|curve) around a region of class (\d)", shape):
        assert len(seen) == 1 and is_loop(seen[0]) and class_at(model, seen[0].mean(dim=0)) == int(m[3])
        assert 3 <= int(m[2]) <= linear_regions(model, seen[0]) if m[2] else off_line(seen[0]) > pg.STRAIGHT
    elif m := re.search(r"made of (\d+) straight pieces( in (\d+) parts)?", shape):
        count, pieces = int(m[3] or 1), int(m[1])
        assert len(seen) <= count <= len(maybe)
        bent = sum(off_line(p) > straight for p in seen)  # each of these needs two pieces or more
        assert count + bent <= pieces <= sum(linear_regions(model, p) for p in maybe)
    elif m := re.search(r"curves(, in (\d+) parts)?", shape):
        assert len(seen) <= int(m[2] or 1) <= len(maybe)
        assert any(off_line(p) > pg.STRAIGHT / 2 for p in seen)
    else:
        raise AssertionError(f"a description this test does not know: {shape!r}")
    loops = sum(1 if n == "one" else int(n) for n in re.findall(r"(one|\d+) of them closed", shape))
    if "closed line" not in shape and "closed curve" not in shape:
        assert sum(map(is_loop, seen)) <= loops <= sum(map(is_loop, maybe))


# -- the demo ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_states() -> dict:
    activations = ("linear", "relu", "tanh")
    return pg.train_states(["xor", "circles"], widths=(0, 1, 3, 8), depths=(1, 3), activations=activations)


def test_demo_offers_what_was_trained_and_starts_at_three_relu_units(small_states: dict) -> None:
    demo = pg.playground_demo(small_states)
    assert [(c.name, c.values) for c in demo.controls] == [
        ("dataset", ("xor", "circles")), ("activation", ("linear", "relu", "tanh")), ("depth", (1, 3)),
        ("width", (0, 1, 3, 8))]  # fmt: skip
    assert demo.frame().title == "XOR: 1 hidden layer of 3 ReLU units"
    assert demo.square and demo.xrange == demo.yrange == (-pg.EXTENT, pg.EXTENT)


def test_each_state_shows_its_network_and_reads_differently(small_states: dict) -> None:
    demo = pg.playground_demo(small_states)
    static = demo.static_states()
    descriptions = [s["description"] for s in static["states"]]
    assert len(set(descriptions)) == len(descriptions)  # no two different pictures are described alike
    assert len(static["states"]) == 2 * (1 + 3 * 2 * 3)  # width 0 is one state per data set
    for params in demo.grid():
        state = small_states[params["dataset"], params["width"], params["depth"], params["activation"]]
        frame = demo.frame(**params)
        assert f"training accuracy {state.model.train_accuracy:.2f}" in frame.description
        gaps = frame.traces[1].x.count(None)
        assert gaps == (len(pg.unit_lines(state.model)) if state.activation == "relu" else 0)
        assert f"held-out accuracy {state.held_out_accuracy:.2f}" in frame.description
        if state.died == state.starts:
            assert re.search(r"all 3 starts died, so it predicts class \d everywhere in the square\.$",
                             frame.description)  # fmt: skip
        elif state.width == 0 or state.activation == "linear":
            assert frame.description.endswith("a linear network, so its boundary is one straight line.")
        elif state.width == 1:
            assert frame.description.endswith("one unit per layer passes on a single number, x w + b, so its boundary "
                                              "is one straight line.")  # fmt: skip
        if 0 < state.died < state.starts:
            assert f"({state.died} of 3 starts died)" in frame.description
        assert_description_matches_the_traced_boundary(state, frame.description)


def test_the_black_points_are_the_held_out_points_the_network_gets_wrong(small_states: dict) -> None:
    demo = pg.playground_demo(small_states)
    for params in demo.grid():
        state = small_states[params["dataset"], params["width"], params["depth"], params["activation"]]
        X, y = pg.held_out_data(state.dataset)
        shown = demo.frame(**params).traces[-1]
        wrong = round((1 - state.held_out_accuracy) * len(y))
        assert shown.name == f"held-out points it gets wrong: {wrong} of {len(y)}" and len(shown.x) == wrong
        with torch.no_grad():
            predicted = (pg.logits(state.model, torch.tensor([shown.x, shown.y]).T) > 0).long()
        nearest = torch.cdist(torch.tensor([shown.x, shown.y]).T, X).argmin(dim=1)
        assert (predicted != y[nearest]).all()  # each black point is a held-out point, on the wrong side


@pytest.mark.slow
def test_every_playground_state_is_described_as_its_boundary_looks() -> None:
    """All states of the chapter's playground: the width-1 ones say one straight line, and every claim about parts,
    pieces, curves, bands and loops holds for the boundary traced on a finer grid by other means."""
    states = pg.train_states()
    demo = pg.playground_demo(states)
    for params in demo.grid():
        state = states[params["dataset"], params["width"], params["depth"], params["activation"]]
        assert_description_matches_the_traced_boundary(state, demo.frame(**params).description)


def test_the_map_is_the_networks_probability_on_the_grid(small_states: dict) -> None:
    demo = pg.playground_demo(small_states)
    frame = demo.frame(dataset="circles", activation="tanh", depth=3, width=8)
    probability = pg.decision_grid(small_states["circles", 8, 3, "tanh"].model, 31)
    shown = torch.tensor(frame.traces[0].z, dtype=torch.float64)
    assert torch.allclose(shown, probability.double(), atol=0.5 / 20 + 1e-6)  # rounded to the map's 21 levels


def test_live_view_redraws_the_map_when_a_control_moves(small_states: dict) -> None:
    demo = pg.playground_demo(small_states)
    box = demo.widget()
    dataset, width, image = box.children[0], box.children[3], box.children[-1]
    first = bytes(image.value)
    width.value = 8
    wider = bytes(image.value)
    dataset.value = "circles"
    assert len({first, wider, bytes(image.value)}) == 3
    assert bytes(image.value) == demo.png(dataset="circles", width=8)


# -- the playground figure in a browser --------------------------------------------------------------------

#: The plotly.js bundle the book serves (``make assets``): the test proves it holds every trace the figure uses.
SITE_PLOTLY = Path(__file__).resolve().parents[2] / "_vendor" / "site" / "plotly-cartesian.min.js"

#: The control that has the keyboard focus: its name, its input type and whether a slider is at its end.
FOCUSED = """() => {
  const el = document.activeElement, c = el && el.closest('[data-control]');
  return c ? [c.dataset.control, el.type, el.type === 'range' && +el.value === +el.max] : null;
}"""

#: What a reader sees and hears: the description, the announced slider values, the map and the fold lines drawn.
SEEN = """(fig) => {
  const plot = fig.querySelector('.d2lmini-demo-plot');
  return {description: fig.querySelector('.d2lmini-demo-description').textContent,
          values: [...fig.querySelectorAll('input[type=range]')].map(i => i.getAttribute('aria-valuetext')),
          plot: JSON.stringify((plot.data || []).map(t => [t.z, t.x, t.y])),
          regions: fig.querySelectorAll('.contourlayer path, .heatmaplayer image, .contour image').length,
          points: fig.querySelectorAll('.scatterlayer path').length};
}"""


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)")
def test_playground_figure_is_drawn_and_every_control_works_by_keyboard(tmp_path: Path) -> None:
    """The static figure in Chromium with the book's plotly.js bundle: plotly draws the regions and the points,
    Tab reaches each control, an arrow key changes the map."""
    assert SITE_PLOTLY.exists(), "the book's plotly.js is missing: run `make assets`"
    states = pg.train_states(["xor", "circles"], widths=(0, 2, 8), depths=(1, 2), activations=("relu", "tanh"))
    demo = pg.playground_demo(states)
    shutil.copy(SITE_PLOTLY, tmp_path)
    page_file = tmp_path / "index.html"
    page_file.write_text(f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>playground</title>'
                         f'<script src="{SITE_PLOTLY.name}" defer></script></head><body>{demo.to_html()}</body></html>')
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 900, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.goto(page_file.as_uri())
        figure = page.locator(f"#{demo.div_id}")
        page.wait_for_function(f"() => document.querySelector('#{demo.div_id}-plot .main-svg') !== null")
        seen = figure.evaluate(SEEN)
        assert seen["regions"] > 0 and seen["points"] > 0, seen
        reached = []
        for _ in range(40):
            page.keyboard.press("Tab")
            control = page.evaluate(FOCUSED)
            if control is None or control[0] in reached:
                continue
            reached.append(control[0])
            before = figure.evaluate(SEEN)
            page.keyboard.press("ArrowLeft" if control[2] else "ArrowRight")
            page.wait_for_timeout(200)
            after = figure.evaluate(SEEN)
            assert after["description"] != before["description"], control
            assert after["plot"] != before["plot"], control
            if control[1] == "range":
                assert after["values"] != before["values"], control
    assert reached == [c.name for c in demo.controls]
    assert errors == []


# -- the chapter ---------------------------------------------------------------------------------------------

CHAPTER = Path(__file__).resolve().parents[2] / "chapters" / "playground.ipynb"


def test_the_xor_figures_alt_text_says_what_its_cell_measured() -> None:
    """The alt text of the XOR figure repeats, word for word, the sentence the cell prints for each panel (nbval
    checks that the stored output is what the code prints now), so it describes the figure that was drawn."""
    cells = json.loads(CHAPTER.read_text())["cells"]
    alts = {c["metadata"].get("mystnb", {}).get("image", {}).get("alt", ""): c for c in cells}
    alt, cell = next((a, c) for a, c in alts.items() if a.startswith("Four decision-region plots of the XOR"))
    printed = "".join("".join(out.get("text", "")) for out in cell["outputs"] if out["output_type"] == "stream")
    panels = [line for line in printed.splitlines() if re.match(r"\d units?: ", line)]
    assert [line.split(" ")[0] for line in panels] == ["1", "2", "3", "4"]
    for line in panels:
        assert line in alt, f"the alt text does not say what the cell measured: {line!r}"
