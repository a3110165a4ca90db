"""What every checker owes the reader, whatever the answer does: a bounded wait, a verdict not buried under
printed output, the reader's random state untouched, and all of that inside a Jupyter kernel too."""

from __future__ import annotations

import contextlib
import inspect
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest
import torch
from torch import nn

import d2lmini
from d2lmini.book import checking, checks
from d2lmini.book.checks import CheckResult
from tests.book.test_checks import RIGHT, STORED, _scratch_with

LIMIT = 0.5  # seconds per call in these tests
BOUND = LIMIT + 1.0 + 4.0  # the limit, the grace period for a stopped thread, and slack for a loaded machine
HANG_S = 20.0  # how long a "never ending" answer really runs: a checker without its time limit fails, not hangs


class _Counting:
    """An answer that never returns and counts its loops, so a test can tell whether it still runs.

    ``swallow`` is what each loop catches and ignores: nothing, every Exception, or everything (a bare
    ``except:``, which also catches the exception that stops the answer).
    """

    def __init__(self, swallow: type[BaseException] | None = None) -> None:
        self.loops = 0
        self.swallow = swallow

    def __call__(self, *args: Any) -> Any:
        end = time.monotonic() + HANG_S
        while time.monotonic() < end:
            if self.swallow is None:
                self.loops += 1
            else:
                with contextlib.suppress(self.swallow):
                    self.loops += 1
                    sum(range(50))

    def still_running(self) -> bool:
        before = self.loops
        time.sleep(0.2)
        return self.loops != before


def _loop_forever(*args: Any) -> Any:
    """Loops for HANG_S seconds, longer than any test waits: to a checker, it never returns."""
    end = time.monotonic() + HANG_S
    while time.monotonic() < end:
        pass


def _sleep(*args: Any) -> Any:
    time.sleep(4)


def _timed(check: Callable[..., CheckResult], answer: Any, **kwargs: Any) -> tuple[CheckResult, float]:
    start = time.perf_counter()
    result = check(answer, **kwargs)
    return result, time.perf_counter() - start


@pytest.mark.parametrize("swallow", [None, Exception, BaseException], ids=["plain", "except-Exception", "except"])
def test_endless_loop_is_stopped_and_reported(swallow: type[BaseException] | None) -> None:
    stdout, answer = sys.stdout, _Counting(swallow)
    result, seconds = _timed(checks.check_relu, answer, time_limit=LIMIT)
    assert result.message == (
        "✘ relu: not yet. Your function did not return within 0.5 s, so the check stopped it. "
        "Look for a loop that never ends or a call that waits."
    )
    assert seconds < BOUND
    assert answer.loops > 0 and not answer.still_running()
    assert sys.stdout is stdout


def test_sleeping_answer_gets_a_verdict_in_bounded_time() -> None:
    result, seconds = _timed(checks.check_tanh_grad, _sleep, time_limit=LIMIT)
    assert result.status == "wrong"
    assert (
        "Your function did not return within 0.5 s and could not be stopped yet: it is blocked in a call Python "
        "cannot interrupt (such as time.sleep or input) and stops when that call returns" in result.message
    )
    assert seconds < BOUND


def test_an_answer_that_could_not_be_stopped_does_not_slow_the_next_checks() -> None:
    """CPython starves a profiled thread while another thread has an exception pending (the one that stops an
    answer blocked in time.sleep): the next checks must neither stall nor lose their verdict."""
    result, _ = _timed(checks.check_relu, _sleep, time_limit=0.2)
    assert "could not be stopped yet" in result.message
    result, seconds = _timed(checks.check_count_params, lambda m: sum(p.numel() for p in m.parameters()), time_limit=3)
    assert "That includes frozen parameters" in result.message and seconds < 2.5
    result, seconds = _timed(checks.check_relu, lambda x: x.clamp(min=0), time_limit=3)
    assert result.passed and seconds < 2.5


def test_the_default_limit_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checking, "TIME_LIMIT_S", 0.3)
    result, seconds = _timed(checks.check_softmax, _loop_forever)
    assert "did not return within 0.3 s" in result.message and seconds < BOUND


def test_hanging_model_and_network_name_what_hung() -> None:
    class SlowInit(nn.Module):
        def __init__(self, **kwargs: Any) -> None:
            _loop_forever()

        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return X

    message = checks.check_mlp_forward(SlowInit, time_limit=LIMIT).message
    assert "Creating the model did not finish within 0.5 s, so the check stopped it." in message

    class SlowForward(nn.Sequential):
        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return _loop_forever()

    message = checks.check_build_mlp(lambda h: SlowForward(nn.Flatten(), nn.Linear(784, h)), time_limit=LIMIT).message
    assert "Running it on images of shape (24, 1, 28, 28) did not finish within 0.5 s" in message


def test_ctrl_c_while_waiting_stops_the_answer_too() -> None:
    stdout, start, answer = sys.stdout, time.perf_counter(), _Counting()
    main = threading.main_thread().ident
    assert main is not None
    timer = threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT))  # what Jupyter's interrupt sends
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        checks.check_relu(answer, time_limit=30)
    timer.join()
    assert time.perf_counter() - start < BOUND
    assert answer.loops > 0 and not answer.still_running() and sys.stdout is stdout


# ---------------------------------------------------------------------------
# Printed output


def _noisy_relu(x: torch.Tensor) -> torch.Tensor:
    print("x" * 10_000_000)
    return x.clamp(min=0)


def _chatty_relu(x: torch.Tensor) -> torch.Tensor:
    for i in range(20_000):
        print("step", i)
    print("warning: about to return", file=sys.stderr)
    return x.clamp(min=0)


def test_ten_megabytes_of_print_do_not_bury_the_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    result = checks.check_relu(_noisy_relu)
    lines = result.message.split("\n")
    assert result.passed and lines[0] == STORED[checks.check_relu]
    assert lines[1].startswith("Note: your code printed 20,000,002 characters (2 lines) while being checked")
    assert lines[-1] == "  | ... (19,999,885 more characters not shown)"
    assert len(result.message) < 1000
    assert capsys.readouterr() == ("", ""), "nothing the answer printed reaches the notebook"


def test_many_printed_lines_show_only_the_first_few(capsys: pytest.CaptureFixture[str]) -> None:
    result = checks.check_relu(_chatty_relu)
    lines = result.message.split("\n")
    assert lines[0] == STORED[checks.check_relu]
    assert "(40,002 lines)" in lines[1]
    assert lines[2:7] == [f"  | step {i}" for i in range(5)]
    assert lines[7].startswith("  | ... (") and len(lines) == 8
    assert capsys.readouterr() == ("", "")


def test_printing_answer_that_hangs_shows_both() -> None:
    def relu(x: torch.Tensor) -> torch.Tensor:
        print("looking for the maximum")
        _loop_forever()
        return x

    message = checks.check_relu(relu, time_limit=LIMIT).message
    assert message.split("\n")[0].endswith(
        "so the check stopped it. Look for a loop that never ends or a call that waits."
    )
    assert "  | looking for the maximum" in message


# ---------------------------------------------------------------------------
# The reader's random state


def _random_state() -> tuple[Any, ...]:
    return torch.get_rng_state(), torch.initial_seed(), random.getstate(), np.random.get_state()[1].copy()


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return torch.equal(a[0], b[0]) and a[1] == b[1] and a[2] == b[2] and np.array_equal(a[3], b[3])


def _reseeding_relu(x: torch.Tensor) -> torch.Tensor:
    torch.manual_seed(1234)
    torch.rand(10)
    random.seed(5)
    random.random()
    np.random.seed(6)
    np.random.rand(3)
    return x.clamp(min=0)


ANSWERS = [(check, RIGHT[check]) for check in RIGHT] + [
    (checks.check_relu, _reseeding_relu),
    (checks.check_relu, lambda x: torch.rand(x.shape, dtype=x.dtype)),
    (checks.check_mlp_forward, _scratch_with(lambda m, X: torch.randn(len(X), 10))),
]


@pytest.mark.parametrize(("check", "answer"), ANSWERS, ids=range(len(ANSWERS)))
def test_random_state_is_unchanged(check: Callable[..., CheckResult], answer: Any) -> None:
    torch.manual_seed(99)
    random.seed(98)
    np.random.seed(97)
    torch.rand(3), random.random(), np.random.rand()  # a state that is not a fresh seed
    before = _random_state()
    check(answer)
    assert _same(_random_state(), before)


# ---------------------------------------------------------------------------
# The notebook's gradient mode

GRADIENT_OFF = {
    "no_grad": torch.no_grad,
    "inference_mode": torch.inference_mode,
    "set_grad_enabled(False)": lambda: torch.set_grad_enabled(False),
}


@pytest.mark.parametrize("mode", list(GRADIENT_OFF))
@pytest.mark.parametrize("check", list(RIGHT), ids=lambda c: c.__name__)
def test_right_answer_passes_with_gradients_off(check: Callable[..., CheckResult], mode: str) -> None:
    """A checker computes what it expects with autograd: a notebook that turned gradients off changes nothing."""
    with GRADIENT_OFF[mode]():
        result = check(RIGHT[check])
        assert not torch.is_grad_enabled(), "the notebook's mode is back after the check"
    assert result.message == STORED[check]


# ---------------------------------------------------------------------------
# Inside a Jupyter kernel, where sys.stdout is an ipykernel stream and cells run in a kernel's threads

NOTEBOOK_CELLS = [
    "import sys, time\nfrom d2lmini.book.checks import check_relu",
    "def relu(x):\n    while True:\n        pass",
    "check_relu(relu, time_limit=1)",
    "def relu(x):\n    time.sleep(20)",
    "check_relu(relu, time_limit=1)",
    "def relu(x):\n    print('x' * 10_000_000)\n    return x.clamp(min=0)",
    "check_relu(relu)",
    "def relu(x):\n    y = x * 2\n    return y / undefined_name",
    "check_relu(relu)",
    "print('stdout still works', sys.stdout.__class__.__name__)",
]


@pytest.mark.slow  # starts a kernel
def test_inside_a_jupyter_kernel(tmp_path: Path) -> None:
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in NOTEBOOK_CELLS]
    nb.cells += [nbformat.v4.new_code_cell("from d2lmini.book.checks import notebook_hints\n\nnotebook_hints()")]
    early = nbformat.v4.new_code_cell("check_relu(relu_not_written_yet)")
    early.metadata["tags"] = ["raises-exception"]  # a check cell run before its answer's cell
    nb.cells.append(early)
    start = time.perf_counter()
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert time.perf_counter() - start < 50
    outputs = [cell.outputs for cell in nb.cells]
    texts = {i: outs[0]["data"]["text/plain"] for i, outs in enumerate(outputs) if i in (2, 4, 6, 8)}
    assert [len(outputs[i]) for i in (2, 4, 6, 8)] == [1, 1, 1, 1], "a verdict and nothing else"
    assert texts[2].startswith("✘ relu: not yet. Your function did not return within 1 s, so the check stopped it.")
    assert "could not be stopped yet: it is blocked in a call Python cannot interrupt" in texts[4]
    assert texts[6].startswith(STORED[checks.check_relu] + "\nNote: your code printed 20,000,002 characters")
    assert texts[8] == (
        "✘ relu: not yet. Calling it raised NameError: name 'undefined_name' is not defined "
        "(line 3 of its cell: `return y / undefined_name`). If a cell above defines `undefined_name`, run it first "
        "(after a kernel restart, run the cells from the top: Run > Run All Above); if none does, check the spelling."
    )
    (last,) = outputs[9]
    assert last["name"] == "stdout" and last["text"] == "stdout still works OutStream\n"
    assert outputs[10] == [], "notebook_hints() shows nothing"
    (error,) = outputs[11]
    assert error["output_type"] == "error" and error["ename"] == "NameError"
    assert error["traceback"][-1] == (
        "Hint: `relu_not_written_yet` is not defined in this kernel; this check is usually called as "
        "`check_relu(relu)`: check the spelling, or run the cell that defines `relu_not_written_yet` first."
    )


def test_help_shows_the_checkers_real_signature() -> None:
    assert str(inspect.signature(checks.check_relu)) == "(relu: 'Callable[..., Any]', *, time_limit=None)"
    assert str(inspect.signature(checks.check_mlp_forward)).startswith("(model_class")


# ---------------------------------------------------------------------------
# Functions an exercise forbids: seen only in the answer's own calls, and only judged once the values are right


def test_forbidden_calls_are_watched_in_the_answer_only() -> None:
    forbid = checking.Forbidden(said="torch.tanh", instead="do it by hand.", torch_names=frozenset({"tanh"}))

    @checking.checker("demo", example="check_demo(f)")
    def check_demo(f: Callable[..., Any], trial: checking.Trial) -> str:
        torch.tanh(torch.zeros(2))  # the checker's own calls do not count
        got = trial.call(f, torch.ones(2), forbid=forbid)
        if not torch.allclose(got, torch.ones(2).tanh()):
            raise checking.wrong("Off.")
        trial.call(f, torch.ones(2))  # nor do the answer's calls without `forbid`
        return "Fine."

    assert check_demo(lambda x: (1 - torch.exp(-2 * x)) / (1 + torch.exp(-2 * x))).passed
    assert check_demo(torch.tanh).message == (
        "✘ demo: not yet. Its result is right, but it calls torch.tanh, which this exercise asks you not to use: "
        "do it by hand."
    )
    assert check_demo(lambda x: torch.tanh(x) + 1).message == "✘ demo: not yet. Off."  # the values come first
    assert not torch._C._is_torch_function_mode_enabled()  # nothing left active
    assert sys.getprofile() is None


def test_a_forbidden_python_function_is_seen_however_it_was_imported() -> None:
    from d2lmini import count_parameters
    from d2lmini.module import count_parameters as same

    for answer in (count_parameters, lambda m: same(m), lambda m: d2lmini.count_parameters(m)):
        assert "it calls d2lmini.count_parameters" in checks.check_count_params(answer).message
