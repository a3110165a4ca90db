"""The training loop: :class:`Trainer`.

``Trainer.fit(model, data)`` runs minibatch training for ``max_epochs``
epochs, evaluates on the validation set after each one and returns the
:class:`~d2lmini.history.History`.  Before the first epoch it runs one
training and one validation batch through the model's steps and checks
them (then puts everything back, so the run is unchanged); during an epoch
it checks nothing and waits for nothing, so a GPU never idles for the host:
the metrics and the loss's NaN check are read once per epoch.  It never
loses finished work: whatever stops it (an error, a NaN loss, Ctrl-C), the
finished epochs stay on ``trainer.history`` and on the exception's
``.history``.  What it expects of the model, the data and the steps is
checked in :mod:`d2lmini.contract`; a step that fails is explained by
:mod:`d2lmini.explain`; seeding and the choice of device are in
:mod:`d2lmini.devices`.
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import torch
from torch import nn

from d2lmini.arguments import positive_int
from d2lmini.contract import (
    Metrics,
    as_loader,
    as_metrics,
    check_batch,
    check_classes,
    check_data_module,
    check_loss,
    check_model,
    check_parameters,
    classes_of,
    negative_loss_warning,
    optimizers_of,
    warn_untrained,
)
from d2lmini.data import TensorLoader
from d2lmini.devices import home_device, preserved, resolve_device, seed_everything
from d2lmini.explain import Batch, call_explained
from d2lmini.history import History
from d2lmini.module import Module, has_lazy_parameters
from d2lmini.progress import NoProgress, ProgressMode, make_progress


class DataModule(Protocol):
    """Anything with a training and a validation loader (iterables of batches with a ``len``), e.g. FashionMNIST."""

    def train_dataloader(self) -> Any: ...

    def val_dataloader(self) -> Any: ...


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the model was reset to its last good finished epoch (see ``.history``)."""

    history: History


class _Mean:
    """Means of a step's metrics over an epoch, weighted by batch size.

    The steps' values are only kept (no arithmetic, nothing read from the
    device) and summed at the end of the epoch, in order, as ``v1 * n1 + v2 *
    n2 + ...`` in the values' own dtype, then divided by the count.
    """

    def __init__(self) -> None:
        self.values: dict[str, list[torch.Tensor]] = {}
        self.sizes: list[int] = []

    def add(self, metrics: dict[str, torch.Tensor | float], n: int) -> None:
        for key, value in metrics.items():
            self.values.setdefault(key, []).append(torch.as_tensor(value).detach())
        self.sizes.append(n)

    def column(self, key: str) -> torch.Tensor:
        """One metric's value at every step, in one tensor on the device."""
        return torch.stack(self.values[key])

    def result(self) -> dict[str, float]:
        """The means, read from the device once per metric (NaN on the meta device, which holds no values)."""
        if not self.sizes:
            raise ValueError("there is nothing to average: the data gave no batches.")
        means = {}
        for key in self.values:
            column = self.column(key)
            if column.device.type == "meta":
                means[key] = math.nan
                continue
            column = column.cpu()
            total = column[0] * self.sizes[0]
            for value, n in zip(column[1:], self.sizes[1:], strict=True):
                total = total + value * n
            means[key] = float(total) / sum(self.sizes)
        return means


class Trainer:
    """Fit a :class:`~d2lmini.module.Module` to a data module.

    Args:
        max_epochs: number of passes over the training set.
        device: ``"auto"`` (CUDA, then MPS, then CPU), or e.g. ``"cpu"``, ``"cuda:0"``;
            a device this machine lacks is refused here, with the list of those it has.
        gradient_clip_val: if set, clip the gradients' global norm to this value.
        progress: ``"auto"`` (live figure in Jupyter, a bar in a terminal),
            ``"notebook"``, ``"terminal"``, or ``"none"``/``False``.
        seed: if set, ``fit`` seeds all generators, and the data module's own
            ``generator`` if it has one, once the model is set up: the order
            of the minibatches then depends on the seed only, not on what the
            model draws.  (Seed before building a model to repeat its initial
            weights too.)
        keep_best: a metric of the History, such as ``"val_loss"`` or
            ``"val_acc"``: ``fit`` tracks the epoch where it was best (smallest
            for names ending in ``"loss"``, largest otherwise) and ends with the
            model holding that epoch's weights, however training ended (the
            last epoch, ``patience``, a NaN loss, an error or Ctrl-C);
            ``history.best_epoch`` is its number (1-based).  This is early
            stopping chosen on the validation set: report the test set once,
            afterwards.
        patience: with ``keep_best``, stop after this many epochs in a row
            without a new best (``history.stopped_early`` is then True).

    After ``fit``, ``trainer.history`` holds the finished epochs, also when
    training stopped with an exception.

    Devices: ``fit``, ``evaluate`` and ``predict`` move the model to the
    trainer's device and, when they return (or fail), back to the device it
    came from, as PyTorch Lightning's single-device strategy does at
    teardown.  A model made on the CPU is therefore on the CPU after
    ``fit``, wherever it trained, and every next cell works as written:
    ``model(data.val_X[:8])``, plotting its weights, a checker.  The data
    module's tensors stay on the CPU too (``data.val_X`` is what you see);
    on a GPU its loaders send the stored uint8 pixels there once and cut
    and convert each batch on the device.  The alternatives are worse for a
    student: leaving the model on the GPU makes every later cell that feeds
    it CPU tensors fail (on Colab's GPU runtime, not on the laptop where
    the notebook was written), and moving inputs inside ``forward`` hides
    the devices a student needs to understand to write a loop of their own.
    The price is one copy of the weights each way per call (0.8 MB for the
    book's MLP).  ``device="meta"`` runs every step on tensors that have a
    shape but no values: the tests use it to see that everything is moved
    to the trainer's device; metrics are NaN, and a model cannot come back
    from it (its values are gone).
    """

    def __init__(
        self,
        max_epochs: int,
        device: str | torch.device = "auto",
        gradient_clip_val: float | None = None,
        progress: ProgressMode = "auto",
        seed: int | None = None,
        keep_best: str | None = None,
        patience: int | None = None,
    ) -> None:
        self.max_epochs = positive_int("max_epochs", max_epochs, 10)
        clip = gradient_clip_val
        if clip is not None and (isinstance(clip, bool) or not isinstance(clip, numbers.Real)):
            raise TypeError(f"gradient_clip_val must be a positive number such as 1.0, or None; not {clip!r}.")
        if clip is not None and not clip > 0:
            raise ValueError(f"gradient_clip_val must be a positive number such as 1.0, or None; not {clip!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise TypeError(f"seed must be a whole number such as 0, or None; not {seed!r}.")
        if keep_best is not None and not isinstance(keep_best, str):
            raise TypeError(f"keep_best must be the name of a metric such as 'val_loss' or 'val_acc', or None; "
                            f"not {keep_best!r}.")  # fmt: skip
        if keep_best in ("epoch", "seconds"):
            raise ValueError(f"keep_best={keep_best!r} is not a metric; use one such as 'val_loss' or 'val_acc'.")
        if patience is not None:
            patience = positive_int("patience", patience, 3)
            if keep_best is None:
                raise ValueError(f"patience={patience} needs keep_best, the metric to watch: "
                                 f"Trainer(..., keep_best='val_loss', patience={patience}).")  # fmt: skip
        make_progress(progress)  # fail now, not after the set-up, on a misspelt mode
        self.device = resolve_device(device)
        self.gradient_clip_val = gradient_clip_val
        self.progress = progress
        self.seed = seed
        self.keep_best, self.patience = keep_best, patience
        self.history = History(device=str(self.device))

    # Fitting ------------------------------------------------------------------------------------------------------
    def fit(self, model: Module, data: DataModule) -> History:
        """Train ``model`` on ``data`` and return the per-epoch :class:`History` (also kept on ``self.history``).

        ``model.configure_optimizers()`` may return an optimizer, or a pair
        ``(optimizer, scheduler)`` whose learning-rate scheduler is stepped
        after every epoch (a ``ReduceLROnPlateau`` with the validation loss).
        If the training or validation loss becomes NaN or infinite, the
        model's weights are reset to those of the last good finished epoch
        (or the start) and :class:`NonFiniteLossError` says where it went
        wrong.  Ctrl-C keeps the weights, prints one line and lets the
        interrupt through, so "Run All" stops.

        Calling ``fit`` again on the same model continues from its current
        weights, with a new optimizer from ``configure_optimizers`` and a new
        History whose epochs count from 1 again; to start over, make a new model.
        """
        self.history = History(device=str(self.device))
        if isinstance(data, nn.Module) and callable(getattr(model, "train_dataloader", None)):
            raise TypeError("Trainer.fit got the data first and the model second: call trainer.fit(model, data).")
        batches = check_data_module(data)
        check_model(model, "Trainer.fit", ("training_step", "validation_step", "configure_optimizers"))
        home = home_device(model, self.device)
        model.to(self.device)
        try:
            self._initialise_lazy(model, data)
            check_parameters(model)
            optimizer, scheduler = optimizers_of(model)
            if self.seed is not None:
                seed_everything(self.seed)
                generator = getattr(data, "generator", None)
                if generator is not None:
                    generator.manual_seed(self.seed)
            self._sanity_check(model, data, optimizer)
            self._run(model, data, optimizer, scheduler, batches)
        except BaseException as err:
            err.history = self.history  # type: ignore[attr-defined]  # what finished, whatever stopped it
            raise
        finally:
            model.eval().to(home)
        return self.history

    def _sanity_check(self, model: Module, data: DataModule, optimizer: torch.optim.Optimizer) -> None:
        """Run one training batch and one validation batch through the steps before the first epoch, traceless.

        As PyTorch Lightning's sanity check: a mistake in ``validation_step``
        shows in seconds, not after a whole epoch.  The training step's
        result is checked here, once (its form, its gradient, the parameters
        the optimizer holds), instead of at every step.  Everything the check
        changes is put back (the random generators, the data module's
        ``generator``, the weights, buffers and gradients), so training then
        runs bit for bit as it would without it.
        """
        classes, dry = classes_of(data), self.device.type == "meta"
        self._warned_negative = False
        with preserved(model, getattr(data, "generator", None)):
            for p in model.parameters():
                p.grad = None
            model.train()
            batch = self._first_batch(data.train_dataloader())
            check_classes(model, batch, classes)
            with torch.enable_grad():
                out = call_explained(model.training_step, batch, "training_step", model, classes)
                train = as_metrics(out, "training_step")
                check_loss(train["loss"], model)
                warn_untrained(model, optimizer, train["loss"])
            first = math.nan if dry else float(train["loss"].detach())
            if not (dry or math.isfinite(first)):
                raise NonFiniteLossError(_bad_start(first, batch, model))
            if first < 0:
                self._warned_negative = True
                warnings.warn(negative_loss_warning(first), stacklevel=3)
            size = getattr(data, "batch_size", 0)
            if len(data.train_dataloader()) == 1 and isinstance(size, int) and size > len(batch[-1]):
                warnings.warn(
                    f"batch_size={size} is larger than the training set ({len(batch[-1])} examples): every epoch "
                    f"is one step of gradient descent. Choose a batch size well below {len(batch[-1])}.",
                    stacklevel=3,
                )
            model.eval()
            with torch.no_grad():
                batch = self._first_batch(data.val_dataloader())
                val = as_metrics(call_explained(model.validation_step, batch, "validation_step", model, classes),
                                 "validation_step")  # fmt: skip
        metrics = [f"train_{k}" for k in train] + [f"val_{k}" for k in val]
        if self.keep_best is not None and self.keep_best not in metrics:
            raise ValueError(f"keep_best={self.keep_best!r} is not a metric of this run; its history has {metrics}.")

    def _run(
        self, model: Module, data: DataModule, optimizer: torch.optim.Optimizer, scheduler: Any, batches: int
    ) -> None:
        """The epochs: train, step the scheduler, validate, record; on any stop, keep what finished."""
        history, classes = self.history, classes_of(data)
        plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
        best = _BestEpoch(self.keep_best, self.patience) if self.keep_best else None
        progress = make_progress(self.progress)
        progress.start(self.max_epochs, batches)
        last_good = _copy_state(model)
        try:
            for epoch in range(1, self.max_epochs + 1):
                start = time.perf_counter()
                record = {"epoch": float(epoch)} | self._train_epoch(model, data, optimizer, epoch, progress, classes)
                if scheduler is not None and not plateau:
                    scheduler.step()
                model.eval()
                with torch.no_grad():
                    val = self._mean_metrics(model, data.val_dataloader(), classes)
                if not (math.isfinite(val["loss"]) or self.device.type == "meta"):
                    raise NonFiniteLossError(f"The validation loss became {val['loss']} after epoch {epoch}'s training")
                if plateau:
                    scheduler.step(val["loss"])
                record |= {f"val_{k}": v for k, v in val.items()}
                record["seconds"] = time.perf_counter() - start
                history.records.append(record)
                last_good = _copy_state(model)
                out_of_patience = best is not None and best.update(history, last_good)
                progress.epoch(history)
                if out_of_patience and epoch < self.max_epochs:
                    history.stopped_early = True
                    break
        except BaseException as err:
            progress.close(history)  # finishes the progress line before any message or traceback
            self._stopped(err, model, last_good, best)
            raise
        if best is not None:
            model.load_state_dict(best.state)  # type: ignore[arg-type]
        progress.close(history)

    def _train_epoch(
        self,
        model: Module,
        data: DataModule,
        optimizer: torch.optim.Optimizer,
        epoch: int,
        progress: NoProgress,
        classes: int | None,
    ) -> dict[str, float]:
        """One pass over the training set; the loss is checked for NaN once, at the end (no sync per step)."""
        model.train()
        mean = _Mean()
        with torch.enable_grad():
            for index, batch in enumerate(self._batches(data.train_dataloader()), start=1):
                out = call_explained(model.training_step, batch, "training_step", model, classes)
                metrics = as_metrics(out, "training_step")
                optimizer.zero_grad(set_to_none=True)
                metrics["loss"].backward()  # type: ignore[union-attr]
                if self.gradient_clip_val is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), self.gradient_clip_val)
                optimizer.step()
                mean.add(metrics, len(batch[-1]))
                progress.batch(epoch, index)
        if self.device.type != "meta":
            values = mean.column("loss")
            bad = torch.isfinite(values).logical_not().nonzero()
            if len(bad):
                index = int(bad[0])
                raise NonFiniteLossError(f"The training loss became {values[index].item()} at epoch {epoch}, "
                                         f"batch {index + 1}")  # fmt: skip
        result = {f"train_{k}": v for k, v in mean.result().items()}
        if result["train_loss"] < 0 and not self._warned_negative:
            self._warned_negative = True
            warnings.warn(negative_loss_warning(result["train_loss"]), stacklevel=4)
        return result

    def _stopped(
        self, err: BaseException, model: nn.Module, last_good: dict[str, torch.Tensor], best: _BestEpoch | None
    ) -> None:
        """Reset the weights after a NaN (with ``keep_best``: to the best epoch's, however it stopped); say so."""
        history = self.history
        where = f"during epoch {len(history) + 1}"
        done = f"trainer.history holds the {len(history)} finished epoch(s)."
        kept = best is not None and best.state is not None
        if kept:
            model.load_state_dict(best.state)  # type: ignore[union-attr, arg-type]
        if isinstance(err, NonFiniteLossError):
            if not kept:
                model.load_state_dict(last_good)
            restored = (f"those of its best epoch, {history.best_epoch}" if kept
                        else f"those at the end of epoch {len(history)}" if history.records
                        else "their values before training")  # fmt: skip
            err.args = (
                f"{err}; training stopped and the model's weights are back to {restored}, so it can still be "
                f"evaluated. Usual causes: a learning rate too large (try a tenth of it), exploding gradients (try "
                f"Trainer(gradient_clip_val=1.0)), or NaN/inf values in the inputs or the initial weights. The "
                f"{len(history)} finished epoch(s) are on trainer.history and on this error's .history.",
            )
        elif isinstance(err, KeyboardInterrupt):
            history.interrupted = True
            weights = f"those of its best epoch, {history.best_epoch}" if kept else "its current weights"
            print(f"Training interrupted {where}: the model keeps {weights}; {done}", flush=True)
        elif history.records:
            print(f"Training stopped by the error below {where}; {done}", flush=True)

    # Batches on the device ----------------------------------------------------------------------------------------
    def _batches(self, loader: Iterable[Batch]) -> Iterator[list[torch.Tensor]]:
        """The loader's batches on this trainer's device (a TensorLoader's tensors are sent there once)."""
        if isinstance(loader, TensorLoader):
            loader = loader.to(self.device)
        for batch in loader:
            yield self._to_device(batch)

    def _to_device(self, batch: Batch) -> list[torch.Tensor]:
        check_batch(batch)
        return [t.to(self.device, non_blocking=True) for t in batch]

    def _first_batch(self, loader: Iterable[Batch]) -> list[torch.Tensor]:
        batch = next(iter(self._batches(loader)), None)
        if batch is None:
            size = len(loader)  # type: ignore[arg-type]
            raise ValueError(f"the {type(loader).__name__} gave no batch, although its len() is {size}.")
        return batch

    def _initialise_lazy(self, model: nn.Module, data: DataModule) -> None:
        """Run one batch through a model with lazy layers so every shape is known.

        The batch comes from the validation loader, which does not shuffle, so
        this draws no random numbers besides the new layers' initial weights.
        """
        if has_lazy_parameters(model):
            batch = self._first_batch(data.val_dataloader())
            with torch.no_grad():
                call_explained(lambda b: model(*b[:-1]), batch, "the first forward pass (initialising lazy layers)",
                               model)  # fmt: skip

    # Evaluating and predicting ------------------------------------------------------------------------------------
    def _mean_metrics(self, model: Module, loader: Iterable[Batch], classes: int | None = None) -> dict[str, float]:
        mean = _Mean()
        for batch in self._batches(loader):
            out = call_explained(model.validation_step, batch, "validation_step", model, classes)
            mean.add(as_metrics(out, "validation_step"), len(batch[-1]))
        return mean.result()

    @contextmanager
    def _on_device(self, model: nn.Module) -> Iterator[None]:
        """Run ``model`` on this trainer's device in eval mode, then put it back where and as it was."""
        home, was_training = home_device(model, self.device), model.training
        model.to(self.device).eval()
        try:
            with torch.no_grad():
                yield
        finally:
            model.train(was_training).to(home)

    def evaluate(self, model: Module, data: DataModule | Iterable[Batch]) -> dict[str, float]:
        """Mean of ``model.validation_step``'s metrics (e.g. ``{"loss": ..., "acc": ...}``) over ``data``.

        ``data`` is a data module (its validation set is used) or any iterable
        of batches, such as ``data.test_dataloader()``.  The model runs on this
        trainer's device and is left on its own device, in its own mode.
        """
        check_model(model, "evaluate", ("validation_step",))
        with self._on_device(model):
            return Metrics(self._mean_metrics(model, as_loader(data), classes_of(data)))

    def predict(self, model: nn.Module, data: DataModule | Iterable[Batch]) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted class indices and true labels, on the CPU, over ``data`` (as for :meth:`evaluate`)."""
        check_model(model, "predict", ())
        preds, labels = [], []
        with self._on_device(model):
            for batch in self._batches(as_loader(data)):
                preds.append(call_explained(lambda b: model(*b[:-1]), batch, "forward", model).argmax(dim=1).cpu())
                labels.append(batch[-1].cpu())
        return torch.cat(preds), torch.cat(labels)


def _bad_start(loss: float, batch: list[torch.Tensor], model: nn.Module) -> str:
    """The message for a loss that is not finite on the first batch, before any training: what holds NaN or inf."""
    inputs = [i for i, t in enumerate(batch[:-1]) if t.is_floating_point() and not torch.isfinite(t).all()]
    weights = [name for name, p in model.named_parameters() if not torch.isfinite(p).all()]
    cause = (f"the batch's inputs (item {inputs[0]}) hold NaN or inf values: clean the data (dividing by a spread "
             "that is 0, as X / X.std(dim=0) does for pixels that are 0 in every image, makes NaN)" if inputs
             else f"the initial weights hold NaN or inf values ({', '.join(weights)}): check how they are made"
             if weights else "check the loss for a log or division of 0 (a NaN from the first batch on)")  # fmt: skip
    return f"The training loss is {loss} on the first batch, before any training: {cause}"


class _BestEpoch:
    """For ``keep_best``: the best value of one metric so far, that epoch's weights, and the patience left."""

    def __init__(self, key: str, patience: int | None) -> None:
        self.key, self.patience = key, patience
        self.smaller_is_better = key.endswith("loss")
        self.value = math.nan
        self.state: dict[str, torch.Tensor] | None = None

    def update(self, history: History, state: dict[str, torch.Tensor]) -> bool:
        """Take note of the epoch just finished (its weights are ``state``); True once patience has run out."""
        value = history.final[self.key]
        better = value < self.value if self.smaller_is_better else value > self.value
        if better or math.isnan(self.value):
            self.value, self.state, history.best_epoch = value, state, len(history)
        return self.patience is not None and len(history) - history.best_epoch >= self.patience  # type: ignore[operator]


def _copy_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the weights and buffers, on their device: cheap enough to take once per epoch."""
    return {key: value.detach().clone() for key, value in model.state_dict().items()}
