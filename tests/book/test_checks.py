"""The exercise checkers: right answers pass (also when they change their inputs in place), and each real
mistake gets a specific, true message."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
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


def _softmax_minus_min(X: torch.Tensor) -> torch.Tensor:
    """Subtracts each row's minimum, not its maximum: exp overflows on a row with a wide spread."""
    e = torch.exp(X - X.min(dim=1, keepdim=True).values)
    return e / e.sum(dim=1, keepdim=True)


def _cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -log_probs[torch.arange(len(y)), y].mean()


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _prelu_grad(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, alpha))


def _count_dead(layer: nn.Linear, X: torch.Tensor) -> int:
    return int((layer(X) <= 0).all(dim=0).sum())


def _grid(predict: Callable[..., torch.Tensor], resolution: int, extent: float, flat_order: str = "xy") -> Any:
    ticks = torch.linspace(-extent, extent, resolution)
    x2, x1 = torch.meshgrid(ticks, ticks, indexing="ij")
    points = torch.stack([x1.flatten(), x2.flatten()] if flat_order == "xy" else [x2.flatten(), x1.flatten()], 1)
    return predict(points).reshape(resolution, resolution)


def _relu_in_place(x: torch.Tensor) -> torch.Tensor:
    x[x < 0] = 0
    return x


def _mlp(h: int, activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.LazyLinear(h), activation(), nn.LazyLinear(10))


class _Scratch(d2lmini.Classifier):
    """The lab's model; each test attaches a different ``forward``."""

    def __init__(self, num_inputs: int, num_outputs: int, num_hiddens: int, lr: float, sigma: float = 0.01):
        super().__init__()
        self.save_hyperparameters(num_inputs=num_inputs, num_outputs=num_outputs, num_hiddens=num_hiddens, lr=lr)
        self.W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens) * sigma)
        self.b1 = nn.Parameter(torch.zeros(num_hiddens))
        self.W2 = nn.Parameter(torch.randn(num_hiddens, num_outputs) * sigma)
        self.b2 = nn.Parameter(torch.zeros(num_outputs))


def _scratch_with(forward: Callable[..., Any]) -> type:
    return type("MLPScratch", (_Scratch,), {"forward": forward})


def _flat(m: Any, X: torch.Tensor) -> torch.Tensor:
    return X.reshape(-1, 784) @ m.W1 + m.b1


def _scratch_forward(m: Any, X: torch.Tensor) -> torch.Tensor:
    return torch.relu(_flat(m, X)) @ m.W2 + m.b2


RIGHT: dict[Callable[..., CheckResult], Any] = {
    checks.check_relu: lambda x: x.clamp(min=0),
    checks.check_softmax: _softmax,
    checks.check_cross_entropy: _cross_entropy,
    checks.check_count_params: _count,
    checks.check_collapse: lambda W1, b1, W2, b2: (W1 @ W2, b1 @ W2 + b2),
    checks.check_tanh_grad: lambda x: 1 - torch.tanh(x) ** 2,
    checks.check_prelu_grad: _prelu_grad,
    checks.check_mlp_forward: _scratch_with(_scratch_forward),
    checks.check_build_mlp: _mlp,
    checks.check_count_dead: _count_dead,
    checks.check_decision_grid: _grid,
}

# What the exercise notebooks store for the right answers: these texts must not change (nbval compares them).
STORED = {
    checks.check_relu: "✔ relu: correct. It keeps positive inputs, zeroes the others, and keeps shape and dtype.",
    checks.check_tanh_grad: "✔ tanh_grad: correct. Your formula agrees with autograd at every test point.",
    checks.check_prelu_grad: "✔ prelu_grad: correct. Your derivative agrees with autograd for alpha = 0.25 and 0.1.",
    checks.check_count_params: "✔ count_params: correct. The 6-4-3-1 net has 47 parameters and the lab model 203,530.",
    checks.check_collapse: "✔ collapse: correct. W is W1 @ W2 and b is b1 @ W2 + b2, so X @ W + b equals the two "
    "stacked layers.",
    checks.check_build_mlp: "✔ build_mlp: correct. Flatten, 784 -> 32 -> ReLU -> 10 logits: the right shape and "
    "parameter count.",
    checks.check_mlp_forward: "✔ forward: correct. It flattens the images, applies W1, b1, ReLU, W2, b2 and returns "
    "logits.",
    checks.check_softmax: "✔ softmax: correct. Rows sum to 1, and large inputs give no NaN or inf.",
    checks.check_cross_entropy: "✔ cross_entropy: correct. It matches F.cross_entropy, including for large logits.",
    checks.check_decision_grid: "✔ decision_grid: correct. predict's values on every grid point, row i at x2 = "
    "ticks[i] and column j at x1 = ticks[j].",
    checks.check_count_dead: "✔ count_dead: correct. It counts the units that are off on every row, including one "
    "whose pre-activation is exactly 0.",
}


@pytest.mark.parametrize("check", list(RIGHT), ids=lambda c: c.__name__)
def test_right_answer_passes_with_the_stored_message(check: Callable[..., CheckResult]) -> None:
    result = check(RIGHT[check])
    assert result.passed and result.status == "correct" and bool(result)
    assert result.message == repr(result) == str(result) == STORED[check]


@pytest.mark.parametrize("check", list(RIGHT), ids=lambda c: c.__name__)
def test_stub_is_not_attempted(check: Callable[..., CheckResult]) -> None:
    stub: Any = _scratch_with(_not_implemented) if check is checks.check_mlp_forward else _not_implemented
    result = check(stub)
    assert result.status == "not attempted" and not result.passed
    assert "not attempted yet" in result.message and "NotImplementedError" in result.message


# ---------------------------------------------------------------------------
# Correct answers that change their inputs in place: correct, with a note, and no false hint


def _tanh_grad_in_place(x: torch.Tensor) -> torch.Tensor:
    return 1 - x.tanh_() ** 2


def _prelu_grad_filling(x: torch.Tensor, alpha: float) -> torch.Tensor:
    positive = x > 0
    x.fill_(alpha)
    x[positive] = 1
    return x


def _softmax_in_place(X: torch.Tensor) -> torch.Tensor:
    X -= X.max(dim=1, keepdim=True).values
    X.exp_()
    X /= X.sum(dim=1, keepdim=True)
    return X


def _collapse_adding_to_b2(W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor, b2: torch.Tensor) -> Any:
    b2 += b1 @ W2
    return W1 @ W2, b2


def _cross_entropy_in_place(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Works in training, where logits come out of a network (not a leaf tensor), so the check allows it too."""
    logits -= logits.max(dim=1, keepdim=True).values
    logits -= logits.exp().sum(dim=1, keepdim=True).log()
    return -logits[torch.arange(len(y)), y].mean()


IN_PLACE = [
    (checks.check_tanh_grad, _tanh_grad_in_place, "`x`"),
    (checks.check_prelu_grad, _prelu_grad_filling, "`x`"),
    (checks.check_softmax, _softmax_in_place, "`X`"),
    (checks.check_collapse, _collapse_adding_to_b2, "`b2`"),
    (checks.check_cross_entropy, _cross_entropy_in_place, "`logits`"),
]


@pytest.mark.parametrize(("check", "answer", "name"), IN_PLACE, ids=lambda v: getattr(v, "__name__", v))
def test_right_answer_that_changes_its_input_is_correct_with_a_note(
    check: Callable[..., CheckResult], answer: Any, name: str
) -> None:
    result = check(answer)
    verdict, note = result.message.split("\n")
    assert result.passed and verdict == STORED[check]
    assert note.startswith(f"Note: your function changed its argument {name} in place.")


def test_relu_that_changes_its_input_is_wrong_and_says_so() -> None:
    message = checks.check_relu(_relu_in_place).message
    assert message == (
        "✘ relu: not yet. The values are right but your function changed its input in place; "
        "build a new tensor instead (e.g. with torch.where or clamp)."
    )


def test_relu_that_changes_its_input_and_is_wrong_hears_about_the_values() -> None:
    def relu(x: torch.Tensor) -> torch.Tensor:
        x[x < 0] = -1
        return x

    message = checks.check_relu(relu).message
    assert "Off at input -3: expected 0, got -1" in message and "values are right" not in message


# ---------------------------------------------------------------------------
# Typical mistakes and their specific feedback

# (checker, wrong answer, a phrase the feedback must contain)
WRONG: list[tuple[Callable[..., CheckResult], Any, str]] = [
    (checks.check_relu, lambda x: x, "Off at input -3: expected 0, got -3"),
    (checks.check_relu, lambda x: max(x, 0), "raised RuntimeError: Boolean value of Tensor"),
    (checks.check_relu, lambda x: x > 0, "dtype torch.bool, expected torch.float64"),
    (checks.check_relu, lambda x: None, "returns None: did you forget the `return`"),
    (checks.check_relu, lambda x: x.numpy(), "value of type ndarray; expected a torch.Tensor"),
    (checks.check_relu, lambda x: x.clamp(min=0).reshape(-1), "returns shape (12,), expected (3, 4)"),
    (checks.check_relu, lambda x: x.clamp(min=0).to_sparse(), "layout torch.sparse_coo"),
    (checks.check_relu, lambda x: (x.clamp(min=0), x), "value of type tuple; expected a torch.Tensor"),
    (checks.check_relu, None, "You passed None: pass your function itself, as in `check_relu(relu)`"),
    (checks.check_relu, 3.0, "Expected a function, as in `check_relu(relu)`; got a value of type float"),
    (checks.check_relu, torch.zeros(3), "got a value of type Tensor"),
    (checks.check_relu, lambda x: nn.Module()(x), "raised NotImplementedError: Module [Module] is missing"),
    (checks.check_softmax, lambda X: torch.exp(X) / torch.exp(X).sum(1, keepdim=True), "NaN or inf for large"),
    (checks.check_softmax, lambda X: torch.exp(X) / torch.exp(X).sum(), "All entries together sum to 1"),
    (checks.check_softmax, lambda X: torch.exp(X) / torch.exp(X).sum(0), "you normalised over dim=0"),
    (checks.check_softmax, lambda X: _softmax(X).sum(1), "returns shape (3,), expected (3, 3)"),
    (
        checks.check_softmax,
        lambda X: torch.exp(X - X.max()) / torch.exp(X - X.max()).sum(1, keepdim=True),
        "Subtract each row's own maximum",
    ),
    (checks.check_cross_entropy, lambda z, y: -torch.log(_softmax(z)[range(len(y)), y]).mean(), "returns inf"),
    (
        checks.check_cross_entropy,
        lambda z, y: -torch.log(torch.softmax(z, 1)[range(len(y)), y]).mean(),
        "Compute log-softmax directly",
    ),
    (checks.check_cross_entropy, lambda z, y: F.cross_entropy(z, y, reduction="none"), "one loss per example"),
    (checks.check_cross_entropy, lambda z, y: _cross_entropy(z, y).item(), "returns a Python number"),
    (checks.check_cross_entropy, lambda z, y: 3 * _cross_entropy(z, y), "the sum over the batch"),
    (checks.check_cross_entropy, lambda z, y: _cross_entropy(z, y).detach(), "carries no gradient"),
    (
        checks.check_cross_entropy,
        lambda z, y: torch.tensor(_cross_entropy(z, y).item(), requires_grad=True),
        "The value is right but no gradient reaches the logits",
    ),
    (
        checks.check_cross_entropy,
        lambda z, y: _cross_entropy(z, y).detach() + 0 * z.sum(),
        "its gradient with respect to the logits is off",
    ),
    (checks.check_cross_entropy, lambda z, y: -torch.log(z[range(len(y)), y]).mean(), "not their log"),
    (checks.check_cross_entropy, lambda z, y: -z[range(len(y)), y].mean(), "the mean loss is 0.9817, got"),
    (checks.check_count_params, lambda m: len(list(m.parameters())), "number of parameter tensors"),
    (checks.check_count_params, lambda m: sum(p.numel() for p in m.parameters() if p.dim() > 1), "weights only"),
    (checks.check_count_params, lambda m: sum(p.numel() for p in m.parameters()), "includes frozen"),
    (checks.check_count_params, lambda m: torch.tensor(_count(m)), "return a Python int"),
    (checks.check_count_params, lambda m: float(_count(m)), "value of type float; expected an int"),
    (checks.check_count_params, lambda m: None, "returns None"),
    (checks.check_collapse, lambda W1, b1, W2, b2: (W1 @ W2, b2), "That is b2 alone"),
    (checks.check_collapse, lambda W1, b1, W2, b2: (W1 @ W2, b1 + b2), "That is b1 + b2"),
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
        checks.check_prelu_grad,
        lambda x, a: torch.where(x >= 0, torch.ones_like(x), torch.full_like(x, a)),
        "Right everywhere except at x = 0, where it returns 1; the task asks for alpha (0.25) there",
    ),
    (
        checks.check_mlp_forward,
        _scratch_with(lambda m, X: torch.relu(X @ m.W1 + m.b1) @ m.W2 + m.b2),
        "Did you flatten the images first",
    ),
    (
        checks.check_mlp_forward,
        _scratch_with(lambda m, X: torch.softmax(_scratch_forward(m, X), 1)),
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
        "It uses a sigmoid as the hidden nonlinearity; the exercise asks for ReLU.",
    ),
    (checks.check_mlp_forward, _scratch_with(lambda m, X: None), "returns None"),
    (checks.check_mlp_forward, _scratch_with(lambda m, X: _flat(m, X)), "returns shape (4, 16), expected (4, 10)"),
    (checks.check_mlp_forward, _Scratch(784, 10, 4, 0.1), "Pass the class itself"),
    (
        checks.check_mlp_forward,
        type("Bad", (d2lmini.Classifier,), {"forward": _scratch_forward}),
        "Creating the model raised TypeError",
    ),
    (
        checks.check_mlp_forward,
        type(
            "NoWeights",
            (d2lmini.Classifier,),
            {"__init__": lambda self, **kw: nn.Module.__init__(self), "forward": _scratch_forward},
        ),
        "The model has no tensor attribute W1, b1, W2, b2",
    ),
    (
        checks.check_build_mlp,
        lambda h: nn.Sequential(nn.LazyLinear(h), nn.ReLU(), nn.LazyLinear(10)),
        "start with nn.Flatten()",
    ),
    (
        checks.check_build_mlp,
        lambda h: nn.Sequential(nn.Flatten(), nn.LazyLinear(h), nn.LazyLinear(10)),
        "computes an affine function of the pixels",
    ),
    (checks.check_build_mlp, lambda h: nn.Sequential(_mlp(h), nn.Softmax(1)), "ends in a softmax"),
    (
        checks.check_build_mlp,
        lambda h: nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)),
        "With 32 hidden units it has 203530 parameters, expected 25450",
    ),
    (checks.check_build_mlp, lambda h: _mlp(32), "With 20 hidden units it has 25450 parameters, expected 15910"),
    (checks.check_build_mlp, lambda h: nn.Sequential(nn.Flatten(), nn.Linear(748, h)), "mat1 and mat2 shapes"),
    (checks.check_build_mlp, lambda h: [nn.Flatten()], "It returns a list; expected an nn.Module"),
    (checks.check_count_dead, lambda layer, X: int((layer(X) < 0).all(0).sum()), "exactly 0 on every row"),
    (checks.check_count_dead, lambda layer, X: int((layer(X) <= 0).any(0).sum()), "use .all(dim=0), not .any"),
    (checks.check_count_dead, lambda layer, X: int((layer(X) <= 0).all(1).sum()), "rows on which every unit"),
    (checks.check_count_dead, lambda layer, X: int((X @ layer.weight.T <= 0).all(0).sum()), "without the biases"),
    (checks.check_count_dead, lambda layer, X: int((layer(X) > 0).any(0).sum()), "the live ones, not the dead"),
    (checks.check_count_dead, lambda layer, X: (layer(X) <= 0).all(0).sum(), "return a Python int"),
    (checks.check_count_dead, lambda layer, X: (layer(X) <= 0).all(0).nonzero()[:, 0], "It returns 3 values"),
    (checks.check_count_dead, lambda layer, X: 3.0, "value of type float; expected an int"),
    (checks.check_count_dead, lambda layer, X: 3, "For a layer of 9 units on 7 rows it returns 3, expected 4."),
    (checks.check_count_dead, lambda layer: 0, "raised TypeError"),
    (checks.check_decision_grid, lambda p, r, e: _grid(p, r, e, "yx"), "it is transposed: row i must hold"),
    (checks.check_decision_grid, lambda p, r, e: _grid(p, r, e).flip(0), "it is upside down"),
    (checks.check_decision_grid, lambda p, r, e: _grid(p, r, e).flip(1), "mirrored left to right"),
    (checks.check_decision_grid, lambda p, r, e: torch.sigmoid(_grid(p, r, e)), "those are probabilities"),
    (checks.check_decision_grid, lambda p, r, e: _grid(p, r, e).flatten(), "returns shape (25,); return the"),
    (
        checks.check_decision_grid,
        lambda p, r, e: _grid(p, r, e * 0.9),  # ticks that stop short of the ends
        "off at row 0, column 0, the point x1 = -1, x2 = -1: predict gives 1.25 there, the grid holds 1.15.",
    ),
    (checks.check_decision_grid, lambda p, r, e: p(torch.zeros(2, r * r)), "shape (n, 2); it got (2, 25)"),
    (checks.check_decision_grid, lambda p, r, e: _grid(p, r, e).double(), "dtype torch.float64"),
    (
        checks.check_decision_grid,
        lambda p, r, e: _grid(p, r, e).double(),
        "expected torch.float32 (that of ticks, made by torch.linspace)",
    ),
    (checks.check_softmax, lambda X: torch.exp(X) / torch.exp(X).sum(1), "divided by the sum of row j, not of row i"),
    (
        checks.check_softmax,
        _softmax_minus_min,
        "It returns NaN or inf for large inputs such as [-500, 500, 0]: exp overflows",
    ),
    (
        checks.check_softmax,
        lambda X: torch.exp(X - X.max(1, keepdim=True).values) / torch.exp(X - X.max(1, keepdim=True).values).sum(1),
        ".sum(dim=1, keepdim=True)",
    ),
    (checks.check_relu, lambda x: torch.where(x > 0, x, x / 0 * 0), "It returns nan at input -3, where it should be 0"),
    (
        checks.check_cross_entropy,
        lambda z, y: -(z - z.max() - torch.exp(z - z.max()).sum(1, keepdim=True).log())[range(len(y)), y].mean(),
        "with m each row's own maximum",
    ),
    (checks.check_collapse, lambda W1, b1, W2, b2: (W1 @ W2, (b1 @ W2 + b2).double()), "b returns dtype torch.float64"),
    (checks.check_collapse, lambda W1, b1, W2, b2: (W1 @ W2, (b1 @ W2 + b2).long()), "its b returns dtype torch.int64"),
    (checks.check_collapse, lambda W1, b1, W2, b2: (W1 @ W2, b1 @ W2 + b2, 0), "It returns 3 values; return a pair"),
    (
        checks.check_mlp_forward,
        _scratch_with(lambda m, X: torch.log_softmax(_scratch_forward(m, X), 1)),
        "returns log-probabilities",
    ),
    (checks.check_mlp_forward, _scratch_with(lambda m, X: torch.relu(_flat(m, X)) @ m.W2), "The bias b2 is missing."),
    (
        checks.check_mlp_forward,
        _scratch_with(lambda m, X: torch.relu(X.reshape(-1, 784) @ m.W1) @ m.W2 + m.b2),
        "The bias b1 is missing.",
    ),
    (
        checks.check_mlp_forward,
        _scratch_with(lambda m, X: torch.relu(_scratch_forward(m, X))),
        "It applies a ReLU to the logits too",
    ),
    (
        checks.check_count_params,
        lambda m: np.int64(_count(m)),
        "It returns a NumPy int64 (47); return a Python int (int(...)).",
    ),
    (checks.check_count_params, lambda m: [_count(m)], "It returns 1 value; return their total, one int."),
    (checks.check_count_dead, lambda layer, X: np.int64(_count_dead(layer, X)), "It returns a NumPy int64 (3)"),
]


@pytest.mark.parametrize(
    ("check", "answer", "phrase"), WRONG, ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(WRONG)]
)
def test_wrong_answer_gets_specific_feedback(check: Callable[..., CheckResult], answer: Any, phrase: str) -> None:
    result = check(answer)
    assert result.status == "wrong" and not result.passed
    assert phrase in result.message
    assert result.message.startswith(f"✘ {result.task}: not yet.") and "\n" not in result.message
    assert check(answer).message == result.message  # deterministic, for nbval


ODD_ANSWERS = [None, 42, "relu", object(), lambda *a: float("nan"), lambda *a: object(), lambda *a: 1 / 0]


@pytest.mark.parametrize("check", list(RIGHT), ids=lambda c: c.__name__)
@pytest.mark.parametrize("answer", ODD_ANSWERS, ids=range(len(ODD_ANSWERS)))
def test_checker_never_raises(check: Callable[..., CheckResult], answer: Any) -> None:
    result = check(answer)
    assert isinstance(result, CheckResult) and result.status == "wrong"
    assert result.message.startswith("✘") and "\n" not in result.message


# ---------------------------------------------------------------------------
# The linear collapse, judged by the function a network computes


COLLAPSED = [
    (nn.Flatten, nn.LazyLinear, nn.LazyLinear, nn.ReLU),
    (nn.Flatten, nn.ReLU, nn.LazyLinear, nn.LazyLinear),
    (nn.Flatten, nn.LazyLinear, nn.Dropout, nn.LazyLinear),
    (nn.Flatten, nn.LazyLinear, nn.LazyLinear, nn.Tanh),
]


def _build(layers: tuple[type[nn.Module], ...]) -> Callable[[int], nn.Module]:
    def build(h: int) -> nn.Module:
        widths = iter((h, 10))
        return nn.Sequential(*(layer(next(widths)) if layer is nn.LazyLinear else layer() for layer in layers))

    return build


@pytest.mark.parametrize("layers", COLLAPSED, ids=lambda ls: "-".join(layer.__name__ for layer in ls))
def test_collapsed_network_is_wrong(layers: tuple[type[nn.Module], ...]) -> None:
    message = checks.check_build_mlp(_build(layers)).message
    if layers[-1] in (nn.ReLU, nn.Tanh):
        assert f"After its last layer with parameters, {layers[-1].__name__} changes the outputs" in message
    else:
        assert "computes an affine function of the pixels" in message
        assert "two linear layers collapse into one" in message


@pytest.mark.parametrize("activation", [nn.LeakyReLU, nn.Tanh, nn.GELU])
def test_other_nonlinear_mlp_is_correct(activation: type[nn.Module]) -> None:
    result = checks.check_build_mlp(lambda h: _mlp(h, activation))
    assert result.passed
    assert result.message == STORED[checks.check_build_mlp].replace("ReLU", activation.__name__)


class _OneModuleMLP(nn.Module):
    """An MLP written as one module with its own parameters (no nn.Linear, no nn.ReLU)."""

    def __init__(self, h: int) -> None:
        super().__init__()
        self.W1, self.b1 = nn.Parameter(torch.randn(784, h) * 0.05), nn.Parameter(torch.zeros(h))
        self.W2, self.b2 = nn.Parameter(torch.randn(h, 10) * 0.05), nn.Parameter(torch.zeros(10))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(X.flatten(1) @ self.W1 + self.b1 - 0.2) @ self.W2 + self.b2


def test_hand_written_mlp_module_is_correct() -> None:
    result = checks.check_build_mlp(_OneModuleMLP)
    assert result.passed and "784 -> 32 -> a nonlinearity -> 10 logits" in result.message


class _BiasOfItsOwn(nn.Module):
    """Linear layers as children, an output bias of its own, and the nonlinearity as a function call."""

    def __init__(self, h: int) -> None:
        super().__init__()
        self.hidden, self.out = nn.LazyLinear(h), nn.LazyLinear(10, bias=False)
        self.bias = nn.Parameter(torch.zeros(10))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(X.flatten(1)))) + self.bias


def test_nonlinearity_in_code_and_extra_parameter_are_judged_by_function() -> None:
    result = checks.check_build_mlp(_BiasOfItsOwn)
    assert result.passed and "784 -> 32 -> a nonlinearity -> 10 logits" in result.message


def test_network_with_zero_weights_is_told_so() -> None:
    def build_mlp(h: int) -> nn.Module:
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, h), nn.ReLU(), nn.Linear(h, 10))
        for p in net.parameters():
            nn.init.zeros_(p)
        return net

    message = checks.check_build_mlp(build_mlp).message
    assert "It gives the same logits for every image" in message and "collapse" not in message


def test_build_mlp_check_leaves_the_network_in_training_mode() -> None:
    net = _mlp(32)
    assert checks.check_build_mlp(lambda h: net if h == 32 else _mlp(h)).passed
    assert all(m.training for m in net.modules())


# ---------------------------------------------------------------------------
# Answers right only on their first call, and answers that return meta tensors


def _first_call_only(right: Callable[..., Any], wrong: Callable[..., Any]) -> Callable[..., Any]:
    calls: list[int] = []

    def answer(*args: Any) -> Any:
        calls.append(1)
        return (right if len(calls) == 1 else wrong)(*args)

    return answer


FIRST_CALL_ONLY = {
    checks.check_relu: lambda x: x,
    checks.check_tanh_grad: torch.tanh,
    checks.check_prelu_grad: lambda x, a: torch.where(x > 0, x, a * x),
    checks.check_softmax: lambda X: torch.exp(X) / torch.exp(X).sum(0),
    checks.check_cross_entropy: lambda z, y: 2 * _cross_entropy(z, y),
    checks.check_count_params: lambda m: 0,
    checks.check_collapse: lambda W1, b1, W2, b2: (W1 @ W2, b2),
    checks.check_build_mlp: _build(COLLAPSED[0]),
    checks.check_count_dead: lambda layer, X: int((layer(X) < 0).all(0).sum()),
    checks.check_decision_grid: lambda p, r, e: _grid(p, r, e).T,
}


@pytest.mark.parametrize("check", list(FIRST_CALL_ONLY), ids=lambda c: c.__name__)
def test_answer_right_only_on_its_first_call_is_wrong(check: Callable[..., CheckResult]) -> None:
    result = check(_first_call_only(RIGHT[check], FIRST_CALL_ONLY[check]))
    assert result.status == "wrong", result.message


def test_forward_right_only_on_its_first_call_is_wrong() -> None:
    forward = _first_call_only(_scratch_forward, lambda m, X: _flat(m, X) @ m.W2 + m.b2)
    result = checks.check_mlp_forward(_scratch_with(lambda m, X: forward(m, X)))
    assert result.status == "wrong" and "gives different logits for the same images on two calls" in result.message
    assert "state kept between calls" in result.message


def test_answer_that_replays_its_first_result_is_wrong() -> None:
    memo: list[torch.Tensor] = []

    def relu(x: torch.Tensor) -> torch.Tensor:
        memo.append(x.clamp(min=0))
        return memo[0]

    assert "returns shape (3, 4), expected (10,)" in checks.check_relu(relu).message


class _MetaOutput(nn.Module):
    def __init__(self, h: int) -> None:
        super().__init__()
        self.net = _mlp(h)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.net(X).to("meta")


META = {
    checks.check_relu: lambda x: torch.empty_like(x, device="meta"),
    checks.check_tanh_grad: lambda x: x.to("meta"),
    checks.check_prelu_grad: lambda x, a: torch.empty_like(x, device="meta"),
    checks.check_softmax: lambda X: torch.empty_like(X, device="meta"),
    checks.check_cross_entropy: lambda z, y: torch.empty((), device="meta"),
    checks.check_collapse: lambda W1, b1, W2, b2: ((W1 @ W2).to("meta"), b1 @ W2 + b2),
    checks.check_mlp_forward: _scratch_with(lambda m, X: _scratch_forward(m, X).to("meta")),
    checks.check_build_mlp: _MetaOutput,
}


@pytest.mark.parametrize("check", list(META), ids=lambda c: c.__name__)
def test_meta_tensor_gets_a_specific_message(check: Callable[..., CheckResult]) -> None:
    result = check(META[check])
    assert result.status == "wrong"
    assert "a tensor on the meta device, which has a shape but no values" in result.message


def test_collapse_with_a_meta_bias_is_wrong() -> None:
    result = checks.check_collapse(lambda W1, b1, W2, b2: (W1 @ W2, (b1 @ W2 + b2).to("meta")))
    assert result.status == "wrong" and "its b has shape (4,)" in result.message


# ---------------------------------------------------------------------------
# Exceptions name the reader's line


def test_exception_names_the_readers_line() -> None:
    def broken(x: torch.Tensor) -> torch.Tensor:
        raise ValueError("oops\nsecond line")

    line = inspect.getsourcelines(broken)[1] + 1
    assert checks.check_relu(broken).message == (
        "✘ relu: not yet. Calling it raised ValueError: oops "
        f'(line {line} of test_checks.py: `raise ValueError("oops\\nsecond line")`).'
    )


def test_library_error_names_the_readers_line_that_called_it() -> None:
    def relu(x: torch.Tensor) -> torch.Tensor:
        return torch.mm(x, x)

    line = inspect.getsourcelines(relu)[1] + 1
    message = checks.check_relu(relu).message
    assert "raised RuntimeError: mat1 and mat2 shapes cannot be multiplied (3x4 and 3x4)" in message
    assert message.endswith(f"(line {line} of test_checks.py: `return torch.mm(x, x)`).")
    assert "torch/" not in message and "Traceback" not in message


# ---------------------------------------------------------------------------
# The experiment of "Inside a trained MLP": GELU with PyTorch's default and with the chapter's gain


def test_count_dead_gives_no_hint_on_a_later_case() -> None:
    message = checks.check_count_dead(lambda layer, X: 3).message  # right on the first case by luck
    assert message.endswith("it returns 3, expected 4.")


def _count_dead_returning_early(layer: nn.Linear, X: torch.Tensor) -> int:
    dead = 0
    for z in layer(X).T:
        if (z <= 0).all():
            dead += 1
        return dead  # inside the loop: judges the first unit only
    return dead


# Each gives, on the first case, the count of one typical mistake (rows, without biases, live units, .any) by chance.
@pytest.mark.parametrize("answer", [*(lambda layer, X, k=k: k for k in (0, 1, 5, 7)), _count_dead_returning_early])
def test_count_dead_names_no_mistake_the_answer_did_not_make(answer: Callable[..., Any]) -> None:
    message = checks.check_count_dead(answer).message
    assert message.startswith("✘ count_dead: not yet. For a layer of ") and message.endswith(".")
    assert "That " not in message, message


def test_collapse_names_the_order_of_the_product_only_for_w2_w1() -> None:
    message = checks.check_collapse(lambda W1, b1, W2, b2: (2 * W1 @ W2, b1 @ W2 + b2)).message
    assert message == "✘ collapse: not yet. For d=4, h=4, q=4 its W is not W1 @ W2's equivalent."


def test_gelu_gain_check_wants_the_numbers_of_real_runs() -> None:
    untrained = checks.check_gelu_gain(lambda: {"default": 0.2, "gain": 0.8})
    assert "It trains no model with Trainer.fit" in untrained.message
    assert "missing: ['gain']" in checks.check_gelu_gain({"default": 0.2}).message
    assert "not plausible here" in checks.check_gelu_gain({"default": 20.0, "gain": 80.0}).message
    result = checks.check_gelu_gain({"default": 0.2, "gain": 0.8})
    assert result.passed and "the check could judge only these numbers" in result.message


# ---------------------------------------------------------------------------
# Answers from a review of plausible student answers: each was misjudged, or got a false or vague hint, before


def _softmax_for_three_rows(X: torch.Tensor) -> torch.Tensor:
    """Right only for batches of 3: both of the check's first inputs are 3 x 3."""
    e = torch.exp(X - X.max(1).values.reshape(3, 1))
    return e / e.sum(1).reshape(3, 1)


def _softmax_max_without_keepdim(X: torch.Tensor) -> torch.Tensor:
    e = torch.exp(X - X.max(dim=1).values)
    return e / e.sum(dim=1, keepdim=True)


def _softmax_transposed(X: torch.Tensor) -> torch.Tensor:
    e = torch.exp(X - X.max(dim=1, keepdim=True).values)
    return e.T / e.sum(dim=1)


def _tanh_grad_by_backward(x: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    torch.tanh(x).sum().backward()
    return x.grad


def _count_linear_layers_only(m: nn.Module) -> int:
    return sum((layer.in_features + 1) * layer.out_features for layer in m.modules() if isinstance(layer, nn.Linear)
               and layer.weight.requires_grad)


class _DetachingMLP(nn.Module):
    def __init__(self, h: int, how: str) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, h), nn.ReLU(), nn.Linear(h, 10))
        self.how = how
        if how == "frozen":
            self.net.requires_grad_(False)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        if self.how == "no_grad":
            with torch.no_grad():
                return self.net(X)
        if self.how == "first layer detached":
            return self.net[3](self.net[2](self.net[1](self.net[0](X)).detach()))
        return self.net(X)


def _grid_point_by_point(p: Callable[..., torch.Tensor], r: int, e: float) -> torch.Tensor:
    ticks = torch.linspace(-e, e, r)
    return torch.stack([torch.cat([p(torch.stack([x1, x2])[None]) for x1 in ticks]) for x2 in ticks])


REVIEWED_WRONG: list[tuple[Callable[..., CheckResult], Any, str]] = [
    (checks.check_softmax, _softmax_for_three_rows, "shape '[3, 1]' is invalid"),
    (checks.check_softmax, _softmax_max_without_keepdim, "Keep the dimension: X.max(dim=1, keepdim=True).values."),
    (checks.check_softmax, _softmax_transposed, "It returns the right probabilities, transposed"),
    (checks.check_softmax, lambda X: torch.softmax(X, dim=1), "it calls PyTorch's softmax"),
    (checks.check_softmax, lambda X: nn.Softmax(dim=1)(X), "which this exercise asks you not to use"),
    (checks.check_relu, torch.relu, "it calls PyTorch's ReLU"),
    (checks.check_relu, lambda x: F.relu(x), "it calls PyTorch's ReLU"),
    (checks.check_relu, lambda x: x.relu(), "it calls PyTorch's ReLU"),
    (checks.check_tanh_grad, _tanh_grad_by_backward, "it calls autograd"),
    (
        checks.check_tanh_grad,
        lambda x: torch.autograd.grad(torch.tanh(x.requires_grad_()).sum(), x)[0],
        "code the formula you derived",
    ),
    (checks.check_cross_entropy, F.cross_entropy, "it calls PyTorch's cross-entropy or log-softmax"),
    (checks.check_cross_entropy, lambda z, y: F.nll_loss(F.log_softmax(z, 1), y), "torch.logsumexp is allowed"),
    (checks.check_cross_entropy, lambda z, y: -_cross_entropy(z, y), "The sign is wrong"),
    (
        checks.check_cross_entropy,
        lambda z, y: -torch.log(torch.softmax(z, 1)[range(len(y)), y] + 1e-9).mean(),
        "clamped or with a small number added, gives far less",
    ),
    (
        checks.check_cross_entropy,
        lambda z, y: -torch.log(torch.softmax(z, 1).clamp(min=1e-12)[range(len(y)), y]).mean(),
        "without taking the log of a softmax.",
    ),
    (checks.check_prelu_grad, lambda x, a: torch.where(x > 0, 1.0, a), "or convert the result with .to(x.dtype)"),
    (checks.check_count_params, _count_linear_layers_only, "count every tensor that module.parameters() yields"),
    (checks.check_count_params, lambda m: d2lmini.count_parameters(m), "it calls d2lmini.count_parameters"),
    (
        checks.check_count_params,
        lambda m: _count(m) + sum(b.numel() for b in m.buffers()),
        "That includes its buffers, which are not parameters",
    ),
    (checks.check_collapse, lambda W1, b1, W2, b2: (W1 @ W2, b1 @ W2), "That is b1 @ W2 alone"),
    (checks.check_collapse, lambda W1, b1, W2, b2: ((W1 @ W2).T, b1 @ W2 + b2), "That is (W1 @ W2).T"),
    (
        checks.check_mlp_forward,
        _scratch_with(lambda m, X: _scratch_forward(m, X).detach()),
        "The logits are right but carry no gradient",
    ),
    (
        checks.check_mlp_forward,
        _scratch_with(lambda m, X: torch.relu(X.reshape(-1, 784) @ m.W1.detach() + m.b1) @ m.W2 + m.b2),
        "no gradient reaches self.W1",
    ),
    (
        checks.check_mlp_forward,
        _scratch_with(lambda m, X: torch.relu(X.reshape(-1, 784) @ m.W1.T + m.b1) @ m.W2 + m.b2),
        "The images are flattened already (one row per image); look at the other factor",
    ),
    (checks.check_build_mlp, lambda h: _DetachingMLP(h, "no_grad"), "Its logits carry no gradient"),
    (checks.check_build_mlp, lambda h: _DetachingMLP(h, "frozen"), "do not require gradients"),
    (
        checks.check_build_mlp,
        lambda h: _DetachingMLP(h, "first layer detached"),
        "No gradient reaches its parameters net.1.weight, net.1.bias",
    ),
    (
        checks.check_build_mlp,
        lambda h: nn.Sequential(nn.Linear(784, h), nn.ReLU(), nn.Linear(h, 10)),
        "Each image must become one row of 784 numbers before the first linear layer",
    ),
    (
        checks.check_build_mlp,
        lambda h: nn.Sequential(nn.Flatten(), nn.Linear(784, h), nn.ReLU(), nn.Linear(256, 10)),
        "A layer receives 32 numbers per image but expects 256",
    ),
    (
        checks.check_build_mlp,
        lambda h: nn.ModuleList([nn.Flatten(), nn.LazyLinear(h), nn.ReLU(), nn.LazyLinear(10)]),
        "use nn.Sequential, which runs its layers in order",
    ),
    (
        checks.check_build_mlp,
        lambda h: nn.Sequential(nn.Flatten(), nn.LazyLinear(h), nn.ReLU, nn.LazyLinear(10)),
        "Create each layer with parentheses, as in nn.ReLU()",
    ),
    (
        checks.check_count_dead,
        lambda layer, X: int((X @ layer.weight + layer.bias <= 0).all(0).sum()),
        "use X @ layer.weight.T + layer.bias, or simply layer(X)",
    ),
    (checks.check_decision_grid, _grid_point_by_point, "returns the right grid, but calls predict 25 times"),
    (
        checks.check_decision_grid,
        lambda p, r, e: (_grid(p, r, e) > 0).float(),
        "returns class labels, 1 where predict is positive",
    ),
    (checks.check_decision_grid, lambda p, r, e: _grid(p, r, e).flip(0).flip(1), "it is turned by half a turn"),
    (
        checks.check_decision_grid,
        lambda p, r, e: torch.rot90(_grid(p, r, e)),
        "holds predict's values on the grid points, but not in their places",
    ),
]


@pytest.mark.parametrize(
    ("check", "answer", "phrase"),
    REVIEWED_WRONG,
    ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(REVIEWED_WRONG)],
)
def test_reviewed_wrong_answer_gets_a_true_specific_verdict(
    check: Callable[..., CheckResult], answer: Any, phrase: str
) -> None:
    result = check(answer)
    assert result.status == "wrong" and phrase in result.message, result.message
    assert check(answer).message == result.message


def test_hints_name_no_mistake_the_answer_did_not_make() -> None:
    # The images are flattened: no "Did you flatten" for a transposed weight.
    forward = _scratch_with(lambda m, X: torch.relu(X.reshape(-1, 784) @ m.W1.T + m.b1) @ m.W2 + m.b2)
    assert "Did you flatten" not in checks.check_mlp_forward(forward).message
    # Transposed probabilities: each row does sum to 1, it was not normalised over dim=0.
    assert "dim=0" not in checks.check_softmax(_softmax_transposed).message
    # Dividing by the number of classes, not the batch: right on the first batch (3 x 3), no word about underflow.
    message = checks.check_cross_entropy(lambda z, y: _cross_entropy(z, y) * len(y) / z.shape[1]).message
    assert "the mean loss is 101.2, got 67.47." in message and "exp(-200)" not in message
    # Thresholded labels are no "right values".
    assert "right values" not in checks.check_decision_grid(lambda p, r, e: (_grid(p, r, e) > 0).float()).message


def _tanh_grad_finite_differences(x: torch.Tensor) -> torch.Tensor:
    return (torch.tanh(x + 1e-6) - torch.tanh(x - 1e-6)) / 2e-6


REVIEWED_RIGHT: list[tuple[Callable[..., CheckResult], Any]] = [
    (checks.check_relu, lambda x: torch.where(x > 0, x, 0.0)),
    (checks.check_relu, lambda x: torch.from_numpy(np.maximum(x.numpy(), 0))),
    (checks.check_tanh_grad, lambda x: 4 * torch.sigmoid(2 * x) * (1 - torch.sigmoid(2 * x))),
    (checks.check_softmax, lambda X: torch.exp(X - torch.logsumexp(X, dim=1, keepdim=True))),
    (checks.check_softmax, lambda X: torch.stack([torch.exp(r - r.max()) / torch.exp(r - r.max()).sum() for r in X])),
    (checks.check_cross_entropy, lambda z, y: F.nll_loss(z - torch.logsumexp(z, 1, keepdim=True), y)),
    (checks.check_cross_entropy, lambda z, y: (torch.logsumexp(z, 1) - z.gather(1, y[:, None]).squeeze(1)).mean()),
    (checks.check_count_params, lambda m: sum(p.numel() for _, p in m.named_parameters() if p.requires_grad)),
    (checks.check_collapse, lambda W1, b1, W2, b2: [torch.mm(W1, W2), (b1 @ W2 + b2)[None]]),
    (
        checks.check_mlp_forward,
        _scratch_with(lambda m, X: F.linear(F.relu(F.linear(X.flatten(1), m.W1.T, m.b1)), m.W2.T, m.b2)),
    ),
    (checks.check_build_mlp, lambda h: nn.Sequential(nn.Flatten(), nn.Linear(784, h), nn.ReLU(inplace=True),
                                                   nn.Linear(h, 10))),
    (checks.check_count_dead, lambda layer, X: int((layer(X).amax(dim=0) <= 0).sum())),
    (checks.check_decision_grid, lambda p, r, e: _grid(p, r, e, "yx").T),
]


@pytest.mark.parametrize(("check", "answer"), REVIEWED_RIGHT, ids=lambda v: getattr(v, "__name__", ""))
def test_reviewed_right_answer_is_correct(check: Callable[..., CheckResult], answer: Any) -> None:
    result = check(answer)
    assert result.passed and result.message == STORED[check], result.message


def test_a_finite_difference_is_no_derived_formula() -> None:
    message = checks.check_tanh_grad(_tanh_grad_finite_differences).message
    assert message.startswith("✘ tanh_grad: not yet. Off at input -4: expected 0.001341, got 0.001341")
    assert "far more than rounding" in message and "a finite difference" in message
