"""Restart-and-run-all for the book's notebooks, saving the fresh outputs in place.

    python scripts/run_notebooks.py                  # every notebook in chapters/ and exercises/
    python scripts/run_notebooks.py chapters/x.ipynb # just these

Each notebook runs in a new kernel from its own folder, as the book build and
nbval run it, so the stored execution counts go 1, 2, 3, ...  Kernels use one
CPU thread, as under `make test`, so the outputs nbval compares were produced
the same way.  A notebook that raises stops the script with the error and is
left unchanged on disk.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]


def run(path: Path) -> float:
    """Execute one notebook in a fresh kernel and save it; returns the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=600, store_widget_state=False,
                            resources={"metadata": {"path": str(path.parent)}})  # fmt: skip
    start = time.perf_counter()
    client.execute()
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by the kernels
    paths = args.notebooks or sorted([*ROOT.glob("chapters/*.ipynb"), *ROOT.glob("exercises/*.ipynb")])
    for path in paths:
        try:
            print(f"{path}: {run(path):.1f} s", flush=True)
        except CellExecutionError as err:
            print(f"{path}: FAILED, left unchanged\n{err}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
