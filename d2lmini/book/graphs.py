"""Computational graphs, drawn by code: the forward pass as boxes and arrows, the backward pass as its mirror.

A :class:`Graph` is a small directed acyclic graph of named values (:class:`Node`): data, parameters,
intermediate values and the loss, each with a place on a grid, its shape and, optionally, the formula of its
gradient. An arrow ``a -> b`` means that ``b`` is computed from ``a``. The graph knows which values need a
gradient (a parameter, or anything computed from one) and so which arrows the backward pass walks, in the
opposite direction: :meth:`Graph.gradient_edges`. :func:`draw_graph` draws the forward arrows solid and the
backward ones dashed; :func:`mlp_graph` is the book's one-hidden-layer MLP with its loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

KINDS = ("data", "parameter", "value", "loss")
"""What a node is: given data (no gradient), a parameter (learned), a value computed from others, the loss."""

NODE_COLOURS = {"data": "#cfe3f7", "parameter": "#fde2c4", "value": "#d5efcf", "loss": "#f4d0d0"}
BACKWARD_COLOUR = "#c0504d"


@dataclass(frozen=True)
class Node:
    """One value of a computational graph.

    ``name`` identifies it in edges; ``label`` is what the box shows (matplotlib math text allowed);
    ``kind`` is one of :data:`KINDS`; ``x`` and ``y`` place the box's centre (y grows upwards);
    ``note`` is a second line such as the shape; ``gradient`` a third line, drawn in the backward colour.
    """

    name: str
    label: str
    kind: str
    x: float
    y: float
    note: str = ""
    gradient: str = ""


@dataclass(frozen=True)
class Graph:
    """Nodes and the arrows between them (``(source, target)`` pairs: the target is computed from the source).

    Raises ``ValueError`` for a duplicate name, an unknown kind, an arrow to or from an unknown node, or a cycle.
    """

    nodes: tuple[Node, ...]
    edges: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        names = [node.name for node in self.nodes]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"node names must be unique; repeated: {', '.join(duplicates)}.")
        for node in self.nodes:
            if node.kind not in KINDS:
                raise ValueError(f"node {node.name!r} has kind {node.kind!r}; use one of {', '.join(KINDS)}.")
        for source, target in self.edges:
            unknown = [n for n in (source, target) if n not in names]
            if unknown:
                raise ValueError(f"the edge {source} -> {target} names an unknown node: {', '.join(unknown)}.")
        for node in self.nodes:
            if node.kind in ("data", "parameter") and self.inputs(node.name):
                raise ValueError(f"{node.name} is {node.kind}, so nothing computes it, but it has incoming edges.")
        self.order()  # raises on a cycle

    def node(self, name: str) -> Node:
        """The node called ``name``."""
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def inputs(self, name: str) -> list[str]:
        """The nodes that ``name`` is computed from, in the order of the edges."""
        return [source for source, target in self.edges if target == name]

    def order(self) -> list[str]:
        """The nodes in an order in which the forward pass can compute them (each after all its inputs).

        Among the nodes that are ready, the one listed first in ``nodes`` comes first, so the order is the same on
        every run.
        """
        done: list[str] = []
        waiting = [node.name for node in self.nodes]
        while waiting:
            ready = next((n for n in waiting if all(s in done for s in self.inputs(n))), None)
            if ready is None:
                cycle = ", ".join(waiting)
                raise ValueError(f"the edges form a cycle through {cycle}: a graph of a forward pass has none.")
            done.append(ready)
            waiting.remove(ready)
        return done

    def needs_gradient(self, name: str) -> bool:
        """True for a parameter and for every value computed, directly or not, from a parameter."""
        node = self.node(name)
        return node.kind == "parameter" or any(self.needs_gradient(source) for source in self.inputs(name))

    def gradient_edges(self) -> list[tuple[str, str]]:
        """The arrows the backward pass walks, as ``(target, source)``: from a value back to an input of it that
        needs a gradient, in the order the backward pass visits them (the forward order, reversed)."""
        position = {name: i for i, name in enumerate(self.order())}
        backward = [(target, source) for source, target in self.edges if self.needs_gradient(source)]
        return sorted(backward, key=lambda edge: (-position[edge[0]], -position[edge[1]]))


def mlp_graph(n: int | str = "n", d: int = 784, h: int = 256, q: int = 10) -> Graph:
    """The forward pass of the one-hidden-layer MLP with a cross-entropy loss, in the book's convention.

    ``Z = X W1 + b1``, ``H = ReLU(Z)``, ``O = H W2 + b2``, ``L = mean cross-entropy(O, y)``, examples as rows.
    Each box shows its shape for a batch of ``n`` and, for what needs a gradient, the formula of that gradient
    (``δ`` is the gradient of the loss with respect to the logits ``O``). The values run down the left column,
    from the data to the loss; each parameter (and the labels) stands to the right, between the rows of the value
    it feeds, so the drawing is narrow enough to read on a phone.
    """
    row, right = 1.9, 3.2  # the distance between the rows, and the x of the right column
    nodes = (
        Node("X", r"$\mathbf{X}$", "data", 0.0, 0.0, f"{n}×{d}"),
        Node("W1", r"$\mathbf{W}_1$", "parameter", right, -0.5 * row, f"{d}×{h}",
             r"$\partial\mathbf{W}_1=\mathbf{X}^\top\partial\mathbf{Z}$"),
        Node("b1", r"$\mathbf{b}_1$", "parameter", right, -1.5 * row, f"{h}",
             r"$\partial\mathbf{b}_1=\mathbf{1}^\top\partial\mathbf{Z}$"),
        Node("Z", r"$\mathbf{Z}=\mathbf{X}\mathbf{W}_1+\mathbf{b}_1$", "value", 0.0, -row, f"{n}×{h}",
             r"$\partial\mathbf{Z}=\partial\mathbf{H}\odot 1(\mathbf{Z}>0)$"),
        Node("H", r"$\mathbf{H}=\mathrm{ReLU}(\mathbf{Z})$", "value", 0.0, -2 * row, f"{n}×{h}",
             r"$\partial\mathbf{H}=\delta\,\mathbf{W}_2^\top$"),
        Node("W2", r"$\mathbf{W}_2$", "parameter", right, -2.5 * row, f"{h}×{q}",
             r"$\partial\mathbf{W}_2=\mathbf{H}^\top\delta$"),
        Node("b2", r"$\mathbf{b}_2$", "parameter", right, -3.5 * row, f"{q}",
             r"$\partial\mathbf{b}_2=\mathbf{1}^\top\delta$"),
        Node("O", r"$\mathbf{O}=\mathbf{H}\mathbf{W}_2+\mathbf{b}_2$", "value", 0.0, -3 * row, f"{n}×{q}",
             r"$\partial\mathbf{O}=\delta=(\mathbf{P}-\mathbf{Y})/n$"),
        Node("y", r"$\mathbf{y}$", "data", right, -4.5 * row, f"{n}"),
        Node("L", r"$L=\ell(\mathbf{O},\mathbf{y})$", "loss", 0.0, -4 * row, "a scalar"),
    )  # fmt: skip
    edges = (
        ("X", "Z"), ("W1", "Z"), ("b1", "Z"), ("Z", "H"),
        ("H", "O"), ("W2", "O"), ("b2", "O"), ("O", "L"), ("y", "L"),
    )  # fmt: skip
    return Graph(nodes, edges)


def _edge_ends(a: Node, b: Node, half_width: float, half_height: float) -> tuple[tuple[float, float], ...]:
    """Where the straight line between the centres of two boxes leaves the first box and enters the second."""
    dx, dy = b.x - a.x, b.y - a.y
    scale = min(half_width / abs(dx) if dx else math.inf, half_height / abs(dy) if dy else math.inf)
    return (a.x + dx * scale, a.y + dy * scale), (b.x - dx * scale, b.y - dy * scale)


def draw_graph(
    graph: Graph,
    ax: Axes | None = None,
    backward: bool = True,
    box: tuple[float, float] = (2.3, 1.15),
    inches_per_unit: float = 0.75,
) -> Axes:
    """Draw ``graph``: a box per node, a solid arrow per forward edge and, with ``backward``, a dashed arrow back
    along every edge that the backward pass walks (:meth:`Graph.gradient_edges`).

    ``box`` is the boxes' width and height in the units of the nodes' coordinates. A new opaque figure of
    ``inches_per_unit`` inches per unit is made if ``ax`` is omitted. Each artist has a ``gid`` that says what it
    is (``"node:Z"``, ``"forward:X->Z"``, ``"backward:Z->X"``), so tests and readers can find them. Returns the
    axes.
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    width, height = box
    xs, ys = [node.x for node in graph.nodes], [node.y for node in graph.nodes]
    xlim = (min(xs) - width / 2 - 0.1, max(xs) + width / 2 + 0.1)
    ylim = (min(ys) - height / 2 - 0.1, max(ys) + height / 2 + 0.1)
    if ax is None:
        from d2lmini.plotting import figure

        size = (inches_per_unit * (xlim[1] - xlim[0]), inches_per_unit * (ylim[1] - ylim[0]))
        _, ax = figure(figsize=size)
        ax.set_position((0, 0, 1, 1))
    for node in graph.nodes:
        patch = FancyBboxPatch(
            (node.x - width / 2 + 0.08, node.y - height / 2 + 0.08), width - 0.16, height - 0.16,
            boxstyle="round,pad=0.08", facecolor=NODE_COLOURS[node.kind], edgecolor="0.2", linewidth=1.0, zorder=2,
        )  # fmt: skip
        patch.set_gid(f"node:{node.name}")
        ax.add_patch(patch)
        lines = [(node.label, 13, "black"), (node.note, 9, "0.3"), (node.gradient, 9, BACKWARD_COLOUR)]
        lines = [line for line in lines if line[0]]
        for i, (text, size, colour) in enumerate(lines):
            y = node.y + (len(lines) - 1) / 2 * 0.3 - i * 0.3
            ax.text(node.x, y, text, ha="center", va="center", fontsize=size, color=colour, zorder=3)
    half = (width / 2, height / 2)
    for source, target in graph.edges:
        start, end = _edge_ends(graph.node(source), graph.node(target), *half)
        arrow = FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, color="0.15", linewidth=1.2, zorder=1)
        arrow.set_gid(f"forward:{source}->{target}")
        ax.add_patch(arrow)
    if backward:
        for target, source in graph.gradient_edges():
            start, end = _edge_ends(graph.node(target), graph.node(source), *half)
            arrow = FancyArrowPatch(
                start, end, arrowstyle="-|>", mutation_scale=12, color=BACKWARD_COLOUR, linewidth=1.2,
                linestyle=(0, (4, 2)), connectionstyle="arc3,rad=0.35", zorder=1,
            )  # fmt: skip
            arrow.set_gid(f"backward:{target}->{source}")
            ax.add_patch(arrow)
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax
