"""Tests of d2lmini.book.diagrams: the network diagram has the right units, edges and labels."""

from __future__ import annotations

from itertools import pairwise

import matplotlib.pyplot as plt
import pytest
from matplotlib.patches import Circle

from d2lmini.book.diagrams import default_unit_names, draw_mlp


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("widths", [[4, 5, 3], [6, 4, 3, 1], [1, 1], [2, 7, 7, 2, 1]])
def test_one_circle_per_unit_and_one_line_per_connection(widths):
    ax = draw_mlp(widths)
    circles = [p for p in ax.patches if isinstance(p, Circle)]
    assert len(circles) == sum(widths)
    assert len(ax.lines) == sum(a * b for a, b in pairwise(widths))


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
