"""The Trainer: what it returns, what it explains, what it never loses, seeding, devices, clipping."""

from __future__ import annotations

import copy
import inspect
import math
import re
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from d2lmini.data import FashionMNIST
from d2lmini.devices import seed_everything
from d2lmini.history import History
from d2lmini.module import Classifier, Module
from d2lmini.train import NonFiniteLossError, Trainer


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


# The loop is the hand-written loop, bit for bit --------------------------------------------------------------------
class Deep(Classifier):
    """Dropout and BatchNorm: validating in train mode, or a sanity check that leaves a trace, changes numbers."""

    def __init__(self, lr: float = 0.5) -> None:
        super().__init__()
        self.save_hyperparameters(lr=lr)
        layers = [nn.Linear(784, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 10)]
        self.net = nn.Sequential(nn.Flatten(), *layers)


def hand_fit(model: Module, data: FakeData, epochs: int) -> list[dict[str, float]]:
    """The loop of the scratch lab, with the Trainer's bookkeeping: metrics weighted by batch size, in that order."""

    def mean(sums: dict[str, torch.Tensor], count: int) -> dict[str, float]:
        return {key: float(total) / count for key, total in sums.items()}

    optimizer = model.configure_optimizers()
    records = []
    for epoch in range(1, epochs + 1):
        model.train()
        sums, count = {}, 0
        for X, y in data.train_dataloader():
            metrics = model.training_step([X, y])
            optimizer.zero_grad()
            metrics["loss"].backward()
            optimizer.step()
            sums = {k: sums[k] + v.detach() * len(y) if k in sums else v.detach() * len(y) for k, v in metrics.items()}
            count += len(y)
        record = {"epoch": float(epoch)} | {f"train_{k}": v for k, v in mean(sums, count).items()}
        model.eval()
        sums, count = {}, 0
        with torch.no_grad():
            for X, y in data.val_dataloader():
                metrics = model.validation_step([X, y])
                sums = {k: sums[k] + v * len(y) if k in sums else v * len(y) for k, v in metrics.items()}
                count += len(y)
        records.append(record | {f"val_{k}": v for k, v in mean(sums, count).items()})
    return records


@pytest.mark.parametrize("seed", [0, None])
def test_fit_is_the_hand_written_loop_bit_for_bit(seed: int | None) -> None:
    """Same start, same data order: the same History to the last bit, with dropout, BatchNorm and partial batches.

    This fails if fit forgets zero_grad, averages metrics without weighting by batch size (70 = 4 x 16 + 6 and
    37 = 2 x 16 + 5), validates in train mode, or if its sanity check leaves a trace (a dropout draw, BatchNorm
    statistics, a step of the data module's generator).
    """
    data = FakeData(n_train=70, n_val=37, batch_size=16)
    torch.manual_seed(4)
    model = Deep()
    start = copy.deepcopy(model.state_dict())
    torch.manual_seed(7)  # what the run draws with seed=None: the global generator as fit finds it
    data.generator.manual_seed(7)
    history = fit(model, data, epochs=3, seed=seed)

    by_hand = Deep()
    by_hand.load_state_dict(start)
    seed_everything(seed) if seed is not None else torch.manual_seed(7)
    data.generator.manual_seed(seed if seed is not None else 7)
    expected = hand_fit(by_hand, data, epochs=3)
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in history.records] == expected
    assert torch.equal(weights(model), weights(by_hand))


def test_gradients_do_not_pile_up_across_batches() -> None:
    data = FakeData(n_train=64, batch_size=16)
    start = Linear(lr=0.5).state_dict()
    model, by_hand, piled_up = Linear(lr=0.5), Linear(lr=0.5), Linear(lr=0.5)
    for m in (model, by_hand, piled_up):
        m.load_state_dict(start)
    fit(model, data, epochs=1, seed=0)
    for net, zero in ((by_hand, True), (piled_up, False)):
        data.generator.manual_seed(0)
        optimizer = net.configure_optimizers()
        for X, y in data.train_dataloader():
            if zero:
                optimizer.zero_grad()
            net.loss(net(X), y).backward()
            optimizer.step()
    assert torch.allclose(weights(model), weights(by_hand), rtol=0, atol=1e-7)
    assert (weights(piled_up) - weights(by_hand)).abs().max() > 1e-2  # on this data, piled-up gradients differ


def test_metrics_are_weighted_by_batch_size() -> None:
    data = FakeData(n_train=64, n_val=20, batch_size=16)  # validation batches of 16 and 4
    data.val_X[16:] = 0.0  # the last 4 images are blank: a loss far from the others'
    model = Linear()
    trainer = Trainer(1, device="cpu", progress="none")
    with torch.no_grad():
        losses = nn.functional.cross_entropy(model(data.val_X), data.val_y, reduction="none")
    per_example, per_batch = losses.mean().item(), (losses[:16].mean().item() + losses[16:].mean().item()) / 2
    assert abs(per_example - per_batch) > 1e-3  # the test can tell the two apart
    assert trainer.evaluate(model, data)["loss"] == pytest.approx(per_example, abs=1e-6)


def test_validation_runs_in_eval_mode_without_gradients(data: FakeData) -> None:
    class Watched(Linear):
        def validation_step(self, batch):  # type: ignore[no-untyped-def]
            out = super().validation_step(batch)
            self.seen.append((self.training, torch.is_grad_enabled(), out["loss"].requires_grad))
            return out

    model = Watched(dropout=0.5)
    model.seen = []
    trainer = Trainer(max_epochs=2, device="cpu", progress="none")
    history = trainer.fit(model, data)
    assert set(model.seen) == {(False, False, False)}
    first, second = trainer.evaluate(model, data), trainer.evaluate(model, data)
    assert first == second == {"loss": history.final["val_loss"], "acc": history.final["val_acc"]}  # deterministic


SYNCS = {"item", "__bool__", "__float__", "__int__", "__index__", "tolist", "nonzero", "numpy", "__array__", "cpu"}


def test_nothing_waits_for_the_device_during_an_epoch() -> None:
    """The reads that force a GPU to finish its queue (item, bool, float, nonzero...) do not grow with the batches."""

    class Reads(TorchFunctionMode):
        def __init__(self) -> None:
            super().__init__()
            self.count = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            name = getattr(func, "__name__", "")
            self.count += name in SYNCS
            return func(*args, **(kwargs or {}))

    counts = []
    for n_train in (64, 256):  # 4 and 16 batches
        reads = Reads()
        with reads:
            fit(Linear(), FakeData(n_train=n_train), epochs=2)
        counts.append(reads.count)
    assert counts[0] == counts[1]


# The sanity check: one training and one validation batch before the first epoch ------------------------------------
def test_a_validation_step_mistake_costs_no_training(data: FakeData) -> None:
    class Forgetful(Linear):
        def training_step(self, batch):  # type: ignore[no-untyped-def]
            self.steps += 1
            return super().training_step(batch)

        def validation_step(self, batch):  # type: ignore[no-untyped-def]
            self.loss(self(batch[0]), batch[1])  # no return

    model = Forgetful()
    model.steps = 0
    before = weights(model)
    with pytest.raises(TypeError, match=r"validation_step returned None \(is a return statement missing\?\)"):
        fit(model, data)
    assert model.steps == 1 and torch.equal(weights(model), before)  # one step checked, none taken


def test_the_sanity_check_is_silent_and_replays_the_first_batch(
    data: FakeData, capsys: pytest.CaptureFixture[str]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(Deep(), data, epochs=2, seed=1)
    assert capsys.readouterr() == ("", "")
    assert len(data.orders) == 3 and torch.equal(data.orders[0], data.orders[1])  # its batch is epoch 1's first
    assert not torch.equal(data.orders[1], data.orders[2])


# Devices: everything moves to the trainer's device, and the model comes back -----------------------------------------
def test_fit_and_evaluate_move_the_model_and_every_batch_to_the_trainers_device(
    fake_data_dir: Path, no_checksums: None
) -> None:
    """On the meta device (shapes, no values) a batch or a model left on the CPU meets the other and fails.

    A plain loader and a TensorLoader (which sends its tensors to the device once) both reach the device.
    """
    for data in (FakeData(), FashionMNIST(batch_size=16, root=fake_data_dir)):
        model, trainer = Linear(), Trainer(max_epochs=2, device="meta", progress="none")
        history = trainer.fit(model, data)
        assert len(history) == 2 and history.keys() == ["epoch", "train_loss", "train_acc", "val_loss", "val_acc",
                                                        "seconds"]  # fmt: skip
        assert all(math.isnan(history.final[k]) for k in history.keys()[1:-1])  # no values, no numbers
        assert weights(model).device.type == "meta"  # nothing to bring back from meta
        assert math.isnan(trainer.evaluate(model, data)["loss"])
        assert weights(model).device.type == "meta" and data.val_X.device.type == "cpu"
        assert math.isnan(trainer.evaluate(Linear(), data.val_dataloader())["loss"])  # a model from the CPU too


def test_on_a_device_the_data_modules_tensors_cross_once(fake_data_dir: Path, no_checksums: None) -> None:
    """Sent as stored (uint8), once for every epoch and fit, and kept while the data module's tensors live."""
    from d2lmini import data as data_module

    data = FashionMNIST(batch_size=16, root=fake_data_dir)
    copies = data_module._device_copies
    before = len(copies)
    Trainer(max_epochs=2, device="meta", progress="none").fit(Linear(), data)
    assert len(copies) == before + 4  # train_X, train_y, val_X, val_y
    assert {copy.dtype for _, _, copy in copies.values()} >= {torch.uint8}
    Trainer(max_epochs=1, device="meta", progress="none").fit(Linear(), data)
    assert len(copies) == before + 4  # the second fit reuses them


# Nothing is lost ----------------------------------------------------------------------------------------------------
class Diverging(Linear):
    """Its weights blow up at epoch ``epoch``, batch ``batch``; it keeps the weights that epoch started from.

    Epochs are told by the trainer's history; in epoch 1 the sanity check's step comes first.
    """

    def __init__(self, trainer: Trainer, epoch: int, batch: int) -> None:
        super().__init__()
        self.trainer, self.epoch, self.batch, self.seen = trainer, epoch, batch, 0

    def training_step(self, batch):  # type: ignore[no-untyped-def]
        if len(self.trainer.history) == self.epoch - 1:
            self.seen += 1
            if self.seen == 1:
                self.at_start = weights(self)
            if self.seen == self.batch + (self.epoch == 1):
                with torch.no_grad():
                    self.net[2].weight.mul_(float("inf"))
        return super().training_step(batch)


def test_a_nan_loss_resets_the_weights_to_the_last_finished_epoch_and_says_where(data: FakeData) -> None:
    trainer = Trainer(max_epochs=5, device="cpu", progress="none")
    model = Diverging(trainer, epoch=2, batch=2)
    message = r"became nan at epoch 2, batch 2; training stopped and the model's weights are back to those at the end "
    with pytest.raises(NonFiniteLossError, match=message + r"of epoch 1, so it can still be evaluated.*learning rate"):
        trainer.fit(model, data)
    assert len(trainer.history) == 1 and torch.equal(weights(model), model.at_start)
    assert math.isfinite(trainer.evaluate(model, data)["loss"])


def test_a_nan_in_the_first_epoch_resets_to_the_start(data: FakeData) -> None:
    trainer = Trainer(max_epochs=3, device="cpu", progress="none")
    model = Diverging(trainer, epoch=1, batch=3)
    before = weights(model)
    with pytest.raises(NonFiniteLossError, match=r"became nan at epoch 1, batch 3; .* back to their values before "
                                                 r"training"):  # fmt: skip
        trainer.fit(model, data)
    assert len(trainer.history) == 0 and torch.equal(weights(model), before)


def test_an_epoch_whose_validation_loss_is_not_finite_is_a_failed_epoch(data: FakeData) -> None:
    class BadValidation(Linear):  # the weights stay finite; the validation loss of epoch 3 is infinite
        def validation_step(self, batch):  # type: ignore[no-untyped-def]
            out = super().validation_step(batch)
            return out | {"loss": out["loss"] * math.inf} if len(trainer.history) == 2 else out

    trainer = Trainer(max_epochs=5, device="cpu", progress="none", seed=0)
    model = BadValidation()
    start = copy.deepcopy(model.state_dict())
    with pytest.raises(NonFiniteLossError, match=r"validation loss became inf after epoch 3's training; .* back to "
                                                 r"those at the end of epoch 2"):  # fmt: skip
        trainer.fit(model, data)
    assert len(trainer.history) == 2
    reference = Linear()
    reference.load_state_dict(start)
    fit(reference, data, epochs=2, seed=0)
    assert torch.equal(weights(model), weights(reference))


def test_with_keep_best_a_nan_restores_the_best_epoch(data: FakeData) -> None:
    trainer = Trainer(max_epochs=5, device="cpu", progress="none", keep_best="val_loss")
    model = Diverging(trainer, epoch=3, batch=1)
    with pytest.raises(NonFiniteLossError, match=r"at epoch 3, batch 1; .* back to those of its best epoch, 2"):
        trainer.fit(model, data)
    assert trainer.history.best_epoch == 2 and torch.equal(weights(model), model.at_start)


def test_a_loss_that_is_nan_from_the_start_is_refused_before_training(data: FakeData) -> None:
    data.train_X[::2, 0, 5, 5] = math.nan  # a bad pixel in every other image
    model = Linear()
    before = weights(model)
    with pytest.raises(NonFiniteLossError, match=r"The training loss is nan on the first batch, before any training: "
                                                 r"the batch's inputs \(item 0\) hold NaN or inf values"):  # fmt: skip
        fit(model, data)
    assert torch.equal(weights(model), before)


def test_ctrl_c_keeps_weights_and_epochs_finishes_the_bar_then_propagates(
    data: FakeData, capsys: pytest.CaptureFixture[str]
) -> None:
    class Interrupted(Linear):
        seen = 0

        def training_step(self, batch):  # type: ignore[no-untyped-def]
            if len(trainer.history) == 2:
                Interrupted.seen += 1
                if Interrupted.seen == 2:  # epoch 3, batch 2
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


def test_ctrl_c_with_keep_best_says_the_model_is_back_to_its_best_epoch(
    data: FakeData, capsys: pytest.CaptureFixture[str]
) -> None:
    class Interrupted(Linear):
        def training_step(self, batch):  # type: ignore[no-untyped-def]
            if len(trainer.history) == 2:
                raise KeyboardInterrupt
            return super().training_step(batch)

    trainer = Trainer(max_epochs=5, device="cpu", progress="none", keep_best="val_acc")
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(Interrupted(), data)
    best = trainer.history.best_epoch
    assert best in (1, 2) and capsys.readouterr().out == (
        f"Training interrupted during epoch 3: the model keeps those of its best epoch, {best}; "
        "trainer.history holds the 2 finished epoch(s).\n")  # fmt: skip


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
def test_a_cpu_fit_keeps_model_and_batches_on_the_cpu(data: FakeData) -> None:
    model = Linear()
    assert fit(model, data).device == "cpu" and weights(model).device == torch.device("cpu")
    assert Trainer(1, device="meta").device == torch.device("meta")  # a real device other than the CPU, always there


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_cuda_the_model_comes_back_and_every_next_cell_works(fake_data_dir: Path, no_checksums: None) -> None:
    """The scratch lab's cells after fit, on a GPU: the model is back on the CPU, the data never left it."""
    data = FashionMNIST(batch_size=16, root=fake_data_dir)
    seed_everything(0)
    model = Linear()
    gpu = Trainer(max_epochs=2, device="cuda", progress="none", seed=0)
    history = gpu.fit(model, data)
    assert history.device == "cuda" and weights(model).device.type == "cpu" and data.val_X.device.type == "cpu"
    model(data.transform(data.val_X[:8]))  # the next cell's forward with CPU tensors
    preds, labels = gpu.predict(model, data.val_dataloader())
    assert preds.device.type == "cpu" and (preds == labels).float().mean().item() == history.final["val_acc"]
    assert gpu.evaluate(model, data)["acc"] == history.final["val_acc"] and weights(model).device.type == "cpu"
    seed_everything(0)
    cpu_model = Linear()
    cpu_history = Trainer(max_epochs=2, device="cpu", progress="none", seed=0).fit(cpu_model, data)
    assert torch.allclose(weights(model), weights(cpu_model), atol=1e-5)  # the same batches in the same order
    assert cpu_history["val_acc"] == history["val_acc"]
    on_gpu = Linear().cuda()  # a model the student put on the GPU stays there
    gpu.fit(on_gpu, data)
    assert weights(on_gpu).device.type == "cuda"


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
    with pytest.raises(ValueError, match=r"^there is nothing to average: the data gave no batches\.$"):
        trainer.evaluate(model, [])
    fewer = r"The model has fewer outputs than there are classes: 5 outputs, but label 9 needs at least 10: give "
    with pytest.raises(IndexError, match=fewer + r"the last layer one output per class, 10 here\."):
        trainer.evaluate(Linear(outputs=5), data)  # the data module's 10 labels say how many classes there are


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
    plain, dropped = data.orders[:4], data.orders[4:]  # the sanity check's batch, then three epochs
    assert all(torch.equal(a, b) for a, b in zip(plain, dropped, strict=True))
    assert not torch.equal(plain[1], plain[2])  # but each epoch has its own order


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
    with pytest.raises(ValueError, match=r"keep_best='epoch' is not a metric"):
        Trainer(5, keep_best="epoch")
    with pytest.raises(ValueError, match=r"keep_best='val_accuracy' is not a metric of this run; its history has "
                                         r"\['train_loss', 'train_acc', 'val_loss', 'val_acc'\]"):  # fmt: skip
        fit(Linear(), data, keep_best="val_accuracy")


# The first batch's NaN, a forward of several inputs, predict's own messages ----------------------------------------
class TwoInputs(Classifier):
    """A model of two inputs, as ``Classifier`` allows: batches are ``(X1, X2, y)``; it classifies ``X1 + X2``."""

    def __init__(self, lr: float = 0.5) -> None:
        super().__init__()
        self.save_hyperparameters(lr=lr)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))

    def forward(self, X1: torch.Tensor, X2: torch.Tensor) -> torch.Tensor:
        return self.net(X1 + X2)


class TwoInputData(FakeData):
    """Each image split into two halves that add up to it: the batches are ``(X1, X2, y)``."""

    def train_dataloader(self) -> list[tuple[torch.Tensor, ...]]:
        return halves(self.train_X, self.train_y, self.batch_size)

    def val_dataloader(self) -> list[tuple[torch.Tensor, ...]]:
        return halves(self.val_X, self.val_y, self.batch_size)


def halves(X: torch.Tensor, y: torch.Tensor, batch_size: int) -> list[tuple[torch.Tensor, ...]]:
    top = X.clone()
    top[:, :, 14:] = 0
    return [(top[i : i + batch_size], (X - top)[i : i + batch_size], y[i : i + batch_size])
            for i in range(0, len(X), batch_size)]  # fmt: skip


def test_a_nan_start_names_what_holds_it_the_inputs_the_weights_or_else_the_loss(data: FakeData) -> None:
    before = "The training loss is nan on the first batch, before any training: "
    model = Linear()
    with torch.no_grad():
        model.net[2].weight[3, 7] = math.nan  # "I set one weight by hand"
    with pytest.raises(NonFiniteLossError, match=re.escape(before) + r"the initial weights hold NaN or inf values "
                                                 r"\(net\.2\.weight\): check how they are made"):  # fmt: skip
        fit(model, data)
    both = Linear()
    with torch.no_grad():
        both.net[2].weight.fill_(math.inf)
        both.net[2].bias.fill_(math.nan)
    with pytest.raises(NonFiniteLossError, match=r"hold NaN or inf values \(net\.2\.weight, net\.2\.bias\)"):
        fit(both, data)

    class LogOfZero(Linear):
        def training_step(self, batch):  # type: ignore[no-untyped-def]
            loss = super().training_step(batch)["loss"]
            return {"loss": torch.log(loss * 0) * 0}  # -inf * 0: a NaN from finite inputs and weights

    with pytest.raises(NonFiniteLossError, match=re.escape(before) + r"check the loss for a log or division of 0 "
                                                 r"\(a NaN from the first batch on\)$"):  # fmt: skip
        fit(LogOfZero(), data)
    two = TwoInputData()
    two.train_X[::2, 0, 20, 5] = math.nan  # in the bottom half: the batch's second input
    with pytest.raises(NonFiniteLossError, match=re.escape(before) + r"the batch's inputs \(item 1\) hold NaN or inf "
                       r"values: clean the data \(dividing by a spread that is 0, as X / X\.std\(dim=0\) does for "
                       r"pixels that are 0 in every image, makes NaN\)$"):  # fmt: skip
        fit(TwoInputs(), two)


def test_a_model_of_several_inputs_trains_evaluates_and_predicts(data: FakeData) -> None:
    two = TwoInputData()
    trainer = Trainer(max_epochs=4, device="cpu", progress="none", seed=0)
    model = TwoInputs()
    history = trainer.fit(model, two)
    assert history["val_acc"][-1] > 0.9  # it sees whole images, X1 + X2
    preds, labels = trainer.predict(model, two.val_dataloader())
    assert torch.equal(labels, two.val_y)  # the labels are the batches' last item, not their second
    expected = model.net(two.val_X).argmax(dim=1)
    assert torch.equal(preds, expected) and (preds == labels).float().mean() > 0.9


def test_predict_names_itself_and_explains_a_plain_torch_models_failure(data: FakeData) -> None:
    trainer = Trainer(max_epochs=1, device="cpu", progress="none")
    with pytest.raises(TypeError, match=r"^predict got a str as the model; pass a d2lmini\.Module"):
        trainer.predict("model.pt", data)  # type: ignore[arg-type]
    plain = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))  # no d2lmini.Module: predict itself explains
    with pytest.raises(RuntimeError, match=r"\nforward failed on .*The input is int64, but self\.1\.weight is float32"):
        trainer.predict(plain, [(data.val_X.long(), data.val_y)])


# A step that fails after the sanity check's batch is explained too -------------------------------------------------
def test_a_step_that_fails_on_a_later_batch_is_explained_as_the_first_would_be(data: FakeData) -> None:
    class FixedBatchSize(Linear):  # "X.reshape(16, ...)": right for every batch but a smaller last one
        def training_step(self, batch):  # type: ignore[no-untyped-def]
            X, y = batch
            return {"loss": F.cross_entropy(self(X.reshape(16, 1, 28, 28)), y)}

    with pytest.raises(RuntimeError, match=r"\ntraining_step failed on a batch of shapes \(6, 1, 28, 28\), \(6,\)\. "
                                           r"The reshape asks for 16 examples, but this batch has 6"):  # fmt: skip
        fit(FixedBatchSize(), FakeData(n_train=70))

    class ForgetsToReturn(Linear):  # returns only in the branch the first batch takes
        def training_step(self, batch):  # type: ignore[no-untyped-def]
            if len(batch[0]) == 16:
                return super().training_step(batch)

    with pytest.raises(TypeError, match=r"^training_step returned None \(is a return statement missing\?\)"):
        fit(ForgetsToReturn(), FakeData(n_train=70))

    class ValidationForgetsToReturn(Linear):
        def validation_step(self, batch):  # type: ignore[no-untyped-def]
            if len(batch[0]) == 16:
                return super().validation_step(batch)

    with pytest.raises(TypeError, match=r"^validation_step returned None \(is a return statement missing\?\)"):
        fit(ValidationForgetsToReturn(), FakeData(n_val=40))
    out_of_range = r"_step failed on a batch of shapes \(16, 1, 28, 28\), \(16,\)\. The labels are out of range: " \
                   r"this batch has labels from 0 to 10, but the data has 10 classes: labels 0 to 9\.$"  # fmt: skip
    data.train_y[-1] = 10  # one label off by one, in the last training batch
    with pytest.raises(IndexError, match=r"\ntraining" + out_of_range):
        fit(Linear(), data)
    data = FakeData()
    data.val_y[-1] = 10  # in the last validation batch
    with pytest.raises(IndexError, match=r"\nvalidation" + out_of_range):
        fit(Linear(), data)


# What the history and the progress displays show -------------------------------------------------------------------
def test_each_epochs_seconds_are_its_own_duration(data: FakeData) -> None:
    start = time.perf_counter()
    history = fit(Linear(), data, epochs=3)
    took = time.perf_counter() - start
    assert all(0 < s < took for s in history["seconds"]) and sum(history["seconds"]) < took


def test_patience_running_out_on_the_last_epoch_is_no_early_stop(data: FakeData) -> None:
    start = Linear(lr=0.1).state_dict()
    trainer = Trainer(max_epochs=3, device="cpu", progress="none", seed=0, keep_best="val_loss", patience=1)
    model = Scripted(trainer, SCRIPT)  # 0.5, 0.3, 0.4: epoch 3 is the first without a new best, and the last
    model.load_state_dict(start)
    history = trainer.fit(model, data)
    assert (len(history), history.best_epoch, history.stopped_early) == (3, 2, False)
    assert repr(history).startswith("History(3 epochs on cpu, best epoch 2;")


def test_the_terminal_bar_counts_batches_from_one_to_the_last(
    data: FakeData, capsys: pytest.CaptureFixture[str]
) -> None:
    Trainer(max_epochs=2, device="cpu", progress="terminal").fit(Linear(), data)
    err = capsys.readouterr().err
    assert "epoch 1/2 [#######.......................] 1/4" in err and "] 0/4" not in err
    assert "epoch 2/2 [##############################] 4/4" in err


def test_the_notebook_display_ends_with_the_last_epochs_line_however_training_ends(
    data: FakeData, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import IPython.display

    class Handle:
        def update(self, image: Any) -> None:
            pass

    monkeypatch.setattr(IPython.display, "display", lambda image, display_id=None: Handle())
    trainer = Trainer(max_epochs=2, device="cpu", progress="notebook")
    trainer.fit(Linear(), data)
    assert capsys.readouterr().out == trainer.history.describe(-1) + "\n"

    class Failing(Linear):
        def validation_step(self, batch):  # type: ignore[no-untyped-def]
            if len(trainer.history) == 1:
                raise OSError("disk full")
            return super().validation_step(batch)

    with pytest.raises(OSError, match=r"^disk full$"):
        trainer.fit(Failing(), data)
    assert capsys.readouterr().out.startswith(trainer.history.describe(-1) + "\nTraining stopped by the error below")


def test_labels_out_of_range_in_the_first_batch_of_a_model_of_two_inputs_are_explained() -> None:
    two = TwoInputData()
    two.train_y[0] = 10  # (X1, X2, y) batches are not looked at before the step: the step's failure is explained
    with pytest.raises(IndexError, match=r"\ntraining_step failed on a batch of shapes \(16, 1, 28, 28\), \(16, 1, 28, "
                                         r"28\), \(16,\)\. The labels are out of range: this batch has labels from 0 "
                                         r"to 10, but the data has 10 classes: labels 0 to 9\.$"):  # fmt: skip
        fit(TwoInputs(), two)


def test_a_loss_that_turns_negative_after_the_first_batch_is_warned_about_once(data: FakeData) -> None:
    class Shifted(Linear):  # "minus a constant does not change the gradient": but no cross-entropy is negative
        def training_step(self, batch):  # type: ignore[no-untyped-def]
            return {"loss": super().training_step(batch)["loss"] - 1.0}

    model = Shifted()
    first = F.cross_entropy(model(data.train_X[:16]), data.train_y[:16]).item() - 1.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = fit(model, data, epochs=3, seed=0)
    negative = [w for w in caught if "the training loss is negative" in str(w.message)]
    assert first > 0 > history["train_loss"][-1]  # the first batch gave no reason to warn; the last epoch does
    assert len(negative) == 1 and "which no cross-entropy can be" in str(negative[0].message)


def test_ctrl_c_in_the_first_epoch_with_keep_best_keeps_the_current_weights(
    data: FakeData, capsys: pytest.CaptureFixture[str]
) -> None:
    class Interrupted(Linear):
        seen = 0

        def training_step(self, batch):  # type: ignore[no-untyped-def]
            Interrupted.seen += 1
            if Interrupted.seen == 3:  # the sanity check's batch, then epoch 1's first; stop in its second
                raise KeyboardInterrupt
            return super().training_step(batch)

    trainer = Trainer(max_epochs=3, device="cpu", progress="none", keep_best="val_loss")
    model = Interrupted()
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(model, data)
    assert trainer.history.best_epoch is None and capsys.readouterr().out == (
        "Training interrupted during epoch 1: the model keeps its current weights; trainer.history holds the 0 "
        "finished epoch(s).\n")  # fmt: skip


@pytest.mark.parametrize("key", ["val_loss", "val_acc"])
def test_keep_best_keeps_the_earlier_of_two_equal_epochs(data: FakeData, key: str) -> None:
    trainer = Trainer(max_epochs=4, device="cpu", progress="none", seed=0, keep_best=key, patience=2)
    history = trainer.fit(Scripted(trainer, [0.5, 0.3, 0.3, 0.3]), data)  # no new best after epoch 2
    assert (len(history), history.best_epoch, history.stopped_early) == (4, 2, False)


def test_a_loader_that_gives_no_batch_despite_its_len_is_named(data: FakeData) -> None:
    class Once:
        """A loader over an iterator (``iter(batches)``): used up by an earlier cell, though its len() still says 4."""

        def __init__(self) -> None:
            self.batches: Iterator[Any] = iter([])

        def __len__(self) -> int:
            return 4

        def __iter__(self) -> Iterator[Any]:
            return self.batches

    data.train_dataloader = Once  # type: ignore[method-assign]
    with pytest.raises(ValueError, match=r"^the Once gave no batch, although its len\(\) is 4\.$"):
        fit(Linear(), data)


def test_the_order_of_fits_arguments_and_odd_but_valid_data_modules(
    data: FakeData, fake_data_dir: Path, no_checksums: None
) -> None:
    fashion = FashionMNIST(batch_size=16, root=fake_data_dir)
    with pytest.raises(TypeError, match=r"^Trainer\.fit got the data first and the model second: call "
                                        r"trainer\.fit\(model, data\)\.$"):  # fmt: skip
        fit(fashion, Linear())  # type: ignore[arg-type]
    model = Linear()
    with pytest.raises(TypeError, match=r"^Trainer\.fit got a Linear as data; pass a data module with"):
        fit(model, model)  # the model passed twice

    class LightningStyle(Linear):  # a model that brings its own loaders, as in PyTorch Lightning, is still the model
        def train_dataloader(self) -> FakeLoader:
            return data.train_dataloader()

    assert len(fit(LightningStyle(), data)) == 2

    class Unshuffled(FakeData):  # a data module without a generator of its own
        def __init__(self) -> None:
            super().__init__()
            del self.generator

        def train_dataloader(self) -> FakeLoader:
            return FakeLoader(self.train_X, self.train_y, self.batch_size)

    assert len(fit(Linear(), Unshuffled(), seed=0)) == 2


def test_a_trainers_history_before_any_fit_is_empty_and_names_the_device() -> None:
    trainer = Trainer(max_epochs=3, device="cpu", progress="none")
    assert repr(trainer.history) == "History(0 epochs on cpu)" and trainer.history.keys() == []


def test_lazy_layers_of_a_model_of_several_inputs_are_initialised(data: FakeData) -> None:
    model = TwoInputs()
    model.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(10))
    history = fit(model, TwoInputData(), epochs=3, seed=0)
    assert model.net[1].weight.shape == (10, 784) and history["val_acc"][-1] > 0.9


def test_the_trainers_warnings_point_at_the_readers_fit_call(data: FakeData) -> None:
    class Negative(Linear):  # F.nll_loss on raw logits: negative from the first batch on
        def training_step(self, batch):  # type: ignore[no-untyped-def]
            return {"loss": F.nll_loss(self(batch[0]), batch[1])}

    class Shifted(Linear):  # positive on the first batch, negative after some training
        def training_step(self, batch):  # type: ignore[no-untyped-def]
            return {"loss": super().training_step(batch)["loss"] - 1.0}

    small = FakeData(n_train=8)
    small.batch_size = 64  # larger than the training set: one step per epoch
    line = inspect.currentframe().f_lineno + 4  # type: ignore[union-attr]  # the line marked "this line"
    for model, source, epochs in ((Negative(), data, 1), (Shifted(), data, 3), (Linear(), small, 1)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Trainer(max_epochs=epochs, device="cpu", progress="none", seed=0).fit(model, source)  # this line
        assert caught and {(Path(w.filename).name, w.lineno) for w in caught} == {("test_train.py", line)}


def test_no_warning_for_a_small_positive_first_loss_or_a_batch_the_size_of_the_data(data: FakeData) -> None:
    class Scaled(Linear):  # a loss below 1 on the first batch is no negative loss
        def training_step(self, batch):  # type: ignore[no-untyped-def]
            return {"loss": super().training_step(batch)["loss"] * 0.1}

    full = FakeData(n_train=16)  # batch_size 16: one batch, but not larger than the data (full-batch descent)

    class NoSize(FakeData):  # a data module that does not say its batch size
        def __init__(self) -> None:
            super().__init__(n_train=8)
            self.size = self.__dict__.pop("batch_size")

        def train_dataloader(self) -> FakeLoader:
            return FakeLoader(self.train_X, self.train_y, self.size, self.generator, self.orders)

        def val_dataloader(self) -> FakeLoader:
            return FakeLoader(self.val_X, self.val_y, self.size)

    no_size = NoSize()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(Scaled(), data, epochs=1)
        fit(Linear(), full, epochs=1)
        fit(Linear(), no_size, epochs=1)


def test_first_validation_batch_labels_out_of_range_are_explained_with_the_datas_classes() -> None:
    two = TwoInputData()
    two.val_y[0] = 10
    with pytest.raises(IndexError, match=r"\nvalidation_step failed on .*but the data has 10 classes: labels 0 to 9"):
        fit(TwoInputs(), two)
