"""What a check does about state outside the answer's return value: the notebook's settings (default dtype and
device, gradient mode), global state the answer changes (named in the verdict and put back where possible), the
data module's tensors, reseeding, what the result keeps, and the hint for a check cell run too early."""

from __future__ import annotations

import linecache
import random
import sys
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import d2lmini
from d2lmini.book import checking, checks
from d2lmini.book.checking import CheckResult, Trial, checker, notebook_hints, wrong
from d2lmini.book.experiment_checks import experiment_checker
from tests.book.test_checks import RIGHT, STORED, WRONG


def _relu(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x > 0, x, torch.zeros_like(x))


@pytest.fixture
def float64_default() -> Iterator[None]:
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(torch.float32)


KERNEL_FLOAT64 = (
    "Note: PyTorch's default dtype in this notebook is torch.float64 (an earlier cell called "
    "torch.set_default_dtype). The check ran with float32, the book's default; the book's images and models are "
    "float32, so set it back: torch.set_default_dtype(torch.float32)."
)


# ---------------------------------------------------------------------------
# A notebook whose default dtype is float64: the checkers' own code runs in float32, and says so


@pytest.mark.parametrize("check", list(RIGHT), ids=lambda c: c.__name__)
def test_right_answers_pass_under_a_float64_default_with_a_note(
    check: Callable[..., CheckResult], float64_default: None
) -> None:
    result = check(RIGHT[check])
    assert result.passed and result.message == STORED[check] + "\n" + KERNEL_FLOAT64
    assert torch.get_default_dtype() == torch.float64, "the notebook's setting is back after the check"


@pytest.mark.parametrize(("check", "answer", "phrase"), WRONG, ids=[f"{c.__name__}-{i}" for i, (c, _, _) in
                                                                    enumerate(WRONG)])  # fmt: skip
def test_wrong_answers_get_the_same_verdict_under_a_float64_default(
    check: Callable[..., CheckResult], answer: Any, phrase: str, float64_default: None
) -> None:
    """The hints' own tensors (torch.ones(3), ...) used to crash: "Float did not match Double"."""
    first, *notes = check(answer).message.split("\n")
    torch.set_default_dtype(torch.float32)
    assert first == check(answer).message.split("\n")[0]
    assert notes == [KERNEL_FLOAT64]


def test_a_default_device_set_in_the_notebook_is_noted_and_not_used() -> None:
    torch.set_default_device("meta")  # where a tensor has no values: a check that used it could not compare
    try:
        result = checks.check_softmax(RIGHT[checks.check_softmax])
        assert torch.get_default_device().type == "meta"
    finally:
        torch.set_default_device(None)
    assert result.passed and result.message.split("\n")[1] == (
        "Note: PyTorch's default device in this notebook is meta (an earlier cell called torch.set_default_device). "
        "The check ran on the CPU; pass device= where you mean it instead."
    )


# ---------------------------------------------------------------------------
# Global state the answer changes


def _sets_float64(x: torch.Tensor) -> torch.Tensor:
    torch.set_default_dtype(torch.float64)
    return _relu(x)


def _grad_off(x: torch.Tensor) -> torch.Tensor:
    torch.set_grad_enabled(False)
    return _relu(x)


_KEPT: list[Any] = []


def _inference_on(x: torch.Tensor) -> torch.Tensor:
    _KEPT.append(torch.inference_mode())  # kept alive: its guard stays on after the function returns
    _KEPT[-1].__enter__()
    return x.clone().clamp(min=0)


def _default_device_meta(x: torch.Tensor) -> torch.Tensor:
    torch.set_default_device("meta")
    return _relu(x)


CHANGES = {
    _sets_float64: "✘ relu: not yet. Its result is right, but it changes PyTorch's default dtype to torch.float64 "
    "(torch.set_default_dtype), which every later cell would inherit (the check set it back): convert only the "
    "tensors you need, with .to(dtype).",
    _grad_off: "✘ relu: not yet. Its result is right, but it leaves gradient tracking off when it returns "
    "(torch.set_grad_enabled(False), or torch.no_grad() entered without `with`), so later training in your notebook "
    "would compute no gradients: use `with torch.no_grad():` around the lines that need it.",
    _inference_on: "✘ relu: not yet. Its result is right, but it leaves inference mode on when it returns "
    "(torch.inference_mode() entered without `with`), so later cells in your notebook could not train.",
    _default_device_meta: "✘ relu: not yet. Its result is right, but it changes PyTorch's default device to meta "
    "(torch.set_default_device).",
}


@pytest.mark.parametrize("answer", list(CHANGES), ids=lambda f: f.__name__)
def test_an_answer_that_changes_global_state_is_wrong_and_the_state_is_put_back(answer: Callable[..., Any]) -> None:
    result = checks.check_relu(answer)
    assert result.message == CHANGES[answer]
    assert torch.get_default_dtype() == torch.float32 and torch.is_grad_enabled()
    assert not torch.is_inference_mode_enabled() and torch.get_default_device().type == "cpu"


def test_a_changed_default_dtype_goes_back_to_the_notebooks_own(float64_default: None) -> None:
    def sets_float16(x: torch.Tensor) -> torch.Tensor:
        torch.set_default_dtype(torch.float16)
        return _relu(x)

    result = checks.check_relu(sets_float16)
    assert "it changes PyTorch's default dtype to torch.float16" in result.message
    assert torch.get_default_dtype() == torch.float64


def test_a_wrong_answer_that_also_changes_state_hears_about_both() -> None:
    def relu(x: torch.Tensor) -> torch.Tensor:
        torch.set_grad_enabled(False)
        return x

    first, second = checks.check_relu(relu).message.split("\n")
    assert first.startswith("✘ relu: not yet. Off at input -3: expected 0, got -3")
    assert second.startswith("Note: besides, it leaves gradient tracking off when it returns")


SEEDERS = {  # what the answer calls, and what the note names
    "torch.manual_seed(3)": (lambda: torch.manual_seed(3), "torch.manual_seed"),
    "torch.seed()": (torch.seed, "torch.manual_seed"),
    "random.seed(3)": (lambda: random.seed(3), "Python's random module"),
    "random.random()": (random.random, "Python's random module"),
    "np.random.seed(3)": (lambda: np.random.seed(3), "NumPy's np.random"),
    "d2lmini.seed_everything(3)": (
        lambda: d2lmini.seed_everything(3),
        "torch.manual_seed, Python's random module, NumPy's np.random",
    ),
}


@pytest.mark.parametrize("call", list(SEEDERS))
def test_reseeding_is_named_in_a_note_and_undone(call: str) -> None:
    """Even with the notebook seeded with the answer's own seed at its top (and torch drawn from since)."""
    seed, named = SEEDERS[call]

    def relu(x: torch.Tensor) -> torch.Tensor:
        seed()
        return _relu(x)

    d2lmini.seed_everything(3)
    random.random(), np.random.rand(), torch.rand(1)
    state = torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy()
    result = checks.check_relu(relu)
    assert result.passed and result.message.split("\n")[1] == (
        f"Note: your code reseeds (or draws from) a global random generator: {named}. The check put it back, but in "
        "your notebook every call would change the random numbers of the code around it: seed once, at the top of "
        "the notebook, not inside a function."
    )
    assert torch.equal(torch.get_rng_state(), state[0]) and random.getstate() == state[1]
    assert np.array_equal(np.random.get_state()[1], state[2])


def test_drawing_a_networks_weights_is_no_reseeding() -> None:
    assert "\n" not in checks.check_build_mlp(RIGHT[checks.check_build_mlp]).message


def test_an_experiment_is_expected_to_seed() -> None:
    check = experiment_checker("acc", expected_keys=["val_acc"], ranges=(0.0, 1.0))

    def run() -> dict[str, float]:
        d2lmini.seed_everything(0)
        return {"val_acc": 0.5}

    assert check(run).message == "✔ acc: correct. All 1 results are there, each a plausible number."


class _Data:
    """A data module as the Trainer sees one: two loaders, and tensors of raw pixels."""

    def __init__(self) -> None:
        self.train_X = torch.zeros(6, 1, 28, 28, dtype=torch.uint8)
        self.val_X = torch.ones(2, 1, 28, 28, dtype=torch.uint8)

    def train_dataloader(self) -> list[Any]:
        return []

    def val_dataloader(self) -> list[Any]:
        return []

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        return X.float() / 255


def _cell(source: str, namespace: dict[str, Any], filename: str = "/tmp/ipykernel_1/1.py") -> None:
    """Run ``source`` as IPython runs a cell: its lines are in linecache, under a file name of its own."""
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    exec(compile(source, filename, "exec"), namespace)


def _notebook(source: str) -> dict[str, Any]:
    """The names a notebook cell defines, with ``data``, a data module, among them."""
    namespace: dict[str, Any] = {"torch": torch, "data": _Data()}
    _cell(source, namespace)
    return namespace


def test_a_replaced_data_tensor_is_put_back_and_named() -> None:
    namespace = _notebook(
        "def relu(x):\n    data.train_X = data.transform(data.train_X)\n    return torch.where(x > 0, x, 0 * x)"
    )
    original = namespace["data"].train_X
    message = checks.check_relu(namespace["relu"]).message
    assert message == (
        "✘ relu: not yet. Its result is right, but it replaces the data module's `data.train_X` (a uint8 tensor of "
        "shape (6, 1, 28, 28)) with a float32 tensor of shape (6, 1, 28, 28), which every later cell and the next "
        "run of your code would get (the check put it back: work on a copy, such as X = "
        "data.transform(data.train_X[:1000]))."
    )
    assert namespace["data"].train_X is original


def test_a_data_tensor_replaced_by_something_else_is_described() -> None:
    namespace = _notebook("def relu(x):\n    data.val_X = data.val_X.tolist()\n    return x.clamp(min=0)")
    assert "`data.val_X` (a uint8 tensor of shape (2, 1, 28, 28)) with a list, which" in checks.check_relu(
        namespace["relu"]
    ).message


def test_a_data_tensor_changed_in_place_is_named() -> None:
    namespace = _notebook("def relu(x):\n    data.val_X[0] = 255\n    return torch.where(x > 0, x, 0 * x)")
    message = checks.check_relu(namespace["relu"]).message
    assert message.endswith(
        "it changes the data module's `data.val_X` in place, which no check can undo: work on a copy (such as X = "
        "data.transform(data.val_X[:1000])) and create the data module again."
    )


def test_only_data_modules_and_their_tensors_are_watched() -> None:
    namespace = _notebook(
        "_data = data\nlimits = [0]\n"
        "def relu(x):\n    data.note = 'seen'\n    limits.append(1)\n    _data.train_X = None\n"
        "    return x.clamp(min=0)"
    )
    assert "replaces the data module's `data.train_X`" in checks.check_relu(namespace["relu"]).message
    namespace["_data"].train_X = torch.zeros(1)
    namespace["relu"] = _notebook("def relu(x):\n    data.note = 1\n    return x.clamp(min=0)")["relu"]
    assert checks.check_relu(namespace["relu"]).passed


# ---------------------------------------------------------------------------
# What the result keeps


def test_the_result_keeps_what_the_experiment_returned_and_the_checker_its_last_result() -> None:
    check = experiment_checker("acc", expected_keys=["val_acc"], ranges=(0.0, 1.0))
    assert check.last is None  # type: ignore[attr-defined]
    results = {"val_acc": 0.5}
    first = check(lambda: results)
    assert first.value is results and check.last is first  # type: ignore[attr-defined]
    second = check({"val_acc": 7.0})
    assert second.value == {"val_acc": 7.0} and not second.passed and check.last is second  # type: ignore[attr-defined]
    assert first == CheckResult("acc", "correct", first.message), "the value is not part of the verdict"


def test_a_checker_names_its_task_example_and_kind() -> None:
    assert (checks.check_relu.task, checks.check_relu.example, checks.check_relu.expects) == (  # type: ignore[attr-defined]
        "relu", "check_relu(relu)", "function")
    assert checks.check_mlp_forward.expects == "class"  # type: ignore[attr-defined]
    assert checks.check_lr_sweep.example == "check_lr_sweep(lr_sweep)"  # type: ignore[attr-defined]


def test_a_function_checker_keeps_no_value_unless_asked() -> None:
    @checker("twice", example="check_twice(f)")
    def check_twice(f: Callable[..., Any], trial: Trial) -> str:
        got = trial.call(f, 2)
        trial.note("Note: one.")
        trial.note("Note: two.")
        if got != 4:
            trial.keep(got)
            raise wrong(f"It returns {got}.")
        return "Fine."

    assert check_twice(lambda n: 2 * n).value is None
    result = check_twice(lambda n: n + 3)
    assert result.value == 5 and result.message == "✘ twice: not yet. It returns 5.\nNote: one.\nNote: two."


# ---------------------------------------------------------------------------
# Errors explained from what the reader's code held


def test_a_name_no_cell_defined_gets_a_hint() -> None:
    relu = _notebook("def relu(x):\n    return torch.where(x > 0, x, zeros)")["relu"]
    assert checks.check_relu(relu).message == (
        "✘ relu: not yet. Calling it raised NameError: name 'zeros' is not defined (line 2 of its cell: "
        "`return torch.where(x > 0, x, zeros)`). If a cell above defines `zeros`, run it first (after a kernel "
        "restart, run the cells from the top: Run > Run All Above); if none does, check the spelling."
    )


def test_raw_uint8_pixels_in_the_failing_line_get_a_hint() -> None:
    count_dead = _notebook(
        "def count_dead(layer, X):\n    pixels = (X * 255).to(torch.uint8)\n    Z = layer(pixels)\n"
        "    return int((Z <= 0).all(dim=0).sum())"
    )["count_dead"]
    message = checks.check_count_dead(count_dead).message
    assert message.endswith(
        "`pixels` holds raw uint8 pixels (whole numbers from 0 to 255, as data.train_X stores them): turn them into "
        "the model's float input first, with data.transform(pixels)."
    )
    ones = _notebook("def count_dead(layer, X):\n    flags = torch.ones(3, 3, dtype=torch.uint8)\n    return 1 / 0")
    assert "uint8" not in checks.check_count_dead(ones["count_dead"]).message, "only tensors the line uses"


def test_the_failing_line_and_its_tensors_come_from_the_readers_frame() -> None:
    namespace = _notebook("def f(x):\n    y = x + 1\n    return torch.mm(y, y)")
    try:
        namespace["f"](torch.ones(2, 3))
    except RuntimeError as err:
        line, tensors = checking.failing_line(err)
    assert line == "return torch.mm(y, y)" and set(tensors) == {"y"}
    assert checking.failing_line(ValueError("no traceback")) == ("", {})
    assert checking.written_by_reader(namespace["f"]) and not checking.written_by_reader(torch.nn.functional.relu)


def test_the_notebooks_names_are_found_from_a_function_a_class_or_an_object() -> None:
    source = "class Model(torch.nn.Module):\n    def forward(self, X):\n        return X\n\n\ndef f():\n    pass"
    namespace = _notebook(source)
    assert checking.notebook_namespace(namespace["f"]) is namespace
    assert checking.notebook_namespace(namespace["Model"]) is namespace
    assert checking.notebook_namespace(namespace["Model"]()) is namespace
    assert checking.notebook_namespace(nn.ReLU) is vars(sys.modules["torch.nn.modules.activation"])


# ---------------------------------------------------------------------------
# A check cell run before its answer's cell: a NameError before any checker runs


def _name_error(source: str, namespace: dict[str, Any]) -> NameError:
    try:
        _cell(source, namespace, "/tmp/ipykernel_1/9.py")
    except NameError as err:
        return err
    raise AssertionError("no NameError")


def test_a_check_run_before_its_function_says_which_cell_to_run() -> None:
    namespace = {"check_relu": checks.check_relu}
    hint = checking.name_error_hint(_name_error("check_relu(relu)", namespace), namespace)
    assert hint == (
        "Hint: `relu` is not defined yet, so the check of relu could not start: run your answer, the cell that "
        "defines `relu` above this check, then this check again (after a kernel restart, run the cells from the "
        "top: Run > Run All Above)."
    )


def test_a_check_run_before_its_class_names_the_class_cell() -> None:
    namespace = {"check_mlp_forward": checks.check_mlp_forward}
    hint = checking.name_error_hint(_name_error("check_mlp_forward(MLPScratch)", namespace), namespace)
    assert "run the cell with `class MLPScratch` and every cell that adds to it, such as your forward" in hint


def test_a_checker_not_imported_names_the_import_cell() -> None:
    hint = checking.name_error_hint(_name_error("check_relu(relu)", {}), {})
    assert hint == (
        "Hint: `check_relu` is one of the book's checkers: run the notebook's import cell first (the one with "
        "`from d2lmini.book.checks import ...`, near the top), then this cell again."
    )


def test_a_misspelt_answer_is_told_how_the_check_is_usually_called() -> None:
    namespace = {"check_relu": checks.check_relu, "relu": _relu}
    assert checking.name_error_hint(_name_error("check_relu(reluu)", dict(namespace)), namespace) == (
        "Hint: `reluu` is not defined in this kernel; this check is usually called as `check_relu(relu)`: check the "
        "spelling, or run the cell that defines `reluu` first."
    )


def test_any_other_missing_name_gets_the_general_hint() -> None:
    namespace = {"check_relu": checks.check_relu, "relu": _relu}
    for source, name in (("x = data.val_X", "data"), ("check_relu(relu)\nprint(undefined)", "undefined")):
        assert checking.name_error_hint(_name_error(source, dict(namespace)), namespace) == (
            f"Hint: `{name}` is not defined in this kernel. If a cell above defines it, run that cell first (after a "
            "kernel restart, run the cells from the top: Run > Run All Above); if no cell does, check the spelling."
        )
    assert checking.name_error_hint(NameError("no name"), namespace) == ""


class _Shell:
    """What notebook_hints needs of IPython's shell: set_custom_exc, a traceback formatter, _showtraceback."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.user_ns = namespace
        self.installed: tuple[Any, Any] | None = None
        self.shown: list[tuple[Any, Any, list[str]]] = []
        self.InteractiveTB = SimpleNamespace(structured_traceback=lambda t, v, tb, tb_offset=None: ["Traceback"])

    def set_custom_exc(self, exceptions: tuple[type, ...], handler: Any) -> None:
        self.installed = (exceptions, handler)

    def _showtraceback(self, etype: Any, value: Any, stb: list[str]) -> None:
        self.shown.append((etype, value, stb))


def test_notebook_hints_installs_an_ipython_handler_for_name_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    namespace = {"check_relu": checks.check_relu}
    shell = _Shell(namespace)
    monkeypatch.setitem(sys.modules, "IPython", SimpleNamespace(get_ipython=lambda: shell))
    assert notebook_hints() is None
    assert shell.installed is not None and shell.installed[0] == (NameError,)
    err = _name_error("check_relu(relu)", dict(namespace))
    stb = shell.installed[1](shell, NameError, err, err.__traceback__)
    assert stb == ["Traceback", checking.name_error_hint(err, namespace)] and shell.shown == [(NameError, err, stb)]
    other = _name_error("x = nothing", {})
    assert shell.installed[1](shell, NameError, other, other.__traceback__)[-1].startswith("Hint: `nothing`")


def test_notebook_hints_does_nothing_outside_ipython(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "IPython", SimpleNamespace(get_ipython=lambda: None))
    assert notebook_hints() is None
    monkeypatch.delitem(sys.modules, "IPython")
    assert notebook_hints() is None


# ---------------------------------------------------------------------------
# Screening the answer before anything runs


def test_a_network_passed_where_a_function_is_asked_is_named() -> None:
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
    assert checks.check_build_mlp(net).message == (
        "✘ build_mlp: not yet. You passed a Sequential object, a network (nn.Module), where your function is asked: "
        "pass the function itself, as in `check_build_mlp(build_mlp)`, not something it made."
    )


def test_watching_for_reseeding_changes_no_random_number() -> None:
    """The seed is marked while an answer runs, but what it draws, and what the notebook draws after, are as without."""
    drawn: list[torch.Tensor] = []

    def relu(x: torch.Tensor) -> torch.Tensor:
        drawn.append(torch.rand(3))
        return _relu(x)

    d2lmini.seed_everything(0)
    expected = torch.rand(3)
    d2lmini.seed_everything(0)
    result = checks.check_relu(relu)
    assert result.passed and "\n" not in result.message  # a draw is no reseeding
    assert torch.equal(drawn[0], expected)
    assert torch.initial_seed() == 0
    assert torch.equal(torch.rand(3), expected)  # the check put the stream back: the next cell draws the same
