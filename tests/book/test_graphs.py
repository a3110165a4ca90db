"""Tests of d2lmini.book.graphs: the graph's order and backward edges, its checks, and what the drawing holds."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from d2lmini.book.graphs import Graph, Node, draw_graph, mlp_graph


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _node(name: str, kind: str = "value", x: float = 0.0) -> Node:
    return Node(name, name, kind, x, 0.0)


def test_the_mlp_is_computed_in_order_and_walked_back_along_seven_edges() -> None:
    graph = mlp_graph()
    order = graph.order()
    for source, target in graph.edges:
        assert order.index(source) < order.index(target)
    assert graph.gradient_edges() == [
        ("L", "O"), ("O", "b2"), ("O", "W2"), ("O", "H"), ("H", "Z"), ("Z", "b1"), ("Z", "W1"),
    ]  # fmt: skip
    assert [name for name in order if graph.needs_gradient(name)] == ["W1", "b1", "Z", "H", "W2", "b2", "O", "L"]
    assert not graph.needs_gradient("X") and not graph.needs_gradient("y")


def test_the_mlp_boxes_show_the_shapes_of_the_batch() -> None:
    graph = mlp_graph(n=256)
    notes = {node.name: node.note for node in graph.nodes}
    assert notes == {"X": "256×784", "W1": "784×256", "b1": "256", "Z": "256×256", "H": "256×256",
                     "W2": "256×10", "b2": "10", "O": "256×10", "y": "256", "L": "a scalar"}  # fmt: skip
    assert all(node.gradient for node in graph.nodes if graph.needs_gradient(node.name) and node.kind != "loss")


def test_a_value_computed_from_data_only_needs_no_gradient() -> None:
    graph = Graph(
        (_node("x", "data"), _node("s"), _node("w", "parameter"), _node("L", "loss")),
        (("x", "s"), ("s", "L"), ("w", "L")),
    )
    assert graph.order() == ["x", "s", "w", "L"]
    assert graph.gradient_edges() == [("L", "w")]


@pytest.mark.parametrize(
    ("nodes", "edges", "message"),
    [
        ((_node("a"), _node("a")), (), "repeated: a"),
        ((_node("a", "weight"),), (), "kind 'weight'"),
        ((_node("a"),), (("a", "b"),), "unknown node: b"),
        ((_node("a"), _node("b")), (("a", "b"), ("b", "a")), "cycle"),
        ((_node("a"), _node("w", "parameter")), (("a", "w"),), "w is parameter, so nothing computes it"),
    ],
)
def test_a_malformed_graph_is_refused_with_a_reason(nodes: tuple[Node, ...], edges: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Graph(nodes, edges)


def test_the_drawing_has_a_box_per_node_and_an_arrow_per_edge_each_way() -> None:
    graph = mlp_graph()
    ax = draw_graph(graph)
    boxes = [p.get_gid() for p in ax.patches if isinstance(p, FancyBboxPatch)]
    arrows = [p.get_gid() for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert boxes == [f"node:{node.name}" for node in graph.nodes]
    assert sorted(a for a in arrows if a.startswith("forward:")) == sorted(f"forward:{s}->{t}" for s, t in graph.edges)
    assert [a for a in arrows if a.startswith("backward:")] == [f"backward:{t}->{s}" for t, s in graph.gradient_edges()]
    texts = [t.get_text() for t in ax.texts]
    assert r"$\partial\mathbf{W}_2=\mathbf{H}^\top\delta$" in texts and "784×256" in texts
    assert ax.figure.get_facecolor()[3] == 1.0  # opaque


def test_the_mlp_drawing_reads_on_a_phone() -> None:
    """On a 390 px phone the book's column is about 350 px wide: the figure (drawn at 100 dpi, the inline backend's)
    is shrunk to it, and its smallest text must stay at least 8 px high there."""
    ax = draw_graph(mlp_graph())
    width_px = ax.figure.get_figwidth() * 100
    smallest_pt = min(t.get_fontsize() for t in ax.texts)
    shown_px = smallest_pt * 100 / 72 * min(1.0, 350 / width_px)
    assert shown_px >= 8, (width_px, smallest_pt, shown_px)
    assert ax.figure.get_figheight() < 2.5 * ax.figure.get_figwidth()  # and not a long strip either


def test_without_backward_only_the_forward_arrows_are_drawn() -> None:
    ax = draw_graph(mlp_graph(), backward=False)
    assert not [p for p in ax.patches if (p.get_gid() or "").startswith("backward:")]


def test_every_arrow_starts_and_ends_on_the_edge_of_its_boxes() -> None:
    graph = mlp_graph()
    box = (2.3, 1.15)
    ax = draw_graph(graph, box=box)
    for patch in ax.patches:
        gid = patch.get_gid() or ""
        if not gid.startswith("forward:"):
            continue
        source, target = (graph.node(n) for n in gid.removeprefix("forward:").split("->"))
        (x0, y0), (x1, y1) = patch._posA_posB  # the ends the arrow was made with
        for (x, y), node in (((x0, y0), source), ((x1, y1), target)):
            on_side = abs(abs(x - node.x) - box[0] / 2) < 1e-9 and abs(y - node.y) <= box[1] / 2 + 1e-9
            on_top = abs(abs(y - node.y) - box[1] / 2) < 1e-9 and abs(x - node.x) <= box[0] / 2 + 1e-9
            assert on_side or on_top, (gid, node.name)
