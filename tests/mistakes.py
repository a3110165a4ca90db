"""Real student mistakes, run through the Trainer: what tests/test_contract.py and tests/test_explain.py share.

Each mistake in those two tables is code a student writes (habits from the scratch lab, NumPy, Keras or Lightning),
run for real on the data module over small Fashion-MNIST-shaped files (the ``pixels`` fixture of tests/conftest.py).
The test asserts what the student sees: an exception of the type PyTorch itself raises for the bare mistake
(computed with :func:`raw`, so the test holds on every PyTorch version) or one of ours, or a warning; and the key
words of a true, specific message.  The words are ours, never PyTorch's.  Where training had finished epochs before
the error, the error keeps them (``keeps``).  tests/test_contract.py holds the mistakes that the checks of what the
Trainer is given refuse or warn about; tests/test_explain.py those that make a call fail, explained from the
tensors involved.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from d2lmini.data import FashionMNIST
from d2lmini.history import History
from d2lmini.module import Classifier
from d2lmini.train import Trainer


def raw(mistake: Callable[[], Any]) -> type[BaseException]:
    """The exception type PyTorch raises for the bare mistake: an explained error must keep it."""
    try:
        mistake()
    except Exception as err:
        return type(err)
    raise AssertionError("the bare mistake raised nothing")


# The student's building blocks --------------------------------------------------------------------------------------
class Net(Classifier):
    """The concise chapter's model: a Classifier around nn.Sequential."""

    def __init__(self, *layers: nn.Module, lr: float = 0.1) -> None:
        super().__init__()
        self.save_hyperparameters(lr=lr)
        self.net = nn.Sequential(*layers)


def mlp() -> list[nn.Module]:
    return [nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10)]


class Scratch(Classifier):
    """The scratch lab's model: four parameter tensors; each mistake overrides forward."""

    def __init__(self, lr: float = 0.1) -> None:
        super().__init__()
        self.save_hyperparameters(lr=lr)
        self.W1 = nn.Parameter(0.01 * torch.randn(784, 32))
        self.b1 = nn.Parameter(torch.zeros(32))
        self.W2 = nn.Parameter(0.01 * torch.randn(32, 10))
        self.b2 = nn.Parameter(torch.zeros(10))


class Stepping(Net):
    """A model whose training_step computes the loss with the student's ``loss_fn(model, X, y)``."""

    def __init__(self, loss_fn: Callable[..., Any]) -> None:
        super().__init__(*mlp())
        self.loss_fn = loss_fn

    def training_step(self, batch):  # type: ignore[no-untyped-def]
        return self.loss_fn(self, batch[0], batch[1])


class Batches:
    """A data module a student writes around lists of batches (NumPy arrays, dicts, extra items...)."""

    labels = tuple(str(c) for c in range(10))

    def __init__(self, train: list[Any], val: list[Any]) -> None:
        self.train, self.val = train, val

    def train_dataloader(self) -> list[Any]:
        return self.train

    def val_dataloader(self) -> list[Any]:
        return self.val


def batches_of(data: FashionMNIST, make: Callable[[torch.Tensor, torch.Tensor], Any]) -> Batches:
    """The data module's batches, each remade by ``make(X, y)``."""
    return Batches([make(X, y) for X, y in data.train_dataloader()], [make(X, y) for X, y in data.val_dataloader()])


def fit(model: Any, data: Any, epochs: int = 2, **kwargs: Any) -> History:
    return Trainer(max_epochs=epochs, device="cpu", progress="none", **kwargs).fit(model, data)


# The tables of mistakes ---------------------------------------------------------------------------------------------
Expected = type[BaseException] | type[Warning] | None


@dataclass(frozen=True)
class Mistake:
    kind: str
    run: Callable[[FashionMNIST], Any]
    expect: Expected  # None: it must just work
    words: tuple[str, ...]
    keeps: int | None = None  # finished epochs the error must keep

    @property
    def name(self) -> str:
        return self.run.__name__


def register_in(table: list[Mistake]) -> Callable[..., Callable[..., Any]]:
    """The decorator ``@mistake(kind, expect, *words, keeps=...)`` that adds the function below it to ``table``."""

    def mistake(kind: str, expect: Expected, *words: str, keeps: int | None = None) -> Callable[..., Any]:
        def register(run: Callable[[FashionMNIST], Any]) -> Callable[[FashionMNIST], Any]:
            table.append(Mistake(kind, run, expect, words, keeps))
            return run

        return register

    return mistake


def outcome(case: Mistake, data: FashionMNIST) -> tuple[BaseException | None, list[warnings.WarningMessage]]:
    """Run the mistake: the exception it ended with (None if none), and the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            case.run(data)
        except Exception as err:
            return err, list(caught)
    return None, list(caught)


def assert_true_specific_message(case: Mistake, data: FashionMNIST) -> None:
    """Run the mistake and check what the student sees: the exception or warning, its words, the epochs kept."""
    err, caught = outcome(case, data)
    if case.expect is None:
        assert err is None and not caught
        return
    if issubclass(case.expect, Warning):
        assert err is None, f"raised {err!r}"
        messages = [str(w.message) for w in caught if issubclass(w.category, case.expect)]
        assert len(messages) == 1, f"warned {len(messages)} times: {messages}"  # once, however many epochs
        message = messages[0]
    else:
        assert type(err) is case.expect, f"raised {err!r}, not a {case.expect.__name__}"
        message = str(err.args[0]) if isinstance(err, KeyError) else str(err)
    for words in case.words:
        assert re.search(words, message, re.DOTALL), f"{words!r} not in: {message}"
    if case.keeps is not None:
        assert len(err.history) == case.keeps  # type: ignore[union-attr]
