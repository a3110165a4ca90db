"""The exercise notebooks: structure, stubs and solutions in step, stored verdicts, the student edition.

(nbval, collected from ``exercises/`` by the pytest configuration, re-runs the full notebooks and
compares their outputs; these tests check what nbval cannot.)
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import re
import sys
from pathlib import Path
from types import ModuleType

import nbformat
import pytest
import yaml

import d2lmini.book

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ROOT / "exercises"
NOTEBOOKS = sorted(EXERCISES.glob("*.ipynb"))
NAMES = [p.stem for p in NOTEBOOKS]

EXERCISE = re.compile(r"^```\{exercise\}[^\n]*\n:label: (\S+)", re.MULTILINE)
SOLUTION = re.compile(r"^```\{solution(?:-start)?\} (\S+)", re.MULTILINE)
CHECK_CALL = re.compile(r"^(check_\w+)\((\w+)\)$")


def _checker_names() -> set[str]:
    """The ``check_*`` names of every checker module of the book: ``checks.py`` and ``checks_<chapter>.py``."""
    names = [m.name for m in pkgutil.iter_modules(d2lmini.book.__path__)]
    modules = [importlib.import_module(f"d2lmini.book.{n}") for n in names if n == "checks" or n.startswith("checks_")]
    return {name for module in modules for name in module.__all__ if name.startswith("check_")}


CHECKERS = _checker_names()


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _defined(source: str) -> set[str]:
    """Names a code cell binds at top level (functions, classes, assignments)."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _student_edition() -> ModuleType:
    spec = importlib.util.spec_from_file_location("student_edition", ROOT / "scripts" / "student_edition.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["student_edition"] = module
    spec.loader.exec_module(module)
    return module


def _tasks(nb: nbformat.NotebookNode) -> list[dict[str, object]]:
    """Walk the cells; return one record per coding task (stub, solution block, check)."""
    tasks: list[dict[str, object]] = []
    cells = nb.cells
    i = 0
    while i < len(cells):
        cell = cells[i]
        if "stub" not in _tags(cell):
            i += 1
            continue
        assert cell.cell_type == "code" and "raise NotImplementedError" in cell.source, cell.source
        start = cells[i + 1]
        assert "solution" in _tags(start) and start.source.startswith("```{solution-start}"), (
            f"the stub {cell.source!r} must be followed by a {{solution-start}} cell"
        )
        j = i + 2
        solution_code = []
        while not cells[j].source.startswith("```{solution-end}"):
            assert "solution" in _tags(cells[j]), f"untagged cell inside a solution: {cells[j].source!r}"
            if cells[j].cell_type == "code":
                solution_code.append(cells[j].source)
            j += 1
        assert "solution" in _tags(cells[j])
        check = cells[j + 1]
        assert "check" in _tags(check) and check.cell_type == "code", "a check cell must follow the solution"
        tasks.append({"stub": cell, "solution": "\n".join(solution_code), "check": check})
        i = j + 2
    return tasks


@pytest.fixture(scope="module", params=NOTEBOOKS, ids=NAMES)
def notebook(request: pytest.FixtureRequest) -> tuple[Path, nbformat.NotebookNode]:
    return request.param, nbformat.read(request.param, as_version=4)


def test_there_is_one_exercise_notebook_per_chapter() -> None:
    """Every top-level chapter of _toc.yml has exercises (its sections share them)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [chapter["file"] for part in toc["parts"] for chapter in part["chapters"]]
    chapters = {Path(f).name for f in files if f.startswith("chapters/")}
    assert set(NAMES) == chapters


def test_links_back_to_its_chapter(notebook: tuple[Path, nbformat.NotebookNode]) -> None:
    path, nb = notebook
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert f"(../chapters/{path.stem}.ipynb)" in text


def test_stubs_and_solutions_in_step(notebook: tuple[Path, nbformat.NotebookNode]) -> None:
    _, nb = notebook
    tasks = _tasks(nb)
    assert tasks, "every exercise notebook has at least one coding task"
    for task in tasks:
        stub_names = _defined(task["stub"].source)  # type: ignore[union-attr]
        solved = _defined(task["solution"])  # type: ignore[arg-type]
        assert stub_names and stub_names <= solved, (
            f"the solution must define {stub_names}, it defines {solved}"
        )
        match = CHECK_CALL.match(task["check"].source.strip())  # type: ignore[union-attr]
        assert match, "a check cell is a single call check_x(name)"
        checker, argument = match.groups()
        assert checker in CHECKERS and argument in stub_names | _defined_classes(nb)


def _defined_classes(nb: nbformat.NotebookNode) -> set[str]:
    return {n for c in nb.cells if c.cell_type == "code" and not _tags(c) for n in _defined(c.source)}


def test_every_exercise_has_a_solution(notebook: tuple[Path, nbformat.NotebookNode]) -> None:
    _, nb = notebook
    markdown = [c for c in nb.cells if c.cell_type == "markdown"]
    exercises = [m for c in markdown for m in EXERCISE.findall(c.source)]
    solutions = [m for c in markdown for m in SOLUTION.findall(c.source)]
    assert exercises and sorted(exercises) == sorted(set(exercises)), "exercise labels are unique"
    assert sorted(solutions) == sorted(exercises), "one solution per exercise, naming its label"
    for cell in nb.cells:
        if "{solution" in cell.source and cell.cell_type == "markdown":
            assert "solution" in _tags(cell), (
                f"solution cell without the 'solution' tag: {cell.source[:60]!r}"
            )
            assert ":class: dropdown" in cell.source or cell.source.startswith("```{solution-end}")


def test_solution_code_is_inside_a_gated_solution(notebook: tuple[Path, nbformat.NotebookNode]) -> None:
    _, nb = notebook
    inside = False
    for cell in nb.cells:
        if cell.source.startswith("```{solution-start}"):
            inside = True
        elif cell.source.startswith("```{solution-end}"):
            inside = False
        elif cell.cell_type == "code" and "solution" in _tags(cell):
            assert inside, f"solution code outside {{solution-start}}/{{solution-end}}: {cell.source[:60]!r}"


def test_stored_outputs_show_every_check_correct(notebook: tuple[Path, nbformat.NotebookNode]) -> None:
    _, nb = notebook
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "run all from a clean kernel"
    assert not [o for c in code for o in c.outputs if o.output_type == "error" or o.get("name") == "stderr"]
    for cell in code:
        if "check" in _tags(cell):
            (out,) = cell.outputs
            assert out["data"]["text/plain"].startswith("✔"), out["data"]["text/plain"]


def test_every_checker_is_used() -> None:
    used = {
        CHECK_CALL.match(c.source.strip()).group(1)  # type: ignore[union-attr]
        for p in NOTEBOOKS
        for c in nbformat.read(p, as_version=4).cells
        if "check" in _tags(c)
    }
    assert used == CHECKERS


def test_student_edition_has_no_solutions(tmp_path: Path) -> None:
    student_edition = _student_edition()
    assert student_edition.main(["--out", str(tmp_path)]) == 0
    written = sorted((tmp_path / "exercises").glob("*.ipynb"))
    assert [p.name for p in written] == [p.name for p in NOTEBOOKS]
    for path in written:
        nb = nbformat.read(path, as_version=4)
        full = nbformat.read(EXERCISES / path.name, as_version=4)
        assert not [c for c in nb.cells if "solution" in _tags(c) or "{solution" in c.source]
        assert all(not c.outputs for c in nb.cells if c.cell_type == "code")
        assert sum("stub" in _tags(c) for c in nb.cells) == sum("stub" in _tags(c) for c in full.cells)
        assert sum("check" in _tags(c) for c in nb.cells) == sum("check" in _tags(c) for c in full.cells)


def test_student_edition_refuses_an_untagged_solution() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("```{solution} ex-1\n:class: dropdown\n\nSecret.\n```")]
    with pytest.raises(ValueError, match="no 'solution' tag"):
        _student_edition().strip_solutions(nb)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_student_notebook_runs_and_says_not_attempted(path: Path) -> None:
    from nbclient import NotebookClient

    nb = _student_edition().strip_solutions(nbformat.read(path, as_version=4))
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(EXERCISES)}}
    ).execute()
    verdicts = [c.outputs for c in nb.cells if "check" in _tags(c)]
    assert verdicts
    for outputs in verdicts:
        (out,) = outputs
        assert "not attempted yet" in out["data"]["text/plain"]
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors


def test_committed_student_edition_is_current(tmp_path: Path) -> None:
    """student/exercises/ is what `make student` writes now (students open it from the repository)."""
    fresh = _student_edition().write_student_notebooks(ROOT / "exercises", tmp_path)
    for path in fresh:
        committed = ROOT / "student" / "exercises" / path.name
        assert committed.exists(), f"{committed} is missing: run `make student`"
        assert committed.read_text() == path.read_text(), f"{committed} is stale: run `make student`"
