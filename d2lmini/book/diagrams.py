"""Diagrams of fully connected networks, drawn with matplotlib.

The book draws its network figures with code instead of copying images, so
a reader can redraw them for any layer widths.  :func:`draw_mlp` puts one
column of circles per layer, inputs on the left, and joins every unit of a
layer to every unit of the next one, which is what "fully connected" means.
The connections are one line collection and a wide layer is drawn as its
first units, an ellipsis and its last unit, so a lab-sized network
(784-256-10) draws as quickly, and at as readable a size, as a small one.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

NODE_COLOURS = ("#cfe3f7", "#fde2c4", "#d5efcf")  # input, hidden, output


def default_unit_names(widths: Sequence[int]) -> list[list[str]]:
    """Math-text names of the units: ``x_i`` for inputs, ``h_i`` (or ``h^{(l)}_i``) for hidden, ``o_i``.

    With more than one hidden layer, hidden units carry their layer's number
    as a superscript, so the names of different layers never clash.
    """
    names = [[f"$x_{{{i}}}$" for i in range(1, widths[0] + 1)]]
    n_hidden = len(widths) - 2
    for layer, width in enumerate(widths[1:-1], start=1):
        prefix = "h" if n_hidden == 1 else f"h^{{({layer})}}"
        names.append([f"${prefix}_{{{i}}}$" for i in range(1, width + 1)])
    names.append([f"$o_{{{i}}}$" for i in range(1, widths[-1] + 1)])
    return names


def shown_units(width: int, max_units: int) -> list[int | None]:
    """The units of a layer to draw, as 0-based indices, with ``None`` for an ellipsis.

    A layer of up to ``max_units`` is drawn whole; a wider one shows its first
    ``max_units - 2`` units, an ellipsis, and its last unit:
    ``shown_units(784, 6) == [0, 1, 2, 3, None, 783]``.
    """
    if width <= max_units:
        return list(range(width))
    return [*range(max_units - 2), None, width - 1]


def draw_mlp(
    widths: Sequence[int],
    labels: Sequence[str] | None = None,
    ax: Axes | None = None,
    unit_names: Sequence[Sequence[str]] | None = None,
    radius: float = 0.3,
    max_units: int = 8,
) -> Axes:
    """Draw the diagram of a fully connected network with the given layer widths.

    Args:
        widths: number of units per layer, inputs first, e.g. ``[4, 5, 3]``.
        labels: a caption under each column, e.g. ``["input", "hidden", "output"]``;
            by default "input layer", "hidden layer" (numbered if several) and "output layer".
        ax: the axes to draw on; a new opaque figure is made if omitted.
        unit_names: the text inside each circle, one list per layer (a name for
            every unit, drawn or not); by default :func:`default_unit_names`.
            Pass empty strings for bare circles.
        radius: the circles' radius, in units of the vertical spacing of the units.
        max_units: the most units drawn per layer; a wider layer shows its first
            units, a vertical ellipsis and its last unit (:func:`shown_units`),
            so ``[784, 256, 10]`` draws in a fraction of a second at a sensible size.

    Returns:
        The axes.  Each drawn unit is a ``matplotlib.patches.Circle`` in
        ``ax.patches``; the connections are one ``LineCollection``,
        ``ax.collections[0]``, with one segment per pair of drawn units in
        neighbouring layers: ``sum(a * b for a, b in zip(widths, widths[1:]))``
        segments when no layer is wider than ``max_units``.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Circle

    if len(widths) < 2 or any(int(w) != w or w < 1 for w in widths):
        raise ValueError(f"widths must be two or more positive integers, got {list(widths)}.")
    if max_units < 3:
        raise ValueError(f"max_units must be 3 or more (two units and an ellipsis), got {max_units}.")
    widths = [int(w) for w in widths]
    n_layers = len(widths)
    if labels is None:
        hidden = ["hidden layer"] if n_layers == 3 else [f"hidden layer {i}" for i in range(1, n_layers - 1)]
        labels = ["input layer", *hidden, "output layer"]
    if unit_names is None:
        unit_names = default_unit_names(widths)
    if len(labels) != n_layers or len(unit_names) != n_layers:
        raise ValueError(f"need one label and one list of unit names per layer ({n_layers} layers).")
    if any(len(names) != width for names, width in zip(unit_names, widths, strict=True)):
        raise ValueError(f"need one unit name per unit: widths {widths}, names {[len(n) for n in unit_names]}.")
    shown = [shown_units(width, max_units) for width in widths]
    column_gap = 2.4
    bottom = -(max(len(units) for units in shown) - 1) / 2 - radius
    xlim = (-radius - 0.9, column_gap * (n_layers - 1) + radius + 0.9)
    ylim = (bottom - 1.0, -bottom + 0.2)
    if ax is None:
        from d2lmini.plotting import figure

        inches_per_unit = 0.5  # the figure's shape follows the drawing's, so no blank margins
        size = (inches_per_unit * (xlim[1] - xlim[0]), inches_per_unit * (ylim[1] - ylim[0]))
        _, ax = figure(figsize=size)
        ax.set_position((0, 0, 1, 1))
    # Centre every column vertically; the i-th drawn slot of a layer sits at height (n - 1) / 2 - i.
    slots = [
        [((column_gap * layer, (len(units) - 1) / 2 - i), unit) for i, unit in enumerate(units)]
        for layer, units in enumerate(shown)
    ]
    circles = [[xy for xy, unit in column if unit is not None] for column in slots]
    segments = [
        [(x0 + radius, y0), (x1 - radius, y1)]
        for left, right in pairwise(circles)
        for x0, y0 in left
        for x1, y1 in right
    ]
    ax.add_collection(LineCollection(segments, colors="0.55", linewidths=0.8, zorder=1))
    for layer, column in enumerate(slots):
        kind = 0 if layer == 0 else 2 if layer == n_layers - 1 else 1
        for (x, y), unit in column:
            if unit is None:
                ax.text(x, y, "⋮", ha="center", va="center", fontsize=14, zorder=3)
                continue
            ax.add_patch(Circle((x, y), radius, facecolor=NODE_COLOURS[kind], edgecolor="0.2", linewidth=1.0, zorder=2))
            if unit_names[layer][unit]:
                ax.text(x, y, unit_names[layer][unit], ha="center", va="center", fontsize=9, zorder=3)
    for layer, label in enumerate(labels):
        ax.text(column_gap * layer, bottom - 0.35, label, ha="center", va="top", fontsize=9)
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax
