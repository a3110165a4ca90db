"""Write the student edition: the exercise notebooks without their solutions.

The notebooks in ``exercises/`` are the single source of truth and contain the
worked solutions.  Every cell that belongs to a solution carries the tag
``solution`` (the ``{solution}`` and ``{solution-start}``/``{solution-end}``
markdown cells and the solution code cells between them); this script drops
those cells and all outputs, keeping the stubs and the checks::

    python scripts/student_edition.py          # -> student/exercises/*.ipynb
    python scripts/student_edition.py --book   # also -> student/book/, a book without solutions

``--book`` copies the book's sources into ``student/book/`` with the stripped
exercises (and ``hide_solutions: true``); build it with
``jupyter-book build student/book``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTION_TAG = "solution"
NOTE_TAG = "solutions-note"  # "this page has the solutions; here is the student copy"
# Top-level paths of the repository that the student book does not need (besides every hidden one, .git, .venv, ...).
NOT_IN_BOOK = {"_build", "student", "tests", "bench", "scripts", "d2lmini", "d2lmini.egg-info", "exercises"}
_SOLUTION_DIRECTIVE = re.compile(r"^\s*(`{3,}|:{3,})\s*\{solution(-start|-end)?\}", re.MULTILINE)


def is_solution_cell(cell: nbformat.NotebookNode) -> bool:
    """True for a cell tagged ``solution`` (or the note that points to the student copy)."""
    tags = cell.get("metadata", {}).get("tags", [])
    return SOLUTION_TAG in tags or NOTE_TAG in tags


def strip_solutions(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` without solution cells and without outputs.

    Raises ``ValueError`` if an untagged cell still contains a solution
    directive, so that no solution can leak into the student edition.
    """
    out = nbformat.from_dict(nb)
    kept = []
    for cell in out.cells:
        if is_solution_cell(cell):
            continue
        if cell.cell_type == "markdown" and _SOLUTION_DIRECTIVE.search(cell.source):
            raise ValueError(f"cell {cell.get('id')!r} has a solution directive but no 'solution' tag")
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)  # run timestamps: would make every re-run look like a change
        kept.append(cell)
    out.cells = kept
    return out


def write_student_notebooks(src: Path, dest: Path) -> list[Path]:
    """Strip every notebook in ``src`` into ``dest``; return the written paths."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(src.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        target = dest / path.name
        nbformat.write(strip_solutions(nb), target)
        written.append(target)
    return written


def write_student_book(root: Path, dest: Path) -> None:
    """Copy the book's sources to ``dest`` with solution-free exercises and hidden solutions."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for item in root.iterdir():
        if item.name in NOT_IN_BOOK or item.name.startswith("."):
            continue
        if item.is_dir():  # _vendor/lighthouse/ (190 MB, `make lighthouse`) is no part of a book's build
            ignore = shutil.ignore_patterns(".ipynb_checkpoints", *(["lighthouse"] if item.name == "_vendor" else []))
            shutil.copytree(item, dest / item.name, ignore=ignore)
        else:
            shutil.copy2(item, dest / item.name)
    write_student_notebooks(root / "exercises", dest / "exercises")
    config = dest / "_config.yml"
    text = config.read_text()
    if "hide_solutions" not in text:
        text = text.replace("  config:\n", "  config:\n    hide_solutions: true\n", 1)
    config.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=ROOT / "exercises", help="notebooks with solutions")
    parser.add_argument("--out", type=Path, default=ROOT / "student", help="where to write the edition")
    parser.add_argument("--book", action="store_true", help="also write a whole book without solutions")
    args = parser.parse_args(argv)
    written = write_student_notebooks(args.src, args.out / "exercises")
    print(f"Wrote {len(written)} student notebooks to {args.out / 'exercises'}")
    if args.book:
        write_student_book(ROOT, args.out / "book")
        print(f"Wrote the student book's sources to {args.out / 'book'}; "
              f"build it with: jupyter-book build {args.out / 'book'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
