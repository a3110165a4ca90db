"""What the test suite promises about itself: it tests the checkout it runs in, and a hang fails by name.

A test that starts a process (a notebook kernel, ``jupyter-book``, a download in another process) must
test this checkout's d2lmini, not a copy installed elsewhere (another worktree's editable install, the
copy ``make mutate`` runs the tests against). And a test that hangs must fail with its name, not stall
the suite: pytest-timeout, configured in ``pyproject.toml`` and ``conftest.py``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import d2lmini
from tests.helpers import CHECKOUT, subprocess_env
from tests.test_files import as_other_user, with_tmpfs

PRINT_PACKAGE = "import d2lmini; print(d2lmini.__file__)"


def imported_from(command: list[str], env: dict[str, str]) -> Path:
    """The d2lmini a fresh process imports, started in ``/`` so that its working directory cannot help."""
    done = subprocess.run(command, env=env, cwd="/", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip())


def test_the_tests_import_this_checkout() -> None:
    assert Path(__file__).resolve().parents[1] == CHECKOUT
    assert Path(d2lmini.__file__).is_relative_to(CHECKOUT)
    assert os.environ["PYTHONPATH"].split(os.pathsep)[0] == str(CHECKOUT)  # set by conftest.py for every process


def test_a_process_with_the_tests_environment_imports_this_checkout() -> None:
    """What kernels, jupyter-book and the pip dry run inherit."""
    assert imported_from([sys.executable, "-c", PRINT_PACKAGE], dict(os.environ)).is_relative_to(CHECKOUT)


def test_a_process_with_the_minimal_environment_imports_this_checkout() -> None:
    """The downloads run in other processes with :func:`~tests.helpers.subprocess_env`."""
    assert imported_from([sys.executable, "-c", PRINT_PACKAGE], subprocess_env({})).is_relative_to(CHECKOUT)


@pytest.mark.slow  # user and mount namespaces
@pytest.mark.parametrize("how", ["as another user", "on a tmpfs"])
def test_a_process_as_another_user_or_on_a_tmpfs_imports_this_checkout(how: str, tmp_path: Path) -> None:
    """The full-disk, read-only and permission tests' processes (``setpriv``, ``unshare``)."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    prefix = as_other_user() if how == "as another user" else with_tmpfs(mount, "size=1m")
    command = [*prefix, sys.executable, "-c", PRINT_PACKAGE]
    assert imported_from(command, subprocess_env({})).is_relative_to(CHECKOUT)


HANGING = '''
import time

import pytest


def test_hangs():
    while True:
        time.sleep(0.01)


def test_spins():
    while True:
        pass


@pytest.mark.slow
def test_slow_ones_get_more_time(request):
    assert request.node.get_closest_marker("timeout").args == (1800,)


def test_the_suite_goes_on():
    pass
'''


def test_a_hanging_test_fails_with_its_name_and_the_suite_goes_on(tmp_path: Path) -> None:
    """pytest-timeout with this repository's configuration (pyproject.toml, conftest.py), its limit lowered to 1 s."""
    (tmp_path / "test_hanging.py").write_text(HANGING)
    config = ["-c", str(CHECKOUT / "pyproject.toml"), "--rootdir", str(tmp_path), "-p", "conftest"]
    command = [sys.executable, "-m", "pytest", *config, "-p", "no:cacheprovider", "-o", "timeout=1", "test_hanging.py"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    for name in ("test_hangs", "test_spins"):
        assert re.search(rf"^FAILED test_hanging\.py::{name}\b", out, re.MULTILINE), out
    assert out.count("Failed: Timeout (>1.0s) from pytest-timeout") >= 2, out
    assert "2 failed, 2 passed" in out


def test_unit_tests_have_a_time_limit(request: pytest.FixtureRequest) -> None:
    assert request.config.pluginmanager.hasplugin("timeout")
    assert float(request.config.getini("timeout")) == 120


CTRL_C = '''
import signal
import threading
import time

import pytest


def test_ctrl_c():
    threading.Timer(0.1, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT)).start()
    with pytest.raises(KeyboardInterrupt):
        time.sleep(5)
'''


def test_ctrl_c_reaches_the_tests_of_a_run_started_with_it_ignored(tmp_path: Path) -> None:
    """A run started in the background by a script (or by mutmut's fork server) begins with SIGINT ignored."""
    (tmp_path / "test_ctrl_c.py").write_text(CTRL_C)
    config = ["-c", str(CHECKOUT / "pyproject.toml"), "--rootdir", str(tmp_path), "-p", "conftest"]
    command = [sys.executable, "-m", "pytest", *config, "-p", "no:cacheprovider", "test_ctrl_c.py"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # fmt: skip
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout + done.stderr
