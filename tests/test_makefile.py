"""The Makefile's housekeeping keeps what is committed."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_make_clean_keeps_the_committed_student_edition() -> None:
    dry_run = subprocess.run(["make", "-n", "clean"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    removed = {Path(arg) for line in dry_run.splitlines() if line.startswith("rm ") for arg in shlex.split(line)[2:]}
    assert removed, dry_run
    committed = ROOT / "student" / "exercises"
    assert list(committed.glob("*.ipynb")), "student/exercises/ holds the committed student notebooks"
    for path in removed:
        assert not (committed.resolve().is_relative_to((ROOT / path).resolve())), f"make clean deletes {path}"
