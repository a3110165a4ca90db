"""Put the cells that make a notebook work away from this repository.

Every notebook of the book starts with the same set-up code cell: opened from
the book's launch button (Colab, Binder) it installs d2lmini and fetches the
data; on a machine that already has d2lmini it does nothing.

Every exercise notebook also gets a note, right after its title, linking to
its *student* copy in ``student/exercises/`` (no solutions), since the
notebooks in ``exercises/`` carry the worked solutions.  The student edition
drops that note (it is tagged ``solutions-note``).

The repository address comes from ``_config.yml``, so a fork changes it there
and runs ``python scripts/launch_cells.py``; ``--check`` only reports
notebooks whose cells are missing or stale (the tests use it).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("chapters", "exercises")
SETUP_TAG = "setup"
NOTE_TAG = "solutions-note"


@functools.cache
def repository() -> dict:
    """The ``repository`` section of ``_config.yml`` (read once, though every notebook asks for it)."""
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]


def setup_source() -> str:
    url = repository()["url"]
    return (
        "# Set-up for Colab or Binder: install d2lmini and fetch the data there.\n"
        "# On your own machine (after `make setup`) this cell does nothing.\n"
        "import importlib.util\n"
        "import subprocess\n"
        "import sys\n"
        "\n"
        'if importlib.util.find_spec("d2lmini") is None:\n'
        f'    package = "d2lmini @ git+{url}"\n'
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", package], check=True)\n'
        '    subprocess.run([sys.executable, "-m", "d2lmini.data"], check=True)'
    )


def note_source(name: str) -> str:
    repo = repository()
    slug = repo["url"].removeprefix("https://github.com/").rstrip("/")
    path = f"student/exercises/{name}"
    colab = f"https://colab.research.google.com/github/{slug}/blob/{repo['branch']}/{path}"
    binder = f"https://mybinder.org/v2/gh/{slug}/{repo['branch']}?labpath={path}"
    return (
        "```{note}\n"
        "This page shows every worked solution (behind a toggle). To work on the exercises yourself, "
        f"open the **student notebook**, which has none: [in Colab]({colab}), [in Binder]({binder}), "
        f"or `{path}` in the repository.\n"
        "```"
    )


def new_cell(kind: str, source: str, cell_id: str, tags: list[str]) -> dict:
    made = {"cell_type": kind, "id": cell_id, "metadata": {"tags": tags}, "source": source.splitlines(keepends=True)}
    if kind == "code":
        made |= {"execution_count": None, "outputs": []}
    return made


def tagged(c: dict, tag: str) -> bool:
    return tag in c.get("metadata", {}).get("tags", [])


def with_launch_cells(nb: dict, name: str, exercise: bool) -> dict:
    """``nb`` with current launch cells; cells already current are kept as they are (outputs too)."""

    def current(tag: str, kind: str, source: str, cell_id: str, tags: list[str]) -> dict:
        old = next((c for c in nb["cells"] if tagged(c, tag)), None)
        return old if old is not None and "".join(old["source"]) == source else new_cell(kind, source, cell_id, tags)

    cells = [c for c in nb["cells"] if not (tagged(c, SETUP_TAG) or tagged(c, NOTE_TAG))]
    first_code = next((i for i, c in enumerate(cells) if c["cell_type"] == "code"), len(cells))
    cells.insert(first_code, current(SETUP_TAG, "code", setup_source(), "setup", [SETUP_TAG, "hide-cell"]))
    if exercise:
        cells.insert(1, current(NOTE_TAG, "markdown", note_source(name), "solutions-note", [NOTE_TAG]))
    return {**nb, "cells": cells}


def notebooks() -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (ROOT / folder).glob("*.ipynb"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report, change nothing")
    args = parser.parse_args()
    stale = []
    for path in notebooks():
        nb = json.loads(path.read_text())
        updated = with_launch_cells(nb, path.name, exercise=path.parent.name == "exercises")
        if updated != nb:
            stale.append(path)
            if not args.check:
                path.write_text(json.dumps(updated, indent=1, ensure_ascii=False) + "\n")
    for path in stale:
        print(f"{'stale' if args.check else 'updated'}: {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
