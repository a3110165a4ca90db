"""The Trainer: history, NaN stop, Ctrl-C, device choice, clipping, seeding, lazy layers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from d2lmini import train as train_mod
from d2lmini.data import FashionMNIST
from d2lmini.history import History
from d2lmini.module import Classifier
from d2lmini.train import NonFiniteLossError, Trainer, resolve_device, seed_everything


class Linear(Classifier):
    def __init__(self, lr: float = 0.5, lazy: bool = False) -> None:
        super().__init__()
        self.save_hyperparameters(lr=lr)
        self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(10) if lazy else nn.Linear(784, 10))


@pytest.fixture
def data(fake_data_dir: Path, no_checksums: None) -> FashionMNIST:
    return FashionMNIST(batch_size=16, root=fake_data_dir)


def test_fit_returns_a_full_history_and_learns(data: FashionMNIST) -> None:
    seed_everything(0)
    history = Trainer(max_epochs=8, device="cpu", progress="none").fit(Linear(), data)
    assert isinstance(history, History) and len(history) == 8 and not history.interrupted
    assert history.keys() == ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"]
    assert history["epoch"] == [float(e) for e in range(1, 9)]
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history.final["val_acc"] == 1.0  # the fake classes are trivially separable
    assert all(s > 0 for s in history["seconds"])
    assert "8 epochs on cpu" in repr(history)
    with pytest.raises(KeyError, match="no metric 'accuracy'"):
        history["accuracy"]


def test_nan_loss_stops_with_a_clear_message_and_keeps_history(data: FashionMNIST) -> None:
    class Poisoned(Linear):
        calls = 0

        def training_step(self, batch):  # type: ignore[no-untyped-def]
            Poisoned.calls += 1
            out = super().training_step(batch)
            if Poisoned.calls == 6:  # epoch 2, batch 2 (4 batches per epoch)
                out["loss"] = out["loss"] * float("nan")
            return out

    model = Poisoned()
    with pytest.raises(NonFiniteLossError, match=r"became nan at epoch 2, batch 2.*learning rate") as err:
        Trainer(max_epochs=5, device="cpu", progress="none").fit(model, data)
    assert len(err.value.history) == 1
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_ctrl_c_keeps_model_and_history(data: FashionMNIST, capsys: pytest.CaptureFixture[str]) -> None:
    model = Linear()
    calls = {"n": 0}
    original = model.training_step

    def interrupt_in_third_epoch(batch):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 10:
            raise KeyboardInterrupt
        return original(batch)

    model.training_step = interrupt_in_third_epoch  # type: ignore[method-assign]
    before = model.net[1].weight.detach().clone()
    history = Trainer(max_epochs=5, device="cpu", progress="none").fit(model, data)
    assert history.interrupted and len(history) == 2
    assert not torch.equal(before, model.net[1].weight)  # trained weights are kept
    assert not model.training  # left in eval mode
    assert "interrupted during epoch 3" in capsys.readouterr().out


def test_device_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert Trainer(1).device == torch.device("cpu")


def test_gradient_clipping_is_applied(data: FashionMNIST, monkeypatch: pytest.MonkeyPatch) -> None:
    norms: list[float] = []
    real_clip = train_mod.nn.utils.clip_grad_norm_

    def spy(params, max_norm):  # type: ignore[no-untyped-def]
        norms.append(max_norm)
        return real_clip(params, max_norm)

    monkeypatch.setattr(train_mod.nn.utils, "clip_grad_norm_", spy)
    Trainer(max_epochs=1, device="cpu", progress="none", gradient_clip_val=0.5).fit(Linear(), data)
    assert norms == [0.5] * 4


def test_seed_makes_runs_repeat(data: FashionMNIST) -> None:
    results = []
    for _ in range(2):
        seed_everything(1)
        model = Linear()
        Trainer(max_epochs=2, device="cpu", progress="none", seed=5).fit(model, data)
        results.append(model.net[1].weight.detach().clone())
    assert torch.equal(*results)


def test_lazy_layers_are_initialised_before_the_optimizer(data: FashionMNIST) -> None:
    model = Linear(lazy=True)
    history = Trainer(max_epochs=2, device="cpu", progress="none").fit(model, data)
    assert model.net[1].weight.shape == (10, 784)
    assert history["train_loss"][1] < history["train_loss"][0]


def test_predict_and_evaluate(data: FashionMNIST) -> None:
    trainer = Trainer(max_epochs=3, device="cpu", progress="none")
    model = Linear()
    trainer.fit(model, data)
    preds, labels = trainer.predict(model, data.val_dataloader())
    assert preds.shape == labels.shape == (32,)
    assert trainer.evaluate(model, data)["val_acc"] == pytest.approx((preds == labels).float().mean().item())


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_epochs must be at least 1"):
        Trainer(0)
    with pytest.raises(ValueError, match="progress must be"):
        Trainer(1, progress="fancy")  # type: ignore[arg-type]


def test_seed_fixes_the_data_order_whatever_the_model(data: FashionMNIST, monkeypatch: pytest.MonkeyPatch) -> None:
    orders = []
    real_randperm = torch.randperm

    def spy(n, *args, **kwargs):  # type: ignore[no-untyped-def]
        order = real_randperm(n, *args, **kwargs)
        orders.append(order.clone())
        return order

    monkeypatch.setattr(torch, "randperm", spy)
    for lazy in (False, True):  # the lazy model draws its weights inside fit
        torch.manual_seed(len(orders) + 7)  # and the generator starts elsewhere each time
        Trainer(max_epochs=1, device="cpu", progress="none", seed=3).fit(Linear(lazy=lazy), data)
    assert len(orders) == 2 and torch.equal(orders[0], orders[1])


def test_a_scheduler_from_configure_optimizers_is_stepped_each_epoch(data: FashionMNIST) -> None:
    class Decaying(Linear):
        def configure_optimizers(self):  # type: ignore[no-untyped-def]
            self.optimizer = torch.optim.SGD(self.parameters(), lr=1.0)
            return self.optimizer, torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=1, gamma=0.5)

    model = Decaying()
    Trainer(max_epochs=3, device="cpu", progress="none").fit(model, data)
    assert model.optimizer.param_groups[0]["lr"] == 0.125  # halved after each of the three epochs
    with pytest.raises(TypeError, match="must return an optimizer or a pair"):

        class Wrong(Linear):
            def configure_optimizers(self):  # type: ignore[no-untyped-def]
                return "sgd"

        Trainer(max_epochs=1, device="cpu", progress="none").fit(Wrong(), data)


def test_shape_errors_name_the_batch_and_the_likely_fix(data: FashionMNIST) -> None:
    class NoFlatten(Classifier):
        def __init__(self) -> None:
            super().__init__()
            self.save_hyperparameters(lr=0.1)
            self.net = nn.Linear(784, 10)

    with pytest.raises(RuntimeError, match=r"training_step failed on a batch of shapes \(16, 1, 28, 28\), \(16,\).*"
                       r"does forward flatten the images"):  # fmt: skip
        Trainer(max_epochs=1, device="cpu", progress="none").fit(NoFlatten(), data)
