"""What the Trainer expects of a model, its data and its steps, and what it says when they fall short.

``Trainer`` (d2lmini.train) keeps only the loop; the checks live here.  Each
function refuses one kind of mistake, or explains a library error after the
fact, with a message that names what was passed, what is expected and the
likely fix.  An explained error keeps its type and traceback, so a
``NotImplementedError`` from a ``forward`` stub stays one.
"""

from __future__ import annotations

import numbers
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn

from d2lmini.module import Module, unregistered

Batch = Sequence[torch.Tensor]
STEP_CONTRACT = "it must return the loss tensor (one number, e.g. F.cross_entropy(y_hat, y)) or {'loss': loss, ...}"
SHAPE_ERROR = re.compile(r"shapes? |size of tensor|size mismatch|batch_size|of size \d|Dimension out of range")
TARGET_OUT_OF_BOUNDS = re.compile(r"Target (-?\d+) is out of bounds")
LABEL_DTYPE = re.compile(r"expected target dtype|floating point type for target")


def explain(err: BaseException, batch: Batch, what: str, classes: int | None) -> None:
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


def call_explained(fn: Callable[[Batch], Any], batch: Batch, what: str, classes: int | None = None) -> Any:
    """``fn(batch)``, with shape errors explained (their type unchanged)."""
    try:
        return fn(batch)
    except (RuntimeError, ValueError, IndexError) as err:
        explain(err, batch, what, classes)
        raise


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
            raise ValueError(
                f"{what} returned {key!r} as a tensor of shape {tuple(value.shape)}, one value per example; "
                "return their mean, a single number: e.g. loss.mean(), or the loss function's default reduction."
            )
        if not isinstance(value, (torch.Tensor, numbers.Real)):
            raise TypeError(f"{what} returned {key!r} as a {type(value).__name__}; metrics must be single numbers.")
    return out


def not_batches(got: str) -> TypeError:
    """The error for data that is not an iterable of ``(X, y)`` batches: ``got`` says what it is."""
    return TypeError(
        f"expected batches (X, y) of images and labels, but got {got}. To pass a single batch, put it in a "
        "list, [(X, y)]; to classify images without labels, use model(X).argmax(dim=1)."
    )


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


def optimizers_of(model: Module) -> tuple[torch.optim.Optimizer, Any]:
    """``model.configure_optimizers()`` as an optimizer and a scheduler (or None)."""
    try:
        configured = model.configure_optimizers()
    except TypeError as err:
        if "'method' object is not iterable" in str(err):
            err.args = (f"{err}: pass self.parameters(), with parentheses, to the optimizer.",)
        raise
    return split_optimizers(configured)


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


def classes_of(data: Any) -> int | None:
    """How many classes a data module names in its ``labels`` (None if it names none), for error messages."""
    return len(getattr(data, "labels", ())) or None


def check_data_module(data: Any) -> int:
    """Refuse anything but a data module with non-empty loaders; return the number of training batches."""
    refuse_class(data, "Trainer.fit", "a data module", "data")
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


def split_optimizers(configured: Any) -> tuple[torch.optim.Optimizer, Any]:
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
