"""The training loop: :class:`Trainer`, seeding and device choice.

``Trainer.fit(model, data)`` runs minibatch training for ``max_epochs``
epochs, evaluates on the validation set after each one and returns the
:class:`~d2lmini.history.History`.  It never loses finished work: whatever
stops it (an error, a NaN loss, Ctrl-C), the finished epochs stay on
``trainer.history`` and on the exception's ``.history``.  Mistakes get
messages that say what went wrong and what to do, and keep their exception
type, so a ``NotImplementedError`` from a ``forward`` stub stays one.
"""

from __future__ import annotations

import numbers
import random
import re
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from d2lmini.arguments import positive_int
from d2lmini.history import History
from d2lmini.module import Module, has_lazy_parameters, unregistered
from d2lmini.progress import NoProgress, ProgressMode, make_progress

Batch = Sequence[torch.Tensor]
STEP_CONTRACT = "it must return the loss tensor (one number, e.g. F.cross_entropy(y_hat, y)) or {'loss': loss, ...}"
SHAPE_ERROR = re.compile(r"shapes? |size of tensor|size mismatch|batch_size|of size \d|Dimension out of range")
TARGET_OUT_OF_BOUNDS = re.compile(r"Target (-?\d+) is out of bounds")
LABEL_DTYPE = re.compile(r"expected target dtype|floating point type for target")


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


def _explain(err: BaseException, batch: Batch, what: str, classes: int | None) -> None:
    """Append the batch's shapes and the likely fix to a shape error's message, in place.

    The exception keeps its type and traceback.  (``add_note`` would do the
    same, but IPython before 8.14, as on Colab, does not show notes.)
    """
    out_of_bounds = TARGET_OUT_OF_BOUNDS.search(str(err))
    if batch[0].dtype == torch.uint8 and "dtype" in str(err):
        hint = ("The images are raw uint8 pixels (such as data.val_X): convert them with data.transform(X), "
                "to float32 in [0, 1], as the data module's loaders do.")  # fmt: skip
    elif LABEL_DTYPE.search(str(err)):
        hint = ("The labels must be class indices of dtype torch.long (int64), one per image, as the data "
                "module gives them: don't convert them with .float() or one-hot encode them.")  # fmt: skip
    elif "not implemented for 'Long'" in str(err):
        hint = ("An operation got int64 values where it needs floats: are the labels where the model's outputs "
                "belong? The loss takes the outputs first: F.cross_entropy(y_hat, y).")  # fmt: skip
    elif out_of_bounds:
        y = batch[-1]
        low, high, label = int(y.min()), int(y.max()), int(out_of_bounds.group(1))
        if low < 0 or (classes is not None and high >= classes):
            allowed = "" if classes is None else f", but the data has {classes} classes: labels 0 to {classes - 1}"
            hint = f"The labels are out of range: this batch has labels from {low} to {high}{allowed}."
        else:
            hint = (f"The model has fewer outputs than there are classes (label {label} needs at least {label + 1}): "
                    f"give the last layer one output per class{f', {classes} here' if classes else ''}.")  # fmt: skip
    elif SHAPE_ERROR.search(str(err)):
        hint = ("This looks like a shape mismatch: does forward flatten the images (nn.Flatten() or "
                "X.reshape(-1, 784)), and does each layer's input size match the previous layer's output?")  # fmt: skip
    else:
        return
    shapes = ", ".join(str(tuple(t.shape)) for t in batch)
    err.args = (f"{err}\n{what} failed on a batch of shapes {shapes}. {hint}",)


def _call(fn: Callable[[Batch], Any], batch: Batch, what: str, classes: int | None = None) -> Any:
    """``fn(batch)``, with shape errors explained (their type unchanged)."""
    try:
        return fn(batch)
    except (RuntimeError, ValueError, IndexError) as err:
        _explain(err, batch, what, classes)
        raise


def _as_metrics(out: Any, what: str) -> dict[str, torch.Tensor | float]:
    """A step's result as a dict of single numbers: the loss tensor itself, or a dict with ``"loss"``."""
    if isinstance(out, (torch.Tensor, numbers.Real)):
        out = {"loss": out}
    if not isinstance(out, dict) or "loss" not in out:
        got = "None (is a return statement missing?)" if out is None else f"a {type(out).__name__}"
        got = f"a dict with keys {sorted(out)} but no 'loss'" if isinstance(out, dict) else got
        raise TypeError(f"{what} returned {got}; {STEP_CONTRACT}.")
    for key, value in out.items():
        if isinstance(value, torch.Tensor) and value.numel() != 1:
            raise ValueError(
                f"{what} returned {key!r} as a tensor of shape {tuple(value.shape)}, one value per example; "
                "return their mean, a single number: e.g. loss.mean(), or the loss function's default reduction."
            )
        if not isinstance(value, (torch.Tensor, numbers.Real)):
            raise TypeError(f"{what} returned {key!r} as a {type(value).__name__}; metrics must be single numbers.")
    return out


def _not_batches(got: str) -> TypeError:
    """The error for data that is not an iterable of ``(X, y)`` batches: ``got`` says what it is."""
    return TypeError(
        f"expected batches (X, y) of images and labels, but got {got}. To pass a single batch, put it in a "
        "list, [(X, y)]; to classify images without labels, use model(X).argmax(dim=1)."
    )


def _not_a_class(value: Any, what: str, role: str, name: str) -> None:
    """Refuse a class where an object made from it belongs, as in ``Trainer.fit(MLP, data)``."""
    if isinstance(value, type):
        raise TypeError(
            f"{what} got the class {value.__name__} itself, not {role} made from it: "
            f"create one first, {name} = {value.__name__}(...), and pass {name}."
        )


def _check_model(model: Any, what: str, methods: tuple[str, ...]) -> None:
    """Refuse a class, or anything but a model with the ``methods`` that ``what`` calls."""
    _not_a_class(model, what, "a model", "model")
    missing = [m for m in methods if not callable(getattr(model, m, None))]
    if not isinstance(model, nn.Module) or missing:
        lacks = f", which has no {', '.join(missing)}" if missing and isinstance(model, nn.Module) else ""
        raise TypeError(
            f"{what} got a {type(model).__name__} as the model{lacks}; pass a d2lmini.Module, such as a "
            "subclass of d2lmini.Classifier whose __init__ sets self.net = nn.Sequential(...)."
        )


def _check_parameters(model: nn.Module) -> None:
    """Refuse a model without parameters; warn about tensors and lists of layers that PyTorch does not see."""
    hidden = ", ".join(f"self.{name}" for name in unregistered(model))
    fix = ("wrap each weight tensor in nn.Parameter(...) (a constant one: self.register_buffer(name, tensor)), "
           "and keep layers in nn.Sequential or nn.ModuleList, not in a Python list.")  # fmt: skip
    unseen = f"PyTorch does not see {hidden}: " if hidden else ""
    if next(model.parameters(), None) is None:
        raise ValueError(f"{type(model).__name__} has no parameters for the optimizer to train. {unseen}{fix}")
    if hidden:
        warnings.warn(
            f"{type(model).__name__}: {unseen}the optimizer does not train them and model.to(device) does not "
            f"move them; {fix}",
            stacklevel=3,
        )


def _configure_optimizers(model: Module) -> tuple[torch.optim.Optimizer, Any]:
    """``model.configure_optimizers()`` as an optimizer and a scheduler (or None)."""
    try:
        configured = model.configure_optimizers()
    except TypeError as err:
        if "'method' object is not iterable" in str(err):
            err.args = (f"{err}: pass self.parameters(), with parentheses, to the optimizer.",)
        raise
    return _split_optimizers(configured)


def _as_loader(data: Any) -> Iterable[Batch]:
    """A data module's validation loader, or ``data`` itself if it is already an iterable of batches."""
    _not_a_class(data, "evaluate/predict", "a data module", "data")
    if callable(getattr(data, "val_dataloader", None)):
        return data.val_dataloader()
    if isinstance(data, torch.Tensor):
        raise _not_batches(f"one tensor of shape {tuple(data.shape)}")
    if isinstance(data, Iterable):
        return data
    call = f" (call it: {data.__name__}())" if callable(data) and hasattr(data, "__name__") else ""
    raise TypeError(f"expected a data module or an iterable of (X, y) batches, not a {type(data).__name__}{call}.")


def _classes(data: Any) -> int | None:
    """How many classes a data module names in its ``labels`` (None if it names none), for error messages."""
    return len(getattr(data, "labels", ())) or None


def _check_data_module(data: Any) -> int:
    """Refuse anything but a data module with non-empty loaders; return the number of training batches."""
    _not_a_class(data, "Trainer.fit", "a data module", "data")
    if not (callable(getattr(data, "train_dataloader", None)) and callable(getattr(data, "val_dataloader", None))):
        raise TypeError(
            f"Trainer.fit got a {type(data).__name__} as data; pass a data module with "
            "train_dataloader()/val_dataloader(), e.g. d2lmini.FashionMNIST(batch_size=256)."
        )
    batches = {split: len(getattr(data, f"{split}_dataloader")()) for split in ("train", "val")}
    for split, name in (("train", "training"), ("val", "validation")):
        if batches[split] == 0:
            raise ValueError(f"The {name} set is empty: data.{split}_dataloader() gives no batches.")
    return batches["train"]


def _split_optimizers(configured: Any) -> tuple[torch.optim.Optimizer, Any]:
    """Accept an optimizer or an ``(optimizer, scheduler)`` pair from configure_optimizers."""
    if isinstance(configured, torch.optim.Optimizer):
        return configured, None
    if isinstance(configured, (tuple, list)) and len(configured) == 2:
        if not isinstance(configured[0], torch.optim.Optimizer) or isinstance(configured[1], torch.optim.Optimizer):
            kinds = f"({type(configured[0]).__name__}, {type(configured[1]).__name__})"
            raise TypeError(f"configure_optimizers returned the pair {kinds}; return (optimizer, lr_scheduler).")
        return configured[0], configured[1]
    raise TypeError(
        "configure_optimizers must return an optimizer or a pair (optimizer, lr_scheduler), "
        f"not {type(configured).__name__}."
    )


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
    ) -> None:
        self.max_epochs = positive_int("max_epochs", max_epochs, 10)
        clip = gradient_clip_val
        if clip is not None and (isinstance(clip, bool) or not isinstance(clip, numbers.Real)):
            raise TypeError(f"gradient_clip_val must be a positive number such as 1.0, or None; not {clip!r}.")
        if clip is not None and not clip > 0:
            raise ValueError(f"gradient_clip_val must be a positive number such as 1.0, or None; not {clip!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise TypeError(f"seed must be a whole number such as 0, or None; not {seed!r}.")
        make_progress(progress)  # fail now, not after the set-up, on a misspelt mode
        self.device = resolve_device(device)
        self.gradient_clip_val = gradient_clip_val
        self.progress = progress
        self.seed = seed
        self.history = History(device=str(self.device))

    def _to_device(self, batch: Batch) -> list[torch.Tensor]:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            got = f"a {type(batch).__name__}" + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
            got = f"a tensor of shape {tuple(batch.shape)}" if isinstance(batch, torch.Tensor) else got
            raise _not_batches(f"a batch that is {got}")
        return [t.to(self.device, non_blocking=True) for t in batch]

    def _initialise_lazy(self, model: nn.Module, data: DataModule) -> None:
        """Run one batch through a model with lazy layers so every shape is known.

        The batch comes from the validation loader, which does not shuffle, so
        this draws no random numbers besides the new layers' initial weights.
        """
        if has_lazy_parameters(model):
            batch = self._to_device(next(iter(data.val_dataloader())))
            with torch.no_grad():
                _call(lambda b: model(*b[:-1]), batch, "the first forward pass (initialising lazy layers)")

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
        batches = _check_data_module(data)
        classes = _classes(data)
        _check_model(model, "Trainer.fit", ("training_step", "validation_step", "configure_optimizers"))
        model.to(self.device)
        self._initialise_lazy(model, data)
        _check_parameters(model)
        optimizer, scheduler = _configure_optimizers(model)
        if self.seed is not None:
            seed_everything(self.seed)
            generator = getattr(data, "generator", None)
            if generator is not None:
                generator.manual_seed(self.seed)
        progress = make_progress(self.progress)
        progress.start(self.max_epochs, batches)
        last_good = _copy_state(model)
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
                progress.epoch(history)
        except BaseException as err:
            model.eval()
            progress.close(history)  # finishes the progress line before any message or traceback
            self._stopped(err, model, last_good)
            raise
        model.eval()
        progress.close(history)
        return history

    def _stopped(self, err: BaseException, model: nn.Module, last_good: dict[str, torch.Tensor]) -> None:
        """Keep the finished epochs reachable from ``err``; reset the weights after a NaN; say what happened."""
        history = err.history = self.history  # type: ignore[attr-defined]
        where = f"during epoch {len(history) + 1}"
        done = f"trainer.history holds the {len(history)} finished epoch(s)."
        if isinstance(err, NonFiniteLossError):
            model.load_state_dict(last_good)
        elif isinstance(err, KeyboardInterrupt):
            history.interrupted = True
            print(f"Training interrupted {where}: the model keeps its current weights; {done}", flush=True)
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
            metrics = _as_metrics(_call(model.training_step, batch, "training_step", classes), "training_step")
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
            out = _call(model.validation_step, batch, "validation_step", classes)
            mean.add(_as_metrics(out, "validation_step"), len(batch[-1]))
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
        _check_model(model, "evaluate", ("validation_step",))
        with self._on_device(model):
            return self._mean_metrics(model, _as_loader(data), _classes(data))

    def predict(self, model: nn.Module, data: DataModule | Iterable[Batch]) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted class indices and true labels, on the CPU, over ``data`` (as for :meth:`evaluate`)."""
        _check_model(model, "predict", ())
        preds, labels = [], []
        with self._on_device(model):
            for batch in _as_loader(data):
                batch = self._to_device(batch)
                preds.append(_call(lambda b: model(*b[:-1]), batch, "forward").argmax(dim=1).cpu())
                labels.append(batch[-1].cpu())
        return torch.cat(preds), torch.cat(labels)


def _copy_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the weights and buffers, on their device: cheap enough to take once per epoch."""
    return {key: value.detach().clone() for key, value in model.state_dict().items()}
