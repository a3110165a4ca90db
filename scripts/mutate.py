"""Mutation testing of d2lmini (``make mutate``): how many small, deliberate bugs the quick suite catches.

mutmut (configured in ``[tool.mutmut]`` of ``pyproject.toml``) copies the package and the tests into
``mutants/``, makes each mutant (one small edit: ``<`` for ``<=``, ``None`` for a value, a string
changed) and runs the quick-suite tests that reach the mutated function; a mutant is *killed* when one of
them fails (or times out), and *survives* when they all pass. This script runs it over the modules given
(every module in ``only_mutate`` by default), then prints the score of each module, the total, and every
mutant that was not killed, as the line it changed, so that each one can be looked at.

    python scripts/mutate.py [--jobs N] [--survivors] [--tests tests/test_idx.py ...] [d2lmini/idx.py ...]

Every run tests all the mutants of the modules it names afresh, against the tests as they are now (the
map of which tests reach which function is rebuilt: mutmut would not notice an edited test); with
``--survivors``, only those the last runs did not kill, did not reach, or killed only by a time limit (after
writing tests for them: minutes, not hours; a module whose code changed since needs a whole run).
Results of other modules stay in ``mutants/`` from their last run. Delete ``mutants/`` to start from nothing.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "mutants"
FOCUS = "D2LMINI_MUTATE_TESTS"  # --tests, passed on to the process that runs mutmut
TEST_LOG = WORK / "tests.log"  # what the test runs before the mutants printed (see as_mutmut)

# mutmut's exit codes of a mutant's test run, as its own `results` command names them.
KILLED = {1: "killed", 3: "killed", 36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout",
          37: "caught by type check"}  # fmt: skip
NOT_KILLED = {0: "survived", 5: "no tests", 33: "no tests", 35: "suspicious", -11: "segfault", -9: "segfault"}
NOT_COUNTED = {None: "not checked", 34: "skipped", 2: "interrupted"}
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
PROGRESS = re.compile(r"^. \d+/\d+ ")  # mutmut's count of mutants tested, and of each verdict


def configured_modules() -> list[str]:
    from mutmut.configuration import config  # reads [tool.mutmut] from the working directory's pyproject.toml

    return list(config().only_mutate)


def mutant_glob(module: str) -> str:
    """mutmut's name pattern for every mutant of one module: d2lmini/book/checking.py -> d2lmini.book.checking.x*.

    mutmut names a mutant ``MODULE.x_FUNCTION__mutmut_N`` (or ``MODULE.xǁCLASSǁMETHOD__mutmut_N``); a package's
    ``__init__.py`` is the package itself, ``d2lmini``, so its pattern must end in ``.x*``: ``d2lmini.*`` would
    also take in every other module of the package.
    """
    return ".".join(Path(module).with_suffix("").parts).removesuffix(".__init__") + ".x*"


def fresh_copies() -> None:
    """Forget the copied tests and the test-to-function map, so this run sees the tests as they are now."""
    for name in ("tests", "conftest.py", "mutmut-stats.json"):
        path = WORK / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def verdicts(module: str) -> dict[str, int | None]:
    meta = WORK / f"{module}.meta"
    return json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}


def changed_lines(name: str, module: str) -> tuple[str, str, str]:
    """Where a mutant is (``path:line``), the code it replaced and its own (mutmut's diff, reduced to the edit)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    diff = get_diff_for_mutant(name, path=module).splitlines()
    old = [line[1:].strip() for line in diff if line.startswith("-") and not line.startswith("---")]
    new = [line[1:].strip() for line in diff if line.startswith("+") and not line.startswith("+++")]
    source = [text.strip() for text in (ROOT / module).read_text().splitlines()]
    line = source.index(old[0]) + 1 if old and old[0] in source else "?"
    return f"{module}:{line}", " / ".join(old), " / ".join(new)


def mutant_env(home: Path) -> dict[str, str]:
    """The environment for mutmut: PyTorch's CPU kernels on one thread, and a home of its own at ``home``.

    mutmut forks each mutant's test process from a server process that has run PyTorch; a fork of a process
    whose OpenMP thread team exists waits forever at the team's next barrier (the first large ``torch.zeros``),
    so every mutant would "time out" unnoticed. One thread per process also suits running ``--jobs`` at once.

    A mutant of the code that picks the download folder sends a test's fake files to wherever it now points:
    with the user's own home, into their real cache, where every later run would find a "damaged" dataset (it
    happened). So mutmut gets a home (and cache) of its own, holding a copy of the real d2lmini cache (the
    tests that use the real datasets read it), and no ``D2LMINI_DATA``.
    """
    from d2lmini.files import ENV_VAR, cache_dir

    cache = home / ".cache"
    shutil.rmtree(home, ignore_errors=True)
    cache.mkdir(parents=True)
    if cache_dir().is_dir():
        shutil.copytree(cache_dir(), cache / "d2lmini")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HOME": str(home),
           "XDG_CACHE_HOME": str(cache)}  # fmt: skip
    env.pop(ENV_VAR, None)
    return env


def run_quietly(command: list[str], env: dict[str, str] | None = None) -> int:
    """Run mutmut, passing on its messages and its progress (in place on a terminal, once a minute into a log),
    but not its spinners or its closing list of every mutant (the report says it better)."""
    live, shown, spinning = sys.stdout.isatty(), 0.0, False
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env) as run:
        assert run.stdout is not None
        output = io.TextIOWrapper(run.stdout, encoding="utf-8", errors="replace", newline="")
        for segment in output:  # lines, and the spinner's updates that end in "\r"
            text = segment.strip("\r\n")
            if text.startswith("Mutant results"):
                output.read()
                break
            if text[:1] in SPINNER:
                if live:
                    sys.stdout.write("\r" + text)
                    spinning = True
                elif PROGRESS.match(text) and time.monotonic() - shown > 60:
                    shown = time.monotonic()
                    print(time.strftime("%H:%M"), text[2:])
            elif text.strip():
                print(("\n" if spinning else "") + text)
                spinning = False
            sys.stdout.flush()
    return run.returncode


def report(modules: list[str]) -> int:
    """Print each module's score and its mutants that were not killed; returns how many were not killed."""
    rows, survivors, total = [], [], Counter()
    for module in modules:
        counts = Counter()
        for name, code in verdicts(module).items():
            if code in KILLED:
                counts["killed"] += 1
            elif code in NOT_COUNTED:
                counts[NOT_COUNTED[code]] += 1
            else:
                counts["not killed"] += 1
                survivors.append((module, name, NOT_KILLED.get(code, f"exit code {code}")))
        total.update(counts)
        rows.append((module, counts))
    rows.append(("total", total))
    print(f"\n{'module':32} {'mutants':>8} {'killed':>7} {'not killed':>11} {'score':>7}   (not run yet)")
    for module, c in rows:
        tested = c["killed"] + c["not killed"]
        score = f"{100 * c['killed'] / tested:.1f}%" if tested else "-"
        untested = c["not checked"] + c["skipped"] + c["interrupted"]
        print(f"{module:32} {tested + untested:8} {c['killed']:7} {c['not killed']:11} {score:>7}   "
              f"{untested if untested else ''}")  # fmt: skip
    if survivors:
        print(f"\n{len(survivors)} mutants not killed (`.venv/bin/mutmut show NAME` shows one as a diff):")
    for module, name, status in survivors:
        where, old, new = changed_lines(name, module)
        print(f"\n{name} ({status}), {where}\n  - {old}\n  + {new}")
    return len(survivors)


def changed_since_run(module: str) -> bool:
    """Whether ``module`` was edited after its mutants' verdicts were last saved (``--survivors`` then tests
    all of them: mutmut renames and resets the mutants of every function that changed)."""
    meta = WORK / f"{module}.meta"
    return not meta.exists() or (ROOT / module).stat().st_mtime > meta.stat().st_mtime


def again(code: int | None) -> bool:
    """Whether ``--survivors`` tests a mutant (again): one not killed, not tested yet (a run stopped before it),
    or killed only by running out of time (a machine that stalls, not the mutant, can cause that)."""
    return code in NOT_KILLED or code in NOT_COUNTED or KILLED.get(code) == "timeout"  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="files to mutate (default: every file in only_mutate)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--report-only", action="store_true", help="print the last results, run nothing")
    parser.add_argument("--survivors", action="store_true", help="test again the mutants not killed (or timed out)")
    parser.add_argument("--tests", action="append", metavar="PATH", default=[],
                        help="test with these test files (or folders) only: a lower bound, much faster")  # fmt: skip
    args = parser.parse_args(argv)
    os.chdir(ROOT)  # mutmut reads pyproject.toml and mutants/ from the working directory
    known = configured_modules()
    modules = [str(Path(m)) for m in args.modules] or known
    unknown = [m for m in modules if m not in known]
    if unknown:
        parser.error(f"{', '.join(unknown)}: not in [tool.mutmut] only_mutate of pyproject.toml ({', '.join(known)})")
    if not args.report_only:
        whole = [m for m in modules if not args.survivors or changed_since_run(m)]
        names = [mutant_glob(m) for m in whole]
        names += [n for m in modules if m not in whole for n, code in verdicts(m).items() if again(code)]
        if not names:
            print("No mutant of these modules survived their last run (or none was run yet): nothing to test again.")
            return 0
        fresh_copies()
        start = time.monotonic()
        mutmut_args = ["run", "--max-children", str(args.jobs), *names]
        print("mutmut", " ".join(mutmut_args) if len(mutmut_args) < 12 else f"run {len(names)} mutants", flush=True)
        env = mutant_env(WORK / "home")
        if args.tests:
            env[FOCUS] = os.pathsep.join(args.tests)
        code = run_quietly([sys.executable, __file__, "--as-mutmut", *mutmut_args], env=env)
        print(f"\nmutmut ran for {(time.monotonic() - start) / 60:.1f} min (exit code {code})")
        if code != 0:
            explain_failure()
            return code
    report(modules)
    return 0


def explain_failure() -> None:
    """When the unmutated code fails its tests inside mutmut, say which tests (mutmut itself shows nothing)."""
    log = TEST_LOG.read_text(errors="replace") if TEST_LOG.exists() else ""
    failed = sorted(set(re.findall(r"^(?:FAILED|ERROR) \S+.*$", log, re.MULTILINE)))
    if failed:
        print("\nThe tests failed on the unmutated code, as mutmut ran them (the whole output: mutants/tests.log):")
        print("\n".join(failed))


def focus_on(paths: tuple[str, ...]) -> None:
    """Test each mutant with the tests under ``paths`` only (``--tests``).

    mutmut still runs the whole quick suite once, to learn which tests reach which function; this keeps, of
    those, the ones under ``paths``. A mutant that only a test elsewhere would kill counts as survived, so the
    score is a lower bound of the quick suite's: the module's own tests measured, in a fraction of the time.
    """
    import mutmut.__main__ as mutmut_main

    collect = mutmut_main.collect_or_load_stats

    def collect_then_focus(*args: Any, **kwargs: Any) -> Any:
        result = collect(*args, **kwargs)
        reach = mutmut_main.state().tests_by_mangled_function_name
        for function, tests in reach.items():
            reach[function] = {test for test in tests if test.split("::")[0].startswith(paths)}
        return result

    mutmut_main.collect_or_load_stats = collect_then_focus


def as_mutmut(mutmut_args: list[str]) -> None:
    """Run mutmut's command line, keeping the output of the test runs it makes before testing mutants.

    mutmut shows that output only in its debug mode, and loses it when a test fails in its clean run (the
    run happens in a child process): this copies it into mutants/tests.log as it is written.
    """
    import mutmut.__main__ as mutmut_main

    WORK.mkdir(exist_ok=True)
    TEST_LOG.unlink(missing_ok=True)
    catch_init = mutmut_main.CatchOutput.__init__

    def init(catcher: Any, *args: Any, **kwargs: Any) -> None:
        catch_init(catcher, *args, **kwargs)
        write = catcher.redirect.write

        def write_and_log(text: str) -> int:
            with TEST_LOG.open("a") as log:
                log.write(text)
            return write(text)

        catcher.redirect.write = write_and_log

    mutmut_main.CatchOutput.__init__ = init
    if os.environ.get(FOCUS):
        focus_on(tuple(os.environ[FOCUS].split(os.pathsep)))
    sys.argv = ["mutmut", *mutmut_args]
    mutmut_main.cli()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--as-mutmut"]:
        os.chdir(ROOT)
        as_mutmut(sys.argv[2:])
    sys.exit(main())
