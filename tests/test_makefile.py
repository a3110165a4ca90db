"""The Makefile: its housekeeping keeps what is committed; mutation testing runs only when asked for."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_make_clean_keeps_the_committed_student_edition() -> None:
    dry_run = subprocess.run(["make", "-n", "clean"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    removed = {Path(arg) for line in dry_run.splitlines() if line.startswith("rm ") for arg in shlex.split(line)[2:]}
    assert removed, dry_run
    committed = ROOT / "student" / "exercises"
    assert list(committed.glob("*.ipynb")), "student/exercises/ holds the committed student notebooks"
    for path in removed:
        assert not (committed.resolve().is_relative_to((ROOT / path).resolve())), f"make clean deletes {path}"


def dry_run(*args: str) -> str:
    """The commands ``make`` would run (nothing runs; the set-up it depends on is taken as done)."""
    command = ["make", "--no-print-directory", "-n", "-o", ".venv/.installed", *args]
    # Under `make test` this is a sub-make: without the parent's MAKEFLAGS/MAKELEVEL it reads like a top-level run.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout


def test_the_tests_and_ci_never_start_mutation_testing() -> None:
    """Mutation testing takes hours: `make test` (what CI runs) and `make book` must not start it."""
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    for target in ("test", "book"):
        commands = dry_run(target)
        assert "pytest" in commands or "jupyter-book" in commands, commands
        assert "mutmut" not in commands and "mutate" not in commands, commands


def test_make_mutate_runs_the_modules_it_is_given() -> None:
    commands = dry_run("mutate", "MODULES=d2lmini/idx.py d2lmini/files.py", "MUTATE_JOBS=1")
    assert "scripts/mutate.py --jobs 1 d2lmini/idx.py d2lmini/files.py" in commands
    assert dry_run("mutate").split()[-3:] == ["scripts/mutate.py", "--jobs", "2"]  # every module, two at a time
    assert "scripts/mutate.py --jobs 2 --survivors d2lmini/idx.py" in dry_run("mutate", "MODULES=d2lmini/idx.py",
                                                                               "SURVIVORS=1")  # fmt: skip


def test_survivors_tests_again_only_the_mutants_not_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script, runs = mutate_script(), []
    monkeypatch.setattr(script, "WORK", tmp_path)
    monkeypatch.setattr(script, "fresh_copies", lambda: None)
    monkeypatch.setattr(script, "report", lambda modules: 0)
    monkeypatch.setattr(script, "mutant_env", lambda home: {})
    monkeypatch.setattr(script, "run_quietly", lambda command, env=None: runs.append(command) or 0)
    meta = tmp_path / "d2lmini" / "idx.py.meta"
    meta.parent.mkdir()
    codes = {"x_a__mutmut_1": 1, "x_a__mutmut_2": 0, "x_b__mutmut_1": 33, "x_b__mutmut_2": 36, "x_c__mutmut_1": None}
    meta.write_text(json.dumps({"exit_code_by_key": {f"d2lmini.idx.{name}": code for name, code in codes.items()}}))
    monkeypatch.chdir(tmp_path)  # main() moves to the repository root: put the test's directory back after
    assert script.main(["--survivors", "--jobs", "1", "d2lmini/idx.py"]) == 0
    assert runs[0][-7:] == ["run", "--max-children", "1", "d2lmini.idx.x_a__mutmut_2", "d2lmini.idx.x_b__mutmut_1",
                            "d2lmini.idx.x_b__mutmut_2", "d2lmini.idx.x_c__mutmut_1"]  # survived, reached by no
    # test, killed only by time, not tested yet
    os.utime(meta, (0, 0))  # the module was edited after its last run: all its mutants are tested
    assert script.main(["--survivors", "--jobs", "1", "d2lmini/idx.py"]) == 0
    assert runs[1][-4:] == ["run", "--max-children", "1", "d2lmini.idx.x*"]
    runs.clear()
    meta.write_text('{"exit_code_by_key": {"d2lmini.idx.x_a__mutmut_1": 1}}')
    assert script.main(["--survivors", "d2lmini/idx.py"]) == 0
    assert not runs and "nothing to test again" in capsys.readouterr().out


def test_mutate_refuses_a_module_it_does_not_mutate() -> None:
    """A typo in MODULES is named at once, with the modules that can be given, before any work starts."""
    command = [sys.executable, str(ROOT / "scripts" / "mutate.py"), "d2lmini/idx.py", "d2lmini/nope.py"]
    done = subprocess.run(command, cwd="/", capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "d2lmini/nope.py: not in [tool.mutmut] only_mutate of pyproject.toml (d2lmini/__init__.py, " in done.stderr
    assert "d2lmini/book/checking.py)" in done.stderr


def mutate_script() -> Any:
    spec = importlib.util.spec_from_file_location("mutate_script", ROOT / "scripts" / "mutate.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_mutants_run_torch_on_one_thread_in_a_home_of_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mutant's process is forked from one that ran PyTorch: with OpenMP threads it would hang on its first op.
    And a mutant of the download code must not write a test's fake files into the user's real cache."""
    real_cache = tmp_path / "user-cache"
    (real_cache / "d2lmini" / "mnist").mkdir(parents=True)
    (real_cache / "d2lmini" / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"real")
    monkeypatch.setenv("XDG_CACHE_HOME", str(real_cache))
    monkeypatch.setenv("D2LMINI_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    env = mutate_script().mutant_env(tmp_path / "mutants-home")
    assert env["OMP_NUM_THREADS"] == "1" and env["MKL_NUM_THREADS"] == "1"
    assert env["PATH"] == os.environ["PATH"] and "D2LMINI_DATA" not in env
    assert env["HOME"] == str(tmp_path / "mutants-home") and env["XDG_CACHE_HOME"] == f"{env['HOME']}/.cache"
    copy = Path(env["XDG_CACHE_HOME"]) / "d2lmini" / "mnist" / "train-images-idx3-ubyte.gz"
    assert copy.read_bytes() == b"real"  # the tests that read the real datasets still find them


def test_mutating_the_package_init_does_not_take_in_its_other_modules() -> None:
    """`make mutate MODULES=d2lmini/__init__.py` tests the mutants of that file, not those of every module."""
    script = mutate_script()
    names = ["d2lmini.x_use_svg__mutmut_1", "d2lmini.xǁLazyǁget__mutmut_2", "d2lmini.train.xǁTrainerǁfit__mutmut_3",
             "d2lmini.book.checking.x_check__mutmut_4"]  # fmt: skip

    def chosen(module: str) -> list[str]:
        return [name for name in names if fnmatch.fnmatch(name, script.mutant_glob(module))]

    assert chosen("d2lmini/__init__.py") == names[:2]
    assert chosen("d2lmini/train.py") == names[2:3]
    assert chosen("d2lmini/book/checking.py") == names[3:]
