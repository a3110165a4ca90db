"""Show a lab step in PyTorch and in JAX as tabs: adjacent notebook cells tagged per framework.

A code cell tagged ``tab:pytorch`` or ``tab:jax`` belongs to that framework's
tab.  Tagged cells that follow one another (nothing between them, not even a
markdown cell) form one tab set, PyTorch first; several cells in a row with
the same tag share one tab, and a framework seen again after another one
starts the next tab set.  A markdown cell cannot wrap code cells in a
directive, so this transform builds, from the cells myst-nb made, the same
nodes sphinx-design's ``tab-set`` directive makes; sphinx-design then writes
its HTML: a radio input and a label per tab (keyboard-accessible: Tab to reach
a set, the arrow keys to switch), with the labels' ``data-sync-group`` set to
``framework`` so that choosing JAX once switches every tab set, on this page
and, remembered by the browser, on the next.

In Jupyter the tagged cells simply run one after the other.  A set that lacks
a framework, shows them in another order or names an unknown one is reported
as a warning (an error under ``--warningiserror``), pointing at the cell.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinx.util import logging
from sphinx_design.shared import create_component

LOGGER = logging.getLogger(__name__)

TAG_PREFIX = "tab:"
FRAMEWORKS = {"pytorch": "PyTorch", "jax": "JAX"}  # tag key -> tab label, in tab order
SYNC_GROUP = "framework"  # sphinx-design syncs (and remembers) the tabs of one group

Tab = tuple[str, list[nodes.Element]]  # (framework key, its cells)


def framework_of(node: nodes.Node) -> str | None:
    """The framework key (``"jax"`` for the tag ``tab:jax``) of a myst-nb code cell, else None."""
    if not isinstance(node, nodes.container) or node.get("nb_element") != "cell_code":
        return None
    tags = framework_tags(node)
    return tags[0].removeprefix(TAG_PREFIX) if tags else None


def framework_tags(cell: nodes.Element) -> list[str]:
    """The ``tab:...`` tags of a myst-nb code cell."""
    return [tag for tag in cell.get("cell_metadata", {}).get("tags", []) if tag.startswith(TAG_PREFIX)]


def tab_sets(children: list[nodes.Node]) -> list[list[Tab]]:
    """Group a parent's children into tab sets: runs of adjacent tagged cells, split where a framework repeats."""
    sets: list[list[Tab]] = []
    current: list[Tab] = []
    for child in children:
        key = framework_of(child)
        if key is None:
            if current:
                sets.append(current)
            current = []
        elif current and current[-1][0] == key:
            current[-1][1].append(child)
        elif any(key == seen for seen, _ in current):
            sets.append(current)
            current = [(key, [child])]
        else:
            current.append((key, [child]))
    if current:
        sets.append(current)
    return sets


def check(tabs: list[Tab]) -> bool:
    """Warn about an unknown framework, a missing one or the wrong order; True if the set can be built."""
    keys = [key for key, _ in tabs]
    first = tabs[0][1][0]
    unknown = [key for key in keys if key not in FRAMEWORKS]
    if unknown:
        known = ", ".join(TAG_PREFIX + key for key in FRAMEWORKS)
        LOGGER.warning(f"unknown framework tag {TAG_PREFIX}{unknown[0]}: use one of {known}", location=first)
        return False
    if keys != [key for key in FRAMEWORKS if key in keys]:
        LOGGER.warning(
            f"framework tabs in the order {keys}; put the cells in the order {list(FRAMEWORKS)}", location=first
        )
    missing = [key for key in FRAMEWORKS if key not in keys]
    if missing:
        LOGGER.warning(
            f"a {TAG_PREFIX}{keys[0]} cell has no {TAG_PREFIX}{missing[0]} cell right next to it: "
            f"put the other framework's cell directly after it (no markdown cell between them)",
            location=first,
        )
    return True


def tab_set_node(tabs: list[Tab]) -> nodes.container:
    """The node tree sphinx-design's ``tab-set`` directive makes, with one synchronised tab per framework."""
    items = []
    for key, cells in tabs:
        label = nodes.rubric(
            FRAMEWORKS[key], nodes.Text(FRAMEWORKS[key]), classes=["sd-tab-label"], sync_group=SYNC_GROUP, sync_id=key
        )
        content = create_component("tab-content", classes=["sd-tab-content"], children=cells)
        items.append(create_component("tab-item", classes=["sd-tab-item"], children=[label, content]))
    tab_set = create_component("tab-set", classes=["sd-tab-set", "framework-tabs"], children=items)
    tab_set.source, tab_set.line = tabs[0][1][0].source, tabs[0][1][0].line
    return tab_set


class FrameworkTabs(SphinxTransform):
    """Wrap adjacent framework-tagged notebook cells in sphinx-design tab sets."""

    default_priority = 500

    def apply(self, **kwargs: Any) -> None:
        tagged = [cell for cell in self.document.findall(nodes.container) if framework_of(cell) is not None]
        for cell in tagged:
            if len(framework_tags(cell)) > 1:
                LOGGER.warning(f"a code cell has two framework tags {framework_tags(cell)}; keep one", location=cell)
        parents = {id(cell.parent): cell.parent for cell in tagged}
        for parent in parents.values():
            for tabs in tab_sets(list(parent.children)):
                if check(tabs):
                    cells = [cell for _, group in tabs for cell in group]
                    position = parent.index(cells[0])
                    for cell in cells:
                        parent.remove(cell)
                    parent.insert(position, tab_set_node(tabs))


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinx_design")
    app.add_transform(FrameworkTabs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
