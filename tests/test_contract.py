"""The checks of what the Trainer is given (d2lmini/contract.py), fed real student mistakes.

Each mistake gives the Trainer a model, data or steps that it refuses before they fail (or that would silently
learn nothing, and gets a warning); the message must name the mistake and the fix.  How the table runs and what it
asserts: tests/mistakes.py.  Mistakes that make a call fail are in tests/test_explain.py.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from d2lmini.data import FashionMNIST, TensorLoader
from d2lmini.module import Classifier
from d2lmini.train import NonFiniteLossError, Trainer
from tests.mistakes import (
    Batches,
    Mistake,
    Net,
    Scratch,
    Stepping,
    assert_true_specific_message,
    batches_of,
    fit,
    mlp,
    outcome,
    raw,
    register_in,
)
from tests.test_explain import LABEL_COLUMN
from tests.test_explain import MISTAKES as FAILED_CALLS

OUT_OF_RANGE = raw(lambda: F.cross_entropy(torch.zeros(4, 5), torch.full((4,), 7)))


# The mistakes -------------------------------------------------------------------------------------------------------
MISTAKES: list[Mistake] = []
mistake = register_in(MISTAKES)


# Shapes
@mistake("shapes", OUT_OF_RANGE, r"The model has fewer outputs than there are classes: 1 output, but label \d needs "
         r"at least \d+: give the last layer one output per class, 10 here", r"before any training")  # fmt: skip
def one_output_as_in_regression(data: FashionMNIST) -> Any:
    return fit(Net(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 1)), data)


# Labels
@mistake("labels", ValueError, r"the labels have shape \(16, 10\) \(one-hot\?\): give class indices of dtype "
         r"torch\.long")  # fmt: skip
def one_hot_labels_in_the_data(data: FashionMNIST) -> Any:
    return fit(Net(*mlp()), batches_of(data, lambda X, y: (X, F.one_hot(y, 10).float())))


@mistake("labels", OUT_OF_RANGE, r"The labels are out of range: this batch has labels from \d to 10, but the data has "
         r"10 classes: labels 0 to 9", r"before any training")  # fmt: skip
def labels_counted_from_one(data: FashionMNIST) -> Any:
    data.train_y = data.train_y + 1
    return fit(Net(*mlp()), data)


@mistake("labels", LABEL_COLUMN, r"training_step failed on a batch of shapes \(16, 1, 28, 28\), \(16, 1\)\. The labels "
         r"are int32: the loss wants class indices of dtype torch\.long \(int64\): y\.long\(\)\.")  # fmt: skip
def labels_as_an_int32_column(data: FashionMNIST) -> Any:
    """The first batch's check leaves 2-D labels to the loss, whose own error (its type kept) is then explained."""
    return fit(Net(*mlp()), batches_of(data, lambda X, y: (X, y.int().reshape(-1, 1))))


@mistake("labels", UserWarning, r"the training loss is negative \(-?\d", r"is it F\.nll_loss .* on raw logits\? "
         r"nll_loss expects log-probabilities; use F\.cross_entropy\(logits, y\)")  # fmt: skip
def nll_loss_on_raw_logits(data: FashionMNIST) -> Any:
    return fit(Stepping(lambda m, X, y: F.nll_loss(m(X), y)), data, epochs=3)


# What the steps return
class Returning(Net):
    """A model whose training_step returns ``make(loss, logits, y)``."""

    def __init__(self, make: Callable[..., Any]) -> None:
        super().__init__(*mlp())
        self.make = make

    def training_step(self, batch):  # type: ignore[no-untyped-def]
        logits = self(batch[0])
        return self.make(F.cross_entropy(logits, batch[1]), logits, batch[1])


@mistake("step results", TypeError, r"training_step returned a tuple; it must return the loss tensor")
def loss_and_accuracy_as_a_tuple(data: FashionMNIST) -> Any:
    return fit(Returning(lambda loss, logits, y: (loss, (logits.argmax(1) == y).float().mean())), data)


@mistake("step results", TypeError, r"training_step returned a dict with keys \['train_loss'\] but no 'loss'")
def lightning_style_log_key(data: FashionMNIST) -> Any:
    return fit(Returning(lambda loss, logits, y: {"train_loss": loss}), data)


@mistake("step results", TypeError, r"training_step returned a ndarray; it must return the loss tensor")
def loss_as_a_numpy_number(data: FashionMNIST) -> Any:
    return fit(Returning(lambda loss, logits, y: loss.detach().numpy()), data)


@mistake("step results", TypeError, r"validation_step returned None \(is a return statement missing\?\)", keeps=0)
def validation_step_without_return(data: FashionMNIST) -> Any:
    class MLP(Net):
        def validation_step(self, batch):  # type: ignore[no-untyped-def]
            self.loss(self(batch[0]), batch[1])

    return fit(MLP(*mlp()), data)


@mistake("step results", ValueError, r"validation_step returned 'acc' as a tensor of shape \(16,\), one value per "
         r"example; return their mean", r"\(y_hat\.argmax\(dim=1\) == y\)\.float\(\)\.mean\(\)")  # fmt: skip
def accuracy_per_example(data: FashionMNIST) -> Any:
    class MLP(Net):
        def validation_step(self, batch):  # type: ignore[no-untyped-def]
            logits = self(batch[0])
            return {"loss": self.loss(logits, batch[1]), "acc": logits.argmax(1) == batch[1]}

    return fit(MLP(*mlp()), data)


@mistake("step results", ValueError, r"training_step returned a loss that does not depend on the weights \(no "
         r"gradient\): was it computed under torch\.no_grad\(\)")  # fmt: skip
def loss_computed_under_no_grad(data: FashionMNIST) -> Any:
    def step(m: Net, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():  # "to save memory"
            return F.cross_entropy(m(X), y)

    return fit(Stepping(step), data)


# Structures PyTorch cannot run
@mistake("structure", NotImplementedError, r"self\.net is an nn\.ModuleList: it holds layers but cannot be called\. "
         r"Use nn\.Sequential\(\.\.\.\)")  # fmt: skip
def module_list_as_the_net(data: FashionMNIST) -> Any:
    model = Net()
    model.net = nn.ModuleList(mlp())
    return fit(model, data)


@mistake("structure", NotImplementedError, r"MLP needs a forward method or a self\.net\. It has foward: a misspelling "
         r"of forward\?")  # fmt: skip
def forward_misspelt(data: FashionMNIST) -> Any:
    class MLP(Scratch):
        def foward(self, X: torch.Tensor) -> torch.Tensor:
            return torch.relu(X.reshape(len(X), -1) @ self.W1 + self.b1) @ self.W2 + self.b2

    return fit(MLP(), data)


@mistake("structure", UserWarning, r"the loss does not depend on self\.W1, self\.b1: they get no gradient and will "
         r"not learn", r"\.numpy\(\)")  # fmt: skip
def numpy_relu_after_pytorchs_advice(data: FashionMNIST) -> Any:
    class MLP(Scratch):
        def forward(self, X: torch.Tensor) -> torch.Tensor:
            H = np.maximum((X.reshape(len(X), -1) @ self.W1 + self.b1).detach().numpy(), 0)
            return torch.from_numpy(H) @ self.W2 + self.b2

    return fit(MLP(), data)


@mistake("structure", UserWarning, r"the loss does not depend on self\.hidden2\.weight, self\.hidden2\.bias")
def layer_made_but_not_used(data: FashionMNIST) -> Any:
    class MLP(Classifier):
        def __init__(self) -> None:
            super().__init__()
            self.save_hyperparameters(lr=0.1)
            self.hidden1, self.hidden2, self.out = nn.Linear(784, 32), nn.Linear(32, 32), nn.Linear(32, 10)

        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return self.out(torch.relu(self.hidden1(X.flatten(1))))  # hidden2 forgotten

    return fit(MLP(), data)


# Runs that would silently learn nothing
NETWORK_FROM_AN_EARLIER_CELL = nn.Sequential(*mlp())


@mistake("learns nothing", UserWarning, r"the optimizer from configure_optimizers holds none of MLP's parameters \(it "
         r"updates 4 other tensors, perhaps another model's", r"Build it from self\.parameters\(\)")  # fmt: skip
def optimizer_over_another_models_parameters(data: FashionMNIST) -> Any:
    class MLP(Net):
        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(NETWORK_FROM_AN_EARLIER_CELL.parameters(), lr=self.lr)

    return fit(MLP(*mlp()), data)


@mistake("learns nothing", UserWarning, r"the optimizer leaves out self\.net\.3\.weight, self\.net\.3\.bias: they "
         r"will not learn")  # fmt: skip
def optimizer_over_the_first_layer_only(data: FashionMNIST) -> Any:
    class MLP(Net):
        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.net[1].parameters(), lr=self.lr)

    return fit(MLP(*mlp()), data)


@mistake("learns nothing", ValueError, r"every parameter of the model is frozen \(requires_grad is False, as after "
         r"model\.requires_grad_\(False\)\)")  # fmt: skip
def whole_model_frozen(data: FashionMNIST) -> Any:
    model = Net(*mlp())
    model.requires_grad_(False)  # from an earlier "inspect the weights" cell
    return fit(model, data)


@mistake("learns nothing", UserWarning, r"self\.net\.1\.weight, self\.net\.1\.bias of Net are frozen \(requires_grad "
         r"is False, as after \.requires_grad_\(False\)\): they will not learn")  # fmt: skip
def first_layer_left_frozen(data: FashionMNIST) -> Any:
    model = Net(*mlp())
    model.net[1].requires_grad_(False)
    return fit(model, data)


@mistake("learns nothing", UserWarning, r"batch_size=256 is larger than the training set \(64 examples\): every epoch "
         r"is one step of gradient descent")  # fmt: skip
def batch_larger_than_the_training_set(data: FashionMNIST) -> Any:
    data.batch_size = 256
    return fit(Net(*mlp()), data)


@mistake("learns nothing", None)
def gradients_switched_off_in_an_earlier_cell(data: FashionMNIST) -> Any:
    torch.set_grad_enabled(False)
    try:
        history = fit(Net(*mlp(), lr=0.5), data, epochs=3)
    finally:
        torch.set_grad_enabled(True)
    assert history["train_loss"][-1] < history["train_loss"][0]  # fit records gradients whatever the global mode


# Optimizers and schedulers
class Scheduled(Net):
    def __init__(self, make: Callable[[torch.optim.Optimizer], Any]) -> None:
        super().__init__(*mlp())
        self.make = make

    def configure_optimizers(self):  # type: ignore[no-untyped-def]
        self.optimizer = torch.optim.SGD(self.parameters(), lr=self.lr)
        return self.make(self.optimizer)


@mistake("optimizer", None)
def reduce_lr_on_plateau(data: FashionMNIST) -> Any:
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau
    model = Scheduled(lambda opt: (opt, plateau(opt, factor=0.5, patience=0, threshold=100, threshold_mode="abs")))
    fit(model, data, epochs=3)  # no epoch improves on the first by 100: the rate halves after epochs 2 and 3
    assert model.optimizer.param_groups[0]["lr"] == pytest.approx(0.025)


@mistake("optimizer", ValueError, r"ReduceLROnPlateau\(mode='max'\) waits for a metric to stop rising, but the Trainer "
         r"steps it with the validation loss")  # fmt: skip
def plateau_watching_accuracy(data: FashionMNIST) -> Any:
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau
    return fit(Scheduled(lambda opt: (opt, plateau(opt, mode="max"))), data)


@mistake("optimizer", TypeError, r"configure_optimizers must return an optimizer or a pair \(optimizer, "
         r"lr_scheduler\), not dict \(PyTorch Lightning's form\)")  # fmt: skip
def lightning_dict(data: FashionMNIST) -> Any:
    step = torch.optim.lr_scheduler.StepLR
    return fit(Scheduled(lambda opt: {"optimizer": opt, "lr_scheduler": step(opt, 1)}), data)


@mistake("optimizer", TypeError, r"configure_optimizers returned the pair \(list, list\); return \(optimizer, "
         r"lr_scheduler\)")  # fmt: skip
def lightning_two_lists(data: FashionMNIST) -> Any:
    step = torch.optim.lr_scheduler.StepLR
    return fit(Scheduled(lambda opt: ([opt], [step(opt, 1)])), data)


@mistake("optimizer", TypeError, r"configure_optimizers returned the class SGD itself, not an optimizer made from it: "
         r"torch\.optim\.SGD\(self\.parameters\(\), lr=self\.lr\)")  # fmt: skip
def optimizer_class_returned(data: FashionMNIST) -> Any:
    return fit(Scheduled(lambda opt: torch.optim.SGD), data)


# Data and loaders
@mistake("data", TypeError, r"data\.train_dataloader\(\) returned a generator, which has no len\(\): the Trainer needs "
         r"the number of batches and a fresh pass every epoch")  # fmt: skip
def generator_as_a_loader(data: FashionMNIST) -> Any:
    class Streamed(Batches):
        def train_dataloader(self) -> Iterator[Any]:
            return (batch for batch in self.train)

    own = batches_of(data, lambda X, y: (X, y))
    return fit(Net(*mlp()), Streamed(own.train, own.val))


@mistake("data", TypeError, r"expected batches \(X, y\) of images and labels, but got a batch that is a dict")
def batches_as_dicts(data: FashionMNIST) -> Any:
    return fit(Net(*mlp()), batches_of(data, lambda X, y: {"image": X, "label": y}))


@mistake("data", TypeError, r"item 0 of a batch is a NumPy array of float32, not a tensor; convert it with "
         r"torch\.from_numpy\(a\)")  # fmt: skip
def numpy_batches(data: FashionMNIST) -> Any:
    return fit(Net(*mlp()), batches_of(data, lambda X, y: (X.numpy(), y.numpy())))


@mistake("data", TypeError, r"transform expects raw uint8 pixels .* these images look converted already")
def pixels_scaled_in_place_of_the_stored_ones(data: FashionMNIST) -> Any:
    data.train_X = data.train_X.float() / 255  # "normalise the data first"
    return fit(Net(*mlp()), data)


@mistake("data", TypeError, r"Trainer\.fit got the data first and the model second: call trainer\.fit\(model, data\)")
def fit_arguments_swapped(data: FashionMNIST) -> Any:
    return Trainer(1, device="cpu", progress="none").fit(data, Net(*mlp()))  # type: ignore[arg-type]


@mistake("data", TypeError, r"Trainer\.fit got a OwnData as data, which has no val_dataloader\(\); pass a data "
         r"module with train_dataloader\(\)/val_dataloader\(\)")  # fmt: skip
def own_data_module_without_validation(data: FashionMNIST) -> Any:
    class OwnData:
        def train_dataloader(self) -> TensorLoader:
            return data.train_dataloader()

    return fit(Net(*mlp()), OwnData())


@mistake("data", KeyError, r"no metric 'val_acc' \(here it is 'acc'\): evaluate returns the metrics of the data it "
         r"was given, \['acc', 'loss'\]")  # fmt: skip
def history_key_on_evaluate(data: FashionMNIST) -> Any:
    return Trainer(1, device="cpu", progress="none").evaluate(Net(*mlp()), data)["val_acc"]


# NaN and infinity
@mistake("NaN", NonFiniteLossError, r"The training loss is nan on the first batch, before any training: the batch's "
         r"inputs \(item 0\) hold NaN or inf values", r"X / X\.std\(dim=0\)")  # fmt: skip
def pixels_standardised_by_a_zero_spread(data: FashionMNIST) -> Any:
    X = data.train_X.float() / 255
    mean, std = X.mean(dim=0), X.std(dim=0)  # many pixels are 0 in every image: std 0, and 0 / 0 is NaN
    standardise = lambda images: (images.float() / 255 - mean) / std
    own = batches_of(data, lambda images, y: (images, y))
    own.train = [(standardise(images * 255), y) for images, y in own.train]
    own.val = [(standardise(images * 255), y) for images, y in own.val]
    return fit(Net(*mlp()), own)


@mistake("NaN", NonFiniteLossError, r"The training loss became (nan|inf) at epoch 3, batch \d; training stopped and "
         r"the model's weights are back to those at the end of epoch 2", r"learning rate too large",
         keeps=2)  # fmt: skip
def learning_rate_far_too_large(data: FashionMNIST) -> Any:
    class MLP(Net):
        def training_step(self, batch):  # type: ignore[no-untyped-def]
            if len(self.trainer.history) == 2:  # the third epoch: as a huge step would, the weights overflow
                with torch.no_grad():
                    self.net[3].weight.mul_(1e30).mul_(1e30)
            return super().training_step(batch)

    model = MLP(*mlp())
    model.trainer = Trainer(max_epochs=5, device="cpu", progress="none")
    return model.trainer.fit(model, data)


# The Trainer's arguments
@mistake("arguments", ValueError, r"keep_best='val_accuracy' is not a metric of this run; its history has "
         r"\['train_loss', 'train_acc', 'val_loss', 'val_acc'\]")  # fmt: skip
def keep_best_misspelt(data: FashionMNIST) -> Any:
    return fit(Net(*mlp()), data, keep_best="val_accuracy")


@mistake("arguments", ValueError, r"patience=3 needs keep_best, the metric to watch")
def patience_without_keep_best(data: FashionMNIST) -> Any:
    return fit(Net(*mlp()), data, patience=3)


# The test ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", MISTAKES, ids=lambda case: case.name)
def test_a_student_mistake_gets_a_true_specific_message(case: Mistake, pixels: FashionMNIST) -> None:
    assert_true_specific_message(case, pixels)


def test_there_are_forty_or_more_mistakes_of_every_kind() -> None:
    cases = MISTAKES + FAILED_CALLS  # the two tables, this one and tests/test_explain.py's
    kinds = {case.kind for case in cases}
    assert len(cases) >= 40 and len(kinds) >= 10
    assert len({case.name for case in cases}) == len(cases)


def test_a_correct_model_gets_no_message(pixels: FashionMNIST) -> None:
    err, caught = outcome(Mistake("none", lambda data: fit(Net(*mlp()), data), None, ()), pixels)
    assert err is None and caught == []


# Mistakes from earlier rounds, kept -----------------------------------------------------------------------------------
class PerExample(Net):
    """A model whose training_step returns ``make(losses)`` from the per-example losses."""

    def __init__(self, make: Callable[[torch.Tensor], Any]) -> None:
        super().__init__(*mlp())
        self.make = make

    def training_step(self, batch):  # type: ignore[no-untyped-def]
        return self.make(F.cross_entropy(self(batch[0]), batch[1], reduction="none"))


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda losses: losses, ValueError, r"training_step returned 'loss' as a tensor of shape \(16,\), one value "
                                            r"per example; return their mean.*loss\.mean\(\)"),
        (lambda losses: {"acc": losses.mean()}, TypeError, r"training_step returned a dict with keys \['acc'\] but "
                                                           r"no 'loss'; it must return the loss tensor"),
        (lambda losses: losses.mean().item(), TypeError, r"training_step returned the loss as a float \(2\.\d+\): "
                                                         r"\.item\(\) and float\(\) cut it off from its gradients"),
        (lambda losses: None, TypeError, r"training_step returned None \(is a return statement missing\?\)"),
        (lambda losses: [losses.mean()], TypeError, r"training_step returned a list; it must return the loss tensor"),
        (lambda losses: losses.mean().detach(), ValueError, r"training_step returned a loss that does not depend on "
                                                            r"the weights.*torch\.no_grad\(\)"),
    ],
    ids=["per-example", "no-loss-key", "float", "none", "list", "detached"],
)  # fmt: skip
def test_wrong_training_step_results_are_explained(pixels: FashionMNIST, make: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        fit(PerExample(make), pixels)


def test_weights_pytorch_does_not_see_are_named_with_the_fix(pixels: FashionMNIST) -> None:
    class Plain(Classifier):  # tensors, not nn.Parameter: model.parameters() is empty
        def __init__(self) -> None:
            super().__init__()
            self.save_hyperparameters(lr=0.1)
            self.W = torch.randn(784, 10, requires_grad=True)
            self.b = torch.zeros(10)

        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return X.reshape(-1, 784) @ self.W + self.b

    class Listed(Classifier):  # a Python list of layers, not nn.Sequential / nn.ModuleList
        def __init__(self) -> None:
            super().__init__()
            self.save_hyperparameters(lr=0.1)
            self.layers = [nn.Flatten(), nn.Linear(784, 10)]

        def forward(self, X: torch.Tensor) -> torch.Tensor:
            for layer in self.layers:
                X = layer(X)
            return X

    fix = r"wrap each weight tensor in nn\.Parameter\(\.\.\.\).*not in a Python list"
    with pytest.raises(ValueError, match=r"Plain has no parameters for the optimizer to train\. PyTorch does not see "
                                         r"self\.W, self\.b: " + fix):  # fmt: skip
        fit(Plain(), pixels)
    with pytest.raises(ValueError, match=r"Listed has no parameters .* PyTorch does not see self\.layers: " + fix):
        fit(Listed(), pixels)

    class Half(Plain):  # W is a parameter, b is not: it would silently never be trained
        def __init__(self) -> None:
            super().__init__()
            self.W = nn.Parameter(torch.zeros(784, 10))

    model = Half()
    with pytest.warns(UserWarning, match=r"Half: PyTorch does not see self\.b: the optimizer does not train them"):
        history = fit(model, pixels)
    assert len(history) == 2 and torch.equal(model.b, torch.zeros(10))  # trained all the same, b untouched


def test_a_class_or_a_bare_network_is_refused_with_what_to_pass(pixels: FashionMNIST) -> None:
    trainer = Trainer(max_epochs=1, device="cpu", progress="none")
    with pytest.raises(TypeError, match=r"Trainer\.fit got the class Net itself, not a model made from it: "
                                        r"create one first, model = Net\(\.\.\.\), and pass model\."):  # fmt: skip
        trainer.fit(Net, pixels)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"got the class FashionMNIST itself, not a data module .* data = FashionMNIST"):
        trainer.fit(Net(*mlp()), FashionMNIST)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"got a Sequential as the model, which has no training_step, "
                                        r"validation_step, configure_optimizers; pass a d2lmini\.Module"):  # fmt: skip
        trainer.fit(nn.Sequential(*mlp()), pixels)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"evaluate got the class Net itself"):
        trainer.evaluate(Net, pixels)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda opt: (torch.optim.lr_scheduler.StepLR(opt, 1), opt), TypeError,
         r"configure_optimizers returned the pair \(StepLR, SGD\); return \(optimizer, lr_scheduler\)"),
        (lambda opt: [opt, opt], TypeError, r"returned the pair \(SGD, SGD\)"),
        (lambda opt: "sgd", TypeError, r"must return an optimizer or a pair"),
    ],
    ids=["swapped", "two-optimizers", "a-string"],
)  # fmt: skip
def test_wrong_configure_optimizers_results_are_explained(
    pixels: FashionMNIST, make: Any, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        fit(Scheduled(make), pixels)


def test_the_parameters_method_passed_without_calling_it_is_named(pixels: FashionMNIST) -> None:
    class MLP(Net):
        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters, lr=self.lr)  # type: ignore[arg-type]

    bare = raw(lambda: torch.optim.SGD(nn.Linear(2, 2).parameters, lr=0.1))  # type: ignore[arg-type]
    with pytest.raises(bare, match=r": pass self\.parameters\(\), with parentheses, to the optimizer\.$"):
        fit(MLP(*mlp()), pixels)


def test_calling_backward_in_training_step_is_explained(pixels: FashionMNIST) -> None:
    def step(m: Net, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # the manual loop's habit
        loss = F.cross_entropy(m(X), y)
        loss.backward()
        return loss

    model = Stepping(step)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(RuntimeError, match=r"training_step computed gradients itself \(it calls \.backward\(\)\): "
                                           r"the Trainer calls zero_grad\(\), backward\(\) and step\(\)"):  # fmt: skip
        fit(model, pixels)
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))
    assert all(p.grad is None for p in model.parameters())  # the check's gradients are not left behind


def test_batches_that_are_not_lists_of_pairs_are_explained(pixels: FashionMNIST) -> None:
    trainer = Trainer(max_epochs=1, device="cpu", progress="none")
    model = Net(*mlp())
    X = pixels.transform(pixels.val_X[:4])
    fix = r"To pass a single batch, put it in a list, \[\(X, y\)\]; to classify images without labels, use model"
    with pytest.raises(TypeError, match=r"but got a batch that is a tensor of shape \(4, 1, 28, 28\)\. " + fix):
        trainer.predict(model, [X])  # images only
    with pytest.raises(TypeError, match=r"but got a batch that is a tensor of shape \(32, 1, 28, 28\)\. " + fix):
        trainer.evaluate(model, (pixels.transform(pixels.val_X), pixels.val_y))  # one batch, not a list of batches
    with pytest.raises(TypeError, match=r"but got one tensor of shape \(4, 1, 28, 28\)\. " + fix):
        trainer.predict(model, X)
    with pytest.raises(TypeError, match=r"not a method \(call it: val_dataloader\(\)\)"):
        trainer.evaluate(model, pixels.val_dataloader)  # type: ignore[arg-type]


# Messages asserted word for word (each a mistake whose exact words the checks above leave open) ---------------------
def test_a_type_error_of_another_kind_in_configure_optimizers_keeps_its_own_message(pixels: FashionMNIST) -> None:
    class MLP(Net):
        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(lr=self.lr)  # type: ignore[call-arg]  # the parameters forgotten altogether

    with pytest.raises(TypeError) as bare:
        torch.optim.SGD(lr=0.1)  # type: ignore[call-arg]
    with pytest.raises(TypeError) as caught:
        fit(MLP(*mlp()), pixels)
    assert str(caught.value) == str(bare.value)  # no "with parentheses" advice: self.parameters was never passed


def test_a_missing_metric_is_named_with_the_ones_there_are(pixels: FashionMNIST) -> None:
    metrics = Trainer(1, device="cpu", progress="none").evaluate(Net(*mlp()), pixels)
    rest = ": evaluate returns the metrics of the data it was given, ['acc', 'loss'], without the History's "
    with pytest.raises(KeyError) as caught:
        metrics["accuracy"]  # Keras's name: no History prefix to strip, so no "here it is"
    assert caught.value.args[0] == "no metric 'accuracy'" + rest + "val_/train_ prefixes."
    with pytest.raises(KeyError) as caught:
        metrics["val_acc"]
    assert caught.value.args[0] == "no metric 'val_acc' (here it is 'acc')" + rest + "val_/train_ prefixes."


def test_a_long_list_of_frozen_parameters_is_cut_after_four_names(pixels: FashionMNIST) -> None:
    layers = [nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
              nn.Linear(32, 10)]  # fmt: skip
    for frozen, names in (
        ([1, 3, 5], "self.net.1.weight, self.net.1.bias, self.net.3.weight, self.net.3.bias and 2 more"),
        ([1, 3], "self.net.1.weight, self.net.1.bias, self.net.3.weight, self.net.3.bias"),  # four: all named
    ):
        model = Net(*layers)
        for i in frozen:
            model.net[i].requires_grad_(False)
        with pytest.warns(UserWarning) as caught:
            fit(model, pixels, epochs=1)
        assert [str(w.message) for w in caught] == [
            f"{names} of Net are frozen (requires_grad is False, as after .requires_grad_(False)): they will not "
            "learn. Call .requires_grad_(True) on them to train them."
        ]
        model.requires_grad_(True)


def test_an_output_tensor_passed_as_the_model_is_refused_with_what_to_pass(pixels: FashionMNIST) -> None:
    model = Net(*mlp())
    logits = model(pixels.transform(pixels.val_X[:4]))  # the model's outputs, not the model
    with pytest.raises(TypeError) as caught:
        fit(logits, pixels)
    assert str(caught.value) == (
        "Trainer.fit got a Tensor as the model; pass a d2lmini.Module, such as a subclass of d2lmini.Classifier whose "
        "__init__ sets self.net = nn.Sequential(...)."
    )


def test_layers_pytorch_does_not_see_are_found_in_dicts_and_submodules_not_in_the_hyperparameters(
    pixels: FashionMNIST,
) -> None:
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(784, 10)
            self.scale = torch.ones(10)  # a plain tensor inside a submodule

        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return self.linear(X.flatten(1)) * self.scale

    class MLP(Classifier):
        def __init__(self) -> None:
            super().__init__()
            self.save_hyperparameters(lr=0.1, activation=nn.ReLU())  # a layer as a hyperparameter: seen by PyTorch
            self.block = Block()
            self.heads = {"coarse": nn.Linear(10, 2)}  # a dict of layers, not nn.ModuleDict

        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return self.activation(self.block(X))

    with pytest.warns(UserWarning) as caught:
        fit(MLP(), pixels, epochs=1)
    assert [str(w.message).split(": the optimizer")[0] for w in caught] == [
        "MLP: PyTorch does not see self.heads, self.block.scale"
    ]


def test_a_model_without_any_weights_is_refused_with_the_fix(pixels: FashionMNIST) -> None:
    fix = ("wrap each weight tensor in nn.Parameter(...) (a constant one: self.register_buffer(name, tensor)), and "
           "keep layers in nn.Sequential or nn.ModuleList, not in a Python list.")  # fmt: skip
    with pytest.raises(ValueError) as caught:
        fit(Net(nn.Flatten(), nn.ReLU()), pixels)  # the linear layers forgotten: nothing to train, nothing hidden
    assert str(caught.value) == "Net has no parameters for the optimizer to train. " + fix

    class Plain(Classifier):
        def __init__(self) -> None:
            super().__init__()
            self.save_hyperparameters(lr=0.1)
            self.W = torch.randn(784, 10, requires_grad=True)

        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return X.reshape(-1, 784) @ self.W

    with pytest.raises(ValueError) as caught:
        fit(Plain(), pixels)
    unseen = "PyTorch does not see self.W: "
    assert str(caught.value) == "Plain has no parameters for the optimizer to train. " + unseen + fix


def test_lightnings_scheduler_dict_and_other_results_of_configure_optimizers_are_named(pixels: FashionMNIST) -> None:
    step = torch.optim.lr_scheduler.StepLR
    with pytest.raises(TypeError) as caught:  # Lightning's {"scheduler": ..., "interval": ...} as the scheduler
        fit(Scheduled(lambda opt: (opt, {"scheduler": step(opt, 1), "interval": "epoch"})), pixels)
    assert str(caught.value) == ("configure_optimizers returned a dict as the scheduler; return (optimizer, "
                                 "lr_scheduler), such as torch.optim.lr_scheduler.StepLR(...).")  # fmt: skip
    with pytest.raises(TypeError) as caught:
        fit(Scheduled(lambda opt: "sgd"), pixels)
    assert str(caught.value) == ("configure_optimizers must return an optimizer or a pair (optimizer, lr_scheduler), "
                                 "not str.")  # fmt: skip


def test_what_evaluate_cannot_read_as_batches_is_named(pixels: FashionMNIST) -> None:
    trainer, model = Trainer(max_epochs=1, device="cpu", progress="none"), Net(*mlp())
    with pytest.raises(TypeError) as caught:
        trainer.evaluate(model, FashionMNIST)  # type: ignore[arg-type]
    assert str(caught.value) == ("evaluate/predict got the class FashionMNIST itself, not a data module made from it: "
                                 "create one first, data = FashionMNIST(...), and pass data.")  # fmt: skip
    for data, kind in ((None, "NoneType"), (nn.CrossEntropyLoss(), "CrossEntropyLoss")):  # a function's missing return;
        with pytest.raises(TypeError) as caught:  # Keras's evaluate(x, y) habit, with the loss as the second argument
            trainer.evaluate(model, data)  # type: ignore[arg-type]
        assert str(caught.value) == f"expected a data module or an iterable of (X, y) batches, not a {kind}."


def test_batches_of_the_wrong_form_are_named_word_for_word(pixels: FashionMNIST) -> None:
    fix = ". To pass a single batch, put it in a list, [(X, y)]; to classify images without labels, use model(X).argmax"
    fix += "(dim=1)."
    with pytest.raises(TypeError) as caught:
        fit(Net(*mlp()), batches_of(pixels, lambda X, y: {"image": X, "label": y}))
    assert str(caught.value) == "expected batches (X, y) of images and labels, but got a batch that is a dict" + fix
    images = torch.utils.data.TensorDataset(pixels.transform(pixels.val_X))  # images only: each batch is [X]
    with pytest.raises(TypeError) as caught:
        Trainer(max_epochs=1, device="cpu", progress="none").predict(Net(*mlp()), torch.utils.data.DataLoader(images))
    assert str(caught.value) == (
        "expected batches (X, y) of images and labels, but got a batch that is a list of length 1" + fix
    )
    with pytest.raises(TypeError) as caught:  # labels kept as a Python list
        fit(Net(*mlp()), batches_of(pixels, lambda X, y: (X, y.tolist())))
    assert str(caught.value) == "item 1 of a batch is a list, not a tensor; make it a tensor."


class Loaders(Batches):
    """A student's data module whose train_dataloader returns ``make(batches)``."""

    def __init__(self, data: FashionMNIST, make: Callable[[list[Any]], Any]) -> None:
        own = batches_of(data, lambda X, y: (X, y))
        super().__init__(own.train, own.val)
        self.make = make

    def train_dataloader(self) -> Any:
        return self.make(self.train)


class OnlyIter:
    """A loader a student writes with __iter__ but no __len__."""

    def __init__(self, batches: list[Any]) -> None:
        self.batches = batches

    def __iter__(self) -> Iterator[Any]:
        return iter(self.batches)


def test_data_modules_and_loaders_the_trainer_cannot_use_are_named_word_for_word(pixels: FashionMNIST) -> None:
    loaders = "a list of (X, y) batches, a d2lmini.TensorLoader or a torch DataLoader"
    cases = [
        (FashionMNIST, TypeError, "Trainer.fit got the class FashionMNIST itself, not a data module made from it: "
                                  "create one first, data = FashionMNIST(...), and pass data."),
        (batches_of(pixels, lambda X, y: (X, y)).train, TypeError,  # evaluate takes a list of batches; fit does not
         "Trainer.fit got a list as data; pass a data module with train_dataloader()/val_dataloader(), e.g. "
         "d2lmini.FashionMNIST(batch_size=256)."),
        (Loaders(pixels, lambda batches: torch.cat([X for X, _ in batches])), TypeError,
         f"data.train_dataloader() returned a Tensor; return {loaders}."),
        (Loaders(pixels, lambda batches: None), TypeError,  # the return statement forgotten
         f"data.train_dataloader() returned a NoneType; return {loaders}."),
        (Loaders(pixels, OnlyIter), TypeError,
         f"data.train_dataloader() returned a OnlyIter, which has no len(): the Trainer needs the number of batches; "
         f"return {loaders}."),
        (Loaders(pixels, lambda batches: batches[:0]), ValueError,  # a filter that kept no example
         "The training set is empty: data.train_dataloader() gives no batches."),
        (Batches(batches_of(pixels, lambda X, y: (X, y)).train, []), ValueError,
         "The validation set is empty: data.val_dataloader() gives no batches."),
    ]  # fmt: skip
    for data, error, message in cases:
        with pytest.raises(error) as caught:
            fit(Net(*mlp()), data)
        assert str(caught.value) == message


def test_step_results_of_the_wrong_form_are_named_word_for_word(pixels: FashionMNIST) -> None:
    reduction = ", or the loss function's default reduction."
    cases = [
        (lambda loss, logits, y: F.cross_entropy(logits, y, reduction="none"), ValueError,
         "training_step returned 'loss' as a tensor of shape (16,), one value per example; return their mean, a "
         "single number: e.g. loss.mean()" + reduction),
        (lambda loss, logits, y: {"loss": loss, "acc": logits.argmax(1) == y}, ValueError,
         "training_step returned 'acc' as a tensor of shape (16,), one value per example; return their mean, a "
         "single number: e.g. (y_hat.argmax(dim=1) == y).float().mean()" + reduction),
        (lambda loss, logits, y: {"loss": loss, "acc": f"{(logits.argmax(1) == y).float().mean():.1%}"}, TypeError,
         "training_step returned 'acc' as a str; metrics must be single numbers."),  # formatted for printing
        (lambda loss, logits, y: loss.detach(), ValueError,
         "training_step returned a loss that does not depend on the weights (no gradient): was it computed under "
         "torch.no_grad(), or with .detach(), .item(), NumPy or torch.tensor(...) of a result? Return the loss "
         "computed from self(X) with torch operations."),
    ]  # fmt: skip
    for make, error, message in cases:
        with pytest.raises(error) as caught:
            fit(Returning(make), pixels)
        assert str(caught.value) == message


def test_the_checks_warnings_point_at_the_readers_fit_call(pixels: FashionMNIST) -> None:
    # (Left out of mutmut's runs, as test_train.py's test of the same name: its wrappers shift every stacklevel.)
    class Half(Net):  # a plain tensor PyTorch does not see
        def __init__(self) -> None:
            super().__init__(*mlp())
            self.scale = torch.ones(10)

    class Other(Net):  # an optimizer over another network
        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(NETWORK_FROM_AN_EARLIER_CELL.parameters(), lr=self.lr)

    class FirstOnly(Net):  # an optimizer over the first layer only
        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.net[1].parameters(), lr=self.lr)

    frozen = Net(*mlp())
    frozen.net[1].requires_grad_(False)
    unused = Net(*mlp())
    unused.extra = nn.Linear(10, 10)  # a layer made but not used in forward
    line = inspect.currentframe().f_lineno + 4  # type: ignore[union-attr]  # the line marked "this line"
    for model in (Half(), Other(*mlp()), FirstOnly(*mlp()), frozen, unused):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Trainer(max_epochs=1, device="cpu", progress="none").fit(model, pixels)  # this line
        assert len(caught) == 1 and (Path(caught[0].filename).name, caught[0].lineno) == ("test_contract.py", line)


def test_warnings_of_parameters_that_would_not_learn_are_word_for_word(pixels: FashionMNIST) -> None:
    class Other(Net):
        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(NETWORK_FROM_AN_EARLIER_CELL.parameters(), lr=self.lr)

    class FirstOnly(Net):
        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.net[1].parameters(), lr=self.lr)

    unused = Net(*mlp())
    unused.extra = nn.Linear(10, 10)  # a layer made but not used in forward
    cases = [
        (Other(*mlp()), "the optimizer from configure_optimizers holds none of Other's parameters (it updates 4 other "
                        "tensors, perhaps another model's, such as a network from an earlier cell): this model will "
                        "not learn. Build it from self.parameters()."),
        (FirstOnly(*mlp()), "the optimizer leaves out self.net.3.weight, self.net.3.bias: they will not learn. Pass "
                            "all of self.parameters() to it."),
        (unused, "the loss does not depend on self.extra.weight, self.extra.bias: they get no gradient and will not "
                 "learn. Does forward use them? A tensor taken out of PyTorch (.detach(), .numpy(), .item(), "
                 "torch.tensor(...)) cuts every layer before it off from the loss."),
    ]  # fmt: skip
    for model, message in cases:
        with pytest.warns(UserWarning) as caught:
            fit(model, pixels, epochs=1)
        assert [str(w.message) for w in caught] == [message]


def test_too_few_outputs_are_counted_in_the_message(pixels: FashionMNIST) -> None:
    with pytest.raises(IndexError) as caught:  # the last layer copied from a five-class example
        fit(Net(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 5)), pixels)
    assert str(caught.value) == (
        "The model has fewer outputs than there are classes: 5 outputs, but label 9 needs at least 10: give the last "
        "layer one output per class, 10 here. (Found in the first training batch, before any training.)"
    )


class Indexed(Net):
    """A model whose steps read batches (X, y, index): the index of each example rides along, for a later look."""

    def training_step(self, batch):  # type: ignore[no-untyped-def]
        return F.cross_entropy(self(batch[0]), batch[1])

    def validation_step(self, batch):  # type: ignore[no-untyped-def]
        return {"loss": F.cross_entropy(self(batch[0]), batch[1])}


def test_batches_with_more_items_and_data_without_class_names_train_unchecked(pixels: FashionMNIST) -> None:
    own = batches_of(pixels, lambda X, y: (X, y))
    first = 0
    for batches in (own.train, own.val):
        for i, (X, y) in enumerate(batches):
            batches[i] = (X, y, torch.arange(first, first + len(y)))  # indices 0..63: no class numbers
            first += len(y)
    history = fit(Indexed(*mlp()), Batches(own.train, own.val))  # the last item is no label: not checked as one
    assert len(history) == 2

    class Unnamed(Batches):  # a data module without `labels`: the number of classes is unknown
        labels = ()

    history = fit(Net(*mlp()), Unnamed(*[[(X, y) for X, y, _ in b] for b in (own.train, own.val)]))
    assert len(history) == 2


def test_float_labels_are_left_to_the_loss_that_refuses_them(pixels: FashionMNIST) -> None:
    bare = raw(lambda: F.cross_entropy(torch.zeros(4, 10), torch.zeros(4)))
    with pytest.raises(bare) as caught:  # the loss refuses them; not an IndexError of the first batch's check
        fit(Net(*mlp()), batches_of(pixels, lambda X, y: (X, y.float())))
    assert "The labels are float32" in str(caught.value) and "before any training" not in str(caught.value)
