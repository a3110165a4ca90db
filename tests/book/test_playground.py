"""Tests of d2lmini.book.playground: the 2-D data sets, tiny-MLP training and the geometry of their decisions."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

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


def test_batched_training_equals_training_each_model_alone() -> None:
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
        if state.width == 0 or state.activation == "linear":
            assert frame.description.endswith("so its boundary is one straight line.")
        elif state.died == state.starts:
            assert frame.description.endswith("so it predicts one class everywhere.")
        elif state.died:
            assert f"({state.died} of 3 starts died)" in frame.description


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
