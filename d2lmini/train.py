"""The training loop: :class:`Trainer`, seeding and device choice.

``Trainer.fit(model, data)`` runs minibatch training for ``max_epochs``
epochs, evaluates on the validation set after each one and returns the
:class:`~d2lmini.history.History`.  It never loses finished work: whatever
stops it (an error, a NaN loss, Ctrl-C), the finished epochs stay on
``trainer.history`` and on the exception's ``.history``.  What it expects
of the model, the data and the steps, and the messages when a mistake
breaks that, are in :mod:`d2lmini.contract`.
"""

from __future__ import annotations

import math
import numbers
import random
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from d2lmini.arguments import positive_int
from d2lmini.contract import (
    STEP_CONTRACT,
    Batch,
    as_loader,
    as_metrics,
    call_explained,
    check_data_module,
    check_model,
    check_parameters,
    classes_of,
    not_batches,
    optimizers_of,
)
from d2lmini.history import History
from d2lmini.module import Module, has_lazy_parameters
from d2lmini.progress import NoProgress, ProgressMode, make_progress


class DataModule(Protocol):
    """Anything with a training and a validation loader (iterables of batches with a ``len``), e.g. FashionMNIST."""

    def train_dataloader(self) -> Any: ...

    def val_dataloader(self) -> Any: ...


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the model was reset to its last finished epoch (see ``.history``)."""

    history: History


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's random generators."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be a whole number such as 0, not {seed!r}.")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA's generators


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)  # absent from some builds
    return mps is not None and mps.is_available()


def available_devices() -> list[str]:
    """The devices this machine can train on, e.g. ``["cpu", "cuda:0"]``."""
    devices = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count() if torch.cuda.is_available() else 0)]
    return [*devices, "mps"] if _mps_available() else devices


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple's MPS, then the CPU; a named device must exist on this machine."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu")
    devices = available_devices()
    choices = f"this machine has: 'auto' (the fastest), {', '.join(repr(d) for d in devices)}"
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ValueError(f"device={device!r} is not a device name; {choices}.") from None
    index = f"{resolved.type}:{resolved.index or 0}" if resolved.type == "cuda" else resolved.type
    if resolved.type != "meta" and index not in devices:
        raise ValueError(f"device={device!r} is not available; {choices}. (On Colab, pick a GPU runtime for 'cuda'.)")
    return resolved


class _Mean:
    """Running means of a step's metrics, weighted by batch size, kept on the device (no sync per batch)."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0

    def add(self, metrics: dict[str, torch.Tensor | float], n: int) -> None:
        for key, value in metrics.items():
            value = torch.as_tensor(value).detach() * n
            self.sums[key] = self.sums[key] + value if key in self.sums else value
        self.count += n

    def result(self) -> dict[str, float]:
        if self.count == 0:
            raise ValueError("there is nothing to average: the data gave no batches.")
        return {k: float(v) / self.count for k, v in self.sums.items()}


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
            model holding that epoch's weights; ``history.best_epoch`` is its
            number (1-based).  This is early stopping chosen on the validation
            set; report the test set once, afterwards.
        patience: with ``keep_best``, stop after this many epochs in a row
            without a new best (``history.stopped_early`` is then True).

    After ``fit``, ``trainer.history`` holds the finished epochs, also when
    training stopped with an exception.
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

    def _to_device(self, batch: Batch) -> list[torch.Tensor]:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            got = f"a {type(batch).__name__}" + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
            got = f"a tensor of shape {tuple(batch.shape)}" if isinstance(batch, torch.Tensor) else got
            raise not_batches(f"a batch that is {got}")
        return [t.to(self.device, non_blocking=True) for t in batch]

    def _initialise_lazy(self, model: nn.Module, data: DataModule) -> None:
        """Run one batch through a model with lazy layers so every shape is known.

        The batch comes from the validation loader, which does not shuffle, so
        this draws no random numbers besides the new layers' initial weights.
        """
        if has_lazy_parameters(model):
            batch = self._to_device(next(iter(data.val_dataloader())))
            with torch.no_grad():
                call_explained(lambda b: model(*b[:-1]), batch, "the first forward pass (initialising lazy layers)")

    def fit(self, model: Module, data: DataModule) -> History:
        """Train ``model`` on ``data`` and return the per-epoch :class:`History` (also kept on ``self.history``).

        ``model.configure_optimizers()`` may return an optimizer, or a pair
        ``(optimizer, scheduler)`` whose learning-rate scheduler is stepped
        after every epoch.  If the loss becomes NaN or infinite, the model's
        weights are reset to those of the last finished epoch (or the start)
        and :class:`NonFiniteLossError` is raised.  Ctrl-C keeps the weights,
        prints one line and lets the interrupt through, so "Run All" stops.

        Calling ``fit`` again on the same model continues from its current
        weights, with a new optimizer from ``configure_optimizers`` and a new
        History whose epochs count from 1 again; to start over, make a new model.
        """
        self.history = history = History(device=str(self.device))
        batches = check_data_module(data)
        classes = classes_of(data)
        check_model(model, "Trainer.fit", ("training_step", "validation_step", "configure_optimizers"))
        model.to(self.device)
        self._initialise_lazy(model, data)
        check_parameters(model)
        optimizer, scheduler = optimizers_of(model)
        if self.seed is not None:
            seed_everything(self.seed)
            generator = getattr(data, "generator", None)
            if generator is not None:
                generator.manual_seed(self.seed)
        progress = make_progress(self.progress)
        progress.start(self.max_epochs, batches)
        last_good = _copy_state(model)
        best = _BestEpoch(self.keep_best, self.patience) if self.keep_best else None
        try:
            for epoch in range(1, self.max_epochs + 1):
                start = time.perf_counter()
                record = {"epoch": float(epoch)} | self._train_epoch(model, data, optimizer, epoch, progress, classes)
                if scheduler is not None:
                    scheduler.step()
                model.eval()
                with torch.no_grad():
                    val = self._mean_metrics(model, data.val_dataloader(), classes)
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
            model.eval()
            progress.close(history)  # finishes the progress line before any message or traceback
            self._stopped(err, model, last_good, best)
            raise
        model.eval()
        if best is not None:
            model.load_state_dict(best.state)
        progress.close(history)
        return history

    def _stopped(
        self, err: BaseException, model: nn.Module, last_good: dict[str, torch.Tensor], best: _BestEpoch | None
    ) -> None:
        """Keep the finished epochs reachable from ``err``; reset the weights after a NaN; say what happened.

        With ``keep_best``, the model ends with the best finished epoch's weights however training stopped.
        """
        history = err.history = self.history  # type: ignore[attr-defined]
        where = f"during epoch {len(history) + 1}"
        done = f"trainer.history holds the {len(history)} finished epoch(s)."
        kept = best is not None and best.state is not None
        if kept:
            model.load_state_dict(best.state)  # type: ignore[union-attr, arg-type]
        if isinstance(err, NonFiniteLossError):
            if not kept:
                model.load_state_dict(last_good)
        elif isinstance(err, KeyboardInterrupt):
            history.interrupted = True
            weights = f"those of its best epoch, {history.best_epoch}" if kept else "its current weights"
            print(f"Training interrupted {where}: the model keeps {weights}; {done}", flush=True)
        elif history.records:
            print(f"Training stopped by the error below {where}; {done}", flush=True)

    def _train_epoch(
        self,
        model: Module,
        data: DataModule,
        optimizer: torch.optim.Optimizer,
        epoch: int,
        progress: NoProgress,
        classes: int | None,
    ) -> dict[str, float]:
        model.train()
        mean = _Mean()
        for index, batch in enumerate(data.train_dataloader(), start=1):
            batch = self._to_device(batch)
            metrics = as_metrics(call_explained(model.training_step, batch, "training_step", classes), "training_step")
            loss = metrics["loss"]
            if not isinstance(loss, torch.Tensor):
                raise TypeError(
                    f"training_step returned the loss as a {type(loss).__name__} ({loss:.4g}): .item() and float() "
                    f"cut it off from its gradients; {STEP_CONTRACT}."
                )
            if not loss.requires_grad:
                raise ValueError(
                    "training_step returned a loss that does not depend on the weights (no gradient): was it "
                    "computed under torch.no_grad(), or with .detach()? Return the loss computed from self(X)."
                )
            if not torch.isfinite(loss):
                restored = f"those at the end of epoch {epoch - 1}" if epoch > 1 else "their values before training"
                raise NonFiniteLossError(
                    f"The training loss became {loss.item()} at epoch {epoch}, batch {index}; training stopped and "
                    f"the model's weights are back to {restored}, so it can still be evaluated. Usual causes: a "
                    f"learning rate too large (try a tenth of it), exploding gradients (try "
                    f"Trainer(gradient_clip_val=1.0)), or NaN/inf values in the inputs or the initial weights. "
                    f"The {epoch - 1} finished epoch(s) are on trainer.history and on this error's .history."
                )
            optimizer.zero_grad(set_to_none=True)
            try:
                loss.backward()
            except RuntimeError as err:
                if "backward through the graph a second time" in str(err):
                    err.args = (f"{err}\nDoes training_step call .backward()? The Trainer calls zero_grad(), "
                                "backward() and step() itself: training_step only returns the loss.",)  # fmt: skip
                raise
            if self.gradient_clip_val is not None:
                nn.utils.clip_grad_norm_(model.parameters(), self.gradient_clip_val)
            optimizer.step()
            mean.add(metrics, len(batch[-1]))
            progress.batch(epoch, index)
        return {f"train_{k}": v for k, v in mean.result().items()}

    def _mean_metrics(self, model: Module, loader: Iterable[Batch], classes: int | None = None) -> dict[str, float]:
        mean = _Mean()
        for batch in loader:
            batch = self._to_device(batch)
            out = call_explained(model.validation_step, batch, "validation_step", classes)
            mean.add(as_metrics(out, "validation_step"), len(batch[-1]))
        return mean.result()

    @contextmanager
    def _on_device(self, model: nn.Module) -> Iterator[None]:
        """Run ``model`` on this trainer's device in eval mode, then put it back where and as it was."""
        first = next(model.parameters(), None)
        home, was_training = (first.device if first is not None else None), model.training
        model.to(self.device).eval()
        try:
            with torch.no_grad():
                yield
        finally:
            model.train(was_training)
            if home is not None:
                model.to(home)

    def evaluate(self, model: Module, data: DataModule | Iterable[Batch]) -> dict[str, float]:
        """Mean of ``model.validation_step``'s metrics (e.g. ``{"loss": ..., "acc": ...}``) over ``data``.

        ``data`` is a data module (its validation set is used) or any iterable
        of batches, such as ``data.test_dataloader()``.  The model runs on this
        trainer's device and is left on its own device, in its own mode.
        """
        check_model(model, "evaluate", ("validation_step",))
        with self._on_device(model):
            return self._mean_metrics(model, as_loader(data), classes_of(data))

    def predict(self, model: nn.Module, data: DataModule | Iterable[Batch]) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted class indices and true labels, on the CPU, over ``data`` (as for :meth:`evaluate`)."""
        check_model(model, "predict", ())
        preds, labels = [], []
        with self._on_device(model):
            for batch in as_loader(data):
                batch = self._to_device(batch)
                preds.append(call_explained(lambda b: model(*b[:-1]), batch, "forward").argmax(dim=1).cpu())
                labels.append(batch[-1].cpu())
        return torch.cat(preds), torch.cat(labels)


class _BestEpoch:
    """For ``keep_best``: the best value of one metric so far, that epoch's weights, and the patience left."""

    def __init__(self, key: str, patience: int | None) -> None:
        self.key, self.patience = key, patience
        self.smaller_is_better = key.endswith("loss")
        self.value = math.nan
        self.state: dict[str, torch.Tensor] | None = None

    def update(self, history: History, state: dict[str, torch.Tensor]) -> bool:
        """Take note of the epoch just finished (its weights are ``state``); True once patience has run out."""
        if self.key not in history.final:
            metrics = [k for k in history.final if k not in ("epoch", "seconds")]
            raise ValueError(f"keep_best={self.key!r} is not a metric of this run; its history has {metrics}.")
        value = history.final[self.key]
        better = value < self.value if self.smaller_is_better else value > self.value
        if better or math.isnan(self.value):
            self.value, self.state, history.best_epoch = value, state, len(history)
        return self.patience is not None and len(history) - history.best_epoch >= self.patience  # type: ignore[operator]


def _copy_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the weights and buffers, on their device: cheap enough to take once per epoch."""
    return {key: value.detach().clone() for key, value in model.state_dict().items()}
