"""The pieces of d2lmini/book/checking.py, one behaviour at a time: checkers made here (not at import), so that
every default of the decorator is exercised; the captured output; the comparisons' messages; the NameError hint
and its IPython handler. (tests/book/test_checks_machinery.py and test_checks_state.py test the same module
through the book's checkers.)"""

from __future__ import annotations

import inspect
import random
import sys
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from d2lmini.book import checking
from d2lmini.book.checking import CheckResult, Fail, Trial, checker, expect_int, expect_tensor, fmt, wrong


def _double(f: Callable[..., Any], trial: Trial) -> str:
    got = trial.call(f, 2)
    if got != 4:
        raise wrong(f"It returns {got!r} for 2.")
    return "It doubles."


def test_a_checkers_defaults() -> None:
    check = checker("double", example="check_double(double)")(_double)
    assert str(inspect.signature(check)) == "(f: 'Callable[..., Any]', *, time_limit=None)"
    assert (check.task, check.example, check.expects) == ("double", "check_double(double)", "function")
    assert check.last is None
    assert check(None).message == (
        "✘ double: not yet. You passed None: pass your function itself, as in `check_double(double)`, not what it "
        "returns."
    )
    assert "You passed a Linear object, a network (nn.Module)" in check(nn.Linear(1, 1)).message
    assert check(7).message == (
        "✘ double: not yet. Expected a function, as in `check_double(double)`; got a value of type int."
    )

    def seeds(n: int) -> int:
        torch.manual_seed(n)
        return 2 * n

    assert check(seeds).message.split("\n") == [
        "✔ double: correct. It doubles.",
        "Note: your code reseeds (or draws from) a global random generator: torch.manual_seed. The check put it "
        "back, but in your notebook every call would change the random numbers of the code around it: seed once, at "
        "the top of the notebook, not inside a function.",
    ]


def test_a_checkers_settings() -> None:
    check = checker("double", example="check_double(Double)", expects="class", time_limit=2.5,
                    seeding_expected=True)(_double)  # fmt: skip
    assert inspect.signature(check).parameters["time_limit"].default == 2.5
    assert check.expects == "class" and check(lambda n: 4).message == (
        "✘ double: not yet. Pass the class itself, as in `check_double(Double)`, not a function."
    )

    class Double:
        def __new__(cls, n: int) -> Any:
            torch.manual_seed(0)
            return 2 * n

    assert check(Double).message == "✔ double: correct. It doubles.", "reseeding is expected here"
    anything = checker("double", example="check_double(results)", expects="any")(
        lambda answer, trial: f"Got {answer!r}."
    )
    assert anything(None).message == "✔ double: correct. Got None."


def test_time_limit_given_to_the_checker_and_to_the_check() -> None:
    check = checker("double", example="check_double(double)", time_limit=0.2)(_double)

    def slow(n: int) -> int:  # busy for a second, however fast the machine (a fixed loop can finish in 0.2 s)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            sum(range(1000))
        return 2 * n

    assert "did not return within 0.2 s" in check(slow).message
    assert check(slow, time_limit=60).passed


def test_an_unforeseen_error_in_a_checker_is_one_line() -> None:
    check = checker("double", example="check_double(double)")(lambda f, trial: 1 / 0)
    result = check(lambda n: 2 * n)
    assert result.message == (
        "✘ double: not yet. Your answer could not be checked (ZeroDivisionError: division by zero)."
    )
    assert result.status == "wrong" and not result and result.value is None


def test_the_result_and_its_verdict_line() -> None:
    result = CheckResult("t", "not attempted", "msg", value=3)
    assert (result.passed, bool(result), str(result), repr(result), result.value) == (False, False, "msg", "msg", 3)
    assert CheckResult("t", "correct", "m").passed
    assert checking._verdict("t", "correct", "") == "✔ t: correct."
    assert checking._verdict("t", "wrong", "Why.") == "✘ t: not yet. Why."
    assert checking._verdict("t", "not attempted", "ignored") == (
        "… t: not attempted yet. Replace `raise NotImplementedError` with your code, run that cell, then run this "
        "check again."
    )


def test_a_hint_keeps_the_verdicts_status() -> None:
    error = ValueError("e")
    failed = Fail("wrong", "Why.", error)
    hinted = failed.hinted(" Hint.")
    assert (hinted.status, hinted.why, hinted.error, str(hinted)) == ("wrong", "Why. Hint.", error, "Why. Hint.")
    assert failed.hinted("") is failed
    stub = Fail("not attempted", "", error)
    assert stub.hinted(" Hint.") is stub


# ---------------------------------------------------------------------------
# What the answer prints


def test_output_keeps_the_first_characters_of_small_writes() -> None:
    out = checking._Output()
    for _ in range(checking.SHOWN_CHARS + 5):
        out.write("a")
    assert "".join(out.kept) == "a" * checking.SHOWN_CHARS and out.kept_chars == checking.SHOWN_CHARS
    out.write("b\n")
    assert out.total_chars == checking.SHOWN_CHARS + 7 and out.total_lines == 1 and out.writable()


def test_output_keeps_text_across_writes() -> None:
    out = checking._Output()
    out.write("abc")
    out.write(12)  # type: ignore[arg-type]
    assert "".join(out.kept) == "abc12" and out.kept_chars == 5
    assert out.note() == (
        "Note: your code printed 5 characters (0 lines) while being checked; the check does not look at printed "
        "output, only at what your code returns.\n  | abc12"
    )
    assert checking._Output().note() is None


def test_long_printed_lines_are_cut() -> None:
    out = checking._Output()
    out.write("x" * 130 + "\n" + "y\n")
    note = out.note()
    assert note is not None
    assert note.split("\n")[1:] == ["  | " + "x" * 117 + "...", "  | y", "  | ... (13 more characters not shown)"]


# ---------------------------------------------------------------------------
# Comparing and rendering


def test_fmt() -> None:
    assert fmt(torch.tensor(2.5)) == "2.5" and fmt(1 / 3) == "0.3333" and fmt(3) == "3" and fmt("a") == "'a'"
    assert fmt(torch.tensor([1.0, 2.0])) == "[1, 2]" and fmt(torch.zeros(2, 3)) == "[0, 0, 0, 0, 0, 0]"
    assert fmt(torch.zeros(7)) == "tensor of shape (7,)"
    assert fmt(torch.zeros(2, device="meta")) == "meta tensor of shape (2,)"


class _Zero:
    ndim = 0


@pytest.mark.parametrize(
    ("got", "why"),
    [
        (None, "It returns None: did you forget the `return` statement?"),
        (torch.tensor(3), "It returns a tensor (3); return a Python int (int(...))."),
        (torch.tensor([3, 4]), "It returns 2 values; return the count."),
        ([3], "It returns 1 value; return the count."),
        (np.int64(3), "It returns a NumPy int64 (3); return a Python int (int(...))."),
        (_Zero(), "It returns a value of type _Zero; expected an int."),
        (True, "It returns a value of type bool; expected an int."),
        (3.0, "It returns a value of type float; expected an int."),
    ],
    ids=range(8),
)
def test_expect_int(got: Any, why: str) -> None:
    with pytest.raises(Fail) as caught:
        expect_int(got, "the count")
    assert caught.value.why == why and caught.value.status == "wrong"


def test_expect_int_passes_ints() -> None:
    assert expect_int(3, "x") == 3


def test_expect_tensor_messages() -> None:
    like = torch.zeros(2, 3)
    cases = {
        "It returns None: did you forget the `return` statement?": None,
        "It returns a value of type list; expected a torch.Tensor.": [1],
        "It returns shape (3, 2), expected (2, 3).": torch.zeros(3, 2),
        "It returns dtype torch.float64, expected torch.float32 (the input's dtype).": torch.zeros(2, 3).double(),
        "It returns a tensor with layout torch.sparse_coo; return an ordinary (dense) tensor.": like.to_sparse(),
    }
    for why, got in cases.items():
        with pytest.raises(Fail) as caught:
            expect_tensor(got, like)
        assert caught.value.why == why
    with pytest.raises(Fail) as caught:
        expect_tensor(torch.zeros(2, 3, dtype=torch.long), like, what="Its W", dtype_from="from W1")
    assert caught.value.why == "Its W returns dtype torch.int64, expected torch.float32 (from W1)."
    got = torch.ones(2, 3, requires_grad=True)
    kept = expect_tensor(got, like)
    assert torch.equal(kept, got) and not kept.requires_grad


# ---------------------------------------------------------------------------
# Reading the reader's frames


def test_readers_code_and_library_code() -> None:
    assert checking._is_readers("/tmp/ipykernel_7/3.py") and checking._is_readers("<ipython-input-3-abc>")
    assert not checking._is_readers("<string>") and not checking._is_readers("<frozen importlib._bootstrap>")
    assert not checking._is_readers(torch.__file__) and not checking._is_readers(checking.__file__)
    assert not checking._is_readers(random.__file__)


def test_first_line() -> None:
    assert checking._first_line(ValueError("\n  first\nsecond")) == "first"
    assert checking._first_line(ValueError("")) == ""
    assert checking._first_line(ValueError("x" * 300)) == "x" * 197 + "..."


def test_where_names_the_readers_line() -> None:
    def answer() -> None:
        raise ValueError("x" * 3)

    try:
        answer()
    except ValueError as err:
        line = inspect.getsourcelines(answer)[1] + 1
        assert checking._where(err) == f' (line {line} of test_checking.py: `raise ValueError("x" * 3)`)'
        assert checking._raised_by_reader(err)
    try:
        torch.zeros(2) @ torch.zeros(3)
    except RuntimeError as err:
        assert checking._where(err).startswith(" (line ")
    assert checking._where(ValueError()) == "" and not checking._raised_by_reader(ValueError())


# ---------------------------------------------------------------------------
# The NameError hint and its IPython handler


def test_name_error_hint_without_a_traceback_or_a_name() -> None:
    assert checking.name_error_hint(NameError("name 'x' is not defined", name="x"), {}).startswith(
        "Hint: `x` is not defined in this kernel."
    )
    assert checking.name_error_hint(NameError("no name"), {}) == ""
    assert checking.name_error_hint(ValueError("not a NameError"), {}) == ""  # type: ignore[arg-type]


def _raised(source: str, namespace: dict[str, Any]) -> NameError:
    filename = "/tmp/ipykernel_2/5.py"
    checking.linecache.cache[filename] = (len(source), None, [source], filename)
    try:
        exec(compile(source, filename, "exec"), namespace)
    except NameError as err:
        return err
    raise AssertionError


def test_name_error_hint_for_a_checker_of_unknown_kind() -> None:
    odd = SimpleNamespace(task="odd", example="check_odd(odd)")  # a checker without `expects`
    namespace = {"check_odd": odd}
    hint = checking.name_error_hint(_raised("check_odd(odd)", dict(namespace)), namespace)
    assert "run your answer, the cell that defines `odd` above this check" in hint


class _Shell:
    def __init__(self) -> None:
        self.user_ns: dict[str, Any] = {}
        self.shown: list[Any] = []
        self.InteractiveTB = SimpleNamespace(structured_traceback=self.structured)

    def structured(self, etype: Any, value: Any, tb: Any, tb_offset: Any = "none") -> list[str]:
        return [f"{etype.__name__}: {value} (traceback: {tb is not None}, offset: {tb_offset})"]

    def _showtraceback(self, etype: Any, value: Any, stb: list[str]) -> None:
        self.shown.append(stb)


def test_the_ipython_handler_shows_the_traceback_and_the_hint() -> None:
    shell = _Shell()
    err = _raised("check_relu(relu)", {})
    stb = checking._explain_name_error(shell, NameError, err, err.__traceback__, tb_offset=2)
    assert stb == [
        "NameError: name 'check_relu' is not defined (traceback: True, offset: 2)",
        checking.name_error_hint(err, {}),
    ]
    assert shell.shown == [stb]
    nameless = NameError("nameless")
    assert checking._explain_name_error(shell, NameError, nameless, None) == [
        "NameError: nameless (traceback: False, offset: None)"
    ]
    other = ValueError("other")
    assert checking._explain_name_error(shell, ValueError, other, None) == [
        "ValueError: other (traceback: False, offset: None)"
    ]


def test_notebook_hints_needs_a_shell_that_takes_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "IPython", SimpleNamespace(get_ipython=lambda: SimpleNamespace()))
    assert checking.notebook_hints() is None
    monkeypatch.setitem(sys.modules, "IPython", SimpleNamespace())
    assert checking.notebook_hints() is None
