"""Run student answers, written as notebook cells, against the checkers, and judge each verdict.

Each :class:`~tests.book.student_mistakes.Answer` is executed as a student's cells are: in a fresh notebook-like
namespace (the exercise notebook's imports and classes, a small Fashion-MNIST-shaped data module, IPython's input
history ``In``), then the check cell runs. The outcome is sorted into the columns of the report:

- **true-specific**: the status is the expected one and the message has the key words that make it specific;
- **vague**: the status is right, but the message lacks those words;
- **false verdict**: a wrong answer accepted, a right one refused (or "not attempted" where it was attempted);
- **raw**: the check raised, or said only that the answer "could not be checked", or a cell failed with no
  explanation (a NameError before any checker ran);
- **lost**: the check left the notebook worse off: the data module, the default dtype or gradient mode changed
  after it, or an experiment's results were not kept on the result (so drawing them means training again).

``python -m tests.book.mistake_runner`` prints the table for the ``d2lmini`` on ``sys.path`` (run it from ``/``
with ``PYTHONPATH=<checkout>`` to measure another version of the checkers).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import linecache
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tests.book.student_mistakes import ANSWERS, CONTEXTS, PRELUDE, Answer
from tests.helpers import FAKE_TEST, FAKE_TRAIN, FAKE_VAL, FILES, write_idx


@dataclass
class Outcome:
    status: str
    message: str
    column: str
    lost: bool
    seconds: float


_DATA_DIR: Path | None = None


def write_noisy_dataset(folder: Path) -> Path:
    """Four small IDX files shaped like Fashion-MNIST's: faint noise, and a bright patch whose place hints at the
    label (not always the right one). Like clothes, images light up different regions, so a hidden unit is on for
    some and off for others, and accuracies differ between splits and from epoch to epoch."""
    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    for (images, labels), n in zip((FILES[:2], FILES[2:]), (FAKE_TRAIN, FAKE_TEST), strict=True):
        y = torch.randint(0, 10, (n,), generator=g)
        hinted = torch.where(torch.rand(n, generator=g) < 0.7, y, torch.randint(0, 10, (n,), generator=g))
        X = torch.randint(0, 8, (n, 28, 28), generator=g)
        for i, label in enumerate(hinted.tolist()):
            row, column = 2 + 12 * (label // 5), 1 + 5 * (label % 5)
            X[i, row : row + 4, column : column + 3] += torch.randint(100, 240, (4, 3), generator=g)
        write_idx(folder / images, X)
        write_idx(folder / labels, y)
    return folder


@contextlib.contextmanager
def fake_fashion_mnist() -> Any:
    """FashionMNIST reads a small noisy fake dataset (96 training images, 32 of them for validation) while active."""
    global _DATA_DIR
    from d2lmini.data import FashionMNIST
    from d2lmini.idx import FileSpec

    if _DATA_DIR is None:
        _DATA_DIR = write_noisy_dataset(Path(tempfile.mkdtemp(prefix="d2lmini-mistakes-")) / "fake")
    saved = FashionMNIST.files, FashionMNIST.val_size_default
    FashionMNIST.files = {k: FileSpec(s.name, s.ndim) for k, s in saved[0].items()}
    FashionMNIST.val_size_default = FAKE_VAL
    try:
        yield _DATA_DIR
    finally:
        FashionMNIST.files, FashionMNIST.val_size_default = saved


def _run_cell(source: str, namespace: dict[str, Any], number: int) -> None:
    """Execute ``source`` as a notebook cell: its filename looks like ipykernel's, so messages say "its cell"."""
    filename = f"/tmp/ipykernel_0/{number}.py"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace["In"].append(source)
    exec(compile(source, filename, "exec"), namespace)


def _check_cell(source: str, namespace: dict[str, Any], number: int) -> Any:
    """Run the check cell, a single call, and return its value (what the notebook displays)."""
    filename = f"/tmp/ipykernel_0/{number}.py"
    linecache.cache[filename] = (len(source), None, [source + "\n"], filename)
    namespace["In"].append(source)
    return eval(compile(source, filename, "eval"), namespace)


def _state(namespace: dict[str, Any]) -> tuple[Any, ...]:
    """What a check must leave as it found it: the data module's tensors, the default dtype, gradient mode."""
    data = namespace.get("data")
    tensors = {k: (id(v), v._version) for k, v in vars(data).items() if isinstance(v, torch.Tensor)} if data else {}
    return tensors, torch.get_default_dtype(), torch.is_grad_enabled()


def run(answer: Answer) -> Outcome:
    """Run one answer's cells and its check; judge the verdict."""
    import d2lmini.book.checks as checks

    start = time.perf_counter()
    dtype, grad = torch.get_default_dtype(), torch.is_grad_enabled()
    with fake_fashion_mnist() as folder:
        namespace: dict[str, Any] = {"__name__": "__main__", "In": [""]}
        _run_cell(PRELUDE, namespace, 1)
        if answer.context:
            namespace["data_folder"] = str(folder)
            _run_cell(CONTEXTS[answer.context], namespace, 2)
        result: Any = None
        try:
            for i, cell in enumerate([*answer.cells], start=3):
                _run_cell(cell, namespace, i)
            namespace[answer.check] = getattr(checks, answer.check)
            before = _state(namespace)
            result = _check_cell(f"{answer.check}({answer.argument})", namespace, len(answer.cells) + 3)
            after = _state(namespace)
        except NameError as err:  # the check cell itself failed: what the notebook shows is the hint, if any
            hint = getattr(sys.modules.get("d2lmini.book.checking"), "name_error_hint", None)
            message = hint(err, namespace) if hint is not None else ""
            column = _column(answer, "not run", message) if message else "raw"
            return Outcome("not run", message or f"NameError: {err}", column, False, time.perf_counter() - start)
        except Exception as err:
            return Outcome("error", f"{type(err).__name__}: {err}", "raw", False, time.perf_counter() - start)
        finally:
            torch.set_default_dtype(dtype)
            torch.set_grad_enabled(grad)
    message = result.message
    column = "raw" if "could not be checked" in message else _column(answer, result.status, message)
    kept = getattr(result, "value", None)
    returned = result.status != "not attempted" and " raised " not in message.split("\n")[0]
    lost = before != after or (answer.experiment and returned and kept is None)
    return Outcome(result.status, message, column, lost, time.perf_counter() - start)


def _column(answer: Answer, status: str, message: str) -> str:
    if status != answer.status:
        return "false verdict"
    text = message.lower()
    return "true-specific" if all(word.lower() in text for word in answer.words) else "vague"


COLUMNS = ("true-specific", "vague", "false verdict", "raw")


def table(answers: list[Answer], outcomes: dict[str, Outcome]) -> str:
    """The report: mistake kind | count | true-specific | vague | false verdict | raw | lost."""
    by_kind: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for answer in answers:
        outcome = outcomes[answer.id]
        counts = by_kind[answer.kind]
        counts["count"] += 1
        counts[outcome.column] += 1
        counts["lost"] += outcome.lost
    lines = ["| mistake kind | count | true-specific | vague | false verdict | raw | lost |", "|---" * 7 + "|"]
    total: collections.Counter[str] = collections.Counter()
    for kind, counts in sorted(by_kind.items()):
        total.update(counts)
        cells = [str(counts[c]) for c in ("count", *COLUMNS, "lost")]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    lines.append("| **all** | " + " | ".join(f"**{total[c]}**" for c in ("count", *COLUMNS, "lost")) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="also write every outcome to this file")
    parser.add_argument("-k", default="", help="run only the answers whose id contains this text")
    args = parser.parse_args(argv)
    outcomes = {}
    for answer in ANSWERS:
        if args.k in answer.id and (not answer.needs_cuda or torch.cuda.is_available()):
            outcomes[answer.id] = run(answer)
    selected = [a for a in ANSWERS if a.id in outcomes]
    for answer in selected:
        outcome = outcomes[answer.id]
        if outcome.column != "true-specific" or outcome.lost:
            print(f"[{outcome.column}{', lost' if outcome.lost else ''}] {answer.id}: {outcome.message[:300]}")
    print(table(selected, outcomes))
    if args.json:
        args.json.write_text(json.dumps({k: vars(v) for k, v in outcomes.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
