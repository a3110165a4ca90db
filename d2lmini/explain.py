"""Explaining a failed call: what went wrong in the user's step or forward, and the fix, added to its message.

The Trainer runs every step through :func:`call_explained`, and a
:class:`~d2lmini.module.Module` runs ``forward`` through :func:`explain`.
When such a call raises, the objects in its traceback are looked at first
(a loss class made with tensors, a layer without ``forward``); if they do
not tell, the call runs once more, with everything it changes put back
(:func:`~d2lmini.devices.preserved`), under a ``TorchFunctionMode`` that
records the first PyTorch function to fail and the arguments it got.  The
hint is decided from those tensors, the model's named parameters and the
batch: dtypes, shapes, devices, label values.  It is never decided from
the wording of PyTorch's messages, which changes between versions and
speaks of PyTorch's internals ("mat1 and mat2 shapes cannot be
multiplied"), not of the student's code (which layer, which missing
flatten).

An explained error keeps its type and traceback, so a user's ``except``
still catches it and a ``NotImplementedError`` from a ``forward`` stub
stays one; the hint is added to its message once.  The checks of what the
Trainer is given (:mod:`d2lmini.contract`) use :func:`hint_for_labels`
too, so a mistake in the labels reads the same whichever finds it.
"""

from __future__ import annotations

import difflib
import inspect
import math
import traceback
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from d2lmini.devices import preserved

Batch = Sequence[torch.Tensor]


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
MATMULS = {"linear", "matmul", "mm", "bmm", "addmm", "mv"}  # X @ W reaches PyTorch as matmul
FUNCTIONAL = {"CrossEntropyLoss": "F.cross_entropy(y_hat, y)", "Dropout": "F.dropout(X, p, training=self.training)"}


def _dtype(t: torch.Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


def _describe(t: torch.Tensor, names: dict[int, str]) -> str:
    """A tensor as the user knows it: a parameter by its name, anything else by its shape, with its dtype."""
    name = names.get(id(t))
    if name:
        return f"{name} ({_dtype(t)}, {tuple(t.shape)})"
    return f"{'an' if _dtype(t).startswith('int') else 'a'} {_dtype(t)} tensor of shape {tuple(t.shape)}"


def has_values(t: torch.Tensor) -> bool:
    """Whether ``t`` holds values to read: not an empty tensor, nor one on the meta device (shapes only)."""
    return t.device.type != "meta" and t.numel() > 0


def _hint_from_call(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], *, model: nn.Module, classes: int | None
) -> str | None:
    """What went wrong in the PyTorch call that raised, decided from its arguments."""
    name = getattr(func, "__name__", "")
    tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
    names = {id(p): f"self.{n}" for n, p in model.named_parameters()}
    if len({t.device for t in tensors}) > 1:  # first: the loss's own checks would not see it
        described = ", ".join(f"{_describe(t, names)} on {t.device}" for t in tensors)
        fix = ("Move the input to the model's device (X.to(device), with device = next(model.parameters()).device), "
               "or use the Trainer, which moves both." if any(id(t) in names for t in tensors) else
               "A tensor made in a step, or kept in the model as a plain attribute, stays where it was made when the "
               "model and the batch move: make it on the batch's device (device=y.device), or register it in "
               '__init__ as a buffer, which moves with the model: self.register_buffer("weight", w).')  # fmt: skip
        return f"{name} got tensors on different devices: {described}. {fix}"
    if name in LOSSES:  # these hand PyTorch their input and target positionally, however the user passed them
        return _hint_for_loss(args[0], args[1], classes)
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
    if y.shape != y_hat.shape and (hint := hint_for_labels(y, classes)):
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
    if not has_values(y) or (int(y.min()) >= 0 and int(y.max()) < y_hat.shape[1]):
        return None
    high, outputs = int(y.max()), y_hat.shape[1]
    per_class = f", {classes} here" if classes else f" (with {outputs} classes, labels run from 0 to {outputs - 1})"
    return (f"The model has fewer outputs than there are classes: {outputs} output{'s' * (outputs != 1)}, but label "
            f"{high} needs at least {high + 1}: give the last layer one output per class{per_class}.")


def hint_for_labels(y: torch.Tensor, classes: int | None) -> str | None:
    """What is wrong with a batch's labels by themselves: their dtype, their shape or their range."""
    if y.is_floating_point() and y.dim() == 2:
        return (f"The labels have shape {tuple(y.shape)}, a row of {_dtype(y)} per image (one-hot?): give one "
                "class index per image, of dtype torch.long, as the data module does (y.argmax(dim=1) converts).")
    if y.is_floating_point():
        return (f"The labels are {_dtype(y)}: they must be class indices of dtype torch.long (int64), one per "
                "image, as the data module gives them: don't convert them with .float() (y.long() converts back).")
    if y.dtype != torch.int64:
        return f"The labels are {_dtype(y)}: the loss wants class indices of dtype torch.long (int64): y.long()."
    if classes is not None and has_values(y) and (int(y.min()) < 0 or int(y.max()) >= classes):
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
    elif name in ("matmul", "mm", "addmm") and len(tensors) >= 2:
        x, w = tensors[-2:]
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
        return (f"The reshape asks for {sizes[0]} example{'s' * (sizes[0] != 1)}, but this batch has {len(t)}: the "
                "last minibatch of an epoch is smaller when the batch size does not divide the data (Fashion-MNIST's "
                "50,000 training images are 195 batches of 256 and one of 80). Let the batch size follow the data: "
                "X.reshape(len(X), -1) or X.reshape(-1, 784).")  # fmt: skip
    if math.prod(s for s in sizes if s != -1) and t.numel() % math.prod(s for s in sizes if s != -1):
        return (f"A tensor of shape {tuple(t.shape)} ({t.numel()} values, {per_example} per example) cannot take the "
                f"shape {sizes}: the sizes must multiply to the same number of values.")  # fmt: skip
    return None


def _hint_from_batch(
    inputs: Sequence[Any], labels: torch.Tensor | None, model: nn.Module, classes: int | None, err: BaseException
) -> str | None:
    """What is wrong with the batch itself, when no failed call told."""
    fewest_most = _positional_inputs(model.forward)
    tensors = [x for x in inputs if isinstance(x, torch.Tensor)]
    if isinstance(err, TypeError) and fewest_most and not fewest_most[0] <= len(inputs) <= fewest_most[1]:
        fewest, most = fewest_most
        takes = most if len(inputs) > most else fewest
        shapes = ", ".join(str(tuple(x.shape)) for x in tensors)
        fix = (f"a loader whose batches have {len(inputs) + 1} items instead of (X, y) gives it {len(inputs)}. Make "
               "the loader yield (X, y), or unpack the extra items in your own training_step and validation_step."
               if len(inputs) > most else
               "the labels never reach forward. Let forward compute the outputs from the inputs alone, and the "
               "loss compare them with the labels: Module's training_step does, self.loss(self(X), y).")  # fmt: skip
        return (f"forward takes {takes} input{'s' * (takes != 1)}, but got {len(inputs)}, of shapes {shapes}. The "
                f"Trainer's steps pass every item of a batch but the last (the labels) to forward: {fix}")  # fmt: skip
    names = {id(p): f"self.{n}" for n, p in model.named_parameters()}
    params = [p for p in model.parameters() if p.is_floating_point()]
    for x in tensors:
        if params and x.dtype != params[0].dtype:
            return _hint_for_dtypes("forward", [x, params[0]], names)
    if labels is not None:
        return hint_for_labels(labels, classes)
    return None


def _positional_inputs(forward: Callable[..., Any]) -> tuple[int, int] | None:
    """The fewest and the most positional inputs ``forward`` takes (None if any number).

    An option with a default, as in ``forward(self, X, return_hidden=False)``, may be left out.
    """
    try:
        parameters = inspect.signature(forward).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return None
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return sum(p.default is p.empty for p in positional), len(positional)


def _hint_from_traceback(err: BaseException, model: nn.Module) -> str | None:
    """What the objects in the traceback tell: a PyTorch layer or loss made with tensors, or called without forward."""
    frames = [frame for frame, _ in traceback.walk_tb(err.__traceback__)]
    for frame in frames:  # such as nn.CrossEntropyLoss(y_hat, y): the tensors became the loss's settings
        made = frame.f_locals.get("self")
        if frame.f_code.co_name == "__init__" and type(made).__module__.startswith("torch.nn"):
            settings = [frame.f_locals.get(a) for a in frame.f_code.co_varnames[1 : frame.f_code.co_argcount]]
            if any(isinstance(v, torch.Tensor) for v in settings):
                kind = type(made).__name__
                functional = FUNCTIONAL.get(kind)
                also = f" (or the function {functional})" if functional else ""
                if "Loss" in kind:
                    return (f"nn.{kind} got tensors when it was made: nn.{kind}(...) takes settings and makes a loss; "
                            f"call that on the tensors: nn.{kind}()(y_hat, y){also}.")  # fmt: skip
                return (f"nn.{kind} got tensors when it was made: nn.{kind}(...) takes settings and makes a layer; "
                        f"make it once, in __init__ (self.layer = nn.{kind}(...)), and call that on the tensors in "
                        f"forward: self.layer(X){also}.")  # fmt: skip
    if not frames or frames[-1].f_code is not nn.Module.forward.__code__:  # nn.Module's stand-in for forward?
        return None  # no: an error inside a layer, such as an index past the end of an nn.ModuleList, is not this
    called = frames[-1].f_locals["self"]
    name = next((f"self.{n}" for n, m in model.named_modules() if m is called and n), "the model")
    if isinstance(called, (nn.ModuleList, nn.ModuleDict)):
        kind = type(called).__name__
        return (f"{name} is an nn.{kind}: it holds layers but cannot be called, it has no forward. Call its layers "
                f"in forward, in a loop (for layer in {name}: X = layer(X)), or use nn.Sequential(...), which "
                "runs them in order.")  # fmt: skip
    methods = [a for a in vars(type(called)) if not a.startswith("__")]  # _forward too; no dunder is close
    close = difflib.get_close_matches("forward", methods, n=1)
    spelt = f" (it has {close[0]}: a misspelling?)" if close else ""
    return f"{name} ({type(called).__name__}) has no forward method{spelt}: define forward(self, X)."
