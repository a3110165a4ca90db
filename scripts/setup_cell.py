"""Put the same set-up cell first in every notebook of the book.

The cell lets a notebook opened from the book's launch button (Colab, Binder)
install d2lmini and fetch the data; on a machine that already has d2lmini it
does nothing.  The repository address comes from ``_config.yml``, so forks
only change it there.  Run ``python scripts/setup_cell.py`` after adding a
notebook or changing the address; ``--check`` only reports notebooks whose
first cell is missing or stale (the tests use it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("chapters", "exercises")
TAG = "setup"


def setup_source() -> str:
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
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


def setup_cell() -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": "setup",
        "metadata": {"tags": [TAG, "hide-cell"]},
        "outputs": [],
        "source": setup_source().splitlines(keepends=True),
    }


def notebooks() -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (ROOT / folder).glob("*.ipynb"))


def first_code_cell(nb: dict) -> dict | None:
    return next((c for c in nb["cells"] if c["cell_type"] == "code"), None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report, change nothing")
    args = parser.parse_args()
    stale = []
    for path in notebooks():
        nb = json.loads(path.read_text())
        first = first_code_cell(nb)
        if first is not None and "".join(first["source"]) == setup_source():
            continue
        stale.append(path)
        if args.check:
            continue
        nb["cells"] = [c for c in nb["cells"] if TAG not in c.get("metadata", {}).get("tags", [])]
        position = next((i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"), len(nb["cells"]))
        nb["cells"].insert(position, setup_cell())
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    for path in stale:
        print(f"{'stale' if args.check else 'updated'}: {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
