"""The exercise checkers: right answers pass, and each typical wrong answer gets its specific feedback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import d2lmini
from d2lmini.book import checks
from d2lmini.book.checks import CheckResult


def _not_implemented(*args: Any) -> Any:
    raise NotImplementedError


def _softmax(X: torch.Tensor) -> torch.Tensor:
    e = torch.exp(X - X.max(dim=1, keepdim=True).values)
    return e / e.sum(dim=1, keepdim=True)


def _cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -log_probs[torch.arange(len(y)), y].mean()


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _relu_in_place(x: torch.Tensor) -> torch.Tensor:
    x[x < 0] = 0
    return x


class _Scratch(d2lmini.Classifier):
    """The lab's model; each test attaches a different ``forward``."""

    def __init__(self, num_inputs: int, num_outputs: int, num_hiddens: int, lr: float, sigma: float = 0.01):
        super().__init__()
        self.save_hyperparameters(
            num_inputs=num_inputs, num_outputs=num_outputs, num_hiddens=num_hiddens, lr=lr
        )
        self.W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens) * sigma)
        self.b1 = nn.Parameter(torch.zeros(num_hiddens))
        self.W2 = nn.Parameter(torch.randn(num_hiddens, num_outputs) * sigma)
        self.b2 = nn.Parameter(torch.zeros(num_outputs))


def _scratch_with(forward: Callable[..., Any]) -> type:
    return type("MLPScratch", (_Scratch,), {"forward": forward})


def _flat(m: Any, X: torch.Tensor) -> torch.Tensor:
    return X.reshape(-1, 784) @ m.W1 + m.b1


RIGHT: dict[Callable[[Any], CheckResult], Any] = {
    checks.check_relu: lambda x: x.clamp(min=0),
    checks.check_softmax: _softmax,
    checks.check_cross_entropy: _cross_entropy,
    checks.check_count_params: _count,
    checks.check_collapse: lambda W1, b1, W2, b2: (W1 @ W2, b1 @ W2 + b2),
    checks.check_tanh_grad: lambda x: 1 - torch.tanh(x) ** 2,
    checks.check_prelu_grad: lambda x, a: torch.where(x > 0, torch.ones_like(x), torch.full_like(x, a)),
    checks.check_mlp_forward: _scratch_with(lambda m, X: torch.relu(_flat(m, X)) @ m.W2 + m.b2),
    checks.check_build_mlp: lambda h: nn.Sequential(
        nn.Flatten(), nn.LazyLinear(h), nn.ReLU(), nn.LazyLinear(10)
    ),
}

# (checker, wrong answer, a phrase the feedback must contain)
WRONG: list[tuple[Callable[[Any], CheckResult], Any, str]] = [
    (checks.check_relu, lambda x: x, "Off at input -3: expected 0, got -3"),
    (checks.check_relu, lambda x: max(x, 0), "raised RuntimeError: Boolean value of Tensor"),
    (checks.check_relu, lambda x: x > 0, "dtype torch.bool, expected torch.float64"),
    (checks.check_relu, lambda x: None, "returns None: did you forget the `return`"),
    (checks.check_relu, lambda x: x.numpy(), "value of type ndarray; expected a torch.Tensor"),
    (checks.check_relu, lambda x: x.clamp(min=0).reshape(-1), "returns shape (8,), expected (2, 4)"),
    (checks.check_relu, _relu_in_place, "changed its input in place"),
    (checks.check_relu, None, "You passed None"),
    (checks.check_relu, 3.0, "Expected a function, got a value of type float"),
    (
        checks.check_softmax,
        lambda X: torch.exp(X) / torch.exp(X).sum(1, keepdim=True),
        "NaN or inf for large",
    ),
    (checks.check_softmax, lambda X: torch.exp(X) / torch.exp(X).sum(), "All entries together sum to 1"),
    (checks.check_softmax, lambda X: torch.exp(X) / torch.exp(X).sum(0), "you normalised over dim=0"),
    (checks.check_softmax, lambda X: _softmax(X).sum(1), "returns shape (3,), expected (3, 3)"),
    (
        checks.check_softmax,
        lambda X: torch.exp(X - X.max()) / torch.exp(X - X.max()).sum(1, keepdim=True),
        "Subtract each row's own maximum",
    ),
    (
        checks.check_cross_entropy,
        lambda z, y: -torch.log(_softmax(z)[range(len(y)), y]).mean(),
        "returns inf",
    ),
    (
        checks.check_cross_entropy,
        lambda z, y: -torch.log(torch.softmax(z, 1)[range(len(y)), y]).mean(),
        "returns inf for large logits",
    ),
    (
        checks.check_cross_entropy,
        lambda z, y: F.cross_entropy(z, y, reduction="none"),
        "one loss per example",
    ),
    (checks.check_cross_entropy, lambda z, y: _cross_entropy(z, y).item(), "returns a Python number"),
    (checks.check_cross_entropy, lambda z, y: 3 * _cross_entropy(z, y), "the sum over the batch"),
    (checks.check_cross_entropy, lambda z, y: _cross_entropy(z, y).detach(), "carries no gradient"),
    (checks.check_cross_entropy, lambda z, y: -torch.log(z[range(len(y)), y]).mean(), "not their log"),
    (checks.check_cross_entropy, lambda z, y: -z[range(len(y)), y].mean(), "the mean loss is 0.9817, got"),
    (checks.check_count_params, lambda m: len(list(m.parameters())), "number of parameter tensors"),
    (
        checks.check_count_params,
        lambda m: sum(p.numel() for p in m.parameters() if p.dim() > 1),
        "weights only",
    ),
    (checks.check_count_params, lambda m: sum(p.numel() for p in m.parameters()), "includes frozen"),
    (checks.check_count_params, lambda m: torch.tensor(_count(m)), "return a Python int"),
    (checks.check_count_params, lambda m: float(_count(m)), "value of type float; expected an int"),
    (checks.check_count_params, lambda m: None, "returns None"),
    (checks.check_collapse, lambda W1, b1, W2, b2: (W1 @ W2, b2), "b is off"),
    (checks.check_collapse, lambda W1, b1, W2, b2: (W2 @ W1, b1 @ W2 + b2), "order of the product"),
    (checks.check_collapse, lambda W1, b1, W2, b2: W1 @ W2, "return a pair `W, b`"),
    (checks.check_collapse, lambda W1, b1, W2, b2: (W1 @ W2, "b"), "its b has shape str"),
    (checks.check_tanh_grad, torch.tanh, "values of tanh itself"),
    (checks.check_tanh_grad, lambda x: 1 - torch.tanh(x), "Off at input -4: expected 0.001341, got 1.999"),
    (checks.check_tanh_grad, lambda x: (1 - torch.tanh(x) ** 2).float(), "dtype torch.float32"),
    (checks.check_prelu_grad, lambda x, a: torch.where(x > 0, x, a * x), "values of pReLU itself"),
    (checks.check_prelu_grad, lambda x, a: (x > 0).double(), "expected 0.25, got 0"),
    (checks.check_prelu_grad, lambda x: x, "raised TypeError"),
    (
        checks.check_mlp_forward,
        _scratch_with(lambda m, X: torch.relu(X @ m.W1 + m.b1) @ m.W2 + m.b2),
        "Did you flatten the images first",
    ),
    (
        checks.check_mlp_forward,
        _scratch_with(lambda m, X: torch.softmax(torch.relu(_flat(m, X)) @ m.W2 + m.b2, 1)),
        "returns probabilities",
    ),
    (checks.check_mlp_forward, _scratch_with(lambda m, X: _flat(m, X) @ m.W2 + m.b2), "There is no ReLU"),
    (
        checks.check_mlp_forward,
        _scratch_with(lambda m, X: torch.relu(X.reshape(-1, 784) @ m.W1) @ m.W2),
        "biases b1 and b2 are missing",
    ),
    (
        checks.check_mlp_forward,
        _scratch_with(lambda m, X: torch.sigmoid(_flat(m, X)) @ m.W2 + m.b2),
        "The logits of the first image are off",
    ),
    (checks.check_mlp_forward, _scratch_with(lambda m, X: None), "returns None"),
    (
        checks.check_mlp_forward,
        _scratch_with(lambda m, X: _flat(m, X)),
        "returns shape (4, 16), expected (4, 10)",
    ),
    (checks.check_mlp_forward, _Scratch(784, 10, 4, 0.1), "Pass the class itself"),
    (checks.check_mlp_forward, type("Bad", (d2lmini.Classifier,), {}), "Creating the model raised TypeError"),
    (
        checks.check_build_mlp,
        lambda h: nn.Sequential(nn.LazyLinear(h), nn.ReLU(), nn.LazyLinear(10)),
        "start with nn.Flatten()",
    ),
    (
        checks.check_build_mlp,
        lambda h: nn.Sequential(nn.Flatten(), nn.LazyLinear(h), nn.LazyLinear(10)),
        "There is no nn.ReLU",
    ),
    (
        checks.check_build_mlp,
        lambda h: nn.Sequential(nn.Flatten(), nn.LazyLinear(h), nn.ReLU(), nn.LazyLinear(10), nn.Softmax(1)),
        "ends in a softmax",
    ),
    (
        checks.check_build_mlp,
        lambda h: nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)),
        "it has 203530 parameters, expected 25450",
    ),
    (
        checks.check_build_mlp,
        lambda h: nn.Sequential(nn.Flatten(), nn.Linear(748, h)),
        "mat1 and mat2 shapes",
    ),
    (checks.check_build_mlp, lambda h: [nn.Flatten()], "It returns a list; expected an nn.Module"),
]


@pytest.mark.parametrize("check", list(RIGHT), ids=lambda c: c.__name__)
def test_right_answer_passes(check: Callable[[Any], CheckResult]) -> None:
    result = check(RIGHT[check])
    assert result.passed, result.message
    assert result.status == "correct" and "correct" in repr(result) and bool(result)


@pytest.mark.parametrize("check", list(RIGHT), ids=lambda c: c.__name__)
def test_stub_is_not_attempted(check: Callable[[Any], CheckResult]) -> None:
    stub: Any = _scratch_with(_not_implemented) if check is checks.check_mlp_forward else _not_implemented
    result = check(stub)
    assert result.status == "not attempted" and not result.passed
    assert "not attempted yet" in result.message and "NotImplementedError" in result.message


@pytest.mark.parametrize(
    ("check", "answer", "phrase"), WRONG, ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(WRONG)]
)
def test_wrong_answer_gets_specific_feedback(
    check: Callable[[Any], CheckResult], answer: Any, phrase: str
) -> None:
    result = check(answer)
    assert result.status == "wrong" and not result.passed
    assert phrase in result.message
    assert result.message.startswith(f"✘ {result.task}: not yet.")
    assert check(answer).message == result.message  # deterministic, for nbval


ODD_ANSWERS = [None, 42, "relu", object(), lambda *a: float("nan"), lambda *a: object(), lambda *a: 1 / 0]


@pytest.mark.parametrize("check", list(RIGHT), ids=lambda c: c.__name__)
@pytest.mark.parametrize("answer", ODD_ANSWERS, ids=range(len(ODD_ANSWERS)))
def test_checker_never_raises(check: Callable[[Any], CheckResult], answer: Any) -> None:
    result = check(answer)
    assert isinstance(result, CheckResult) and result.status == "wrong"
    assert result.message.startswith("✘") and "\n" not in result.message


def test_exception_from_answer_is_reported() -> None:
    def broken(x: torch.Tensor) -> torch.Tensor:
        raise ValueError("oops\nsecond line")

    assert checks.check_relu(broken).message == "✘ relu: not yet. Calling it raised ValueError: oops"


def test_result_shows_its_message() -> None:
    result = CheckResult("relu", "correct", "✔ relu: correct.")
    assert repr(result) == str(result) == "✔ relu: correct."
