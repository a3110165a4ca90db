"""The body of scripts/gpu-check.sh: install what is missing, run every check on the GPU, summarise.

Run through ``scripts/gpu-check.sh``; the steps, each logged
to ``--out``:

1. the machine: Python, PyTorch, CUDA and the GPU, JAX;
2. the quick test suite (``pytest -m "not slow"``), which includes the Trainer's CUDA test;
3. every chapter and exercise notebook executed top to bottom in a fresh kernel (nbval's lax mode:
   every cell must run without an error, every ``assert`` in it must hold; the stored numbers are
   not compared, since a GPU's arithmetic differs from the CPU's in the last digits);
4. the student edition of every exercise notebook (every check must say "not attempted");
5. ``bench/epoch_speed.py`` on the GPU.

Every notebook uses ``Trainer(device="auto")``, which picks CUDA here: the run checks that nothing
in the book assumes the CPU.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import platform
import shlex
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMPORTS = ("nbclient", "nbval", "ipykernel", "plotly", "ipywidgets", "pytest", "xdist", "pytest_timeout", "yaml")


def install_missing(wheels: Path, site: Path) -> list[str]:
    """Install into ``site`` (offline, without dependencies) each wheel whose package this Python lacks.

    Only missing packages are added, on ``PYTHONPATH``, so the machine's own torch, NumPy and JAX
    are the ones tested; ``site`` goes first on this process's path too.
    """
    site.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(site))
    missing = []
    for wheel in sorted(wheels.glob("*.whl")):
        name = wheel.name.split("-")[0].replace("_", "-")
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(wheel)
    if missing:
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--no-compile",
               "--disable-pip-version-check", "--target", str(site), *map(str, missing)]  # fmt: skip
        subprocess.run(cmd, check=True)
        importlib.invalidate_caches()
    return [w.name.split("-")[0] for w in missing]


def machine() -> dict[str, str]:
    import torch

    info = {
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": str(torch.version.cuda),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
    }
    try:
        import jax

        info["jax"] = f"{jax.__version__} on {jax.devices()[0].platform}"
    except Exception as err:  # JAX is optional: only the labs' second tab needs it
        info["jax"] = f"unavailable ({type(err).__name__})"
    return info


def run(name: str, cmd: list[str], out: Path, env: dict[str, str], timeout: int) -> tuple[int, float]:
    """Run one step with its output in out/<name>.log; returns (exit status, seconds)."""
    start = time.perf_counter()
    with open(out / f"{name}.log", "w") as log:
        log.write("$ " + shlex.join(cmd) + "\n")
        log.flush()
        try:
            status = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    timeout=timeout).returncode  # fmt: skip
        except subprocess.TimeoutExpired:
            log.write(f"\n{name}: stopped after {timeout} s\n")
            status = 124
    seconds = time.perf_counter() - start
    print(f"  {name}: exit {status} in {seconds:.0f} s", flush=True)
    return status, seconds


def junit(path: Path) -> dict[str, dict[str, float]]:
    """Per file: tests passed, failed, skipped and seconds, from a JUnit XML report."""
    files: dict[str, dict[str, float]] = defaultdict(lambda: {"passed": 0, "failed": 0, "skipped": 0, "seconds": 0.0})
    if not path.exists():
        return files
    for case in ET.parse(path).getroot().iter("testcase"):
        key = (case.get("file") or case.get("classname", "?")).split("::")[0]
        result = files[key]
        kinds = {child.tag for child in case}
        result["failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "passed"] += 1
        result["seconds"] += float(case.get("time", 0))
    return files


def totals(files: dict[str, dict[str, float]]) -> str:
    t = {k: int(sum(f[k] for f in files.values())) for k in ("passed", "failed", "skipped")}
    return f"{t['passed']} passed, {t['failed']} failed, {t['skipped']} skipped"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheels", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--site", type=Path, required=True, help="where the missing packages go")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "gpu-check")
    parser.add_argument("--jobs", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--allow-cpu", action="store_true", help="rehearse on a machine without a CUDA GPU")
    parser.add_argument("--skip-bench", action="store_true")
    parser.add_argument("--notebooks", nargs="+", default=["chapters", "exercises"], help="notebooks or folders")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    installed = install_missing(args.wheels, args.site)
    print(f"gpu-check: installed {len(installed)} missing package(s) from {args.wheels}", flush=True)
    for module in IMPORTS:
        __import__(module)
    info = machine()
    print("gpu-check: " + ", ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    if info["gpu"] == "none" and not args.allow_cpu:
        print("gpu-check: PyTorch sees no CUDA GPU here; run it on a GPU machine (or pass --allow-cpu).")
        return 2

    env = os.environ | {
        "PYTHONPATH": os.pathsep.join((str(ROOT), str(args.site))),  # the checkout under test, in every kernel
        "D2LMINI_DATA": str(args.data.resolve()),    # no network: the bundled files
        "XLA_PYTHON_CLIENT_PREALLOCATE": "false",    # JAX and PyTorch share the GPU in the labs' kernels
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    py = [sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider", "-q", "-rfE"]
    jobs = ["-n", str(args.jobs)]
    steps = {
        "tests": [*py, *jobs, "-m", "not slow", "tests", f"--junitxml={args.out / 'tests.xml'}"],
        "notebooks": [*py, *jobs, "--dist", "loadfile", "--nbval-lax", "--nbval-cell-timeout=600",
                      *args.notebooks, f"--junitxml={args.out / 'notebooks.xml'}"],
        "student": [*py, *jobs, "tests/test_exercises.py", "-m", "slow", "-k", "student_notebook_runs",
                    f"--junitxml={args.out / 'student.xml'}"],
    }
    if not args.skip_bench:
        steps["bench"] = [sys.executable, "bench/epoch_speed.py"]
    status = {name: run(name, cmd, args.out, env, timeout=900) for name, cmd in steps.items()}

    lines = ["# GPU check", "", "| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in info.items()), ""]
    lines += ["| step | result | seconds |", "|---|---|---|"]
    for name, (code, seconds) in status.items():
        files = junit(args.out / f"{name}.xml")
        result = totals(files) if files else ("ok" if code == 0 else f"exit {code}")
        lines.append(f"| {name} | {result} | {seconds:.0f} |")
    notebooks = junit(args.out / "notebooks.xml")
    if notebooks:
        lines += ["", "| notebook | cells run | failed | seconds |", "|---|---|---|---|"]
        for path, r in sorted(notebooks.items()):
            lines.append(f"| {path} | {int(r['passed'] + r['failed'])} | {int(r['failed'])} | {r['seconds']:.0f} |")
    if "bench" in status:
        bench = (args.out / "bench.log").read_text().splitlines()[1:]
        lines += ["", "Benchmark (bench/epoch_speed.py):", "", "```", *bench[-25:], "```"]
    ok = all(code == 0 for code, _ in status.values())
    lines += ["", f"**{'PASSED' if ok else 'FAILED'}**: logs in {args.out}"]
    summary = "\n".join(lines)
    (args.out / "summary.md").write_text(summary + "\n")
    print("\n" + summary)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
