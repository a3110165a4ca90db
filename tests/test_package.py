"""The package's shape: one export list that resolves, a fast import, and layers that point one way.

The core (``d2lmini/*.py``) must never import the book's machinery
(``d2lmini/book/``), and no module may import itself through a cycle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import d2lmini
from tests.helpers import subprocess_env

PACKAGE = Path(d2lmini.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The d2lmini modules a file imports, at any depth of the file (lazy imports count)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("d2lmini"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("d2lmini"))
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in imports_of(path) if m in modules and m != name} for name, path in modules.items()}


def test_core_never_imports_the_book() -> None:
    graph = import_graph()
    core = [m for m in graph if not m.startswith("d2lmini.book")]
    arrows = [(m, dep) for m in core for dep in graph[m] if dep.startswith("d2lmini.book")]
    assert set(core) >= {"d2lmini.data", "d2lmini.train", "d2lmini.module", "d2lmini.plotting"}
    assert arrows == []


def test_no_import_cycles() -> None:
    graph = import_graph()
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for dep in graph[node]:
            if dep == "d2lmini":  # the package's lazy __init__, which imports nothing eagerly
                continue
            assert state.get(dep) != "open", f"import cycle: {' -> '.join([*path, node, dep])}"
            if dep not in state:
                visit(dep, [*path, node])
        state[node] = "done"

    for name in graph:
        if name not in state:
            visit(name, [])


def test_the_export_list_resolves_and_matches_the_type_checking_block() -> None:
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    typed = {(n.module.removeprefix("d2lmini."), a.name) for n in block.body for a in n.names}
    assert typed == {(module, name) for name, module in d2lmini._EXPORTS.items()}
    for name in d2lmini.__all__:
        assert getattr(d2lmini, name).__module__ == f"d2lmini.{d2lmini._EXPORTS[name]}"


def test_import_is_fast_and_loads_no_heavy_library() -> None:
    # Under `make mutate` the package imports mutmut's trampolines (how it switches mutants): mutmut's cost, not ours.
    code = "import os, sys, time\nif 'MUTANT_UNDER_TEST' in os.environ: import mutmut.mutation.trampoline\n" \
           "t = time.perf_counter(); import d2lmini; print(time.perf_counter() - t); " \
           "print(sorted(m for m in ('torch', 'matplotlib', 'plotly', 'ipywidgets') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert float(out[0]) < 0.5
    assert out[1] == "[]"


def test_dir_lists_the_exports_and_the_modules_own_names() -> None:
    names = dir(d2lmini)
    assert names == sorted(names) and {*d2lmini._EXPORTS, "__version__", "__all__"} <= set(names)


def test_dir_lists_every_export_before_it_is_loaded() -> None:
    """Tab completion in a notebook (`d2lmini.<Tab>`) offers the lazily loaded names next to the module's own."""
    code = "import d2lmini, sys\nnames = dir(d2lmini)\n" \
           "print(names == sorted(names), 'd2lmini.train' in sys.modules)\n" \
           "print(' '.join(n for n in names if n in d2lmini._EXPORTS or n == '__version__'))"  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env({}))
    assert done.returncode == 0, done.stderr
    out = done.stdout.split("\n")
    assert out[0] == "True False"  # listing the names loads nothing
    assert out[1].split() == sorted([*d2lmini._EXPORTS, "__version__"])


def test_a_misspelt_name_is_an_attribute_error_that_names_it() -> None:
    with pytest.raises(AttributeError) as caught:
        d2lmini.Trainr  # noqa: B018
    assert str(caught.value) == "module 'd2lmini' has no attribute 'Trainr'"
    assert not hasattr(d2lmini, "Trainr")
