"""_ext/framework_tabs.py: adjacent ``tab:pytorch`` / ``tab:jax`` notebook cells become synchronised tab sets.

The grouping rules are tested on docutils nodes shaped like myst-nb's code
cells; the whole path (myst-nb reads a notebook, the transform builds the
tab sets, sphinx-design writes their HTML) on a tiny Sphinx project built
into a temporary folder.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from docutils import nodes

ROOT = Path(__file__).resolve().parents[1]
EXT = ROOT / "_ext"


def load_extension():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("framework_tabs", EXT / "framework_tabs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


framework_tabs = load_extension()


def cell(name: str, *tags: str) -> nodes.container:
    """A node like the one myst-nb makes for a code cell, with ``name`` as its only text."""
    node = nodes.container(nb_element="cell_code", cell_metadata={"tags": list(tags)}, classes=["cell"])
    node += nodes.literal_block(name, name)
    return node


def names(tab_sets: list) -> list[list[tuple[str, list[str]]]]:  # type: ignore[type-arg]
    return [[(key, [c.astext() for c in cells]) for key, cells in tabs] for tabs in tab_sets]


def test_adjacent_cells_form_one_set_and_a_repeated_framework_starts_the_next() -> None:
    children = [
        nodes.paragraph(text="text"),
        cell("pt model", "tab:pytorch"),
        cell("pt model 2", "tab:pytorch", "nbval-ignore-output"),
        cell("jax model", "tab:jax"),
        cell("pt forward", "tab:pytorch"),
        cell("jax forward", "tab:jax"),
        cell("shared"),
        cell("pt train", "tab:pytorch"),
        cell("jax train", "tab:jax"),
    ]
    assert names(framework_tabs.tab_sets(children)) == [
        [("pytorch", ["pt model", "pt model 2"]), ("jax", ["jax model"])],
        [("pytorch", ["pt forward"]), ("jax", ["jax forward"])],
        [("pytorch", ["pt train"]), ("jax", ["jax train"])],
    ]


def test_untagged_cells_and_other_nodes_are_left_alone() -> None:
    children = [nodes.paragraph(text="text"), cell("plain"), cell("other tag", "hide-input")]
    assert framework_tabs.tab_sets(children) == []
    assert framework_tabs.framework_of(nodes.container(classes=["cell"])) is None  # not a myst-nb code cell


def test_tab_set_node_has_sphinx_designs_structure_with_synchronised_labels() -> None:
    pt, jax = cell("pt", "tab:pytorch"), cell("jax", "tab:jax")
    tab_set = framework_tabs.tab_set_node([("pytorch", [pt]), ("jax", [jax])])
    assert tab_set["design_component"] == "tab-set" and "sd-tab-set" in tab_set["classes"]
    items = tab_set.children
    assert [item["design_component"] for item in items] == ["tab-item", "tab-item"]
    labels = [item.children[0] for item in items]
    assert [label.astext() for label in labels] == ["PyTorch", "JAX"]
    assert [(label["sync_group"], label["sync_id"]) for label in labels] == [
        ("framework", "pytorch"), ("framework", "jax"),
    ]  # fmt: skip
    contents = [item.children[1] for item in items]
    assert [c["design_component"] for c in contents] == ["tab-content", "tab-content"]
    assert contents[0].children == [pt] and contents[1].children == [jax]


# The whole path, in a real Sphinx build --------------------------------------------------------------

CONF = """
extensions = ["myst_nb", "sphinx_design", "framework_tabs"]
nb_execution_mode = "off"
exclude_patterns = ["_build"]
suppress_warnings = ["toc.not_included"]
"""


def code(source: str, *tags: str) -> nbformat.NotebookNode:
    """A code cell whose stored output is its source's string, uppercased."""
    output = nbformat.v4.new_output("stream", name="stdout", text=source.split("'")[1].upper() + "\n")
    return nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)}, outputs=[output])


GOOD = [
    code("print('shared')"),
    code("print('pt model')", "tab:pytorch"),
    code("print('jax model')", "tab:jax"),
    code("print('pt train')", "tab:pytorch", "nbval-ignore-output"),
    code("print('jax train')", "tab:jax", "nbval-ignore-output"),
]
BROKEN = {  # notebook name: (its cells, what the warning must say)
    "lone": ([code("print('a')", "tab:pytorch"), code("print('b')")], "has no tab:jax cell right next to it"),
    "order": ([code("print('a')", "tab:jax"), code("print('b')", "tab:pytorch")],
              "put the cells in the order ['pytorch', 'jax']"),
    "unknown": ([code("print('a')", "tab:pytorch"), code("print('b')", "tab:flux")], "unknown framework tag tab:flux"),
    "two_tags": ([code("print('a')", "tab:pytorch", "tab:jax"), code("print('b')", "tab:jax")],
                 "has two framework tags"),
}


def write_notebook(path: Path, cells: list[nbformat.NotebookNode]) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {path.stem}"), *cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A Sphinx project with the extension: a good page (index) and one page per broken case, built once.

    Returns the output folder and the build's warnings.
    """
    folder = tmp_path_factory.mktemp("tabs")
    (folder / "conf.py").write_text(f"import sys\nsys.path.insert(0, {str(EXT)!r})\n{CONF}")
    write_notebook(folder / "index.ipynb", GOOD)
    for name, (cells, _) in BROKEN.items():
        write_notebook(folder / f"{name}.ipynb", cells)
    out = folder / "_build"
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "--keep-going", str(folder), str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return out, result.stderr


def tabs_of(html: str) -> list[list[dict[str, str]]]:
    """Every tab set of a page: per tab, its label, sync id, radio group, and its code and output text."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    squeeze = lambda element: " ".join(element.get_text(" ").split()) if element else ""
    sets = []
    for tab_set in soup.select("div.sd-tab-set"):
        tabs = []
        for label in tab_set.find_all("label", recursive=False):
            radio = tab_set.find("input", id=label["for"])
            panel = soup.find(id=label["aria-controls"])
            tabs.append({
                "label": squeeze(label), "sync": f"{label['data-sync-group']}/{label['data-sync-id']}",
                "group": radio["name"], "checked": radio.has_attr("checked"),
                "code": "".join(squeeze(panel.select_one(".cell_input")).split()),
                "output": squeeze(panel.select_one(".cell_output")),
            })  # fmt: skip
        sets.append(tabs)
    return sets


@pytest.mark.slow
def test_a_built_page_shows_each_frameworks_code_and_output_in_its_tab(built: tuple[Path, str]) -> None:
    out, warnings = built
    html = (out / "index.html").read_text()
    assert "index.ipynb" not in warnings, warnings
    assert "design-tabs.js" in html  # sphinx-design's script, which synchronises the sets
    sets = tabs_of(html)
    assert [[tab["label"] for tab in tabs] for tabs in sets] == [["PyTorch", "JAX"], ["PyTorch", "JAX"]]
    assert [[tab["sync"] for tab in tabs] for tabs in sets] == [["framework/pytorch", "framework/jax"]] * 2
    assert [[tab["checked"] for tab in tabs] for tabs in sets] == [[True, False]] * 2  # PyTorch first
    groups = [{tab["group"] for tab in tabs} for tabs in sets]
    assert len(groups[0]) == len(groups[1]) == 1 and groups[0] != groups[1]  # one radio group per set
    assert [(tab["code"], tab["output"]) for tabs in sets for tab in tabs] == [
        ("print('ptmodel')", "PT MODEL"), ("print('jaxmodel')", "JAX MODEL"),
        ("print('pttrain')", "PT TRAIN"), ("print('jaxtrain')", "JAX TRAIN"),
    ]  # fmt: skip
    before_tabs = html.split('class="sd-tab-set')[0]
    assert "SHARED" in before_tabs  # the untagged cell stays outside, before the tabs


@pytest.mark.slow
@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_tab_set_is_a_warning_naming_the_notebook_and_the_fix(built: tuple[Path, str], name: str) -> None:
    _, warnings = built
    message = BROKEN[name][1]
    lines = [line for line in warnings.splitlines() if f"{name}.ipynb" in line]
    assert any(message in line and "WARNING" in line for line in lines), warnings
