"""The machinery behind the exercise checkers: run a reader's answer safely, turn what happens into a verdict.

A checker (see :mod:`d2lmini.book.checks`) is a function decorated with :func:`checker`. It receives the
answer and a :class:`Trial`, calls the answer only through :meth:`Trial.call`, compares what comes back with
values it computed itself, and either returns the detail of a correct verdict or raises :func:`wrong`.
The decorator owns the rest, so that every checker behaves the same way and never lies:

- ``None``, a network or a value that cannot be called gets a specific message before anything runs;
- every call runs in a worker thread with a time limit (:data:`TIME_LIMIT_S`, or ``time_limit=`` on the
  checker); an answer that does not return in time is stopped by an exception raised in its thread, and the
  verdict says so, without a kernel restart;
- what the answer prints, and the warnings it raises, are captured; the verdict comes first, followed by at most a
  few lines of printed output and the warnings, each named as what it is;
- ``raise NotImplementedError`` in the reader's own code means "not attempted yet"; any other exception
  becomes one line naming it and the reader's line of code (with a hint for a name no cell has defined yet and
  for raw ``uint8`` pixels), never a library traceback;
- the check runs in the book's setting whatever the notebook changed (gradients on, float32 as the default
  dtype, the CPU as the default device), and says so when the notebook's setting differs;
- global state the answer changes is named in the verdict, and put back where it can be: PyTorch's default
  dtype or device, gradient mode left off, a data module's tensors replaced or changed in place (any of these
  makes the verdict "not yet"); reseeding a random generator (or drawing from Python's or NumPy's) earns a note.
  The global random state (torch, Python, NumPy) is the same afterwards as before;
- the answer gets the checker's fresh copies as arguments: changing them in place earns a note, and never
  changes the values the answer is compared with;
- a call may name functions the exercise forbids (:class:`Forbidden`, such as ``torch.relu`` in the exercise that
  writes ReLU): an answer that calls one is not correct, even with the right values;
- the result keeps what a checker chose to keep (:meth:`Trial.keep`: an experiment's results), so nothing needs
  to run again; each checker's last result is also ``check.last``.

A check's verdict is deterministic for a deterministic answer, so nbval can compare a notebook's stored
outputs. :func:`notebook_hints` (opt-in, for a notebook's import cell) explains a ``NameError`` raised before any
checker runs: a check cell run before the cell that defines its answer.
"""

from __future__ import annotations

import ctypes
import functools
import inspect
import io
import linecache
import random
import re
import sys
import sysconfig
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

TIME_LIMIT_S = 10.0
"""How long one call of an answer may run, in seconds, unless a checker is given ``time_limit=``."""

SHOWN_LINES = 5
"""At most this many lines of what an answer prints are shown after the verdict..."""
SHOWN_CHARS = 400
"""...and at most this many characters in all."""

BOOK_DTYPE = torch.float32
"""The default dtype a check runs with: the book's data and models are float32."""

_STOP_GRACE_S = 1.0  # how long to wait for a stopped answer's thread to end


@dataclass(frozen=True)
class CheckResult:
    """The verdict of a check: ``passed`` is true only for a correct answer.

    ``status`` is ``"correct"``, ``"not attempted"`` or ``"wrong"``. ``message`` is what the notebook
    shows: the verdict on its first line, then any notes (an input changed in place, what the answer printed).
    ``value`` is what the check kept of the answer's work (an experiment's results, such as its histories), so
    that a later cell can use it without running the answer again; ``None`` for most checks.
    """

    task: str
    status: str
    message: str
    value: Any = field(default=None, compare=False)

    @property
    def passed(self) -> bool:
        return self.status == "correct"

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return self.message


class Fail(Exception):
    """Raised inside a checker to stop at the first problem found.

    ``error`` is the exception the answer raised, when that is the problem, and ``calls`` what the answer asked
    of PyTorch in that call (:class:`Calls`), so a checker can add a hint decided from the tensors involved.
    """

    def __init__(
        self, status: str, why: str, error: BaseException | None = None, calls: Calls | None = None
    ) -> None:
        super().__init__(why)
        self.status = status
        self.why = why
        self.error = error
        self.calls = calls if calls is not None else Calls()

    def hinted(self, hint: str) -> Fail:
        """The same verdict with ``hint`` added to its reason (a stub stays "not attempted", without the hint)."""
        return Fail(self.status, self.why + hint, self.error, self.calls) if self.status == "wrong" and hint else self


def wrong(why: str, error: BaseException | None = None, calls: Calls | None = None) -> Fail:
    """The verdict "not yet", with the reason ``why`` (one or two sentences that say what to change)."""
    return Fail("wrong", why, error, calls)


def _verdict(task: str, status: str, text: str) -> str:
    if status == "correct":
        return f"✔ {task}: correct. {text}".rstrip()
    if status == "not attempted":
        return (
            f"… {task}: not attempted yet. Replace `raise NotImplementedError` with your code, "
            "run that cell, then run this check again."
        )
    return f"✘ {task}: not yet. {text}"


# ---------------------------------------------------------------------------
# Where an exception comes from: the reader's code or a library

_LIBRARY_DIRS = tuple(
    str(Path(p).resolve())
    for p in {
        *(sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")),
        str(Path(torch.__file__).parent),
        str(Path(__file__).parent.parent),  # d2lmini itself
    }
)


def _is_readers(filename: str) -> bool:
    if filename.startswith("<") and not filename.startswith("<ipython-input"):
        return False  # <frozen ...>, <string>
    return not str(Path(filename).resolve()).startswith(_LIBRARY_DIRS)


def _readers_frames(err: BaseException) -> list[traceback.FrameSummary]:
    return [f for f in traceback.extract_tb(err.__traceback__) if _is_readers(f.filename)]


def _raised_by_reader(err: BaseException) -> bool:
    """True if the innermost frame of ``err`` is the reader's own code (their ``raise`` statement)."""
    frames = traceback.extract_tb(err.__traceback__)
    return bool(frames) and _is_readers(frames[-1].filename)


def _source_line(frame: traceback.FrameSummary) -> str:
    """The frame's line of code, stripped; ``""`` where its source is unknown (``traceback`` reads it from
    linecache when the traceback is extracted, so asking linecache again could find nothing more)."""
    return frame.line or ""


def _where(err: BaseException) -> str:
    """`` (line 3 of its cell: `return x / 0`)``: the reader's innermost line, or ``""`` if none ran."""
    frames = _readers_frames(err)
    if not frames:
        return ""
    frame = frames[-1]
    source = _source_line(frame)
    if len(source) > 80:
        source = source[:77] + "..."
    in_notebook = "ipykernel_" in frame.filename or frame.filename.startswith("<ipython-input")
    place = "its cell" if in_notebook else Path(frame.filename).name
    return f" (line {frame.lineno} of {place}: `{source}`)" if source else f" (line {frame.lineno} of {place})"


def _first_line(err: BaseException) -> str:
    """The first line of an exception's message, at most 200 characters."""
    lines = str(err).strip().splitlines()
    text = lines[0] if lines else ""
    return text if len(text) <= 200 else text[:197] + "..."


def _readers_frame(err: BaseException) -> tuple[FrameType, str] | None:
    """The reader's innermost frame in ``err``'s traceback, with the source of the line that was running."""
    found = None
    tb: TracebackType | None = err.__traceback__
    while tb is not None:
        if _is_readers(tb.tb_frame.f_code.co_filename):
            found = tb
        tb = tb.tb_next
    if found is None:
        return None
    return found.tb_frame, linecache.getline(found.tb_frame.f_code.co_filename, found.tb_lineno).strip()


def written_by_reader(fn: Any) -> bool:
    """True if ``fn`` (a function or method) was written in the reader's notebook, not in a library."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    return code is not None and _is_readers(code.co_filename)


def failing_line(err: BaseException) -> tuple[str, dict[str, torch.Tensor]]:
    """The reader's line that was running when ``err`` was raised, and the local tensors that line names.

    A checker explains a failure from these values (their shapes and dtypes), not from the wording of PyTorch's
    message, which changes between versions. ``("", {})`` if no line of the reader's ran.
    """
    found = _readers_frame(err)
    if found is None:
        return "", {}
    frame, line = found
    used = set(re.findall(r"[A-Za-z_]\w*", line))
    return line, {k: v for k, v in frame.f_locals.items() if k in used and isinstance(v, torch.Tensor)}


def _hint_for(err: BaseException) -> str:
    """A hint that explains ``err`` from what the reader's code held: a name no cell defined, or raw pixels."""
    if isinstance(err, NameError) and getattr(err, "name", None) and _raised_by_reader(err):
        return (
            f" If a cell above defines `{err.name}`, run it first (after a kernel restart, run the cells from the "
            "top: Run > Run All Above); if none does, check the spelling."
        )
    for name, value in failing_line(err)[1].items():
        if value.dtype == torch.uint8 and value.dim() >= 2:
            return (
                f" `{name}` holds raw uint8 pixels (whole numbers from 0 to 255, as data.train_X stores them): "
                f"turn them into the model's float input first, with data.transform({name})."
            )
    return ""


# ---------------------------------------------------------------------------
# Running an answer: a worker thread, a time limit, captured output


class _Stopped(BaseException):
    """Raised, asynchronously, in the thread of an answer that ran out of time (not an Exception: the
    reader's ``except Exception`` does not swallow it)."""


SHOWN_WARNINGS = 3
"""At most this many different warnings are shown after the verdict."""


class _Output(io.TextIOBase):
    """Stands in for stdout and stderr during a check: counts everything, keeps the first characters; records the
    warnings raised meanwhile apart from the printed output (a warning is not something the answer printed)."""

    def __init__(self) -> None:
        self.kept: list[str] = []
        self.kept_chars = 0
        self.total_chars = 0
        self.total_lines = 0
        self.warned: list[warnings.WarningMessage] = []

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        self.total_chars += len(text)
        self.total_lines += text.count("\n")
        room = SHOWN_CHARS - self.kept_chars
        if room > 0:
            self.kept.append(text[:room])
            self.kept_chars += min(len(text), room)
        return len(text)

    @contextmanager
    def capturing(self) -> Iterator[None]:
        """Capture what is printed, and record the warnings raised, under the notebook's warning filters."""
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = self  # type: ignore[assignment]
        try:
            with warnings.catch_warnings(record=True) as caught:
                try:
                    yield
                finally:
                    self.warned += caught
        finally:
            sys.stdout, sys.stderr = saved

    def warnings_note(self) -> str | None:
        """The different warnings raised while the answer ran (the first :data:`SHOWN_WARNINGS`), each with its
        category, message and the reader's line that raised it, or ``None`` if there were none."""
        shown: list[str] = []
        for warned in self.warned:
            text = str(warned.message).strip().splitlines()
            message = text[0] if text else ""
            message = message if len(message) <= 160 else message[:157] + "..."
            where = ""
            if _is_readers(warned.filename):
                source = linecache.getline(warned.filename, warned.lineno).strip()
                place = "its cell" if "ipykernel_" in warned.filename else Path(warned.filename).name
                where = f" (line {warned.lineno} of {place}: `{source}`)" if source else f" (line {warned.lineno})"
            line = f"{warned.category.__name__}: {message}{where}"
            if line not in shown:
                shown.append(line)
        if not shown:
            return None
        text = (
            f"Note: your code raised {'a warning' if len(shown) == 1 else f'{len(shown)} different warnings'} while "
            "being checked; the check judges only what your code returns, but a warning often points at something "
            "to fix:"
        )
        text += "".join(f"\n  | {line}" for line in shown[:SHOWN_WARNINGS])
        if len(shown) > SHOWN_WARNINGS:
            text += f"\n  | ... ({len(shown) - SHOWN_WARNINGS:,} more not shown)"
        return text

    def note(self) -> str | None:
        """What the answer printed, cut to :data:`SHOWN_LINES` lines, or ``None`` if it printed nothing."""
        if not self.total_chars:
            return None
        shown, shown_chars = [], 0
        for raw in "".join(self.kept).splitlines(keepends=True)[:SHOWN_LINES]:
            line = raw.rstrip("\r\n")
            visible = line if len(line) <= 120 else line[:117]
            shown.append(visible if visible == line else visible + "...")
            shown_chars += len(visible) + len(raw) - len(line)  # the line break counts as shown
        hidden = self.total_chars - shown_chars
        lines_word = "line" if self.total_lines == 1 else "lines"
        text = (
            f"Note: your code printed {self.total_chars:,} characters ({self.total_lines:,} {lines_word}) "
            "while being checked; the check does not look at printed output, only at what your code returns."
        )
        text += "".join(f"\n  | {line}" for line in shown)
        if hidden > 0:
            text += f"\n  | ... ({hidden:,} more characters not shown)"
        return text


@dataclass
class _Outcome:
    value: Any = None
    error: BaseException | None = None
    finished: bool = False
    left_behind: list[str] = field(default_factory=list)  # thread-local settings the answer left changed


def _thread_settings_left() -> list[str]:
    """What an answer left changed in its own thread's PyTorch settings (a new thread starts with the defaults)."""
    left = []
    if torch.is_inference_mode_enabled():
        left.append(
            "it leaves inference mode on when it returns (torch.inference_mode() entered without `with`), so later "
            "cells in your notebook could not train"
        )
    elif not torch.is_grad_enabled():
        left.append(
            "it leaves gradient tracking off when it returns (torch.set_grad_enabled(False), or torch.no_grad() "
            "entered without `with`), so later training in your notebook would compute no gradients: use `with "
            "torch.no_grad():` around the lines that need it"
        )
    device = _default_device()
    if device is not None and device.type != "cpu":
        left.append(f"it changes PyTorch's default device to {device} (torch.set_default_device)")
    return left


def _raise_in_thread(thread: threading.Thread, exc_type: type[BaseException]) -> None:
    """Ask Python to raise ``exc_type`` in ``thread`` at its next bytecode (a blocking C call delays it)."""
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(exc_type))


def _run_limited(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], limit: float, output: _Output
) -> tuple[_Outcome, bool]:
    """Run ``fn(*args, **kwargs)`` in a worker thread for at most ``limit`` seconds.

    Returns the outcome and whether a thread that ran out of time has ended (``True`` if it never ran out).
    (An event, not ``Thread.join``, tells when the thread ends: on Python 3.11 a ``join`` interrupted by
    Ctrl-C marks a running thread as stopped.)
    """
    outcome, ended = _Outcome(), threading.Event()

    def work() -> None:
        try:
            outcome.value = fn(*args, **kwargs)
            outcome.finished = True
            outcome.left_behind = _thread_settings_left()
        except _Stopped:
            pass
        except BaseException as err:  # the reader's code may raise anything, even SystemExit
            outcome.error = err
            outcome.finished = True
        finally:
            ended.set()

    worker = threading.Thread(target=work, name="d2lmini-check-answer", daemon=True)
    with output.capturing():
        worker.start()
        try:
            ended.wait(limit)
        finally:  # also on Ctrl-C while waiting: never leave the answer running
            deadline = time.monotonic() + _STOP_GRACE_S
            while not ended.is_set() and time.monotonic() < deadline:
                _raise_in_thread(worker, _Stopped)  # again and again, in case a bare `except:` swallows it
                ended.wait(0.05)
    if not ended.is_set():
        _STUCK[:] = [thread for thread in _STUCK if thread.is_alive()] + [worker]
    return outcome, ended.is_set()


def _argument_names(fn: Callable[..., Any], count: int) -> list[str]:
    target = fn.forward if isinstance(fn, torch.nn.Module) else fn
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [
        params[i].name if i < len(params) and params[i].kind in positional else f"argument {i + 1}"
        for i in range(count)
    ]


# ---------------------------------------------------------------------------
# Recording what an answer asks of PyTorch: the call that failed, and tensors asked for on the GPU

_MATMULS = frozenset({"matmul", "mm", "addmm", "linear"})  # X @ W reaches PyTorch as matmul, whichever is a Parameter


def _names_cuda(value: Any) -> bool:
    """Whether ``value`` names a CUDA device: ``"cuda"``, ``"cuda:0"`` or ``torch.device("cuda")``."""
    if isinstance(value, torch.device):
        return value.type == "cuda"
    return isinstance(value, str) and value.split(":")[0].strip().lower() == "cuda"


def _asks_for_cuda(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """How a torch call asks for a tensor on the GPU, as the reader wrote it (``.cuda()``, ``device='cuda'``)."""
    if name == "cuda":
        return ".cuda()"
    device = kwargs.get("device")
    if _names_cuda(device):
        return f"device={device!r}" if isinstance(device, str) else "device=torch.device('cuda')"
    if name == "to" and any(_names_cuda(a) for a in args[1:]):
        return ".to('cuda')"
    return None


@dataclass
class Calls:
    """What an answer asked of PyTorch during one call, recorded so a checker can explain a failure from values.

    ``failed`` is the first torch function that raised, as the answer called it (its name, arguments and keyword
    arguments: the tensors themselves, with their shapes, dtypes and devices); ``cuda`` is how the answer first
    asked for a tensor on the GPU (``".cuda()"``, ``".to('cuda')"``, ``"device='cuda'"``), whether or not that
    worked (on a computer without a GPU the request itself fails). Neither is read from PyTorch's message.
    """

    failed: tuple[str, tuple[Any, ...], dict[str, Any]] | None = None
    cuda: str | None = None

    def failed_tensors(self) -> list[torch.Tensor]:
        """The tensors the failed call got, in order (those inside a list or tuple argument too)."""
        if self.failed is None:
            return []
        _, args, kwargs = self.failed
        found: list[torch.Tensor] = []
        for value in (*args, *kwargs.values()):
            items = value if isinstance(value, list | tuple) else (value,)
            found += [t for t in items if isinstance(t, torch.Tensor)]
        return found

    def failed_numbers(self) -> set[int]:
        """Every size the failed call got: its tensors' dimensions and its whole-number arguments (shapes too)."""
        if self.failed is None:
            return set()
        _, args, kwargs = self.failed
        numbers = {n for t in self.failed_tensors() for n in t.shape}
        for value in (*args, *kwargs.values()):
            items = value if isinstance(value, list | tuple | torch.Size) else (value,)
            numbers |= {n for n in items if isinstance(n, int) and not isinstance(n, bool)}
        return numbers

    def product_shapes(self) -> tuple[int, int, int, int] | None:
        """``(a, b, c, d)`` if the failed call was a matrix product of an (a x b) and a (c x d) matrix, as multiplied.

        ``F.linear(X, W)`` multiplies X by W.T; the rows of a batch of matrices are counted together.
        """
        if self.failed is None or self.failed[0] not in _MATMULS:
            return None
        name, tensors = self.failed[0], self.failed_tensors()
        if len(tensors) < 2:
            return None
        if name == "linear":
            left, right = tensors[0], tensors[1].T if tensors[1].dim() == 2 else tensors[1]
        else:
            left, right = tensors[-2], tensors[-1]
        if left.dim() < 2 or right.dim() != 2:
            return None
        rows = 1
        for n in left.shape[:-1]:
            rows *= n
        return rows, left.shape[-1], right.shape[0], right.shape[1]


class _Recorder(TorchFunctionMode):
    """Records, in one thread, the first torch call that raises (with its arguments) and the first request for a
    tensor on the GPU, into ``calls``."""

    def __init__(self, calls: Calls) -> None:
        super().__init__()
        self.calls = calls

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if self.calls.cuda is None:
            self.calls.cuda = _asks_for_cuda(name, args, kwargs)
        try:
            return func(*args, **kwargs)
        except Exception:
            if self.calls.failed is None:  # the outermost call: the one the answer made
                self.calls.failed = (name, args, kwargs)
            raise


# ---------------------------------------------------------------------------
# Watching what an answer calls (forbidden functions), and whether it reseeded a generator


@dataclass(frozen=True)
class Forbidden:
    """Functions an exercise asks the reader not to call, and what to write instead.

    ``torch_names`` are the ``__name__`` of torch functions, seen whichever way they are called
    (``torch.relu``, ``F.relu``, ``x.relu()``, ``nn.ReLU()``); ``functions`` are Python functions (such as
    ``d2lmini.count_parameters``), seen however they were imported. ``said`` names them in the verdict and
    ``instead`` says what to do.
    """

    said: str
    instead: str
    torch_names: frozenset[str] = frozenset()
    functions: tuple[Callable[..., Any], ...] = ()


class _Watch(TorchFunctionMode):
    """Notes the torch functions named in ``names`` that run while it is active (in one thread)."""

    def __init__(self, names: frozenset[str], seen: list[str]) -> None:
        super().__init__()
        self.names, self.seen = names, seen

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        name = getattr(func, "__name__", "")
        if name in self.names and name not in self.seen:
            self.seen.append(name)
        return func(*args, **(kwargs or {}))


_STUCK: list[threading.Thread] = []  # answers that could not be stopped (blocked in a C call), still running


def _watched(fn: Callable[..., Any], forbid: Forbidden | None, seen: list[str], calls: Calls) -> Callable[..., Any]:
    """``fn``, run so that every call of a function ``forbid`` names is noted in ``seen``, and what it asks of
    PyTorch is recorded in ``calls``.

    Python functions are seen with a profile hook, in the answer's thread only; not while an earlier answer that
    could not be stopped still runs, because CPython then starves a profiled thread until that answer's pending
    exception is delivered.
    """
    codes = {f.__code__: f.__code__.co_name for f in (forbid.functions if forbid else ()) if hasattr(f, "__code__")}
    if any(thread.is_alive() for thread in _STUCK):
        codes = {}

    def profile(frame: Any, event: str, arg: Any) -> None:
        code = frame.f_code
        if event == "call" and code in codes and codes[code] not in seen:
            seen.append(codes[code])

    def run(*args: Any, **kwargs: Any) -> Any:
        before = sys.getprofile()
        if codes:
            sys.setprofile(profile)  # this thread only
        try:
            with _Recorder(calls):
                if forbid is None:
                    return fn(*args, **kwargs)
                with _Watch(forbid.torch_names, seen):
                    return fn(*args, **kwargs)
        finally:
            if codes:
                sys.setprofile(before)

    return run


_SEED_MARK = 0x5EED_D21_C4EC4  # a seed no reader writes: torch's generator wears it while an answer runs


@contextmanager
def _torch_seed_marked() -> Iterator[None]:
    """While the block runs, ``torch.initial_seed()`` reads :data:`_SEED_MARK`; the random numbers stay the same.

    A notebook seeds torch at its top, so an answer's ``torch.manual_seed(0)`` would often leave the seed as it
    was: with the mark in its place, any reseeding changes it. The seed is the first 8 bytes (little-endian) of
    the CPU generator's state; where a PyTorch lays its state out otherwise, nothing is marked. On exit the seed
    is put back (the stream as the block left it, unless the block reseeded, which the caller reports).
    """
    state = torch.get_rng_state()
    marked = state.clone()
    marked[:8] = torch.frombuffer(bytearray(_SEED_MARK.to_bytes(8, "little")), dtype=torch.uint8)
    torch.set_rng_state(marked)
    if torch.initial_seed() != _SEED_MARK:  # another layout: compare the seeds as they are
        torch.set_rng_state(state)
    try:
        yield
    finally:
        if torch.initial_seed() == _SEED_MARK:
            now = torch.get_rng_state()
            now[:8] = state[:8]
            torch.set_rng_state(now)


def _random_states() -> tuple[Any, ...]:
    """What tells that an answer reseeded a global generator: torch's seed (marked while the answer runs, see
    :func:`_torch_seed_marked`), Python's and NumPy's whole state (a draw from torch's generator, as when a
    network initialises its weights, is no reseeding)."""
    numpy = sys.modules.get("numpy")
    state = numpy.random.get_state() if numpy is not None else None
    return torch.initial_seed(), random.getstate(), None if state is None else (state[1].tobytes(), state[2])


def _reseeded(before: tuple[Any, ...], after: tuple[Any, ...]) -> list[str]:
    names = ("torch.manual_seed", "Python's random module", "NumPy's np.random")
    return [name for name, old, new in zip(names, before, after, strict=True) if old != new]


# ---------------------------------------------------------------------------
# Global state outside the answer's thread: the default dtype and device, data modules


def _default_device() -> torch.device | None:
    get = getattr(torch, "get_default_device", None)  # PyTorch >= 2.3
    return get() if get is not None else None


def notebook_namespace(fn: Any) -> dict[str, Any]:
    """The global names of the notebook (or module) that defined ``fn``: a function, a class or an object.

    For a class (or an object), the globals of a method the reader wrote, else its module's names.
    """
    target = getattr(fn, "__func__", fn)
    found = getattr(target, "__globals__", None)
    if isinstance(found, dict):
        return found
    kind = target if isinstance(target, type) else type(target)
    for klass in kind.__mro__:
        for value in vars(klass).values():
            method = getattr(value, "__func__", value)
            if written_by_reader(method) and isinstance(getattr(method, "__globals__", None), dict):
                return method.__globals__
    module = sys.modules.get(getattr(kind, "__module__", ""))
    return vars(module) if module is not None else {}


def _is_data_module(value: Any) -> bool:
    kind = type(value)
    return not isinstance(value, type) and callable(getattr(kind, "train_dataloader", None)) and callable(
        getattr(kind, "val_dataloader", None)
    )


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {str(value.dtype).removeprefix('torch.')} tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


@dataclass
class _DataSnapshot:
    """The tensors of the data modules an answer can reach, to tell whether it replaced or changed them."""

    modules: list[tuple[str, Any, dict[str, tuple[torch.Tensor, int]]]]

    @classmethod
    def of(cls, fn: Any) -> _DataSnapshot:
        modules = []
        for name, value in list(notebook_namespace(fn).items()):
            if name.startswith("_") or not _is_data_module(value):
                continue
            try:
                attributes = vars(value)
            except TypeError:
                continue
            tensors = {k: (v, v._version) for k, v in attributes.items() if isinstance(v, torch.Tensor)}
            modules.append((name, value, tensors))
        return cls(modules)

    def changes(self) -> list[str]:
        """What changed since the snapshot, each as "it ..."; tensors replaced are put back."""
        found = []
        for name, module, tensors in self.modules:
            for attribute, (tensor, version) in tensors.items():
                now = getattr(module, attribute, None)
                where = f"`{name}.{attribute}`"
                if now is not tensor:
                    setattr(module, attribute, tensor)
                    found.append(
                        f"it replaces the data module's {where} ({_describe(tensor)}) with {_describe(now)}, which "
                        "every later cell and the next run of your code would get (the check put it back: work on "
                        f"a copy, such as X = {name}.transform({name}.{attribute}[:1000]))"
                    )
                elif tensor._version != version:
                    found.append(
                        f"it changes the data module's {where} in place, which no check can undo: work on a copy "
                        f"(such as X = {name}.transform({name}.{attribute}[:1000])) and create the data module again"
                    )
        return found


@contextmanager
def _book_setting(notes: list[str]) -> Iterator[None]:
    """Run a check with float32 as the default dtype and the CPU as the default device, as the book assumes;
    a notebook that changed either hears about it in ``notes``."""
    dtype, device = torch.get_default_dtype(), _default_device()
    if dtype != BOOK_DTYPE:
        torch.set_default_dtype(BOOK_DTYPE)
        notes.append(
            f"Note: PyTorch's default dtype in this notebook is {dtype} (an earlier cell called "
            "torch.set_default_dtype). The check ran with float32, the book's default; the book's images and "
            "models are float32, so set it back: torch.set_default_dtype(torch.float32)."
        )
    moved = device is not None and device.type != "cpu"
    if moved:
        torch.set_default_device("cpu")
        notes.append(
            f"Note: PyTorch's default device in this notebook is {device} (an earlier cell called "
            "torch.set_default_device). The check ran on the CPU; pass device= where you mean it instead."
        )
    try:
        yield
    finally:
        torch.set_default_dtype(dtype)
        if moved:
            torch.set_default_device(device)


@dataclass
class Trial:
    """One run of a checker: calls the answer under guard and collects notes for the verdict."""

    time_limit: float
    output: _Output = field(default_factory=_Output)
    mutated: list[str] = field(default_factory=list)
    forbidden: Forbidden | None = None
    forbidden_seen: list[str] = field(default_factory=list)
    watch_seeds: bool = True
    seeded: list[str] = field(default_factory=list)
    side_effects: list[str] = field(default_factory=list)
    kept: Any = None
    remarks: list[str] = field(default_factory=list)

    def call(
        self,
        fn: Callable[..., Any],
        *args: Any,
        doing: str = "Calling it",
        forbid: Forbidden | None = None,
        **kwargs: Any,
    ) -> Any:
        """Call the reader's ``fn``; every way it can fail becomes a :class:`Fail`.

        ``doing`` names the call in messages ("Calling it raised ...", "Creating the model raised ...").
        Tensor arguments the call changes in place are recorded in :attr:`mutated`, global state it changes in
        :attr:`side_effects` (and put back where possible). With ``forbid``, the calls of the functions it names
        are recorded too: the verdict is then "wrong" even if the values are right.
        """
        names = _argument_names(fn, len(args))
        before = [(n, a, a.detach().clone()) for n, a in zip(names, args, strict=True) if isinstance(a, torch.Tensor)]
        if forbid is not None:
            self.forbidden = forbid
        calls = Calls()
        run = _watched(fn, forbid, self.forbidden_seen, calls)
        with _torch_seed_marked():
            data, random_states = _DataSnapshot.of(fn), _random_states()
            outcome, ended = _run_limited(run, args, kwargs, self.time_limit, self.output)
            self._note_side_effects(outcome, data, random_states)
        if not outcome.finished:
            who = "Your function" if doing == "Calling it" else doing
            verb = "return" if doing == "Calling it" else "finish"
            how = (
                ", so the check stopped it"
                if ended
                else " and could not be stopped yet: it is blocked in a call Python cannot interrupt (such as "
                "time.sleep or input) and stops when that call returns, or it catches every exception with a bare "
                "`except:` (then restart the kernel)"
            )
            raise wrong(
                f"{who} did not {verb} within {self.time_limit:g} s{how}. Look for a loop that never ends "
                "or a call that waits."
            )
        err = outcome.error
        if err is not None:
            if isinstance(err, NotImplementedError) and _raised_by_reader(err):
                raise Fail("not attempted", "", err, calls)
            message = _first_line(err)
            text = f"{doing} raised {type(err).__name__}{': ' + message if message else ''}{_where(err)}"
            text = text if text.endswith((".", "!", "?")) else text + "."
            raise wrong(text + _hint_for(err), err, calls)
        for name, arg, copy in before:
            if name not in self.mutated and not (arg.shape == copy.shape and torch.equal(arg.detach(), copy)):
                self.mutated.append(name)
        return outcome.value

    def _note_side_effects(self, outcome: _Outcome, data: _DataSnapshot, random_states: tuple[Any, ...]) -> None:
        effects = [*outcome.left_behind, *data.changes()]
        dtype = torch.get_default_dtype()
        if dtype != BOOK_DTYPE:
            torch.set_default_dtype(BOOK_DTYPE)
            effects.append(
                f"it changes PyTorch's default dtype to {dtype} (torch.set_default_dtype), which every later cell "
                "would inherit (the check set it back): convert only the tensors you need, with .to(dtype)"
            )
        if self.watch_seeds:
            self.seeded += [name for name in _reseeded(random_states, _random_states()) if name not in self.seeded]
        self.side_effects += [e for e in effects if e not in self.side_effects]

    def note(self, text: str) -> None:
        """Add a note (a sentence starting "Note:") to the verdict, after its first line."""
        self.remarks.append(text)

    def keep(self, value: Any) -> None:
        """Keep ``value`` on the result (:attr:`CheckResult.value`), whatever the verdict."""
        self.kept = value

    def take_mutated(self) -> list[str]:
        """The names of the arguments changed in place so far, forgetting them (no note will mention them)."""
        names, self.mutated = self.mutated, []
        return names

    def notes(self) -> list[str]:
        notes = list(self.remarks)
        if self.mutated:
            names = " and ".join(f"`{n}`" for n in self.mutated)
            noun = "argument" if len(self.mutated) == 1 else "arguments"
            notes.append(
                f"Note: your function changed its {noun} {names} in place. The check gave it a copy and judged only "
                "what it returned, but a caller who still needs those values would find them changed; building a "
                "new tensor avoids that."
            )
        if self.seeded:
            notes.append(
                f"Note: your code reseeds (or draws from) a global random generator: {', '.join(self.seeded)}. The "
                "check put it back, but in your notebook every call would change the random numbers of the code "
                "around it: seed once, at the top of the notebook, not inside a function."
            )
        printed, warned = self.output.note(), self.output.warnings_note()
        notes += [note for note in (printed, warned) if note]
        return notes


# ---------------------------------------------------------------------------
# The decorator


@contextmanager
def _random_state_kept() -> Iterator[None]:
    """Restore torch's, Python's and NumPy's global random state on exit."""
    python_state = random.getstate()
    numpy = sys.modules.get("numpy")
    numpy_state = numpy.random.get_state() if numpy is not None else None
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        random.setstate(python_state)
        if numpy is not None:
            numpy.random.set_state(numpy_state)


def _screen(answer: Any, expects: str, example: str) -> None:
    """Reject an answer that is no function (or class) before anything runs."""
    if expects == "any":
        return
    if answer is None:
        raise wrong(f"You passed None: pass your {expects} itself, as in `{example}`, not what it returns.")
    if expects == "class" and not isinstance(answer, type):
        raise wrong(f"Pass the class itself, as in `{example}`, not a {type(answer).__name__}.")
    if expects == "function" and isinstance(answer, torch.nn.Module):
        raise wrong(
            f"You passed a {type(answer).__name__} object, a network (nn.Module), where your function is asked: "
            f"pass the function itself, as in `{example}`, not something it made."
        )
    if not callable(answer):
        raise wrong(f"Expected a function, as in `{example}`; got a value of type {type(answer).__name__}.")


def checker(
    task: str,
    *,
    example: str,
    expects: str = "function",
    time_limit: float | None = None,
    seeding_expected: bool = False,
) -> Callable[[Callable[[Any, Trial], str]], Callable[..., CheckResult]]:
    """Turn ``body(answer, trial) -> detail`` into a checker ``check(answer, *, time_limit=None) -> CheckResult``.

    ``task`` names the exercise in every message; ``example`` shows the right call (``"check_relu(relu)"``);
    ``expects`` is ``"function"``, ``"class"`` or ``"any"`` (the body screens the answer itself);
    ``time_limit`` is the checker's default limit per call in seconds (else :data:`TIME_LIMIT_S`);
    ``seeding_expected`` drops the note on an answer that reseeds a random generator (an experiment that is
    asked to seed).
    The body returns the detail of a correct verdict or raises :func:`wrong`. The checker keeps its last result
    as ``check.last``, and ``task``, ``example`` and ``expects`` as attributes.
    """

    def decorate(body: Callable[[Any, Trial], str]) -> Callable[..., CheckResult]:
        @functools.wraps(body)
        def check(answer: Any, *, time_limit: float | None = time_limit) -> CheckResult:
            trial = Trial(TIME_LIMIT_S if time_limit is None else time_limit, watch_seeds=not seeding_expected)
            setting: list[str] = []
            try:  # gradients on, whatever the notebook set (a checker computes its expected values with autograd)
                with _random_state_kept(), _book_setting(setting), torch.inference_mode(False), torch.enable_grad():
                    _screen(answer, expects, example)
                    status, text = "correct", body(answer, trial)
                    if trial.forbidden is not None and trial.forbidden_seen:
                        raise wrong(
                            f"Its result is right, but it calls {trial.forbidden.said}, which this exercise asks "
                            f"you not to use: {trial.forbidden.instead}"
                        )
                    if trial.side_effects:
                        raise wrong(f"Its result is right, but {'; and '.join(trial.side_effects)}.")
            except Fail as fail:
                status, text = fail.status, fail.why
                if status == "wrong" and trial.side_effects and not text.startswith("Its result is right, but"):
                    setting.insert(0, f"Note: besides, {'; and '.join(trial.side_effects)}.")
            except Exception as err:  # an unusual answer took a path the checker did not foresee
                status = "wrong"
                text = f"Your answer could not be checked ({type(err).__name__}: {_first_line(err)})."
            message = "\n".join([_verdict(task, status, text), *setting, *trial.notes()])
            check.last = CheckResult(task, status, message, trial.kept)  # type: ignore[attr-defined]
            return check.last  # type: ignore[attr-defined]

        answer_parameter = next(iter(inspect.signature(body).parameters.values()))  # help() shows check(relu, ...)
        limit_parameter = inspect.Parameter("time_limit", inspect.Parameter.KEYWORD_ONLY, default=time_limit)
        check.__signature__ = inspect.Signature([answer_parameter, limit_parameter])  # type: ignore[attr-defined]
        check.task, check.example, check.expects = task, example, expects  # type: ignore[attr-defined]
        check.last = None  # type: ignore[attr-defined]
        return check

    return decorate


# ---------------------------------------------------------------------------
# A check cell run before the cell that defines its answer: a NameError before any checker runs

_CHECK_CALL = re.compile(r"(check_\w+)\(\s*(\w+)\s*\)")


def name_error_hint(error: NameError, namespace: dict[str, Any]) -> str:
    """One line that tells which cell to run first, for a ``NameError`` raised in a notebook cell.

    ``namespace`` holds the notebook's names (to recognise the book's checkers). Empty if ``error`` names nothing.
    """
    name = getattr(error, "name", None)
    if not name:
        return ""
    frames = traceback.extract_tb(error.__traceback__)
    line = _source_line(frames[-1]) if frames else ""
    call = _CHECK_CALL.fullmatch(line)
    if call is not None and call[1] == name:
        return (
            f"Hint: `{name}` is one of the book's checkers: run the notebook's import cell first (the one with "
            "`from d2lmini.book.checks import ...`, near the top), then this cell again."
        )
    check = namespace.get(call[1]) if call is not None else None
    usual = _CHECK_CALL.fullmatch(getattr(check, "example", ""))
    if call is not None and call[2] == name and usual is not None and usual[2] != name:
        return (
            f"Hint: `{name}` is not defined in this kernel; this check is usually called as `{usual[0]}`: check the "
            f"spelling, or run the cell that defines `{name}` first."
        )
    if call is not None and call[2] == name and hasattr(check, "task"):
        what = (
            f"the cell with `class {name}` and every cell that adds to it, such as your forward"
            if getattr(check, "expects", "") == "class"
            else f"your answer, the cell that defines `{name}` above this check"
        )
        return (
            f"Hint: `{name}` is not defined yet, so the check of {check.task} could not start: run {what}, then "  # type: ignore[union-attr]
            "this check again (after a kernel restart, run the cells from the top: Run > Run All Above)."
        )
    return (
        f"Hint: `{name}` is not defined in this kernel. If a cell above defines it, run that cell first (after a "
        "kernel restart, run the cells from the top: Run > Run All Above); if no cell does, check the spelling."
    )


def _explain_name_error(
    shell: Any, etype: type[BaseException], value: BaseException, tb: TracebackType, tb_offset: int | None = None
) -> list[str]:
    """IPython's handler for a NameError in a cell: its usual traceback, then :func:`name_error_hint`."""
    stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
    hint = name_error_hint(value, shell.user_ns) if isinstance(value, NameError) else ""  # type: ignore[arg-type]
    stb = [*stb, hint] if hint else stb
    shell._showtraceback(etype, value, stb)
    return stb


def notebook_hints() -> None:
    """In a Jupyter notebook, explain a ``NameError`` with the cell to run first.

    A check cell run before the cell that defines its answer fails with a ``NameError`` before any checker runs;
    this installs an IPython exception handler (for ``NameError`` only) that adds which cell to run. It does
    nothing outside IPython; the exercise notebooks call it in their import cell. Calling it again is harmless.
    """
    get_ipython = getattr(sys.modules.get("IPython"), "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    if shell is not None and hasattr(shell, "set_custom_exc"):
        shell.set_custom_exc((NameError,), _explain_name_error)


# ---------------------------------------------------------------------------
# Comparing tensors


def fmt(x: Any) -> str:
    """A short, deterministic rendering of a number or a small tensor."""
    if isinstance(x, torch.Tensor):
        x = x.detach()
        if x.device.type == "meta":
            return f"meta tensor of shape {tuple(x.shape)}"
        if x.dim() == 0:
            return fmt(x.item())
        if x.numel() <= 6:
            return "[" + ", ".join(fmt(v) for v in x.reshape(-1).tolist()) + "]"
        return f"tensor of shape {tuple(x.shape)}"
    if isinstance(x, float):
        return f"{x:.4g}"
    return repr(x)


def expect_int(got: Any, what: str) -> int:
    """Check that ``got`` is one Python int; ``what`` says what to return instead of several values."""
    if got is None:
        raise wrong("It returns None: did you forget the `return` statement?")
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        raise wrong(f"It returns a tensor ({fmt(got)}); return a Python int (int(...)).")
    if isinstance(got, torch.Tensor | list | tuple):
        values = "value" if len(got) == 1 else "values"
        raise wrong(f"It returns {len(got)} {values}; return {what}.")
    if type(got).__module__ == "numpy" and getattr(got, "ndim", None) == 0:
        raise wrong(f"It returns a NumPy {type(got).__name__} ({got}); return a Python int (int(...)).")
    if isinstance(got, bool) or not isinstance(got, int):
        raise wrong(f"It returns a value of type {type(got).__name__}; expected an int.")
    return got


def expect_tensor(
    got: Any, like: torch.Tensor, what: str = "It", dtype_from: str = "the input's dtype"
) -> torch.Tensor:
    """Check that ``got`` is a tensor with real values, on ``like``'s device, with its shape and dtype.

    ``dtype_from`` says where the expected dtype comes from, in the message about a wrong dtype.
    """
    if got is None:
        raise wrong(f"{what} returns None: did you forget the `return` statement?")
    if not isinstance(got, torch.Tensor):
        raise wrong(f"{what} returns a value of type {type(got).__name__}; expected a torch.Tensor.")
    if got.device.type == "meta":
        raise wrong(
            f"{what} returns a tensor on the meta device, which has a shape but no values (made with "
            f"device='meta', or from a meta tensor); return one with real values on {like.device.type}."
        )
    if got.layout != torch.strided:
        raise wrong(f"{what} returns a tensor with layout {got.layout}; return an ordinary (dense) tensor.")
    if got.device != like.device:
        raise wrong(f"{what} returns a tensor on {got.device}; return it on {like.device}, where its input is.")
    if got.shape != like.shape:
        raise wrong(f"{what} returns shape {tuple(got.shape)}, expected {tuple(like.shape)}.")
    if got.dtype != like.dtype:
        raise wrong(f"{what} returns dtype {got.dtype}, expected {like.dtype} ({dtype_from}).")
    return got.detach()


def expect_close(
    inputs: torch.Tensor,
    got: torch.Tensor,
    expected: torch.Tensor,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    hint: str = "",
) -> None:
    """Compare element-wise; report the first input where the answer is NaN or inf, or up to three inputs where
    the values are off (``|got - expected| > atol + rtol * |expected|``)."""

    def at(i: tuple[int, ...]) -> str:
        return f"at input {fmt(inputs[i])}" if inputs.shape == got.shape else f"at index {i}"

    broken = ~torch.isfinite(got) & torch.isfinite(expected)
    if broken.any():
        i = tuple(broken.nonzero()[0].tolist())
        raise wrong(f"It returns {fmt(got[i])} {at(i)}, where it should be {fmt(expected[i])}. {hint}".rstrip())
    bad = ~torch.isclose(got, expected, atol=atol, rtol=rtol)
    if bad.any():
        first = [tuple(i) for i in bad.nonzero()[:3].tolist()]
        rows = [f"{at(i)}: expected {fmt(expected[i])}, got {fmt(got[i])}" for i in first]
        more = f" ({int(bad.sum())} of {bad.numel()} values are off)"
        raise wrong("Off " + "; ".join(rows) + more + "." + (f" {hint}" if hint else ""))
