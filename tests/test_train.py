"""The Trainer: what it returns, what it explains, what it never loses, seeding, devices, clipping."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from d2lmini.data import FashionMNIST
from d2lmini.history import History
from d2lmini.module import Classifier, Module
from d2lmini.train import NonFiniteLossError, Trainer, resolve_device, seed_everything


def separable(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Fake images whose class is the position of one bright row, as in tests/helpers.py."""
    y = torch.randint(0, 10, (n,), generator=torch.Generator().manual_seed(seed))
    X = torch.zeros(n, 1, 28, 28)
    X[torch.arange(n), 0, 2 + 2 * y] = 1.0
    return X, y


class FakeLoader:
    """Minibatches in a fixed order, or shuffled by ``generator``; records each epoch's order."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator | None = None,
                 orders: list[torch.Tensor] | None = None) -> None:  # fmt: skip
        self.X, self.y, self.batch_size, self.generator, self.orders = X, y, batch_size, generator, orders

    def __len__(self) -> int:
        return math.ceil(len(self.X) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.arange(len(self.X))
        if self.generator is not None:
            order = torch.randperm(len(self.X), generator=self.generator)
            self.orders.append(order)  # type: ignore[union-attr]
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            yield self.X[rows], self.y[rows]


class FakeData:
    """A data module with the contract of d2lmini.data: a ``generator`` shuffles the training set."""

    labels = tuple(str(c) for c in range(10))

    def __init__(self, n_train: int = 64, n_val: int = 32, batch_size: int = 16) -> None:
        self.train_X, self.train_y = separable(n_train, seed=0)
        self.val_X, self.val_y = separable(n_val, seed=1)
        self.batch_size = batch_size
        self.generator = torch.Generator()
        self.orders: list[torch.Tensor] = []

    def train_dataloader(self) -> FakeLoader:
        return FakeLoader(self.train_X, self.train_y, self.batch_size, self.generator, self.orders)

    def val_dataloader(self) -> FakeLoader:
        return FakeLoader(self.val_X, self.val_y, self.batch_size)


class Linear(Classifier):
    def __init__(self, lr: float = 0.5, lazy: bool = False, outputs: int = 10, dropout: float = 0.0) -> None:
        super().__init__()
        self.save_hyperparameters(lr=lr)
        layer = nn.LazyLinear(outputs) if lazy else nn.Linear(784, outputs)
        self.net = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), layer)


def fit(model: nn.Module, data: Any, epochs: int = 2, **kwargs: Any) -> History:
    return Trainer(max_epochs=epochs, device="cpu", progress="none", **kwargs).fit(model, data)


def weights(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.fixture
def data() -> FakeData:
    return FakeData()


# What fit returns --------------------------------------------------------------------------------------------------
def test_fit_on_fashion_mnist_files_returns_a_full_history_and_learns(fake_data_dir: Path, no_checksums: None) -> None:
    seed_everything(0)
    trainer = Trainer(max_epochs=8, device="cpu", progress="none")
    model, data = Linear(), FashionMNIST(batch_size=16, root=fake_data_dir)
    history = trainer.fit(model, data)
    assert history is trainer.history and len(history) == 8 and not history.interrupted
    assert history.keys() == ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"]
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history.final["val_acc"] == 1.0  # the fake classes are trivially separable
    assert trainer.evaluate(model, data.test_dataloader())["acc"] > 0.9  # the held-out test set, reported once
    assert "8 epochs on cpu" in repr(history)


def test_training_step_may_return_the_loss_tensor_itself(data: FakeData) -> None:
    class Bare(Module):  # as in Dive into Deep Learning and Lightning: training_step returns the loss
        def __init__(self) -> None:
            super().__init__()
            self.save_hyperparameters(lr=0.5)
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))

        def loss(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return nn.functional.cross_entropy(y_hat, y)

        def training_step(self, batch):  # type: ignore[no-untyped-def]
            return self.loss(self(batch[0]), batch[1])

    history = fit(Bare(), data, epochs=3)
    assert history.keys() == ["epoch", "train_loss", "val_loss", "seconds"]
    assert history["train_loss"][-1] < history["train_loss"][0]


# Mistakes get messages, and keep their type -------------------------------------------------------------------------
class Returns(Linear):
    """A model whose training_step returns what a test says, computed from the real loss."""

    def __init__(self, make: Any) -> None:
        super().__init__()
        self.make = make

    def training_step(self, batch):  # type: ignore[no-untyped-def]
        y_hat = self(batch[0])
        return self.make(nn.functional.cross_entropy(y_hat, batch[1], reduction="none"))


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
def test_wrong_training_step_results_are_explained(data: FakeData, make: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        fit(Returns(make), data)


def test_validation_metrics_may_be_plain_numbers(data: FakeData) -> None:
    class Itemised(Linear):  # no gradients in validation, so nothing is cut off by .item()
        def validation_step(self, batch):  # type: ignore[no-untyped-def]
            return {key: value.item() for key, value in super().validation_step(batch).items()}

    model = Itemised()
    history = fit(model, data)
    assert history.keys() == ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"]
    assert Trainer(1, device="cpu", progress="none").evaluate(model, data) == pytest.approx(
        {"loss": history.final["val_loss"], "acc": history.final["val_acc"]}
    )


def test_a_forward_stub_stays_a_bare_not_implemented_error(data: FakeData) -> None:
    class Stub(Classifier):
        def __init__(self) -> None:
            super().__init__()
            self.save_hyperparameters(lr=0.1)
            self.layer = nn.Linear(784, 10)

        def forward(self, X: torch.Tensor) -> torch.Tensor:
            raise NotImplementedError

    with pytest.raises(NotImplementedError) as err:
        fit(Stub(), data)
    assert type(err.value) is NotImplementedError and str(err.value) == ""


class Reshaping(Classifier):
    """A classic shape mistake: ``forward`` reshapes to ``width`` columns (unless 784: no flattening at all)."""

    def __init__(self, width: int, outputs: int = 10) -> None:
        super().__init__()
        self.save_hyperparameters(lr=0.1, width=width)
        self.layer = nn.Linear(width, outputs)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.layer(X if self.width == 784 else X.reshape(-1, self.width))


def test_shape_errors_keep_their_type_and_name_the_batch_and_the_fix(data: FakeData) -> None:
    fix = r"training_step failed on a batch of shapes \(16, 1, 28, 28\), \(16,\)\. .*does forward flatten the images"
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied(.|\n)*" + fix) as err:
        fit(Reshaping(width=784), data)  # no flattening: a (16, 1, 28, 28) batch meets Linear(784, 10)
    assert type(err.value) is RuntimeError
    with pytest.raises(ValueError, match=r"Expected input batch_size \(448\) to match target batch_size(.|\n)*" + fix):
        fit(Reshaping(width=28), data)  # X.reshape(-1, 28): 448 rows of logits for 16 labels


def test_too_few_outputs_and_labels_out_of_range_are_told_apart(data: FakeData) -> None:
    with pytest.raises(IndexError, match=r"Target \d is out of bounds(.|\n)*The model has fewer outputs than there are "
                                         r"classes.*one output per class, 10 here"):  # fmt: skip
        fit(Linear(outputs=5), data)
    data.train_y = data.train_y + 1  # labels 1..10, as if counted from 1
    with pytest.raises(IndexError, match=r"The labels are out of range: this batch has labels from \d+ to 10, but "
                                         r"the data has 10 classes: labels 0 to 9"):  # fmt: skip
        fit(Linear(), data)


def test_weights_pytorch_does_not_see_are_named_with_the_fix(data: FakeData) -> None:
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
        fit(Plain(), data)
    with pytest.raises(ValueError, match=r"Listed has no parameters .* PyTorch does not see self\.layers: " + fix):
        fit(Listed(), data)

    class Half(Plain):  # W is a parameter, b is not: it would silently never be trained
        def __init__(self) -> None:
            super().__init__()
            self.W = nn.Parameter(torch.zeros(784, 10))

    model = Half()
    with pytest.warns(UserWarning, match=r"Half: PyTorch does not see self\.b: the optimizer does not train them"):
        history = fit(model, data)
    assert len(history) == 2 and torch.equal(model.b, torch.zeros(10))  # trained all the same, b untouched


def test_a_class_or_a_bare_network_is_refused_with_what_to_pass(data: FakeData) -> None:
    trainer = Trainer(max_epochs=1, device="cpu", progress="none")
    with pytest.raises(TypeError, match=r"Trainer\.fit got the class Linear itself, not a model made from it: "
                                        r"create one first, model = Linear\(\.\.\.\), and pass model\."):  # fmt: skip
        trainer.fit(Linear, data)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"got the class FakeData itself, not a data module .* data = FakeData"):
        trainer.fit(Linear(), FakeData)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"got a Sequential as the model, which has no training_step, "
                                        r"validation_step, configure_optimizers; pass a d2lmini\.Module"):  # fmt: skip
        trainer.fit(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), data)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"evaluate got the class Linear itself"):
        trainer.evaluate(Linear, data)  # type: ignore[arg-type]


class Optimised(Linear):
    """A model whose configure_optimizers returns what a test says."""

    def __init__(self, make: Any) -> None:
        super().__init__()
        self.make = make

    def configure_optimizers(self):  # type: ignore[no-untyped-def]
        return self.make(self)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda m: (torch.optim.lr_scheduler.StepLR(sgd := torch.optim.SGD(m.parameters(), lr=0.1), 1), sgd),
         TypeError, r"configure_optimizers returned the pair \(StepLR, SGD\); return \(optimizer, lr_scheduler\)"),
        (lambda m: [torch.optim.SGD(m.parameters(), lr=0.1)] * 2, TypeError, r"returned the pair \(SGD, SGD\)"),
        (lambda m: torch.optim.SGD(m.parameters, lr=0.1), TypeError,
         r"'method' object is not iterable: pass self\.parameters\(\), with parentheses, to the optimizer"),
    ],
    ids=["swapped", "two-optimizers", "parameters-not-called"],
)  # fmt: skip
def test_wrong_configure_optimizers_results_are_explained(data: FakeData, make: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        fit(Optimised(make), data)


def test_calling_backward_in_training_step_is_explained(data: FakeData) -> None:
    class Backward(Linear):  # the manual loop's habit
        def training_step(self, batch):  # type: ignore[no-untyped-def]
            loss = self.loss(self(batch[0]), batch[1])
            loss.backward()
            return loss

    with pytest.raises(RuntimeError, match=r"backward through the graph a second time(.|\n)*Does training_step call "
                                           r"\.backward\(\)\? The Trainer calls zero_grad\(\), backward\(\) and "
                                           r"step\(\) itself"):  # fmt: skip
        fit(Backward(), data)


class Stepping(Linear):
    """A model whose training_step computes the loss as a test says."""

    def __init__(self, loss: Any) -> None:
        super().__init__()
        self.loss_fn = loss

    def training_step(self, batch):  # type: ignore[no-untyped-def]
        return self.loss_fn(self(batch[0]), batch[1])


def test_labels_of_the_wrong_type_and_swapped_arguments_are_explained(data: FakeData) -> None:
    F = nn.functional
    with pytest.raises(RuntimeError, match=r"expected target dtype(.|\n)*The labels must be class indices of dtype "
                                           r"torch\.long \(int64\).*don't convert them with \.float\(\)"):  # fmt: skip
        fit(Stepping(lambda y_hat, y: F.cross_entropy(y_hat, y.float())), data)
    with pytest.raises(NotImplementedError, match=r"not implemented for 'Long'(.|\n)*The loss takes the outputs "
                                                  r"first: F\.cross_entropy\(y_hat, y\)"):  # fmt: skip
        fit(Stepping(lambda y_hat, y: F.cross_entropy(y, y_hat)), data)


def test_raw_pixels_and_images_without_labels_are_explained(data: FakeData) -> None:
    trainer = Trainer(max_epochs=1, device="cpu", progress="none")
    model = Linear()
    pixels = (data.val_X[:4] * 255).to(torch.uint8)
    with pytest.raises(RuntimeError, match=r"forward failed on a batch of shapes \(4, 1, 28, 28\), \(4,\)\. The "
                                           r"images are raw uint8 pixels .* data\.transform\(X\)"):  # fmt: skip
        trainer.predict(model, [(pixels, data.val_y[:4])])
    fix = r"To pass a single batch, put it in a list, \[\(X, y\)\]; to classify images without labels, use model"
    with pytest.raises(TypeError, match=r"but got a batch that is a tensor of shape \(4, 1, 28, 28\)\. " + fix):
        trainer.predict(model, [data.val_X[:4]])  # images only
    with pytest.raises(TypeError, match=r"but got a batch that is a tensor of shape \(32, 1, 28, 28\)\. " + fix):
        trainer.evaluate(model, (data.val_X, data.val_y))  # one batch, not a list of batches
    with pytest.raises(TypeError, match=r"but got one tensor of shape \(4, 1, 28, 28\)\. " + fix):
        trainer.predict(model, data.val_X[:4])
    with pytest.raises(TypeError, match=r"not a method \(call it: val_dataloader\(\)\)"):
        trainer.evaluate(model, data.val_dataloader)


def test_seed_everything_wants_a_whole_number() -> None:
    with pytest.raises(TypeError, match=r"^seed must be a whole number such as 0, not '0'\.$"):
        seed_everything("0")  # type: ignore[arg-type]


# Nothing is lost ----------------------------------------------------------------------------------------------------
def test_nan_loss_resets_the_weights_to_the_last_finished_epoch(data: FakeData) -> None:
    class Diverging(Linear):
        calls = 0

        def training_step(self, batch):  # type: ignore[no-untyped-def]
            Diverging.calls += 1
            if Diverging.calls == 5:  # epoch 2, batch 1 (4 batches per epoch): the weights of epoch 1's end
                self.after_epoch_1 = weights(self)
            if Diverging.calls == 6:  # then the weights blow up
                with torch.no_grad():
                    self.net[2].weight.mul_(float("inf"))
            return super().training_step(batch)

    model = Diverging()
    trainer = Trainer(max_epochs=5, device="cpu", progress="none")
    message = r"became nan at epoch 2, batch 2; training stopped and the model's weights are back to those at the end "
    with pytest.raises(NonFiniteLossError, match=message + r"of epoch 1, so it can still be evaluated.*learning rate"):
        trainer.fit(model, data)
    assert torch.equal(weights(model), model.after_epoch_1)
    assert math.isfinite(trainer.evaluate(model, data)["loss"])
    assert len(trainer.history) == 1


def test_ctrl_c_keeps_weights_and_epochs_finishes_the_bar_then_propagates(
    data: FakeData, capsys: pytest.CaptureFixture[str]
) -> None:
    class Interrupted(Linear):
        calls = 0

        def training_step(self, batch):  # type: ignore[no-untyped-def]
            Interrupted.calls += 1
            if Interrupted.calls == 10:  # epoch 3, batch 2
                raise KeyboardInterrupt
            return super().training_step(batch)

    model = Interrupted()
    before = weights(model)
    trainer = Trainer(max_epochs=5, device="cpu", progress="terminal")
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(model, data)
    assert trainer.history.interrupted and len(trainer.history) == 2
    assert not torch.equal(before, weights(model))  # the trained weights are kept
    out, err = capsys.readouterr()
    assert out == ("Training interrupted during epoch 3: the model keeps its current weights; "
                   "trainer.history holds the 2 finished epoch(s).\n")  # fmt: skip
    assert "epoch 3/5 [" in err and err.endswith("\n")  # the bar's line was finished before the message


def test_any_error_keeps_the_finished_epochs(data: FakeData, capsys: pytest.CaptureFixture[str]) -> None:
    class Failing(Linear):
        def validation_step(self, batch):  # type: ignore[no-untyped-def]
            if len(trainer.history) == 2:
                raise OSError("disk full")
            return super().validation_step(batch)

    trainer = Trainer(max_epochs=5, device="cpu", progress="none")
    with pytest.raises(OSError, match=r"^disk full$") as err:
        trainer.fit(Failing(), data)
    assert len(trainer.history) == 2 and err.value.history is trainer.history  # type: ignore[attr-defined]
    assert "stopped by the error below during epoch 3; trainer.history holds the 2" in capsys.readouterr().out


# Arguments and data are checked up front ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "error", "example"),
    [(0, ValueError, 10), (-1, ValueError, 10), (2.5, TypeError, 10), (64.0, TypeError, 64), ("2", TypeError, 10),
     (True, TypeError, 10), (None, TypeError, 10)],
)
def test_max_epochs_must_be_a_positive_whole_number(value: Any, error: type, example: int) -> None:
    message = f"max_epochs must be a positive whole number such as {example}, not {value!r}."
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        Trainer(max_epochs=value)


def test_other_arguments_are_checked_when_the_trainer_is_made() -> None:
    with pytest.raises(ValueError, match=r"gradient_clip_val must be a positive number such as 1\.0, or None; not 0"):
        Trainer(1, gradient_clip_val=0)
    with pytest.raises(TypeError, match=r"gradient_clip_val must be a positive number such as 1\.0, or None; not '1'"):
        Trainer(1, gradient_clip_val="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"seed must be a whole number such as 0, or None; not 1\.5"):
        Trainer(1, seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="progress must be"):
        Trainer(1, progress="fancy")  # type: ignore[arg-type]


def test_data_must_be_a_non_empty_data_module(data: FakeData) -> None:
    message = r"got a FakeLoader as data; pass a data module with train_dataloader\(\)/val_dataloader\(\), e\.g\. "
    with pytest.raises(TypeError, match=message + r"d2lmini\.FashionMNIST"):
        fit(Linear(), data.train_dataloader())
    data.val_X, data.val_y = data.val_X[:0], data.val_y[:0]
    with pytest.raises(ValueError, match=r"The validation set is empty: data\.val_dataloader\(\) gives no batches"):
        fit(Linear(), data)


# Devices ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["cuda:99", "mps", "gpu"])
def test_an_unavailable_device_is_refused_with_the_list_of_those_there_are(device: str) -> None:
    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    with pytest.raises(ValueError, match=rf"device='{device}' is not .*machine has: 'auto' \(the fastest\), 'cpu'"):
        Trainer(1, device=device)


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")


def test_a_cpu_fit_keeps_model_and_batches_on_the_cpu(data: FakeData) -> None:
    model = Linear()
    assert fit(model, data).device == "cpu" and weights(model).device == torch.device("cpu")
    assert Trainer(1, device="meta").device == torch.device("meta")  # a real device other than the CPU, always there


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_cuda_evaluate_and_predict_leave_the_model_where_it_was(data: FakeData) -> None:
    gpu = Trainer(max_epochs=2, device="cuda", progress="none")
    model = Linear()
    history = gpu.fit(model, data)
    assert history.device == "cuda" and weights(model).device.type == "cuda"
    cpu_model = Linear()
    preds, _ = gpu.predict(cpu_model, data)
    assert weights(cpu_model).device.type == "cpu" and preds.device.type == "cpu"
    cpu_model(data.val_X[:2])  # still usable with CPU tensors
    assert gpu.evaluate(cpu_model, data)["loss"] > 0 and weights(cpu_model).device.type == "cpu"
    assert Trainer(1, device="cpu", progress="none").evaluate(model, data)["acc"] == history.final["val_acc"]
    assert weights(model).device.type == "cuda"


# Evaluating and predicting on any loader ----------------------------------------------------------------------------
def test_evaluate_and_predict_take_a_data_module_or_any_loader(data: FakeData) -> None:
    trainer = Trainer(max_epochs=3, device="cpu", progress="none")
    model = Linear()
    history = trainer.fit(model, data)
    on_val = trainer.evaluate(model, data)
    assert on_val == pytest.approx({"loss": history.final["val_loss"], "acc": history.final["val_acc"]})
    assert trainer.evaluate(model, data.val_dataloader()) == pytest.approx(on_val)
    subset = [(data.train_X[:20], data.train_y[:20])]  # "the end-of-epoch model on a training subset"
    preds, labels = trainer.predict(model, subset)
    assert torch.equal(labels, data.train_y[:20])
    assert trainer.evaluate(model, subset)["acc"] == pytest.approx((preds == labels).float().mean().item())
    assert torch.equal(trainer.predict(model, data)[0], trainer.predict(model, data.val_dataloader())[0])
    model.train()
    trainer.evaluate(model, data)
    assert model.training  # left in the mode it was in
    with pytest.raises(TypeError, match="expected a data module or an iterable of"):
        trainer.evaluate(model, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="the data gave no batches"):
        trainer.evaluate(model, [])


# Seeding, clipping, lazy layers, schedulers -------------------------------------------------------------------------
def test_the_trainer_seed_decides_the_run(data: FakeData) -> None:
    start = Linear().state_dict()

    def run(seed: int, global_state: int) -> torch.Tensor:
        model = Linear(dropout=0.5)
        model.load_state_dict(start)
        torch.manual_seed(global_state)  # whatever ran before fit
        fit(model, data, seed=seed)
        return weights(model)

    assert torch.equal(run(seed=5, global_state=1), run(seed=5, global_state=2))
    assert not torch.equal(run(seed=5, global_state=1), run(seed=6, global_state=1))


def test_dropout_does_not_change_the_data_order(data: FakeData) -> None:
    for dropout in (0.0, 0.5):
        fit(Linear(dropout=dropout), data, epochs=3, seed=3)
    plain, dropped = data.orders[:3], data.orders[3:]
    assert all(torch.equal(a, b) for a, b in zip(plain, dropped, strict=True))
    assert not torch.equal(plain[0], plain[1])  # but each epoch has its own order


def test_gradient_clipping_bounds_each_update() -> None:
    one_batch = FakeData(n_train=16)
    for clip, bound in ((1e-3, 100 * 1e-3), (None, math.inf)):
        model = Linear(lr=100.0)
        before = weights(model)
        fit(model, one_batch, epochs=1, gradient_clip_val=clip)
        step = (weights(model) - before).norm().item()
        assert step <= bound * (1 + 1e-4) and step > (0.5 * bound if clip else 1.0)


def test_lazy_layers_are_initialised_before_the_optimizer(data: FakeData) -> None:
    model = Linear(lazy=True)
    history = fit(model, data)
    assert model.net[2].weight.shape == (10, 784)
    assert history["train_loss"][1] < history["train_loss"][0]


def test_a_scheduler_from_configure_optimizers_is_stepped_each_epoch(data: FakeData) -> None:
    class Decaying(Linear):
        def configure_optimizers(self):  # type: ignore[no-untyped-def]
            self.optimizer = torch.optim.SGD(self.parameters(), lr=1.0)
            return self.optimizer, torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=1, gamma=0.5)

    model = Decaying()
    fit(model, data, epochs=3)
    assert model.optimizer.param_groups[0]["lr"] == 0.125  # halved after each of the three epochs

    class Wrong(Linear):
        def configure_optimizers(self):  # type: ignore[no-untyped-def]
            return "sgd"

    with pytest.raises(TypeError, match="must return an optimizer or a pair"):
        fit(Wrong(), data)


# Early stopping: keep_best and patience -----------------------------------------------------------------------------
class Scripted(Linear):
    """A model whose validation loss (and accuracy, its negative) follow a script, one value per epoch.

    The epoch is read from the trainer's history; the weights train as usual, so each epoch's end is a different model.
    """

    def __init__(self, trainer: Trainer, script: list[float]) -> None:
        super().__init__(lr=0.1)
        self.trainer, self.script = trainer, script

    def validation_step(self, batch):  # type: ignore[no-untyped-def]
        value = torch.tensor(self.script[len(self.trainer.history)])
        return {"loss": value, "acc": -value}


def trained_for(epochs: int, start: dict[str, torch.Tensor], data: FakeData) -> torch.Tensor:
    """The weights after ``epochs`` plain epochs from ``start`` with seed 0: what keep_best must restore."""
    model = Linear(lr=0.1)
    model.load_state_dict(start)
    fit(model, data, epochs=epochs, seed=0)
    return weights(model)


SCRIPT = [0.5, 0.3, 0.4, 0.35, 0.6, 0.2]


@pytest.mark.parametrize("key", ["val_loss", "val_acc"])
def test_keep_best_ends_with_the_best_epochs_weights(data: FakeData, key: str) -> None:
    start = Linear(lr=0.1).state_dict()
    trainer = Trainer(max_epochs=5, device="cpu", progress="none", seed=0, keep_best=key)
    model = Scripted(trainer, SCRIPT)
    model.load_state_dict(start)
    history = trainer.fit(model, data)
    assert len(history) == 5 and history.best_epoch == 2 and not history.stopped_early  # 0.3 is the best of five
    assert torch.equal(weights(model), trained_for(2, start, data))
    assert "best epoch 2" in repr(history)


def test_without_keep_best_the_model_keeps_its_last_weights(data: FakeData) -> None:
    start = Linear(lr=0.1).state_dict()
    trainer = Trainer(max_epochs=3, device="cpu", progress="none", seed=0)
    model = Scripted(trainer, SCRIPT)
    model.load_state_dict(start)
    history = trainer.fit(model, data)
    assert history.best_epoch is None and not history.stopped_early
    assert torch.equal(weights(model), trained_for(3, start, data))


@pytest.mark.parametrize(("patience", "epochs", "best"), [(1, 3, 2), (2, 4, 2), (3, 5, 2), (4, 6, 6)])
def test_patience_stops_after_that_many_epochs_without_a_new_best(
    data: FakeData, patience: int, epochs: int, best: int
) -> None:
    start = Linear(lr=0.1).state_dict()
    trainer = Trainer(max_epochs=6, device="cpu", progress="none", seed=0, keep_best="val_loss", patience=patience)
    model = Scripted(trainer, SCRIPT)
    model.load_state_dict(start)
    history = trainer.fit(model, data)
    assert (len(history), history.best_epoch) == (epochs, best)
    assert history.stopped_early == (epochs < 6)
    assert torch.equal(weights(model), trained_for(best, start, data))


def test_keep_best_on_real_training_picks_the_smallest_validation_loss(data: FakeData) -> None:
    seed_everything(0)
    model = Linear(lr=3.0)  # a large step: the validation loss does not fall every epoch
    history = Trainer(max_epochs=6, device="cpu", progress="none", seed=0, keep_best="val_loss").fit(model, data)
    losses = history["val_loss"]
    assert history.best_epoch == losses.index(min(losses)) + 1
    assert Trainer(1, device="cpu", progress="none").evaluate(model, data)["loss"] == pytest.approx(min(losses))


def test_keep_best_and_patience_are_checked(data: FakeData) -> None:
    with pytest.raises(ValueError, match=r"patience=3 needs keep_best, the metric to watch: Trainer\(\.\.\., "
                                         r"keep_best='val_loss', patience=3\)"):  # fmt: skip
        Trainer(5, patience=3)
    with pytest.raises(ValueError, match=r"patience must be a positive whole number such as 3, not 0"):
        Trainer(5, keep_best="val_loss", patience=0)
    with pytest.raises(TypeError, match=r"keep_best must be the name of a metric such as 'val_loss'"):
        Trainer(5, keep_best=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"keep_best='seconds' is not a metric"):
        Trainer(5, keep_best="seconds")
    with pytest.raises(ValueError, match=r"keep_best='val_accuracy' is not a metric of this run; its history has "
                                         r"\['train_loss', 'train_acc', 'val_loss', 'val_acc'\]"):  # fmt: skip
        fit(Linear(), data, keep_best="val_accuracy")
