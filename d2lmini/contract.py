"""What the Trainer expects of a model, its data and its steps, and what it says when they fall short.

``Trainer`` (d2lmini.train) keeps only the loop; the checks live here, in
three groups:

- checks of what ``fit`` is given (the data module and its loaders, the
  model, its optimizer and scheduler), each refusing one kind of mistake;
- checks of one training step, run once before the first epoch (the
  result's form, gradients that reach the weights, an optimizer that holds
  them), which warn about runs that would silently learn nothing;
- :func:`explain`, which adds to a failed call's message what went wrong,
  decided from the tensors involved (dtypes, shapes, devices, label values),
  never from the wording of PyTorch's messages, which changes between
  versions.  An explained error keeps its type and traceback, so a
  ``NotImplementedError`` from a ``forward`` stub stays one.
"""

from __future__ import annotations

import difflib
import inspect
import math
import numbers
import random
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

Batch = Sequence[torch.Tensor]
STEP_CONTRACT = "it must return the loss tensor (one number, e.g. F.cross_entropy(y_hat, y)) or {'loss': loss, ...}"
LOADERS = "a list of (X, y) batches, a d2lmini.TensorLoader or a torch DataLoader"


# What fit is given ---------------------------------------------------------------------------------------------------
def refuse_class(value: Any, what: str, role: str, name: str) -> None:
    """Refuse a class where an object made from it belongs, as in ``Trainer.fit(MLP, data)``."""
    if isinstance(value, type):
        raise TypeError(
            f"{what} got the class {value.__name__} itself, not {role} made from it: "
            f"create one first, {name} = {value.__name__}(...), and pass {name}."
        )


def check_model(model: Any, what: str, methods: tuple[str, ...]) -> None:
    """Refuse a class, or anything but a model with the ``methods`` that ``what`` calls."""
    refuse_class(model, what, "a model", "model")
    missing = [m for m in methods if not callable(getattr(model, m, None))]
    if not isinstance(model, nn.Module) or missing:
        lacks = f", which has no {', '.join(missing)}" if missing and isinstance(model, nn.Module) else ""
        raise TypeError(
            f"{what} got a {type(model).__name__} as the model{lacks}; pass a d2lmini.Module, such as a "
            "subclass of d2lmini.Classifier whose __init__ sets self.net = nn.Sequential(...)."
        )


def unregistered(module: nn.Module) -> list[str]:
    """Attributes PyTorch does not see as part of ``module``: plain tensors, and Python lists or dicts of layers.

    The optimizer never gets them (``module.parameters()`` leaves them out)
    and ``module.to(device)`` does not move them.
    """
    found = []
    for prefix, sub in module.named_modules():
        for name, value in vars(sub).items():
            if name.startswith("_") or name == "hparams":  # PyTorch's own records; the hyperparameters
                continue
            items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
            if isinstance(value, torch.Tensor) or any(isinstance(v, nn.Module) for v in items):
                found.append(f"{prefix}.{name}" if prefix else name)
    return found


def check_parameters(model: nn.Module) -> None:
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


def optimizers_of(model: nn.Module) -> tuple[torch.optim.Optimizer, Any]:
    """``model.configure_optimizers()`` as an optimizer and a scheduler (or None), both checked."""
    try:
        configured = model.configure_optimizers()
    except TypeError as err:
        if callable(getattr(model, "parameters", None)) and _passes_the_method(err):
            err.args = (f"{err}: pass self.parameters(), with parentheses, to the optimizer.",)
        raise
    optimizer, scheduler = split_optimizers(configured)
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau) and scheduler.mode != "min":
        raise ValueError(
            f"ReduceLROnPlateau(mode={scheduler.mode!r}) waits for a metric to stop rising, but the Trainer steps "
            "it with the validation loss after every epoch, which should fall: use mode='min' (the default)."
        )
    return optimizer, scheduler


def _passes_the_method(err: TypeError) -> bool:
    """Whether the optimizer was given ``self.parameters`` itself, seen from the traceback's local variables."""
    for frame, _ in traceback.walk_tb(err.__traceback__):
        if any(inspect.ismethod(v) and v.__name__ == "parameters" for v in frame.f_locals.values()):
            return True
    return False


def split_optimizers(configured: Any) -> tuple[torch.optim.Optimizer, Any]:
    """Accept an optimizer or an ``(optimizer, scheduler)`` pair from configure_optimizers."""
    if isinstance(configured, torch.optim.Optimizer):
        return configured, None
    if isinstance(configured, (tuple, list)) and len(configured) == 2:
        if not isinstance(configured[0], torch.optim.Optimizer) or isinstance(configured[1], torch.optim.Optimizer):
            kinds = f"({type(configured[0]).__name__}, {type(configured[1]).__name__})"
            raise TypeError(f"configure_optimizers returned the pair {kinds}; return (optimizer, lr_scheduler).")
        if not callable(getattr(configured[1], "step", None)):
            raise TypeError(
                f"configure_optimizers returned a {type(configured[1]).__name__} as the scheduler; "
                "return (optimizer, lr_scheduler), such as torch.optim.lr_scheduler.StepLR(...)."
            )
        return configured[0], configured[1]
    if isinstance(configured, type) and issubclass(configured, torch.optim.Optimizer):
        raise TypeError(f"configure_optimizers returned the class {configured.__name__} itself, not an optimizer "
                        f"made from it: torch.optim.{configured.__name__}(self.parameters(), lr=self.lr).")  # fmt: skip
    lightning = " (PyTorch Lightning's form)" if isinstance(configured, dict) else ""
    raise TypeError(
        f"configure_optimizers must return an optimizer or a pair (optimizer, lr_scheduler), "
        f"not {type(configured).__name__}{lightning}."
    )


def not_batches(got: str) -> TypeError:
    """The error for data that is not an iterable of ``(X, y)`` batches: ``got`` says what it is."""
    return TypeError(
        f"expected batches (X, y) of images and labels, but got {got}. To pass a single batch, put it in a "
        "list, [(X, y)]; to classify images without labels, use model(X).argmax(dim=1)."
    )


def check_batch(batch: Any) -> None:
    """Refuse a batch that is not a tuple or list of two or more tensors, naming what it is."""
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        got = f"a {type(batch).__name__}" + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
        got = f"a tensor of shape {tuple(batch.shape)}" if isinstance(batch, torch.Tensor) else got
        raise not_batches(f"a batch that is {got}")
    for i, item in enumerate(batch):
        if not isinstance(item, torch.Tensor):
            array = isinstance(item, np.ndarray)
            kind = f"a NumPy array of {item.dtype}" if array else f"a {type(item).__name__}"
            fix = "make it a tensor"
            if array:
                fix = "convert it with torch.from_numpy(a): images as float32 (.float()), labels as int64 (.long())"
            raise TypeError(f"item {i} of a batch is {kind}, not a tensor; {fix}.")


def as_loader(data: Any) -> Iterable[Batch]:
    """A data module's validation loader, or ``data`` itself if it is already an iterable of batches."""
    refuse_class(data, "evaluate/predict", "a data module", "data")
    if callable(getattr(data, "val_dataloader", None)):
        return data.val_dataloader()
    if isinstance(data, torch.Tensor):
        raise not_batches(f"one tensor of shape {tuple(data.shape)}")
    if isinstance(data, Iterable):
        return data
    call = f" (call it: {data.__name__}())" if callable(data) and hasattr(data, "__name__") else ""
    raise TypeError(f"expected a data module or an iterable of (X, y) batches, not a {type(data).__name__}{call}.")


class Metrics(dict):  # type: ignore[type-arg]
    """The metrics ``evaluate`` returns, such as ``{"loss": ..., "acc": ...}``: a dict that names its keys when asked
    for a missing one (a History's ``"val_acc"`` is ``"acc"`` here)."""

    def __missing__(self, key: Any) -> Any:
        plain = f" (here it is {key[4:]!r})" if isinstance(key, str) and key[4:] in self else ""
        raise KeyError(f"no metric {key!r}{plain}: evaluate returns the metrics of the data it was given, "
                       f"{sorted(self)}, without the History's val_/train_ prefixes.")  # fmt: skip


def classes_of(data: Any) -> int | None:
    """How many classes a data module names in its ``labels`` (None if it names none), for error messages."""
    return len(getattr(data, "labels", ())) or None


def check_data_module(data: Any) -> int:
    """Refuse anything but a data module with non-empty, sized loaders; return the number of training batches."""
    refuse_class(data, "Trainer.fit", "a data module", "data")
    missing = [f"{m}()" for m in ("train_dataloader", "val_dataloader") if not callable(getattr(data, m, None))]
    if missing:
        lacks = f", which has no {missing[0]}" if len(missing) == 1 else ""
        raise TypeError(
            f"Trainer.fit got a {type(data).__name__} as data{lacks}; pass a data module with "
            "train_dataloader()/val_dataloader(), e.g. d2lmini.FashionMNIST(batch_size=256)."
        )
    batches = {}
    for split, name in (("train", "training"), ("val", "validation")):
        loader = getattr(data, f"{split}_dataloader")()
        if isinstance(loader, torch.Tensor) or not isinstance(loader, Iterable):
            raise TypeError(f"data.{split}_dataloader() returned a {type(loader).__name__}; return {LOADERS}.")
        if isinstance(loader, Iterator) or not hasattr(loader, "__len__"):
            once = isinstance(loader, Iterator) * " and a fresh pass every epoch (a generator runs out after one)"
            raise TypeError(
                f"data.{split}_dataloader() returned a {type(loader).__name__}, which has no len(): the Trainer "
                f"needs the number of batches{once}; return {LOADERS}."
            )
        batches[split] = len(loader)
        if batches[split] == 0:
            raise ValueError(f"The {name} set is empty: data.{split}_dataloader() gives no batches.")
    return batches["train"]


# One training step, checked once before the first epoch -------------------------------------------------------------
def as_metrics(out: Any, what: str) -> dict[str, torch.Tensor | float]:
    """A step's result as a dict of single numbers: the loss tensor itself, or a dict with ``"loss"``."""
    if isinstance(out, (torch.Tensor, numbers.Real)):
        out = {"loss": out}
    if not isinstance(out, dict) or "loss" not in out:
        got = "None (is a return statement missing?)" if out is None else f"a {type(out).__name__}"
        got = f"a dict with keys {sorted(out)} but no 'loss'" if isinstance(out, dict) else got
        raise TypeError(f"{what} returned {got}; {STEP_CONTRACT}.")
    for key, value in out.items():
        if isinstance(value, torch.Tensor) and value.numel() != 1:
            mean = "(y_hat.argmax(dim=1) == y).float().mean()" if value.dtype == torch.bool else "loss.mean()"
            raise ValueError(
                f"{what} returned {key!r} as a tensor of shape {tuple(value.shape)}, one value per example; "
                f"return their mean, a single number: e.g. {mean}, or the loss function's default reduction."
            )
        if not isinstance(value, (torch.Tensor, numbers.Real)):
            raise TypeError(f"{what} returned {key!r} as a {type(value).__name__}; metrics must be single numbers.")
    return out


def check_loss(loss: Any, model: nn.Module) -> None:
    """Refuse a training loss that the Trainer cannot train with, naming why it has no gradient.

    Run after a step that started with no gradients (every ``.grad`` None):
    a step that left some called ``.backward()`` itself.
    """
    if not isinstance(loss, torch.Tensor):
        raise TypeError(
            f"training_step returned the loss as a {type(loss).__name__} ({loss:.4g}): .item() and float() "
            f"cut it off from its gradients; {STEP_CONTRACT}."
        )
    if any(p.grad is not None for p in model.parameters()):
        raise RuntimeError(
            "training_step computed gradients itself (it calls .backward()): the Trainer calls zero_grad(), "
            "backward() and step() itself, so training_step only returns the loss."
        )
    if not loss.requires_grad:
        params = list(model.parameters())
        if not any(p.requires_grad for p in params):
            cause = ("every parameter of the model is frozen (requires_grad is False, as after "
                     "model.requires_grad_(False)): call model.requires_grad_(True) to train it.")  # fmt: skip
        else:
            cause = ("was it computed under torch.no_grad(), or with .detach(), .item(), NumPy or torch.tensor(...) "
                     "of a result? Return the loss computed from self(X) with torch operations.")  # fmt: skip
        raise ValueError(f"training_step returned a loss that does not depend on the weights (no gradient): {cause}")


def check_classes(model: nn.Module, batch: Batch, classes: int | None) -> None:
    """Refuse labels outside ``0..classes-1``, and a model with fewer outputs than classes, before a step runs.

    On a GPU either mistake would stop the first step with a device-side
    assert, which leaves the CUDA context broken (on Colab: restart the
    runtime); so the first batch's labels and outputs are looked at first.
    Costs one forward pass, skipped if ``forward`` cannot take the batch's
    inputs as they come (a custom ``training_step`` then explains its own
    failure).
    """
    labels = batch[-1]
    if len(batch) != 2 or classes is None or labels.is_floating_point() or labels.dim() != 1 or not _has_values(labels):
        return  # only (X, y) batches: with more items the last one may not be the labels
    if hint := _hint_for_labels(labels, classes):
        raise IndexError(f"{hint} (Found in the first training batch, before any training.)")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outputs = model(*batch[:-1])
    except Exception:
        return
    if isinstance(outputs, torch.Tensor) and outputs.dim() == 2 and outputs.shape[1] < classes:
        n = outputs.shape[1]
        raise IndexError(
            f"The model has fewer outputs than there are classes: {n} output{'s' * (n != 1)}, but label "
            f"{classes - 1} needs at least {classes}: give the last layer one output per class, {classes} here. "
            "(Found in the first training batch, before any training.)"
        )


def warn_untrained(model: nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """Warn, before training, about parameters that would silently never change.

    Parameters the optimizer does not hold (it was built from another
    model's), frozen ones, and ones the loss does not depend on (unused in
    forward, or cut off by ``.detach()`` or NumPy).  Costs one backward pass.
    """
    names = {p: f"self.{name}" for name, p in model.named_parameters()}
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    trainable = [p for p in names if p.requires_grad]
    left_out = [names[p] for p in trainable if id(p) not in held]
    if trainable and len(left_out) == len(trainable):
        warnings.warn(
            f"the optimizer from configure_optimizers holds none of {type(model).__name__}'s parameters (it updates "
            f"{len(held)} other tensors, perhaps another model's, such as a network from an earlier cell): this "
            "model will not learn. Build it from self.parameters().",
            stacklevel=4,
        )
    elif left_out:
        warnings.warn(f"the optimizer leaves out {_names(left_out)}: they will not learn. Pass all of "
                      "self.parameters() to it.", stacklevel=4)  # fmt: skip
    frozen = [name for p, name in names.items() if not p.requires_grad]
    if frozen and trainable:
        warnings.warn(
            f"{_names(frozen)} of {type(model).__name__} are frozen (requires_grad is False, as after "
            ".requires_grad_(False)): they will not learn. Call .requires_grad_(True) on them to train them.",
            stacklevel=4,
        )
    grads = torch.autograd.grad(loss, trainable, allow_unused=True)
    unused = [names[p] for p, g in zip(trainable, grads, strict=True) if g is None]
    if unused:
        warnings.warn(
            f"the loss does not depend on {_names(unused)}: they get no gradient and will not learn. Does forward "
            "use them? A tensor taken out of PyTorch (.detach(), .numpy(), .item(), torch.tensor(...)) cuts "
            "every layer before it off from the loss.",
            stacklevel=4,
        )


def _names(names: list[str], most: int = 4) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def negative_loss_warning(value: float) -> str:
    """The warning for a training loss below zero, which no cross-entropy can be."""
    return (
        f"the training loss is negative ({value:.4g}), which no cross-entropy can be: is it F.nll_loss (or minus "
        "the mean of picked outputs) on raw logits? nll_loss expects log-probabilities; use "
        "F.cross_entropy(logits, y), which applies log_softmax itself."
    )


@contextmanager
def preserved(model: nn.Module, generator: torch.Generator | None = None) -> Iterator[None]:
    """Run a block, then put back everything it may have changed besides its result.

    The random generators (Python's, NumPy's, PyTorch's on the CPU and on
    the model's device, and ``generator``), the model's parameters and
    buffers (a BatchNorm's running statistics), its train/eval mode and its
    parameters' gradients.  What runs in the block is then invisible to
    everything after it: training runs bit for bit as it would without it.
    """
    tensors = [*model.parameters(), *model.buffers()]
    saved = [t.detach().clone() for t in tensors]
    grads, training = [p.grad for p in model.parameters()], model.training
    python, numpy = random.getstate(), np.random.get_state()
    own = generator.get_state() if generator is not None else None
    device = tensors[0].device if tensors else torch.device("cpu")
    accelerator = {"devices": [device.index or 0], "device_type": device.type} if device.type in ("cuda", "mps") else {}
    with torch.random.fork_rng(**({"devices": []} | accelerator)):
        try:
            yield
        finally:
            with torch.no_grad():
                for t, value in zip(tensors, saved, strict=True):
                    t.copy_(value)
            for p, g in zip(model.parameters(), grads, strict=True):
                p.grad = g
            model.train(training)
            random.setstate(python)
            np.random.set_state(numpy)
            if generator is not None:
                generator.set_state(own)


# Explaining a failed call from the tensors involved ------------------------------------------------------------------
class _FailedCall(TorchFunctionMode):
    """Records the first PyTorch function that raises while this mode is on, with its arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.call: tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]] | None = None

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        try:
            return func(*args, **kwargs)
        except Exception:
            if self.call is None:  # the outermost call: the one the user's code made
                self.call = (func, args, kwargs)
            raise


def call_explained(
    fn: Callable[[Batch], Any], batch: Batch, what: str, model: nn.Module, classes: int | None = None
) -> Any:
    """``fn(batch)``, with a failure explained from the batch and the model (its type unchanged)."""
    try:
        return fn(batch)
    except (RuntimeError, ValueError, IndexError, TypeError, NotImplementedError) as err:
        explain(err, lambda: fn(batch), model, batch[:-1], batch[-1], what, classes)
        raise


def explain(
    err: BaseException,
    rerun: Callable[[], Any],
    model: nn.Module,
    inputs: Sequence[Any],
    labels: torch.Tensor | None,
    what: str,
    classes: int | None = None,
) -> None:
    """Append to ``err``'s message what went wrong and the likely fix, in place, if the tensors tell.

    ``rerun`` repeats the failed call (with everything it changes put back)
    to find the PyTorch function that raised and the tensors it got.  The
    exception keeps its type and traceback; one already explained (by an
    inner model's ``__call__``) is left alone.  (``add_note`` would append
    too, but IPython before 8.14, as on Colab, does not show notes.)
    """
    if getattr(err, "_d2lmini_explained", False):
        return
    err._d2lmini_explained = True  # type: ignore[attr-defined]
    hint = _hint_from_traceback(err, model)
    if hint is None:
        recorder = _FailedCall()
        with preserved(model), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                with recorder:
                    rerun()
            except Exception:
                pass
        if recorder.call is not None:
            hint = _hint_from_call(*recorder.call, model=model, classes=classes)
    hint = hint or _hint_from_batch(inputs, labels, model, classes, err)
    if hint:
        tensors = [t for t in (*inputs, labels) if isinstance(t, torch.Tensor)]
        shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
        on = f"a batch of shapes {shapes}" if labels is not None else f"an input of shape {shapes}"
        err.args = (f"{err}\n{what} failed on {on}. {hint}",)


LOSSES = {"cross_entropy", "nll_loss"}
REGRESSION_LOSSES = {"mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
                     "binary_cross_entropy_with_logits"}  # fmt: skip
MATMULS = {"linear", "matmul", "mm", "bmm", "addmm", "__matmul__", "__rmatmul__", "mv"}


def _dtype(t: torch.Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


def _describe(t: torch.Tensor, names: dict[int, str]) -> str:
    """A tensor as the user knows it: a parameter by its name, anything else by its shape, with its dtype."""
    name = names.get(id(t))
    return f"{name} ({_dtype(t)}, {tuple(t.shape)})" if name else f"a {_dtype(t)} tensor of shape {tuple(t.shape)}"


def _has_values(t: torch.Tensor) -> bool:
    return t.device.type != "meta" and t.numel() > 0


def _hint_from_call(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], *, model: nn.Module, classes: int | None
) -> str | None:
    """What went wrong in the PyTorch call that raised, decided from its arguments."""
    name = getattr(func, "__name__", "")
    tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
    names = {id(p): f"self.{n}" for n, p in model.named_parameters()}
    if name in LOSSES and len(args) + len(kwargs) >= 2:
        return _hint_for_loss(args[0] if args else kwargs["input"], args[1] if len(args) > 1 else kwargs["target"],
                              classes)  # fmt: skip
    if name in REGRESSION_LOSSES and len(tensors) >= 2 and not tensors[1].is_floating_point():
        return (f"F.{name} compares the outputs with targets of the same shape, but got outputs of shape "
                f"{tuple(tensors[0].shape)} and {_dtype(tensors[1])} class labels of shape {tuple(tensors[1].shape)}: "
                "for classes, use F.cross_entropy(y_hat, y): the logits and one class index per image.")  # fmt: skip
    if name == "backward" and not torch.is_grad_enabled():
        return ("It calls .backward() where no gradients are recorded: validation runs under torch.no_grad(), as "
                "nothing is learnt from validation data. The Trainer does the backward pass in training; "
                "validation_step only computes and returns metrics.")  # fmt: skip
    if name in ("numpy", "__array__") and any(t.requires_grad for t in tensors):
        return ("forward hands a tensor that records gradients to NumPy. PyTorch's advice, .detach().numpy(), would "
                "silence the error but silently stop every layer before that point from learning: no gradient flows "
                "back through NumPy. Compute it with torch operations instead (torch.relu, torch.exp, torch.maximum, "
                "...).")  # fmt: skip
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        described = ", ".join(f"{_describe(t, names)} on {t.device}" for t in tensors)
        return (f"{name} got tensors on different devices: {described}. Move the input to the model's device "
                "(X.to(device), with device = next(model.parameters()).device), or use the Trainer, which moves "
                "both.")  # fmt: skip
    if name in MATMULS or any(id(t) in names for t in tensors):
        return _hint_for_dtypes(name, tensors, names) or _hint_for_matmul(name, args, names)
    if name in ("view", "reshape") and tensors:
        return _hint_for_reshape(tensors[0], args[1:] or tuple(kwargs.values()))
    return None


def _hint_for_loss(y_hat: Any, y: Any, classes: int | None) -> str | None:
    if not (isinstance(y_hat, torch.Tensor) and isinstance(y, torch.Tensor)):
        return None
    if not y_hat.is_floating_point():
        swapped = " (the two look swapped)" if y.is_floating_point() else ""
        return (f"The loss got {_dtype(y_hat)} values of shape {tuple(y_hat.shape)} as the model's outputs{swapped}: "
                "it takes the float logits first and the labels second: F.cross_entropy(y_hat, y).")  # fmt: skip
    if y.shape != y_hat.shape and (hint := _hint_for_labels(y, classes)):
        return hint
    if y_hat.dim() != 2 or y.dim() != 1:
        return (f"The loss got outputs of shape {tuple(y_hat.shape)} and labels of shape {tuple(y.shape)}: it wants "
                "logits of shape (batch, classes) and one label per row.")  # fmt: skip
    rows, n = len(y_hat), len(y)
    if rows != n:
        many = (f" ({rows // n} times as many: forward turns each image into several rows, as a reshape to the "
                "wrong width does, such as X.reshape(-1, 28); flatten per image: X.reshape(len(X), -1) or "
                "nn.Flatten())") if rows > n and rows % n == 0 else ""  # fmt: skip
        return f"The model's outputs have {rows} rows for {n} labels{many}: forward must return one row per image."
    if not _has_values(y) or (int(y.min()) >= 0 and int(y.max()) < y_hat.shape[1]):
        return None
    high, outputs = int(y.max()), y_hat.shape[1]
    per_class = f", {classes} here" if classes else f" (with {outputs} classes, labels run from 0 to {outputs - 1})"
    return (f"The model has fewer outputs than there are classes: {outputs} output{'s' * (outputs != 1)}, but label "
            f"{high} needs at least {high + 1}: give the last layer one output per class{per_class}.")


def _hint_for_labels(y: torch.Tensor, classes: int | None) -> str | None:
    """What is wrong with a batch's labels by themselves: their dtype, their shape or their range."""
    if y.is_floating_point() and y.dim() == 2:
        return (f"The labels have shape {tuple(y.shape)}, a row of {_dtype(y)} per image (one-hot?): give one "
                "class index per image, of dtype torch.long, as the data module does (y.argmax(dim=1) converts).")
    if y.is_floating_point():
        return (f"The labels are {_dtype(y)}: they must be class indices of dtype torch.long (int64), one per "
                "image, as the data module gives them: don't convert them with .float() (y.long() converts back).")
    if y.dtype != torch.int64:
        return f"The labels are {_dtype(y)}: the loss wants class indices of dtype torch.long (int64): y.long()."
    if classes is not None and _has_values(y) and (int(y.min()) < 0 or int(y.max()) >= classes):
        return (f"The labels are out of range: this batch has labels from {int(y.min())} to {int(y.max())}, but the "
                f"data has {classes} classes: labels 0 to {classes - 1}.")  # fmt: skip
    return None


def _hint_for_dtypes(name: str, tensors: list[torch.Tensor], names: dict[int, str]) -> str | None:
    params = [t for t in tensors if id(t) in names]
    data = [t for t in tensors if id(t) not in names]
    if not params or not data or {t.dtype for t in tensors} == {params[0].dtype}:
        return None
    x, w = data[0], params[0]
    if x.dtype == w.dtype:
        return None
    if not x.is_floating_point():
        if x.dtype == torch.uint8:
            return ("The images are raw uint8 pixels (0 to 255, such as data.val_X): convert them with "
                    "data.transform(X), to float32 in [0, 1], as the data module's loaders do.")  # fmt: skip
        return f"The input is {_dtype(x)}, but {names[id(w)]} is {_dtype(w)}: layers compute with floats: X.float()."
    default = torch.get_default_dtype()
    if w.dtype == torch.float64 and default == torch.float64:
        cause = ("the model's parameters are float64 because torch.set_default_dtype(torch.float64) was called before "
                 "it was built: set it back, torch.set_default_dtype(torch.float32), and build the model again "
                 "(or call model.float()).")  # fmt: skip
    elif w.dtype == torch.float64:
        cause = "the model's parameters are float64 (made with .double()?): call model.float(), as the data is float32."
    elif x.dtype == torch.float64:
        cause = ("the input is float64, NumPy's default (torch.from_numpy keeps it): convert it with X.float() or "
                 "torch.tensor(array, dtype=torch.float32).")  # fmt: skip
    else:
        cause = f"convert one of them, X.to({w.dtype}) or model.to({x.dtype})."
    return f"{name} got {_describe(x, names)} and {_describe(w, names)}, two dtypes: {cause}"


def _hint_for_matmul(name: str, args: tuple[Any, ...], names: dict[int, str]) -> str | None:
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    if name == "linear" and len(tensors) >= 2:
        x, w = tensors[0], tensors[1]
        needed, got = w.shape[-1], x.shape[-1]
        layer = names.get(id(w), "the layer's weight").removesuffix(".weight")
        expects = f"{layer} (an nn.Linear({needed}, {w.shape[0]})) takes {needed} features per example"
    elif name in ("matmul", "mm", "__matmul__", "__rmatmul__", "addmm") and len(tensors) >= 2:
        x, w = (tensors[1], tensors[0]) if name == "__rmatmul__" else tensors[-2:]
        if w.dim() < 2:
            return None
        needed, got = w.shape[-2], x.shape[-1]
        if got == w.shape[-1] and got != needed:
            return (f"X @ W needs W of shape (inputs, outputs), ({got}, ...), but {_describe(w, names)} is the "
                    f"transpose. In this book W is (inputs x outputs), as W1 is 784 x 256; nn.Linear's .weight is "
                    f"stored as (outputs x inputs): use X @ layer.weight.T.")  # fmt: skip
        expects = f"X @ {names.get(id(w), 'W')} with W of shape {tuple(w.shape)} needs {needed} columns in X"
    else:
        return None
    if got == needed:
        return None
    if x.dim() > 2 and math.prod(x.shape[1:]) == needed:
        return (f"{expects}, but the input has shape {tuple(x.shape)}: the images are not flattened. Flatten them "
                "first: nn.Flatten() as the first layer, or X.reshape(len(X), -1) in forward.")  # fmt: skip
    return (f"{expects}, but got inputs of shape {tuple(x.shape)}, {got} features: each layer's input size must equal "
            "the previous layer's output size, and the first layer's the number of values in one image.")  # fmt: skip


def _hint_for_reshape(t: torch.Tensor, shape: tuple[Any, ...]) -> str | None:
    sizes = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list, torch.Size)) else shape
    if not sizes or not all(isinstance(s, int) for s in sizes):
        return None
    per_example = math.prod(t.shape[1:]) if t.dim() > 1 else 1
    if sizes[0] > 0 and sizes[0] != len(t) and math.prod(sizes[1:]) == per_example:
        return (f"The reshape asks for {sizes[0]} examples, but this batch has {len(t)}: the last minibatch of an "
                "epoch is smaller when the batch size does not divide the data (Fashion-MNIST's 50,000 training "
                "images are 195 batches of 256 and one of 80). Let the batch size follow the data: "
                "X.reshape(len(X), -1) or X.reshape(-1, 784).")  # fmt: skip
    if math.prod(s for s in sizes if s != -1) and t.numel() % math.prod(s for s in sizes if s != -1):
        return (f"A tensor of shape {tuple(t.shape)} ({t.numel()} values, {per_example} per example) cannot take the "
                f"shape {sizes}: the sizes must multiply to the same number of values.")  # fmt: skip
    return None


def _hint_from_batch(
    inputs: Sequence[Any], labels: torch.Tensor | None, model: nn.Module, classes: int | None, err: BaseException
) -> str | None:
    """What is wrong with the batch itself, when no failed call told."""
    takes = _positional_inputs(model.forward)
    tensors = [x for x in inputs if isinstance(x, torch.Tensor)]
    if isinstance(err, TypeError) and takes is not None and takes != len(inputs):
        shapes = ", ".join(str(tuple(x.shape)) for x in tensors)
        return (f"forward takes {takes} input{'s' * (takes != 1)}, but got {len(inputs)}, of shapes {shapes}. The "
                "Trainer's steps pass every item of a batch but the last (the labels) to forward: a loader whose "
                f"batches have {len(inputs) + 1} items instead of (X, y) gives it {len(inputs)}. Make the loader "
                "yield (X, y), or unpack the extra items in your own training_step and validation_step.")  # fmt: skip
    names = {id(p): f"self.{n}" for n, p in model.named_parameters()}
    params = [p for p in model.parameters() if p.is_floating_point()]
    for x in tensors:
        if params and x.dtype != params[0].dtype:
            return _hint_for_dtypes("forward", [x, params[0]], names)
    if labels is not None:
        return _hint_for_labels(labels, classes)
    return None


def _positional_inputs(forward: Callable[..., Any]) -> int | None:
    """How many positional inputs ``forward`` takes (None if any number)."""
    try:
        parameters = inspect.signature(forward).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return None
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)


def _hint_from_traceback(err: BaseException, model: nn.Module) -> str | None:
    """What the objects in the traceback tell: a PyTorch layer or loss made with tensors, or called without forward."""
    frames = [frame for frame, _ in traceback.walk_tb(err.__traceback__)]
    for frame in frames:  # such as nn.CrossEntropyLoss(y_hat, y): the tensors became the loss's settings
        made = frame.f_locals.get("self")
        if frame.f_code.co_name == "__init__" and type(made).__module__.startswith("torch.nn"):
            settings = [frame.f_locals.get(a) for a in frame.f_code.co_varnames[1 : frame.f_code.co_argcount]]
            if any(isinstance(v, torch.Tensor) for v in settings):
                kind = type(made).__name__
                functional = " (or the function F.cross_entropy(y_hat, y))" if kind == "CrossEntropyLoss" else ""
                return (f"nn.{kind} got tensors when it was made: nn.{kind}(...) takes settings and makes a "
                        f"{'loss' if 'Loss' in kind else 'layer'}; call that on the tensors: "
                        f"nn.{kind}()(y_hat, y){functional}.")  # fmt: skip
    called = frames[-1].f_locals.get("self") if frames else None
    if not isinstance(called, nn.Module) or type(called).forward is not nn.Module.forward:
        return None
    name = next((f"self.{n}" for n, m in model.named_modules() if m is called and n), "the model")
    if isinstance(called, (nn.ModuleList, nn.ModuleDict)):
        kind = type(called).__name__
        return (f"{name} is an nn.{kind}: it holds layers but cannot be called, it has no forward. Call its layers "
                f"in forward, in a loop (for layer in {name}: X = layer(X)), or use nn.Sequential(...), which "
                "runs them in order.")  # fmt: skip
    close = difflib.get_close_matches("forward", [a for a in vars(type(called)) if not a.startswith("_")], n=1)
    spelt = f" (it has {close[0]}: a misspelling?)" if close else ""
    return f"{name} ({type(called).__name__}) has no forward method{spelt}: define forward(self, X)."
