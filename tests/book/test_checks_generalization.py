"""The checkers of the generalization exercises: right answers of several kinds pass with the stored message, and
each real mistake gets a specific, true message."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from d2lmini.book.checks_generalization import (
    WEIGHT_DECAYS,
    check_choose_weight_decay,
    check_dropout,
    check_weight_decay,
)
from d2lmini.history import History

# What the exercise notebook stores for the right answers: these texts must not change (nbval compares them).
STORED = {
    check_dropout: "✔ dropout: correct. It drops each element with probability p, divides the survivors by 1 - p (the "
    "expected value is kept), draws a new mask for every element and every call, and returns X unchanged in "
    "evaluation.",
    check_weight_decay: "✔ weight_decay: correct. It adds λ·W to the gradient of every weight matrix, whatever its "
    "name, and leaves the biases, the frozen parameters and the weights themselves alone.",
    check_choose_weight_decay: "✔ choose_weight_decay: correct. A fresh model for each weight decay, the same number "
    "of epochs for each, the decay visibly shrinking the weights, and the choice made on the final validation "
    "accuracy.",
}


def _not_implemented(*args: Any) -> Any:
    raise NotImplementedError


@pytest.mark.parametrize("check", list(STORED), ids=lambda c: c.__name__)
def test_stub_is_not_attempted(check: Callable[..., Any]) -> None:
    result = check(_not_implemented)
    assert result.status == "not attempted" and "not attempted yet" in result.message


# ---------------------------------------------------------------------------
# Dropout: right answers


def _dropout(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training or p == 0:
        return X
    if p == 1:
        return torch.zeros_like(X)
    return X * (torch.rand_like(X) >= p) / (1 - p)


def _dropout_bernoulli(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training:
        return X.clone()
    if p == 1:
        return torch.zeros_like(X)
    return X * torch.bernoulli(torch.full_like(X, 1 - p)) / (1 - p)


def _dropout_where(X: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    if training and p == 1:
        return torch.zeros_like(X)
    if training:
        return torch.where(torch.rand_like(X) > p, X / (1 - p), torch.zeros_like(X))
    return X


def _dropout_indexing(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Copies X, then zeroes the dropped elements of the copy: no change to X itself."""
    if not training:
        return X
    out = X.clone()
    out[torch.empty_like(X).uniform_() < p] = 0
    return out if p == 1 else out / (1 - p)


def _dropout_mask_moved(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Makes the mask on the CPU, then moves it where X is: slower on a GPU, but right."""
    if not training or p == 0:
        return X
    if p == 1:
        return torch.zeros_like(X)
    return X * (torch.rand(X.shape) >= p).to(X.device) / (1 - p)


@pytest.mark.parametrize(
    "answer", [_dropout, _dropout_bernoulli, _dropout_where, _dropout_indexing, _dropout_mask_moved],
    ids=lambda f: f.__name__,
)  # fmt: skip
def test_right_dropout_passes_with_the_stored_message(answer: Callable[..., Any]) -> None:
    result = check_dropout(answer)
    assert result.passed and result.message == STORED[check_dropout]


def test_the_dropout_check_keeps_the_random_state_and_is_deterministic() -> None:
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first, second = check_dropout(_dropout), check_dropout(_unscaled)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert first.message == check_dropout(_dropout).message and second.message == check_dropout(_unscaled).message


# ---------------------------------------------------------------------------
# Dropout: real mistakes


def _unscaled(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    return X * (torch.rand_like(X) >= p) if training else X


def _original_dropout(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Srivastava et al.'s first form: no scaling in training, multiply by 1 - p at test time."""
    return X * (torch.rand_like(X) >= p) if training else X * (1 - p)


def _scaled_in_eval_too(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if training:
        return _dropout(X, p, training)
    return X / (1 - p)


def _keep_probability(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """p taken as the probability of keeping (and the scale made to match, so the mean is right)."""
    if not training:
        return X
    return X * (torch.rand_like(X) < p) / p


def _keep_probability_scaled_by_one_minus_p(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training or p == 1:
        return X if not training else torch.zeros_like(X)
    return X * (torch.rand_like(X) < p) / (1 - p)


def _one_mask_per_batch(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training or p == 0:
        return X
    if p == 1:
        return torch.zeros_like(X)
    return X * (torch.rand(X.shape[1:], device=X.device) >= p) / (1 - p)


def _one_mask_per_row(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training or p == 0:
        return X
    if p == 1:
        return torch.zeros_like(X)
    return X * (torch.rand(len(X), 1, device=X.device) >= p) / (1 - p)


def _ignores_training(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    return _dropout(X, p, True)


def _training_flag_inverted(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    return _dropout(X, p, not training)


def _divides_by_p(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training or p == 0:
        return X
    return X * (torch.rand_like(X) >= p) / p


def _multiplies_by_keep(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    return X * (torch.rand_like(X) >= p) * (1 - p) if training else X


def _nan_at_one(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    return X * (torch.rand_like(X) >= p) / (1 - p) if training else X


def _python_scale(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training:
        return X
    scale = 1 / (1 - p)
    return X * (torch.rand_like(X) >= p) * scale


def _seeded_inside(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    torch.manual_seed(42)
    return _dropout(X, p, training)


def _mask_on_cpu(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training or p == 0:
        return X
    if p == 1:
        return torch.zeros_like(X)
    return X * (torch.rand(X.shape) >= p) / (1 - p)


def _bernoulli_on_cpu(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training or p == 1:
        return X if not training else torch.zeros_like(X)
    return X * torch.bernoulli(torch.full(X.shape, 1 - p)) / (1 - p)


def _in_place(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training or p == 0:
        return X
    if p == 1:
        return X.zero_()
    X[torch.rand_like(X) < p] = 0
    X /= 1 - p
    return X


def _detached(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    return _dropout(X.detach(), p, training)


def _under_no_grad(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    with torch.no_grad():
        return _dropout(X, p, training)


def _normal_mask(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training or p == 0:
        return X
    if p == 1:
        return torch.zeros_like(X)
    return X * (torch.randn_like(X) >= p) / (1 - p)


def _calls_f_dropout(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    return F.dropout(X, p, training)


def _uses_nn_dropout(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    layer = nn.Dropout(p)
    layer.train(training)
    return layer(X)


def _returns_the_mask(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    return (torch.rand_like(X) >= p).to(X.dtype) if training else X


def _returns_pair(X: torch.Tensor, p: float, training: bool) -> Any:
    mask = torch.rand_like(X) >= p
    return (X * mask / (1 - p), mask) if training else (X, None)


def _numpy(X: torch.Tensor, p: float, training: bool) -> Any:
    values = X.detach().numpy()
    return values * (np.random.rand(*values.shape) >= p) / (1 - p) if training else values


def _float32_result(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    return _dropout(X.float(), p, training)


def _two_arguments(X: torch.Tensor, p: float) -> torch.Tensor:
    return X * (torch.rand_like(X) >= p) / (1 - p)


def _forgot_return_in_eval(X: torch.Tensor, p: float, training: bool) -> Any:
    if training:
        return _dropout(X, p, training)
    return None


DROPOUT_MISTAKES = [
    (_unscaled, "multiplies the survivors by 1. The survivors keep their values: divide them by 1 - p = 0.8"),
    (_original_dropout, "With training=False it multiplies X by 1 - p = 0.5. That is the original dropout's rule"),
    (_scaled_in_eval_too, "With training=False it divides X by 1 - p = 0.5; in evaluation nothing is dropped"),
    (_keep_probability, "of the elements, about 1 - p: it treats p as the probability of keeping"),
    (_keep_probability_scaled_by_one_minus_p, "it treats p as the probability of keeping an element"),
    (_one_mask_per_batch, "drops the same elements in every row: one mask shared by the whole batch"),
    (_one_mask_per_row, "drops whole rows (examples) at once"),
    (_ignores_training, "With training=False it sets some elements to 0: in evaluation (model.eval())"),
    (_training_flag_inverted, "the `training` flag is read the wrong way round"),
    (_divides_by_p, "It divides the survivors by p = 0.2. They are the elements kept, with probability 1 - p"),
    (_multiplies_by_keep, "It multiplies the survivors by 1 - p = 0.8; divide them by it instead."),
    (_nan_at_one, "With p = 1 it returns nan: dividing by 1 - p = 0"),
    (_python_scale, "raised ZeroDivisionError: float division by zero"),
    (_seeded_inside, "It drops exactly the same elements on two calls (the first and the third, both with p = 0.2): "
     "the mask is not drawn anew. Does it seed a generator (torch.manual_seed) inside"),
    (_mask_on_cpu, "It makes a tensor on the CPU whatever X's device (with torch.rand)"),
    (_bernoulli_on_cpu, "It makes a tensor on the CPU whatever X's device (with torch.full)"),
    (_in_place, "It changes X in place (with p = 0.5, training=True)"),
    (_detached, "Its output carries no gradient back to X"),
    (_under_no_grad, "Its output carries no gradient back to X"),
    (_normal_mask, "That is the share of a standard normal law below p: the mask needs torch.rand"),
    (_calls_f_dropout, "it calls PyTorch's dropout (F.dropout, nn.Dropout or torch.dropout)"),
    (_uses_nn_dropout, "it calls PyTorch's dropout (F.dropout, nn.Dropout or torch.dropout)"),
    (_returns_the_mask, "multiplies the survivors by different factors"),
    (_returns_pair, "It returns a tuple of 2 values; return only the output tensor."),
    (_numpy, "returns a value of type ndarray; expected a torch.Tensor"),
    (_float32_result, "returns dtype torch.float32, expected torch.float64"),
    (_two_arguments, "dropout must take three arguments, dropout(X, p, training); yours takes (X, p)."),
    (_forgot_return_in_eval, "With p = 0.5 and training=False it returns None"),
]  # fmt: skip


@pytest.mark.parametrize(("answer", "words"), DROPOUT_MISTAKES, ids=lambda v: getattr(v, "__name__", ""))
def test_each_dropout_mistake_gets_its_message(answer: Callable[..., Any], words: str) -> None:
    result = check_dropout(answer)
    assert result.status == "wrong" and result.message.startswith("✘ dropout: not yet. ")
    assert words in result.message, result.message


# ---------------------------------------------------------------------------
# Weight decay: right answers


def _decay(model: nn.Module, weight_decay: float) -> None:
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1 and p.grad is not None:
                p.grad += weight_decay * p


def _decay_add_(model: nn.Module, weight_decay: float) -> None:
    for _, p in model.named_parameters():
        if p.grad is not None and p.ndim >= 2:
            p.grad.add_(p.detach(), alpha=weight_decay)


def _decay_new_tensor(model: nn.Module, weight_decay: float) -> nn.Module:
    """Replaces each gradient with a new tensor (and returns the model, which the check ignores)."""
    for p in model.parameters():
        if p.grad is not None and len(p.shape) > 1:
            p.grad = p.grad + weight_decay * p.detach()
    return model


@pytest.mark.parametrize("answer", [_decay, _decay_add_, _decay_new_tensor], ids=lambda f: f.__name__)
def test_right_weight_decay_passes_with_the_stored_message(answer: Callable[..., Any]) -> None:
    result = check_weight_decay(answer)
    assert result.passed and result.message == STORED[check_weight_decay]


def test_weight_decay_with_gradients_on_passes_with_a_note() -> None:
    def decay_with_graph(model: nn.Module, weight_decay: float) -> None:
        for p in model.parameters():
            if p.dim() > 1 and p.grad is not None:
                p.grad += weight_decay * p  # p requires grad: the new gradient carries a graph

    result = check_weight_decay(decay_with_graph)
    assert result.passed and result.message.startswith(STORED[check_weight_decay] + " Note: the gradients it makes")
    assert "torch.no_grad()" in result.message


# ---------------------------------------------------------------------------
# Weight decay: real mistakes


def _each_weight(update: Callable[[str, nn.Parameter, float], Any], biases: bool = False) -> Callable[..., None]:
    """An answer that applies ``update(name, p, weight_decay)`` to every weight matrix (and bias) with a gradient."""

    def answer(model: nn.Module, weight_decay: float) -> None:
        with torch.no_grad():
            for name, p in model.named_parameters():
                if p.grad is not None and (biases or p.dim() > 1):
                    update(name, p, weight_decay)

    return answer


def _local_name_only(model: nn.Module, weight_decay: float) -> None:
    for p in model.parameters():
        g = p.grad
        if g is not None and p.dim() > 1:
            g = g + weight_decay * p  # the mistake: this rebinds g, p.grad is unchanged


def _crashes_on_frozen(model: nn.Module, weight_decay: float) -> None:
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.grad += weight_decay * p


def _first_layer_only(model: nn.Module, weight_decay: float) -> None:
    with torch.no_grad():
        W = next(model.parameters())
        W.grad += weight_decay * W


def _gives_frozen_a_gradient(model: nn.Module, weight_decay: float) -> None:
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.grad = (0 if p.grad is None else p.grad) + weight_decay * p


def _steps_itself(model: nn.Module, weight_decay: float) -> None:
    torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=weight_decay).step()


def _sets_none(model: nn.Module, weight_decay: float) -> None:
    for p in model.parameters():
        if p.dim() > 1:
            p.grad = None


def _touches_bias_gradient(model: nn.Module, weight_decay: float) -> None:
    _decay(model, weight_decay)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 1 and p.grad is not None:
                p.grad += weight_decay


WEIGHT_DECAY_MISTAKES = [
    (_each_weight(lambda n, p, lam: p.grad.add_(2 * lam * p)), "gets 0.2·W added with weight_decay = 0.1, twice too"),
    (_each_weight(lambda n, p, lam: p.grad.add_(lam / 2 * p)), "gets 0.05·W added with weight_decay = 0.1, half of it"),
    (_each_weight(lambda n, p, lam: p.grad.sub_(lam * p)), "with the wrong sign: the penalty's gradient is +λ·W"),
    (_each_weight(lambda n, p, lam: p.grad.add_(lam * p), biases=True), "it decays the bias 0.bias too"),
    (_each_weight(lambda n, p, lam: p.grad.copy_(lam * p)), "is replaced by 0.1·W: add λ·W to the gradient already"),
    (_each_weight(lambda n, p, lam: p.grad.add_(lam * p) if "weight" in n else None, biases=True),
     "calls its weight matrices W1 and W2: pick them by shape, p.dim() > 1"),
    (_each_weight(lambda n, p, lam: p.grad.add_(1e-2 * p)), "gets 0.01·W added, but weight_decay = 0.1"),
    (_each_weight(lambda n, p, lam: p.grad.add_(1e-4 * p)), "gets 0.0001·W added, but weight_decay = 0.1"),
    (_each_weight(lambda n, p, lam: p.grad.mul_(1 - lam)), "is multiplied by 0.9: weight decay adds λ·W"),
    (_each_weight(lambda n, p, lam: p.grad.add_(lam * p.grad)), "is multiplied by 1.1"),
    (_each_weight(lambda n, p, lam: p.grad.add_(lam * p * p)), "gets λ·W² added"),
    (_each_weight(lambda n, p, lam: p.mul_(1 - lam)), "it changes the weights themselves (0.weight, 2.weight)"),
    (_steps_itself, "it changes the weights themselves"),
    (_local_name_only, "it leaves every gradient unchanged. Assigning to a name (g = p.grad"),
    (_crashes_on_frozen, "the frozen parameters have no gradient (p.grad is None): skip them"),
    (_first_layer_only, "it leaves the gradient of 2.weight unchanged; every weight matrix is decayed"),
    (_gives_frozen_a_gradient, "it gives a gradient to 0.weight, which is frozen"),
    (_sets_none, "it sets the gradient of 0.weight to None"),
    (_touches_bias_gradient, "it changes the gradient of the bias 0.bias"),
]  # fmt: skip


@pytest.mark.parametrize(("answer", "words"), WEIGHT_DECAY_MISTAKES, ids=[w[:40] for _, w in WEIGHT_DECAY_MISTAKES])
def test_each_weight_decay_mistake_gets_its_message(answer: Callable[..., Any], words: str) -> None:
    result = check_weight_decay(answer)
    assert result.status == "wrong" and result.message.startswith("✘ weight_decay: not yet. ")
    assert words in result.message, result.message


# ---------------------------------------------------------------------------
# Choosing the weight decay: plausible results and the protocol

FINAL_VAL = {0.0: 0.800, 1e-3: 0.812, 1e-2: 0.806, 1e-1: 0.720}
NORMS = {0.0: 17.0, 1e-3: 14.7, 1e-2: 7.2, 1e-1: 3.1}


def _history(final_val: float, first_val: float = 0.62, epochs: int = 5, **final: float) -> History:
    """A History whose validation accuracy climbs from first_val to final_val; `final` overrides last-epoch metrics."""
    records = []
    for epoch in range(1, epochs + 1):
        t = (epoch - 1) / max(epochs - 1, 1)
        val = first_val + t * (final_val - first_val)
        records.append({"epoch": float(epoch), "train_loss": 1.0 - 0.8 * t, "train_acc": 0.6 + 0.35 * t,
                        "val_loss": 1.0 - 0.4 * t, "val_acc": val, "seconds": 0.1})  # fmt: skip
    records[-1].update(final)
    return History(records=records)


def _model(norm: float) -> nn.Module:
    model = nn.Linear(4, 3)
    with torch.no_grad():
        model.weight.fill_(norm / math.sqrt(12))
    return model


def _results(**changes: Any) -> dict[str, Any]:
    results: dict[str, Any] = {
        "histories": {decay: _history(FINAL_VAL[decay]) for decay in WEIGHT_DECAYS},
        "models": {decay: _model(NORMS[decay]) for decay in WEIGHT_DECAYS},
        "chosen": 1e-3,
    }
    results.update(changes)
    return results


def test_plausible_results_pass_and_are_kept() -> None:
    results = _results()
    result = check_choose_weight_decay(results)
    assert result.passed and result.message == STORED[check_choose_weight_decay]
    assert check_choose_weight_decay.results is results


def test_the_function_is_run_once_and_its_results_kept() -> None:
    calls = []

    def experiment() -> dict[str, Any]:
        calls.append(1)
        return _results()

    assert check_choose_weight_decay(experiment).passed and len(calls) == 1
    assert set(check_choose_weight_decay.results) == {"histories", "models", "chosen"}
    check_choose_weight_decay(None)
    assert check_choose_weight_decay.results is None


def test_a_tie_may_be_broken_either_way() -> None:
    histories = {decay: _history(0.81 if decay in (1e-3, 1e-2) else 0.7) for decay in WEIGHT_DECAYS}
    for chosen in (1e-3, 1e-2):
        assert check_choose_weight_decay(_results(histories=histories, chosen=chosen)).passed


def _with(decay: float, history: History) -> dict[float, History]:
    histories = {d: _history(FINAL_VAL[d]) for d in WEIGHT_DECAYS}
    histories[decay] = history
    return histories


def _by_training_accuracy() -> dict[str, Any]:
    histories = _with(0.0, _history(FINAL_VAL[0.0], train_acc=0.99))
    return _results(histories=histories, chosen=0.0)


def _by_validation_loss() -> dict[str, Any]:
    return _results(histories=_with(1e-2, _history(FINAL_VAL[1e-2], val_loss=0.3)), chosen=1e-2)


def _by_best_epoch() -> dict[str, Any]:
    spiky = _history(FINAL_VAL[1e-2])
    spiky.records[2]["val_acc"] = 0.85
    return _results(histories=_with(1e-2, spiky), chosen=1e-2)


def _warm_started() -> dict[str, Any]:
    histories = {d: _history(FINAL_VAL[d], first_val=0.62 if d == 0.0 else 0.80) for d in WEIGHT_DECAYS}
    return _results(histories=histories)


def _same_model() -> dict[str, Any]:
    model = _model(10.0)
    return _results(models=dict.fromkeys(WEIGHT_DECAYS, model))


def _shared_parameters() -> dict[str, Any]:
    models = {decay: _model(NORMS[decay]) for decay in WEIGHT_DECAYS}
    models[1e-3].weight = models[0.0].weight
    return _results(models=models)


def _decay_never_applied() -> dict[str, Any]:
    return _results(models={decay: _model(17.0) for decay in WEIGHT_DECAYS})


def _different_epochs() -> dict[str, Any]:
    return _results(histories=_with(1e-1, _history(FINAL_VAL[1e-1], epochs=3)))


EXPERIMENT_MISTAKES = [
    (_by_training_accuracy(), "results['chosen'] is 0, but 0.001 has the highest final validation accuracy (0.8120); "
     "0 is what choosing by the highest training accuracy gives"),
    (_by_validation_loss(), "is what choosing by the lowest validation loss gives"),
    (_by_best_epoch(), "is what choosing by the best epoch's validation accuracy (not the final model's) gives"),
    (_results(chosen=0.1), "0.1 is what choosing by the lowest validation accuracy (min instead of max?) gives"),
    (_results(chosen=1), "results['chosen'] is 1, not one of the weight decays [0.0, 0.001, 0.01, 0.1] (a position"),
    (_results(chosen="0.001"), "results['chosen'] is a str; it should be the chosen weight decay"),
    (_warm_started(), "The run with weight decay 0.001 starts where an earlier run ended (validation accuracy "
     "0.800 after its first epoch, against 0.620 for 0)"),
    (_same_model(), "holds the same model for several weight decays"),
    (_shared_parameters(), "Some models share their parameter tensors"),
    (_decay_never_applied(), "the weight decay did not reach the optimizer"),
    (_different_epochs(), "The runs lasted different numbers of epochs ([3, 5])"),
    (_results(histories={d: _history(FINAL_VAL[d], epochs=1) for d in WEIGHT_DECAYS}),
     "Each run lasted a single epoch"),
    (_results(histories={d: _history(FINAL_VAL[d]) for d in WEIGHT_DECAYS[:3]}),
     "In results['histories']: It should have exactly the keys [0.0, 0.001, 0.01, 0.1]; missing: [0.1]"),
    (_results(histories={str(d): _history(FINAL_VAL[d]) for d in WEIGHT_DECAYS}),
     "The keys are numbers, not text"),
    (_results(histories={d: _history(100 * FINAL_VAL[d]) for d in WEIGHT_DECAYS}),
     "a fraction, not a percentage?"),
    (_results(histories=dict(FINAL_VAL)), "In results['histories']: results['histories'][0.0] is a float"),
    (_results(histories={d: _history(FINAL_VAL[d]).final for d in WEIGHT_DECAYS}),
     "results['histories'][0.0] is a dict: keep the whole History that Trainer.fit returns"),
    (_results(models=[_model(n) for n in NORMS.values()]), "results['models'] should be a dict from each weight decay"),
    ({"histories": {}, "chosen": 0.0}, "Return a dict with the keys 'histories', 'models' and 'chosen'"),
    ([0.8, 0.81], "Return a dict with the keys 'histories', 'models' and 'chosen'; got a list"),
    (lambda: None, "Your function returns None: did you forget the `return` statement?"),
]  # fmt: skip


@pytest.mark.parametrize(("answer", "words"), EXPERIMENT_MISTAKES, ids=[w[:40] for _, w in EXPERIMENT_MISTAKES])
def test_each_experiment_mistake_gets_its_message(answer: Any, words: str) -> None:
    result = check_choose_weight_decay(answer)
    assert result.status == "wrong" and result.message.startswith("✘ choose_weight_decay: not yet. ")
    assert words in result.message, result.message


# ---------------------------------------------------------------------------
# A second round of students' answers (from the expert review): right variants pass, each mistake gets a true,
# specific message.


def _dropout_bernoulli_in_place_on_new(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training:
        return X
    if p == 1:
        return torch.zeros_like(X)
    return X * torch.empty_like(X).bernoulli_(1 - p) / (1 - p)


def _dropout_floor(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """floor(u + 1 - p) is 1 with probability 1 - p."""
    if not training:
        return X
    if p >= 1:
        return X * 0.0
    return X * torch.floor(torch.rand_like(X) + 1 - p) / (1 - p)


def _dropout_divide_first(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training or p == 0:
        return X
    if p == 1:
        return torch.zeros_like(X)
    return X / (1 - p) * (torch.rand(X.shape, device=X.device, dtype=X.dtype) > p).to(X.dtype)


def _dropout_where_scalar(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training:
        return X
    if p == 1:
        return torch.zeros_like(X)
    return torch.where(torch.rand_like(X) < p, 0.0, X / (1 - p))


def _dropout_masked_fill(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training:
        return X.clone()
    if p == 1:
        return torch.zeros_like(X)
    return X.masked_fill(torch.rand_like(X) < p, 0) / (1 - p)


def _dropout_new_empty(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training:
        return X
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    return X * (X.new_empty(X.shape).uniform_(0, 1) >= p) * scale


def _dropout_keep_below(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Keeps where u <= 1 - p: also probability 1 - p."""
    if training is not True:
        return X
    if p == 1:
        return torch.zeros_like(X)
    return X * (torch.rand_like(X) <= 1 - p) / (1 - p)


def _dropout_float32_mask(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """A float32 mask: X's dtype wins for float64 inputs (type promotion), so the result keeps it."""
    if not training:
        return X
    if p == 1:
        return torch.zeros_like(X)
    return X * (torch.rand(X.shape, device=X.device) >= p).float() / (1 - p)


@pytest.mark.parametrize(
    "answer",
    [_dropout_bernoulli_in_place_on_new, _dropout_floor, _dropout_divide_first, _dropout_where_scalar,
     _dropout_masked_fill, _dropout_new_empty, _dropout_keep_below, _dropout_float32_mask],
    ids=lambda f: f.__name__,
)  # fmt: skip
def test_more_right_dropouts_pass(answer: Callable[..., Any]) -> None:
    result = check_dropout(answer)
    assert result.passed and result.message == STORED[check_dropout], result.message


_CACHED_MASKS: dict[torch.Size, torch.Tensor] = {}


def _mask_cached_per_shape(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training:
        return X
    if p == 1:
        return torch.zeros_like(X)
    if X.shape not in _CACHED_MASKS:
        _CACHED_MASKS[X.shape] = torch.rand_like(X) >= p
    return X * _CACHED_MASKS[X.shape] / (1 - p)


_MODULE_MASK = torch.rand(400, 250, generator=torch.Generator().manual_seed(7)) >= 0.5  # drawn once, at import


def _mask_drawn_at_module_level(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training:
        return X
    if p == 1:
        return torch.zeros_like(X)
    return X * _MODULE_MASK[: X.shape[0], : X.shape[1]] / (1 - p)


def _bernoulli_with_p(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training:
        return X
    if p == 1:
        return torch.zeros_like(X)
    return X * torch.bernoulli(torch.full_like(X, p)) / (1 - p)


def _bernoulli_one_number(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training:
        return X
    if p == 1:
        return torch.zeros_like(X)
    return X * torch.bernoulli(torch.tensor(1 - p)) / (1 - p)


def _multiplies_in_place(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training:
        return X
    if p == 1:
        return torch.zeros_like(X)
    return X.mul_(torch.rand_like(X) >= p).div_(1 - p)


def _bernoulli_in_place_on_x(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training:
        return X
    if p == 1:
        return torch.zeros_like(X)
    return X * X.bernoulli_(1 - p) / (1 - p)


def _numpy_mask_from_numpy(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training:
        return X
    if p == 1:
        return torch.zeros_like(X)
    return X * torch.from_numpy(np.random.rand(*X.shape) >= p) / (1 - p)


def _mask_put_on_cuda(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training:
        return X
    if p == 1:
        return torch.zeros_like(X)
    return X * (torch.rand(X.shape).cuda() >= p) / (1 - p)


def _coin_flip_mask(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training:
        return X
    if p == 1:
        return torch.zeros_like(X)
    return X * torch.randint(0, 2, X.shape, device=X.device) / (1 - p)


def _survivors_only(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    return X[torch.rand_like(X) >= p] / (1 - p) if training else X


def _keeps_everything_at_one(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training or p == 1:
        return X
    return X * (torch.rand_like(X) >= p) / (1 - p)


def _two_dimensional_mask(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training:
        return X
    if p == 1:
        return torch.zeros_like(X)
    return X * (torch.rand(X.shape[0], X.shape[1], device=X.device) >= p) / (1 - p)


def _divides_by_square(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training:
        return X
    if p == 1:
        return torch.zeros_like(X)
    return X * (torch.rand_like(X) >= p) / (1 - p) ** 2


def _gaussian_noise(X: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Multiplicative Gaussian noise of dropout's variance: a different method, which drops nothing."""
    if not training:
        return X
    if p == 1:
        return torch.zeros_like(X)
    return X * (1 + torch.randn_like(X) * math.sqrt(p / (1 - p)))


MORE_DROPOUT_MISTAKES = [
    (_mask_cached_per_shape, "It drops exactly the same elements on two calls (the first with p = 0.2 and the second "
     "with p = 0.7): the mask is not drawn anew. Does it seed a generator (torch.manual_seed) inside, or draw a mask "
     "once and reuse it?"),
    (_mask_drawn_at_module_level, "It drops exactly the same elements on two calls"),
    (_bernoulli_with_p, "With p = 0.2 and training=True it drops 0.801 of the elements, about 1 - p: it treats p as "
     "the probability of keeping"),
    (_bernoulli_one_number, "it keeps every element and divides it by 1 - p: on this call its mask is all ones. Is its "
     "mask one random number for the whole tensor"),
    (_multiplies_in_place, "It changes X in place (with p = 0.5, training=True)"),
    (_bernoulli_in_place_on_x, "It changes X in place (with p = 0.5, training=True)"),
    (_numpy_mask_from_numpy, "It makes its mask with NumPy, whose arrays live on the CPU"),
    (_mask_put_on_cuda, "It puts a tensor on the GPU ('cuda') whatever X's device, so it fails when X is on the CPU"),
    (_coin_flip_mask, "it drops 0.499 of the elements; expected about 0.2 of them. That is half of them, whatever p: "
     "does the mask ignore p (torch.randint(0, 2, ...) is a coin flip"),
    (_survivors_only, "With p = 0.5 and training=True it returns shape (7,), expected (3, 5)."),
    (_keeps_everything_at_one, "With p = 1 every element must be dropped, but some are not 0."),
    (_two_dimensional_mask, "With an input of three dimensions, shape (20, 50, 100): Calling it raised RuntimeError"),
    (_divides_by_square, "it multiplies the survivors by 1.562. Every survivor should be divided by 1 - p = 0.8"),
    (_gaussian_noise, "With p = 0.2 and training=True it drops no element at all"),
]  # fmt: skip


@pytest.mark.parametrize(("answer", "words"), MORE_DROPOUT_MISTAKES, ids=lambda v: getattr(v, "__name__", ""))
def test_more_dropout_mistakes_get_their_message(answer: Callable[..., Any], words: str) -> None:
    result = check_dropout(answer)
    assert result.status == "wrong" and result.message.startswith("✘ dropout: not yet. ")
    assert words in result.message, result.message


def _decay_if_requires_grad(model: nn.Module, weight_decay: float) -> None:
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad and p.dim() > 1:
                p.grad.add_(p, alpha=weight_decay)


def _decay_through_data(model: nn.Module, weight_decay: float) -> None:
    for p in model.parameters():
        if p.grad is not None and p.ndim > 1:
            p.grad.data += weight_decay * p.data


def _decay_by_autograd(model: nn.Module, weight_decay: float) -> None:
    """The gradient of the penalty computed by autograd, then added."""
    weights = [p for p in model.parameters() if p.dim() > 1 and p.requires_grad]
    if not weights or not weight_decay:
        return
    penalty = weight_decay / 2 * sum((W**2).sum() for W in weights)
    with torch.no_grad():
        for W, g in zip(weights, torch.autograd.grad(penalty, weights), strict=True):
            W.grad += g


@pytest.mark.parametrize("answer", [_decay_if_requires_grad, _decay_through_data, _decay_by_autograd],
                         ids=lambda f: f.__name__)  # fmt: skip
def test_more_right_weight_decays_pass(answer: Callable[..., Any]) -> None:
    result = check_weight_decay(answer)
    assert result.passed and result.message == STORED[check_weight_decay], result.message


def _decay_in_two_loops(model: nn.Module, weight_decay: float) -> None:
    """Double counted: the decay added once per loop."""
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1 and p.grad is not None:
                p.grad += weight_decay * p
        for _, p in model.named_parameters():
            if p.dim() > 1 and p.grad is not None:
                p.grad += weight_decay * p


LEARNING_RATE = 0.1  # a notebook global the answer below uses by mistake


def _decay_times_learning_rate(model: nn.Module, weight_decay: float) -> None:
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1 and p.grad is not None:
                p.grad += LEARNING_RATE * weight_decay * p


def _decay_by_layer_type(model: nn.Module, weight_decay: float) -> None:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear) and m.weight.grad is not None:
                m.weight.grad += weight_decay * m.weight


def _decay_first_dimension(model: nn.Module, weight_decay: float) -> None:
    """shape[0] > 1 picks the biases too."""
    with torch.no_grad():
        for p in model.parameters():
            if p.shape[0] > 1 and p.grad is not None:
                p.grad += weight_decay * p


def _decays_weights_directly(model: nn.Module, weight_decay: float) -> None:
    """Decoupled decay (the weights shrunk here), where the exercise asks for a gradient term."""
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.mul_(1 - LEARNING_RATE * weight_decay)


def _returns_new_gradients(model: nn.Module, weight_decay: float) -> list[torch.Tensor]:
    return [p.grad + weight_decay * p.detach() for p in model.parameters() if p.dim() > 1 and p.grad is not None]


MORE_WEIGHT_DECAY_MISTAKES = [
    (_decay_in_two_loops, "gets 0.2·W added with weight_decay = 0.1, twice too much: the gradient of (λ/2)·‖W‖² is "
     "λ·W, the 1/2 cancels the 2 of the square (or is it added twice, in two loops?)"),
    (_decay_times_learning_rate, "gets 0.01·W added with weight_decay = 0.1: weight_decay·W times 0.1. Is something "
     "else multiplied in, such as a learning rate?"),
    (_each_weight(lambda n, p, lam: p.grad.add_(lam * p.sign())), "gets λ·sign(W) added: that is the gradient of an "
     "L1 penalty"),
    (_each_weight(lambda n, p, lam: p.grad.add_(lam / 2 * (p**2).sum())), "gets the same number, 0.07378, added to "
     "every element: a single number, such as the penalty's value"),
    (_each_weight(lambda n, p, lam: p.grad.add_(lam * p / p.norm())), "gets λ·W/‖W‖ added: that is the gradient of "
     "λ·‖W‖, the norm itself"),
    (_decay_by_layer_type, "it leaves the gradients of W1 and W2 unchanged. Are you picking the weights by name "
     "('weight' in name) or by layer (nn.Linear, m.weight)?"),
    (_decay_first_dimension, "it decays the bias 0.bias too"),
    (_decays_weights_directly, "it changes the weights themselves (0.weight, 2.weight)"),
    (_returns_new_gradients, "it returns a list and leaves every gradient in the model unchanged: the optimizer reads "
     "p.grad"),
]  # fmt: skip


@pytest.mark.parametrize(("answer", "words"), MORE_WEIGHT_DECAY_MISTAKES, ids=lambda v: getattr(v, "__name__", ""))
def test_more_weight_decay_mistakes_get_their_message(answer: Callable[..., Any], words: str) -> None:
    result = check_weight_decay(answer)
    assert result.status == "wrong" and result.message.startswith("✘ weight_decay: not yet. ")
    assert words in result.message, result.message


class _SmallData:
    """Stands in for the notebook's data module `small`, for answers that (wrongly) read its test set."""

    def val_dataloader(self) -> list[int]:
        return [0]

    def test_dataloader(self) -> list[int]:
        return [0]


small = _SmallData()


def _chooses_on_the_test_set() -> dict[str, Any]:
    results = _results()
    scores = {decay: len(small.test_dataloader()) * FINAL_VAL[decay] for decay in WEIGHT_DECAYS}
    results["chosen"] = max(scores, key=scores.__getitem__)  # the same choice here: the protocol is what is wrong
    return results


def _test_accuracy(model: nn.Module) -> float:
    return float(len(small.test_dataloader()))


def _looks_at_the_test_set_in_a_helper() -> dict[str, Any]:
    results = _results()
    for model in results["models"].values():
        _test_accuracy(model)
    return results


def _test_set_as_validation() -> dict[str, Any]:
    class Swapped(_SmallData):
        def val_dataloader(self) -> Any:
            return (self.test_X, self.test_y)

    Swapped()
    return _results()


def _kept_best_epoch() -> dict[str, Any]:
    histories = {decay: _history(FINAL_VAL[decay]) for decay in WEIGHT_DECAYS}
    for history in histories.values():
        history.best_epoch = 4
    return _results(histories=histories)


def _stopped_by_patience() -> dict[str, Any]:
    histories = {decay: _history(FINAL_VAL[decay], epochs=5 if decay else 3) for decay in WEIGHT_DECAYS}
    histories[0.0].best_epoch, histories[0.0].stopped_early = 1, True
    return _results(histories=histories)


def _weight_decay_never_given() -> dict[str, Any]:
    same = {decay: _history(0.8) for decay in WEIGHT_DECAYS}
    return _results(histories=same, models={decay: _model(17.0) for decay in WEIGHT_DECAYS}, chosen=0.0)


def _by_smallest_gap() -> dict[str, Any]:
    histories = {decay: _history(FINAL_VAL[decay], train_acc=0.95 - 2 * decay) for decay in WEIGHT_DECAYS}
    histories[0.1].records[-1]["train_acc"] = 0.83  # gap 0.029, the smallest; its validation accuracy is not the lowest
    histories[0.1].records[-1]["val_acc"] = 0.801
    return _results(histories=histories, chosen=0.1)


MORE_EXPERIMENT_MISTAKES = [
    (_chooses_on_the_test_set, "Your experiment reads the test set (test_dataloader). The test set plays no part in "
     "choosing"),
    (_looks_at_the_test_set_in_a_helper, "Your experiment reads the test set (test_dataloader)"),
    (_test_set_as_validation, "Your experiment reads the test set (test_X, test_y)"),
    (_kept_best_epoch(), "The run with weight decay 0 kept its best epoch (Trainer(keep_best=...)): its model is not "
     "the final one"),
    (_stopped_by_patience(), "The run with weight decay 0 kept its best epoch"),
    (_weight_decay_never_given(), "The runs of all the weight decays are identical, epoch by epoch: the weight decay "
     "made no difference at all, so it never reached the training. Build each model with its own, "
     "MLP(weight_decay=λ)."),
    (_results(chosen=FINAL_VAL[1e-3]), "results['chosen'] is 0.812, a final validation accuracy: return the weight "
     "decay that gave it"),
    (_by_smallest_gap(), "0.1 is what choosing by the smallest gap between training and validation accuracy gives"),
    (_results(chosen=torch.tensor(1e-3)), "results['chosen'] is a tensor (0.001); return the weight decay as a Python "
     "number (.item())."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "words"), MORE_EXPERIMENT_MISTAKES, ids=[w[:40] for _, w in MORE_EXPERIMENT_MISTAKES]
)
def test_more_experiment_mistakes_get_their_message(answer: Any, words: str) -> None:
    result = check_choose_weight_decay(answer)
    assert result.status == "wrong" and result.message.startswith("✘ choose_weight_decay: not yet. ")
    assert words in result.message, result.message


def test_a_trainer_in_place_of_a_history_is_named() -> None:
    from d2lmini.train import Trainer

    result = check_choose_weight_decay(_results(histories={d: Trainer(max_epochs=1) for d in WEIGHT_DECAYS}))
    assert "results['histories'][0.0] is a Trainer: keep the History that its fit returns" in result.message


def test_a_numpy_number_is_a_fine_choice() -> None:
    assert check_choose_weight_decay(_results(chosen=np.float32(1e-3))).passed
    assert check_choose_weight_decay(_results(chosen=np.float64(1e-3))).passed
