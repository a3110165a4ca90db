"""Diagrams of fully connected networks, drawn with matplotlib.

The book draws its network figures with code instead of copying images, so
a reader can redraw them for any layer widths.  :func:`draw_mlp` puts one
column of circles per layer, inputs on the left, and joins every unit of a
layer to every unit of the next one, which is what "fully connected" means.
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


def draw_mlp(
    widths: Sequence[int],
    labels: Sequence[str] | None = None,
    ax: Axes | None = None,
    unit_names: Sequence[Sequence[str]] | None = None,
    radius: float = 0.3,
) -> Axes:
    """Draw the diagram of a fully connected network with the given layer widths.

    Args:
        widths: number of units per layer, inputs first, e.g. ``[4, 5, 3]``.
        labels: a caption under each column, e.g. ``["input", "hidden", "output"]``;
            by default "input layer", "hidden layer" (numbered if several) and "output layer".
        ax: the axes to draw on; a new opaque figure is made if omitted.
        unit_names: the text inside each circle, one list per layer; by default
            :func:`default_unit_names`.  Pass empty strings for bare circles.
        radius: the circles' radius, in units of the vertical spacing of the units.

    Returns:
        The axes.  Each unit is a ``matplotlib.patches.Circle`` in ``ax.patches``
        and each connection a line in ``ax.lines``, so a test (or a reader) can
        count them: ``sum(a * b for a, b in zip(widths, widths[1:]))`` lines.
    """
    from matplotlib.patches import Circle

    if len(widths) < 2 or any(int(w) != w or w < 1 for w in widths):
        raise ValueError(f"widths must be two or more positive integers, got {list(widths)}.")
    widths = [int(w) for w in widths]
    n_layers = len(widths)
    if labels is None:
        hidden = ["hidden layer"] if n_layers == 3 else [f"hidden layer {i}" for i in range(1, n_layers - 1)]
        labels = ["input layer", *hidden, "output layer"]
    if unit_names is None:
        unit_names = default_unit_names(widths)
    if len(labels) != n_layers or len(unit_names) != n_layers:
        raise ValueError(f"need one label and one list of unit names per layer ({n_layers} layers).")
    column_gap = 2.4
    bottom = -(max(widths) - 1) / 2 - radius
    xlim = (-radius - 0.9, column_gap * (n_layers - 1) + radius + 0.9)
    ylim = (bottom - 1.0, -bottom + 0.2)
    if ax is None:
        from d2lmini.plotting import figure

        inches_per_unit = 0.5  # the figure's shape follows the drawing's, so no blank margins
        size = (inches_per_unit * (xlim[1] - xlim[0]), inches_per_unit * (ylim[1] - ylim[0]))
        _, ax = figure(figsize=size)
        ax.set_position((0, 0, 1, 1))
    # Centre every column vertically; unit i of a layer sits at height (width - 1) / 2 - i.
    positions = [
        [(column_gap * layer, (width - 1) / 2 - i) for i in range(width)]
        for layer, width in enumerate(widths)
    ]
    for left, right in pairwise(positions):
        for x0, y0 in left:
            for x1, y1 in right:
                ax.plot([x0 + radius, x1 - radius], [y0, y1], color="0.55", linewidth=0.8, zorder=1)
    for layer, column in enumerate(positions):
        kind = 0 if layer == 0 else 2 if layer == n_layers - 1 else 1
        colour = NODE_COLOURS[kind]
        for (x, y), name in zip(column, unit_names[layer], strict=True):
            ax.add_patch(Circle((x, y), radius, facecolor=colour, edgecolor="0.2", linewidth=1.0, zorder=2))
            if name:
                ax.text(x, y, name, ha="center", va="center", fontsize=9, zorder=3)
    for layer, label in enumerate(labels):
        ax.text(column_gap * layer, bottom - 0.35, label, ha="center", va="top", fontsize=9)
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax
