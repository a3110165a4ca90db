"""House rules every notebook of the book keeps (nbval runs them; this checks their form)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
import yaml
from PIL import Image

from scripts.launch_cells import setup_source

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))
NOTEBOOKS = CHAPTERS + EXERCISES


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


def markdown(nb: dict) -> str:
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def toc_entries() -> list[tuple[str, str]]:
    """(document, its top-level chapter) for every entry of _toc.yml."""
    entries = []
    for part in yaml.safe_load((ROOT / "_toc.yml").read_text())["parts"]:
        for chapter in part["chapters"]:
            entries.append((chapter["file"], chapter["file"]))
            entries += [(section["file"], chapter["file"]) for section in chapter.get("sections", [])]
    return entries


def test_toc_and_folders_agree() -> None:
    listed = {doc for doc, _ in toc_entries()}
    on_disk = {str(p.relative_to(ROOT).with_suffix("")) for p in NOTEBOOKS}
    assert listed == on_disk


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_first_code_cell_is_the_launch_setup(path: Path) -> None:
    first = next(c for c in load(path)["cells"] if c["cell_type"] == "code")
    assert "".join(first["source"]) == setup_source(), "run: python scripts/launch_cells.py"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_outputs_come_from_one_clean_run(path: Path) -> None:
    cells = [c for c in load(path)["cells"] if c["cell_type"] == "code"]
    counts = [c["execution_count"] for c in cells]
    assert counts == list(range(1, len(cells) + 1)), "restart the kernel and run all cells, then save"
    for cell in cells:
        for out in cell["outputs"]:
            assert out["output_type"] != "error", f"stored error: {out.get('ename')}"
            assert "image/svg+xml" not in out.get("data", {}), "figures are stored as PNG"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_figures_are_opaque(path: Path) -> None:
    for cell in load(path)["cells"]:
        for out in cell.get("outputs", []):
            png = out.get("data", {}).get("image/png")
            if png is None:
                continue
            with Image.open(io.BytesIO(base64.b64decode(png))) as img:
                if "A" in img.getbands():
                    assert img.getchannel("A").getextrema()[0] == 255, "a figure has a transparent background"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=ids(CHAPTERS))
def test_chapter_and_exercises_link_both_ways(chapter: Path) -> None:
    """A chapter links its exercises and back; a section links its chapter's exercises."""
    parent = dict(toc_entries())[str(chapter.relative_to(ROOT).with_suffix(""))]
    name = Path(parent).name + ".ipynb"
    exercise = ROOT / "exercises" / name
    assert exercise.exists(), f"no exercises for {name}"
    assert f"../exercises/{name}" in markdown(load(chapter)), "the chapter does not link its exercises"
    if parent == str(chapter.relative_to(ROOT).with_suffix("")):
        assert f"../chapters/{name}" in markdown(load(exercise)), "the exercises do not link their chapter"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=ids(CHAPTERS))
def test_chapter_opens_with_goals_and_ends_with_a_summary(chapter: Path) -> None:
    text = markdown(load(chapter)).lower()
    assert "summary" in text
    opening = "".join("".join(c["source"]) for c in load(chapter)["cells"][:3]).lower()
    assert any(word in opening for word in ("you should", "prerequisite", "assumes", "before you start"))
