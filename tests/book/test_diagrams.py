"""Tests of d2lmini.book.diagrams: the network diagram has the right units, edges and labels."""

from __future__ import annotations

import time
from itertools import pairwise

import matplotlib.pyplot as plt
import pytest
from matplotlib.patches import Circle

from d2lmini.book.diagrams import default_unit_names, draw_mlp, shown_units


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def circles(ax):
    return [p for p in ax.patches if isinstance(p, Circle)]


@pytest.mark.parametrize("widths", [[4, 5, 3], [6, 4, 3, 1], [1, 1], [2, 7, 7, 2, 1]])
def test_one_circle_per_unit_and_one_segment_per_connection(widths):
    ax = draw_mlp(widths)
    assert len(circles(ax)) == sum(widths)
    (connections,) = ax.collections
    assert len(connections.get_segments()) == sum(a * b for a, b in pairwise(widths))


def test_every_segment_joins_two_circles_of_neighbouring_layers():
    ax = draw_mlp([3, 2])
    centres = {c.center for c in circles(ax)}
    r = circles(ax)[0].radius
    for (x0, y0), (x1, y1) in ax.collections[0].get_segments():
        assert (x0 - r, y0) in centres and (x1 + r, y1) in centres and x1 > x0


def test_a_lab_sized_network_draws_fast_and_small_with_an_ellipsis():
    start = time.perf_counter()
    ax = draw_mlp([784, 256, 10])
    ax.figure.canvas.draw()
    assert time.perf_counter() - start < 5  # was minutes: 203,264 separate lines
    assert len(circles(ax)) == 7 + 7 + 7  # per layer: 6 units, an ellipsis, the last unit
    assert len(ax.collections[0].get_segments()) == 7 * 7 * 2
    assert max(ax.figure.get_size_inches()) < 8
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("⋮") == 3
    assert {"$x_{1}$", "$x_{6}$", "$x_{784}$", "$h_{256}$", "$o_{10}$"} <= set(texts)
    assert "$x_{7}$" not in texts


def test_shown_units():
    assert shown_units(5, 8) == [0, 1, 2, 3, 4]
    assert shown_units(784, 6) == [0, 1, 2, 3, None, 783]
    with pytest.raises(ValueError, match="max_units"):
        draw_mlp([4, 3], max_units=2)


def test_unit_names_must_cover_every_unit():
    with pytest.raises(ValueError, match="one unit name per unit"):
        draw_mlp([2, 3], unit_names=[["a", "b"], ["c"]])


def test_default_labels_and_unit_names_are_drawn():
    ax = draw_mlp([4, 5, 3])
    texts = {t.get_text() for t in ax.texts}
    assert {"input layer", "hidden layer", "output layer"} <= texts
    assert {"$x_{1}$", "$x_{4}$", "$h_{5}$", "$o_{3}$"} <= texts


def test_several_hidden_layers_are_numbered():
    names = default_unit_names([6, 4, 3, 1])
    assert names[1][0] == "$h^{(1)}_{1}$"
    assert names[2][2] == "$h^{(2)}_{3}$"
    texts = {t.get_text() for t in draw_mlp([6, 4, 3, 1]).texts}
    assert {"hidden layer 1", "hidden layer 2"} <= texts


def test_custom_labels_and_blank_units():
    ax = draw_mlp([2, 3], labels=["in", "out"], unit_names=[["", ""], ["", "", ""]])
    assert sorted(t.get_text() for t in ax.texts) == ["in", "out"]


def test_draws_on_given_axes_and_new_figures_are_opaque():
    fig, given = plt.subplots()
    assert draw_mlp([3, 2], ax=given) is given
    new = draw_mlp([3, 2])
    assert new.figure is not fig
    assert new.figure.get_facecolor()[3] == 1.0


@pytest.mark.parametrize("widths", [[], [4], [4, 0, 3], [4, 2.5, 3]])
def test_bad_widths_are_refused(widths):
    with pytest.raises(ValueError, match="widths"):
        draw_mlp(widths)


def test_label_count_must_match_layers():
    with pytest.raises(ValueError, match="one label"):
        draw_mlp([4, 5, 3], labels=["in", "out"])
