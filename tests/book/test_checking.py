"""The pieces of d2lmini/book/checking.py, one behaviour at a time: checkers made here (not at import), so that
every default of the decorator is exercised; the captured output; the comparisons' messages; the NameError hint
and its IPython handler. (tests/book/test_checks_machinery.py and test_checks_state.py test the same module
through the book's checkers.)"""

from __future__ import annotations

import contextlib
import inspect
import linecache
import random
import sys
import time
import warnings
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
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
    failed = Fail("wrong", "Why.", error, checking.Calls(cuda=".cuda()"))
    hinted = failed.hinted(" Hint.")
    assert (hinted.status, hinted.why, hinted.error, str(hinted)) == ("wrong", "Why. Hint.", error, "Why. Hint.")
    assert hinted.calls.cuda == ".cuda()"  # a later hint still sees what the failed call asked of PyTorch
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


def test_printed_lines_up_to_120_characters_are_shown_whole() -> None:
    out = checking._Output()
    out.write("a" * 120 + "\n" + "b" * 121 + "\n")
    assert out.note() == (
        "Note: your code printed 243 characters (2 lines) while being checked; the check does not look at printed "
        f"output, only at what your code returns.\n  | {'a' * 120}\n  | {'b' * 117}...\n"
        "  | ... (4 more characters not shown)"
    )
    one = checking._Output()
    one.write("shape of X\r\n")
    assert one.note() == (
        "Note: your code printed 12 characters (1 line) while being checked; the check does not look at printed "
        "output, only at what your code returns.\n  | shape of X"
    )


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
        (np.sqrt, "It returns a value of type ufunc; expected an int."),  # NumPy's, but no scalar: not called
    ],
    ids=range(9),
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


def test_expect_close_shows_the_first_three_values_off() -> None:
    x = torch.arange(5.0)
    with pytest.raises(Fail) as caught:
        checking.expect_close(x, x + 1, x)
    assert caught.value.why == (
        "Off at input 0: expected 0, got 1; at input 1: expected 1, got 2; at input 2: expected 2, got 3 (5 of 5 "
        "values are off)."
    )


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


def _cell(source: str, monkeypatch: pytest.MonkeyPatch, filename: str = "/tmp/ipykernel_4/7.py",
          *, cached: bool = True) -> Callable[[], Any]:  # fmt: skip
    """The function ``answer`` that ``source`` defines, run as a notebook cell named ``filename`` (IPython keeps
    each cell's lines in linecache; ``cached=False``: a cell whose source is known nowhere)."""
    if cached:
        monkeypatch.setitem(linecache.cache, filename, (len(source), None, source.splitlines(keepends=True), filename))
    namespace: dict[str, Any] = {"torch": torch}
    exec(compile(source, filename, "exec"), namespace)
    return namespace["answer"]


def test_written_by_reader_sees_through_static_and_class_methods(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = _cell(
        "class Model:\n"
        "    @staticmethod\n"
        "    def make(): pass\n"
        "    @classmethod\n"
        "    def build(cls): pass\n"
        "    def forward(self): pass\n"
        "def answer(): pass\n",
        monkeypatch,
    )
    model = answer.__globals__["Model"]
    held = [vars(model)[name] for name in ("make", "build", "forward")]  # as the class holds them: descriptors
    found = [model.make, model.build, model.forward, model().forward, answer]
    assert [checking.written_by_reader(f) for f in held + found] == [True] * 8
    assert not checking.written_by_reader(nn.Linear.forward) and not checking.written_by_reader(len)


def _verdict_on(answer: Callable[[], Any]) -> str:
    return checker("run", example="check_run(answer)")(lambda f, trial: trial.call(f) or "It runs.")(answer).message


def test_the_verdict_quotes_the_readers_line_up_to_80_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    fits = 'raise ValueError("boom")  # ' + "c" * 52
    assert len(fits) == 80
    answer = _cell(f"def answer():\n    {fits}\n", monkeypatch)
    assert _verdict_on(answer) == f"✘ run: not yet. Calling it raised ValueError: boom (line 2 of its cell: `{fits}`)."
    longer = fits + "c"
    answer = _cell(f"def answer():\n    {longer}\n", monkeypatch)
    assert _verdict_on(answer) == (
        f"✘ run: not yet. Calling it raised ValueError: boom (line 2 of its cell: `{longer[:77]}...`)."
    )


def test_the_verdict_names_a_cell_of_old_ipython_and_a_line_whose_source_is_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = 'def answer():\n    raise ValueError("boom")\n'
    old = _cell(source, monkeypatch, "<ipython-input-3-5a1b2c>")  # as cells were named before ipykernel 6
    assert _verdict_on(old) == (
        '✘ run: not yet. Calling it raised ValueError: boom (line 2 of its cell: `raise ValueError("boom")`).'
    )
    gone = _cell(source, monkeypatch, "/tmp/ipykernel_4/gone.py", cached=False)
    assert _verdict_on(gone) == "✘ run: not yet. Calling it raised ValueError: boom (line 2 of its cell)."


def test_the_verdict_cuts_an_error_message_over_200_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    at_most = _cell('def answer():\n    raise ValueError("x" * 200)\n', monkeypatch)
    assert _verdict_on(at_most) == (
        f'✘ run: not yet. Calling it raised ValueError: {"x" * 200} (line 2 of its cell: '
        '`raise ValueError("x" * 200)`).'
    )
    over = _cell('def answer():\n    raise ValueError("x" * 201)\n', monkeypatch)
    assert _verdict_on(over) == (
        f'✘ run: not yet. Calling it raised ValueError: {"x" * 197}... (line 2 of its cell: '
        '`raise ValueError("x" * 201)`).'
    )


def test_only_a_name_no_cell_defined_gets_the_run_a_cell_first_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    misspelt = _cell("def answer():\n    return torch.zeros(2).Relu()\n", monkeypatch)
    assert _verdict_on(misspelt) == (
        "✘ run: not yet. Calling it raised AttributeError: 'Tensor' object has no attribute 'Relu' (line 2 of its "
        "cell: `return torch.zeros(2).Relu()`)."
    )  # an attribute, not a name: no cell could define it
    nameless = _cell('def answer():\n    raise NameError("no model yet")\n', monkeypatch)
    assert _verdict_on(nameless) == (
        '✘ run: not yet. Calling it raised NameError: no model yet (line 2 of its cell: `raise NameError("no model '
        'yet")`).'
    )
    undefined = _cell("def answer():\n    return relu(1)\n", monkeypatch)
    assert _verdict_on(undefined) == (
        "✘ run: not yet. Calling it raised NameError: name 'relu' is not defined (line 2 of its cell: `return "
        "relu(1)`). If a cell above defines `relu`, run it first (after a kernel restart, run the cells from the "
        "top: Run > Run All Above); if none does, check the spelling."
    )


_WARNED = "Note: your code raised {} while being checked; the check judges only what your code returns, but a warning often points at something to fix:"  # noqa: E501


def test_the_warnings_note_shows_three_different_warnings_each_cut_to_160_characters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answer = _cell(
        "import warnings\n"
        "def answer():\n"
        "    warnings.warn('w' * 160)\n"
        "    warnings.warn('v' * 161)\n"
        "    warnings.warn('')\n"
        "    warnings.warn('four', DeprecationWarning)\n"
        "    warnings.warn('five', FutureWarning)\n",
        monkeypatch,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        message = _verdict_on(answer)
    assert message.split("\n") == [
        "✔ run: correct. It runs.",
        _WARNED.format("5 different warnings"),
        f"  | UserWarning: {'w' * 160} (line 3 of its cell: `warnings.warn('w' * 160)`)",
        f"  | UserWarning: {'v' * 157}... (line 4 of its cell: `warnings.warn('v' * 161)`)",
        "  | UserWarning:  (line 5 of its cell: `warnings.warn('')`)",
        "  | ... (2 more not shown)",
    ]
    three = _cell("import warnings\ndef answer():\n    for w in 'abc':\n        warnings.warn(w)\n", monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        message = _verdict_on(three)
    assert message.split("\n")[1:] == [_WARNED.format("3 different warnings")] + [
        f"  | UserWarning: {w} (line 4 of its cell: `warnings.warn(w)`)" for w in "abc"
    ]


def test_the_warnings_note_for_one_warning_whose_source_is_gone_or_in_a_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gone = _cell("import warnings\ndef answer():\n    warnings.warn('careful')\n", monkeypatch,
                 "/tmp/ipykernel_4/gone.py", cached=False)  # fmt: skip
    library = _cell(
        "import warnings\ndef answer():\n"
        f"    warnings.warn_explicit('deprecated', FutureWarning, {torch.__file__!r}, 7)\n",
        monkeypatch,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert _verdict_on(gone).split("\n")[1:] == [_WARNED.format("a warning"), "  | UserWarning: careful (line 3)"]
        assert _verdict_on(library).split("\n")[1:] == [_WARNED.format("a warning"), "  | FutureWarning: deprecated"]


# ---------------------------------------------------------------------------
# What a failed call asked of PyTorch (Fail.calls)


def _failed_calls(answer: Callable[[], Any]) -> checking.Calls:
    with pytest.raises(Fail) as caught:
        Trial(5.0).call(answer)
    return caught.value.calls


def test_the_failed_calls_tensors_and_sizes_include_those_in_a_list_or_a_shape() -> None:
    calls = _failed_calls(lambda: torch.cat([torch.zeros(2, 3), torch.zeros(2, 4)]))
    assert [tuple(t.shape) for t in calls.failed_tensors()] == [(2, 3), (2, 4)]
    assert calls.failed_numbers() == {2, 3, 4}
    assert _failed_calls(lambda: torch.zeros(12).reshape((5, 784))).failed_numbers() == {12, 5, 784}
    assert _failed_calls(lambda: torch.zeros(12).view(torch.Size([5, 784]))).failed_numbers() == {12, 5, 784}
    assert _failed_calls(lambda: torch.zeros(2, 3).sum(dim=5, keepdim=True)).failed_numbers() == {2, 3, 5}


def _product_verdict(answer: Callable[[], Any]) -> str:
    """The verdict of a checker that explains a failed matrix product with :meth:`Calls.product_shapes`."""

    def body(f: Callable[[], Any], trial: Trial) -> str:
        try:
            trial.call(f)
        except Fail as fail:
            shapes = fail.calls.product_shapes()
            hint = " It multiplies a {}×{} matrix by a {}×{} one.".format(*shapes) if shapes else ""
            raise fail.hinted(hint) from None
        return "It runs."

    return checker("product", example="check_product(product)")(body)(answer).message


@pytest.mark.parametrize(
    ("product", "shapes"),
    [
        (lambda: nn.Linear(2, 5)(torch.zeros(4, 3)), "a 4×3 matrix by a 2×5 one"),  # W is (out, in): X @ W.T
        (lambda: F.linear(torch.zeros(4, 3), torch.zeros(5, 2)), "a 4×3 matrix by a 2×5 one"),
        (lambda: torch.addmm(torch.zeros(5), torch.zeros(4, 3), torch.zeros(2, 5)), "a 4×3 matrix by a 2×5 one"),
        (lambda: torch.zeros(4, 3) @ nn.Parameter(torch.zeros(2, 5)), "a 4×3 matrix by a 2×5 one"),
        (lambda: torch.matmul(torch.zeros(6, 4, 3), torch.zeros(2, 5)), "a 24×3 matrix by a 2×5 one"),  # 6 × 4 rows
    ],
    ids=["nn.Linear", "F.linear", "addmm", "@", "batched"],
)
def test_a_failed_matrix_product_is_explained_by_its_shapes(product: Callable[[], Any], shapes: str) -> None:
    verdict = _product_verdict(product)
    assert verdict.startswith("✘ product: not yet. Calling it raised RuntimeError: ")
    assert verdict.endswith(f"). It multiplies {shapes}.")


@pytest.mark.parametrize(
    "product",
    [
        lambda: F.linear(torch.zeros(4, 3), torch.zeros(2)),  # a weight vector
        lambda: torch.zeros(3) @ torch.zeros(2, 5),  # a vector times a matrix
        lambda: torch.zeros(4, 3) @ torch.zeros(7, 2, 5),  # a batch of matrices on the right
    ],
    ids=["weight-vector", "vector-matrix", "matrix-batch"],
)
def test_a_product_that_is_no_matrix_product_gets_no_shapes(product: Callable[[], Any]) -> None:
    always = torch.is_warn_always_enabled()
    torch.set_warn_always(True)  # PyTorch warns once per process otherwise
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            verdict = _product_verdict(product)
    finally:
        torch.set_warn_always(always)
    assert verdict.startswith("✘ product: not yet. Calling it raised RuntimeError: ")
    assert "multiplies" not in verdict and verdict.endswith(").")
    assert [str(w.message) for w in caught] == []  # no x.T of a vector (deprecated, an error in a later PyTorch)


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


def _asked_for(request: Callable[[torch.Tensor], Any]) -> str | None:
    """What the recorder notes of an answer that makes ``request`` (which may fail: no GPU) and then fails."""

    def answer(x: torch.Tensor) -> torch.Tensor:
        with contextlib.suppress(Exception):  # no GPU here: the request is what counts, not its result
            request(x)
        raise ValueError("stop")

    with pytest.raises(checking.Fail) as caught:
        checking.Trial(5.0).call(answer, torch.zeros(2))
    return caught.value.calls.cuda  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("request_", "said"),
    [
        (lambda x: x.cuda(), ".cuda()"),
        (lambda x: x.to("cuda"), ".to('cuda')"),
        (lambda x: x.to(" CUDA:0 "), ".to('cuda')"),
        (lambda x: x.to(torch.device("cuda", 0)), ".to('cuda')"),
        (lambda x: x.to(torch.float64).to("cuda"), ".to('cuda')"),
        (lambda x: torch.zeros(2, device="cuda:0"), "device='cuda:0'"),
        (lambda x: torch.zeros(2, device=torch.device("cuda")), "device=torch.device('cuda')"),
        (lambda x: x.to(dtype=torch.float64, device="cuda"), "device='cuda'"),
        (lambda x: x.to("cpu"), None),
        (lambda x: x.to(torch.float64), None),
        (lambda x: x.to(x, non_blocking=True), None),
        (lambda x: torch.zeros(2, device="cpu"), None),
    ],
)
def test_a_request_for_a_gpu_tensor_is_noted_as_the_reader_wrote_it(
    request_: Callable[[torch.Tensor], Any], said: str | None
) -> None:
    """The checkers of device-aware exercises name it: "it asks for a tensor on the GPU (.cuda())"."""
    assert _asked_for(request_) == said


def test_a_result_on_the_meta_device_is_named_with_the_fix() -> None:
    from d2lmini.book import checks  # the checks of the book's exercises, which use checking's helpers

    result = checks.check_relu(lambda x: torch.empty_like(x, device="meta"))
    assert result.message == (
        "✘ relu: not yet. It returns a tensor on the meta device, which has a shape but no values (made "
        "with device='meta', or from a meta tensor); return one with real values on cpu."
    )
