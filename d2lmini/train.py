"""The training loop: :class:`Trainer`, and seeding.

``Trainer.fit(model, data)`` runs minibatch training for ``max_epochs``
epochs, evaluates on the validation set after each one and returns the
history.  It runs on the best device available unless told otherwise,
stops with a clear message if the loss becomes NaN or infinite, and treats
Ctrl-C as "stop here": the model keeps the weights it has and the history of
the finished epochs is returned.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import torch
from torch import nn

from d2lmini.history import History
from d2lmini.module import Module
from d2lmini.progress import ProgressMode, make_progress


class DataModule(Protocol):
    """Anything with a training and a validation loader, such as :class:`~d2lmini.data.FashionMNIST`."""

    def train_dataloader(self) -> Iterable[Sequence[torch.Tensor]]: ...

    def val_dataloader(self) -> Iterable[Sequence[torch.Tensor]]: ...


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; ``history`` holds the epochs finished before."""

    def __init__(self, message: str, history: History) -> None:
        super().__init__(message)
        self.history = history


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's (if installed) and PyTorch's random generators."""
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA's generators
    try:
        import numpy as np
    except ImportError:
        return
    np.random.seed(seed)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple's MPS, then the CPU; anything else is used as given."""
    if str(device) != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _run_step(step: Any, batch: Sequence[torch.Tensor], what: str) -> dict[str, torch.Tensor]:
    """Call a model's step; explain a failure with the batch's shapes (most are shape errors)."""
    try:
        return step(batch)
    except RuntimeError as err:
        shapes = ", ".join(str(tuple(t.shape)) for t in batch)
        hint = ""
        if "shape" in str(err) or "size" in str(err):
            hint = (
                " This looks like a shape mismatch: does forward flatten the images (nn.Flatten() or "
                "X.reshape(-1, 784)), and does each layer's input size match the previous layer's output?"
            )
        raise RuntimeError(f"{what} failed on a batch of shapes {shapes}: {err}.{hint}") from err


def _split_optimizers(configured: Any) -> tuple[torch.optim.Optimizer, Any]:
    """Accept an optimizer or an ``(optimizer, scheduler)`` pair from configure_optimizers."""
    if isinstance(configured, torch.optim.Optimizer):
        return configured, None
    if isinstance(configured, (tuple, list)) and len(configured) == 2:
        return configured[0], configured[1]
    raise TypeError(
        "configure_optimizers must return an optimizer or a pair (optimizer, lr_scheduler), "
        f"not {type(configured).__name__}."
    )


class _Mean:
    """Running means of a step's metrics, weighted by batch size, kept on the device."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0

    def add(self, metrics: dict[str, torch.Tensor], n: int) -> None:
        for key, value in metrics.items():
            value = value.detach() * n
            self.sums[key] = self.sums[key] + value if key in self.sums else value
        self.count += n

    def result(self, prefix: str) -> dict[str, float]:
        return {f"{prefix}_{k}": float(v) / self.count for k, v in self.sums.items()}


class Trainer:
    """Fit a :class:`~d2lmini.module.Module` to a data module.

    Args:
        max_epochs: number of passes over the training set.
        device: ``"auto"`` (CUDA, then MPS, then CPU), or e.g. ``"cpu"``, ``"cuda:0"``.
        gradient_clip_val: if set, clip the gradients' global norm to this value.
        progress: ``"auto"`` (live figure in Jupyter, a bar in a terminal),
            ``"notebook"``, ``"terminal"``, or ``"none"``/``False``.
        seed: if set, seed all generators once the model is set up, just
            before the first epoch: the order of the minibatches then depends
            on the seed only, not on the model, so two models trained with the
            same seed see the same data in the same order.  (Seed before
            building a model to repeat its initial weights too.)
    """

    def __init__(
        self,
        max_epochs: int,
        device: str | torch.device = "auto",
        gradient_clip_val: float | None = None,
        progress: ProgressMode = "auto",
        seed: int | None = None,
    ) -> None:
        if max_epochs < 1:
            raise ValueError(f"max_epochs must be at least 1, got {max_epochs}.")
        self.max_epochs = max_epochs
        self.device = resolve_device(device)
        self.gradient_clip_val = gradient_clip_val
        make_progress(progress)  # fail now, not after the set-up, on a misspelt mode
        self.progress = progress
        self.seed = seed

    def _to_device(self, batch: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        return [t.to(self.device, non_blocking=True) for t in batch]

    def _initialise_lazy(self, model: nn.Module, data: DataModule) -> None:
        """Run one batch through a model with lazy layers so every shape is known.

        The batch comes from the validation loader, which does not shuffle, so
        this draws no random numbers besides the new layers' initial weights.
        """
        lazy = nn.parameter.UninitializedParameter
        if any(isinstance(p, lazy) for p in model.parameters()):
            batch = self._to_device(next(iter(data.val_dataloader())))
            with torch.no_grad():
                _run_step(lambda b: model(*b[:-1]), batch, "the first forward pass (initialising lazy layers)")

    def fit(self, model: Module, data: DataModule) -> History:
        """Train ``model`` on ``data`` and return the per-epoch :class:`History`.

        ``model.configure_optimizers()`` may return an optimizer, or a pair
        ``(optimizer, scheduler)`` whose learning-rate scheduler is stepped
        after every epoch.  Raises :class:`NonFiniteLossError` if the loss
        becomes NaN or infinite; the error carries the history so far, and
        the weights are left as they were before the failing step.
        """
        model.to(self.device)
        self._initialise_lazy(model, data)
        optimizer, scheduler = _split_optimizers(model.configure_optimizers())
        if self.seed is not None:
            seed_everything(self.seed)
        history = History(device=str(self.device))
        progress = make_progress(self.progress)
        progress.start(self.max_epochs, len(data.train_dataloader()))  # type: ignore[arg-type]
        try:
            for epoch in range(1, self.max_epochs + 1):
                start = time.perf_counter()
                record = {"epoch": float(epoch)}
                record |= self._train_epoch(model, data, optimizer, epoch, history, progress)
                if scheduler is not None:
                    scheduler.step()
                record |= self.evaluate(model, data)
                record["seconds"] = time.perf_counter() - start
                history.records.append(record)
                progress.epoch(history)
        except KeyboardInterrupt:
            history.interrupted = True
            print(
                f"\nTraining interrupted during epoch {len(history) + 1}: the model keeps its "
                f"current weights and the history holds the {len(history)} finished epoch(s)."
            )
        finally:
            model.eval()
            progress.close(history)
        return history

    def _train_epoch(
        self,
        model: Module,
        data: DataModule,
        optimizer: torch.optim.Optimizer,
        epoch: int,
        history: History,
        progress: Any,
    ) -> dict[str, float]:
        model.train()
        mean = _Mean()
        for index, batch in enumerate(data.train_dataloader(), start=1):
            batch = self._to_device(batch)
            metrics = _run_step(model.training_step, batch, "training_step")
            loss = metrics["loss"]
            if not torch.isfinite(loss):
                raise NonFiniteLossError(
                    f"The training loss became {loss.item()} at epoch {epoch}, batch {index}; "
                    f"stopped before updating the weights. Usual causes: a learning rate too large "
                    f"(try a tenth of it), exploding gradients (try Trainer(gradient_clip_val=1.0)), "
                    f"or NaN/inf values in the inputs or the initial weights. "
                    f"The history of the {len(history)} finished epoch(s) is on this error's .history.",
                    history,
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.gradient_clip_val is not None:
                nn.utils.clip_grad_norm_(model.parameters(), self.gradient_clip_val)
            optimizer.step()
            mean.add(metrics, len(batch[-1]))
            progress.batch(epoch, index)
        return mean.result("train")

    @torch.no_grad()
    def evaluate(self, model: Module, data: DataModule) -> dict[str, float]:
        """Mean validation metrics of ``model`` (``val_loss``, ``val_acc``, ...)."""
        model.eval()
        mean = _Mean()
        for batch in data.val_dataloader():
            batch = self._to_device(batch)
            mean.add(_run_step(model.validation_step, batch, "validation_step"), len(batch[-1]))
        return mean.result("val")

    @torch.no_grad()
    def predict(
        self, model: nn.Module, loader: Iterable[Sequence[torch.Tensor]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted class indices and true labels over a loader, on the CPU."""
        model.eval()
        model.to(self.device)
        preds, labels = [], []
        for batch in loader:
            batch = self._to_device(batch)
            preds.append(model(*batch[:-1]).argmax(dim=1).cpu())
            labels.append(batch[-1].cpu())
        return torch.cat(preds), torch.cat(labels)
