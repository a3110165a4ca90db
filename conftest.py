"""Test selection and guarantees for the whole repository (unit tests, notebooks, browsers).

Everything that executes a notebook or drives a browser is marked ``slow``:
``pytest -m "not slow"`` is the quick inner loop (the unit tests, well under
30 s), ``make test`` runs everything.

Every process a test starts (a notebook's kernel, ``jupyter-book``, ``python -c``)
imports ``d2lmini`` from this checkout, not from an installed copy: ``PYTHONPATH``
starts with this folder before any test runs (``tests/test_harness.py`` proves it).

No hang passes or goes unexplained: pytest-timeout fails a test that runs longer
than its limit, by name (``timeout`` in ``pyproject.toml`` for the unit tests,
:data:`SLOW_TIMEOUT` for the slow ones; a test's own ``@pytest.mark.timeout`` wins).
A notebook cell still has nbval's own limit (``--nbval-cell-timeout``), which is shorter.

Ctrl-C works in every run: Python installs its SIGINT handler (KeyboardInterrupt) only in a
process that did not start with SIGINT ignored, and a job a script starts in the background
(``make test &`` in a script, ``nohup``) or mutmut's fork server (``make mutate``) starts with it
ignored. The session puts Python's handler in place, so that the tests of Ctrl-C test Ctrl-C.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent

# Test modules that start kernels, build the book or drive a browser.
SLOW_MODULES = {"test_book.py", "test_book_tabs.py", "test_lab.py"}
# Seconds a slow test may take, fixtures included: building the book on a busy machine takes minutes.
SLOW_TIMEOUT = 1800


def _import_from_this_checkout() -> None:
    """Put this checkout first on ``PYTHONPATH``, for every process the tests start."""
    others = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != ROOT]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *others])


_import_from_this_checkout()

_sigint_before: Any = None


def pytest_sessionstart(session: pytest.Session) -> None:
    global _sigint_before
    _sigint_before = signal.getsignal(signal.SIGINT)
    if _sigint_before is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _sigint_before is signal.SIG_IGN:  # as the process had it (mutmut's fork server must go on ignoring Ctrl-C)
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path
        executes_notebooks = path.suffix == ".ipynb"
        if executes_notebooks or path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT))
