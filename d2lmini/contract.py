"""What the Trainer expects of a model, its data and its steps, and what it says when they fall short.

``Trainer`` (d2lmini.train) keeps only the loop; the checks live here, in
two groups:

- checks of what ``fit`` is given (the data module and its loaders, the
  model, its optimizer and scheduler), each refusing one kind of mistake;
- checks of one training step, run once before the first epoch (the
  result's form, gradients that reach the weights, an optimizer that holds
  them), which warn about runs that would silently learn nothing.

A mistake that makes a call fail (a step, a forward) is explained by
:mod:`d2lmini.explain`, from the tensors involved; the label check here
words its message as that module does.
"""

from __future__ import annotations

import inspect
import numbers
import traceback
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from d2lmini.explain import Batch, has_values, hint_for_labels

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
    if len(batch) != 2 or classes is None or labels.is_floating_point() or labels.dim() != 1 or not has_values(labels):
        return  # only (X, y) batches: with more items the last one may not be the labels
    if hint := hint_for_labels(labels, classes):
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
