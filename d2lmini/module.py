"""The base classes the chapters' models build on.

A :class:`Module` is an ordinary ``torch.nn.Module`` that also says how to
compute its loss, what one training or validation step reports and which
optimizer trains it; the :class:`~d2lmini.train.Trainer` only calls these
methods.  :class:`Classifier` fills them in for classification with
cross-entropy on logits.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from d2lmini.arguments import positive_number
from d2lmini.explain import explain

Batch = Sequence[torch.Tensor]
F_ = TypeVar("F_", bound=Callable[..., Any])


def add_to_class(cls: type) -> Callable[[F_], F_]:
    """Attach the decorated function to ``cls`` as a method.

    This lets a notebook build a class over several cells::

        @add_to_class(MLPScratch)
        def forward(self, X): ...

    The function itself is returned, so the name stays bound in the notebook
    and can be called or tested on its own.
    """

    def attach(fn: F_) -> F_:
        setattr(cls, fn.__name__, fn)
        return fn

    return attach


def has_lazy_parameters(module: nn.Module) -> bool:
    """True while ``module`` has lazy layers whose parameters have no shape yet (until one batch runs through)."""
    return any(isinstance(p, nn.parameter.UninitializedParameter) for p in module.parameters())


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of scalar parameters in ``module`` (learnable ones by default)."""
    if has_lazy_parameters(module):
        raise ValueError(
            "The module has lazy layers that are not initialised yet; run one batch through it first."
        )
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def mlp_parameter_count(widths: Sequence[int]) -> int:
    """Weights plus biases of a fully connected net with the given layer widths.

    ``widths`` lists the input size, each hidden width and the output size:
    each layer from ``a`` to ``b`` units has ``a * b`` weights and ``b`` biases.
    """
    if len(widths) < 2 or any(int(w) != w or w < 1 for w in widths):
        raise ValueError(f"widths must be two or more positive integers, got {list(widths)}.")
    return sum(a * b + b for a, b in pairwise(widths))


class Module(nn.Module):
    """A model that knows its loss, its steps and its optimizer.

    Subclasses define ``forward`` (or set ``self.net``) and ``loss``; the
    rest has sensible defaults.  Hyper-parameters passed to
    :meth:`save_hyperparameters` become attributes and are kept in
    ``self.hparams`` for printing and for re-creating the model.
    """

    def __init__(self) -> None:
        super().__init__()
        self.hparams: dict[str, Any] = {}

    def save_hyperparameters(self, **hparams: Any) -> None:
        """Store keyword arguments as attributes and in ``self.hparams``."""
        if "hparams" not in vars(self):
            raise AttributeError(
                f"{type(self).__name__} is not set up yet: call super().__init__() first, "
                "at the start of its __init__, before save_hyperparameters or any layer."
            )
        for name, value in hparams.items():
            setattr(self, name, value)
        self.hparams.update(hparams)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.hparams.items())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """``forward``, with a failure explained from the inputs and the weights (type unchanged).

        So ``model(data.val_X[:8])``, raw uint8 pixels, says so in any cell,
        not only inside ``Trainer.fit``.
        """
        try:
            return super().__call__(*args, **kwargs)
        except (RuntimeError, ValueError, IndexError, TypeError, NotImplementedError) as err:
            explain(err, lambda: nn.Module.__call__(self, *args, **kwargs), self, args, None, "forward")
            raise

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        net = getattr(self, "net", None)
        if net is None:
            why = self._why_no_forward()
            raise NotImplementedError(f"{type(self).__name__} needs a forward method or a self.net.{why}")
        if isinstance(net, (nn.ModuleList, nn.ModuleDict)):
            raise NotImplementedError(
                f"self.net is an nn.{type(net).__name__}: it holds layers but cannot be called. Use "
                "nn.Sequential(...), which runs them in order, or write forward with a loop over them."
            )
        return net(X)

    def _why_no_forward(self) -> str:
        """A likely reason for a missing forward: a misspelt method, or layers held in an nn.ModuleList."""
        methods = [name for name in dir(type(self)) if not name.startswith("_") and name != "forward"]
        close = difflib.get_close_matches("forward", methods, n=1, cutoff=0.7)
        if close:
            return f" It has {close[0]}: a misspelling of forward?"
        lists = [name for name, m in self.named_children() if isinstance(m, (nn.ModuleList, nn.ModuleDict))]
        if lists:
            return (f" self.{lists[0]} holds layers but does not run them: write forward with a loop, "
                    f"for layer in self.{lists[0]}: X = layer(X), or use self.net = nn.Sequential(...).")  # fmt: skip
        return ""

    def loss(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} needs a loss method.")

    def training_step(self, batch: Batch) -> torch.Tensor | dict[str, torch.Tensor]:
        """The mean loss on one training batch, with its gradients.

        Return the loss tensor itself (as in Dive into Deep Learning and
        Lightning) or a dict with ``"loss"`` and any other single-number
        metrics; the Trainer averages them over each epoch.
        """
        return {"loss": self.loss(self(*batch[:-1]), batch[-1])}

    def validation_step(self, batch: Batch) -> torch.Tensor | dict[str, torch.Tensor]:
        """Metrics on one validation batch, as for :meth:`training_step` (run under ``torch.no_grad``)."""
        return {"loss": self.loss(self(*batch[:-1]), batch[-1])}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Minibatch SGD with the learning rate ``self.lr``."""
        lr = getattr(self, "lr", None)
        if lr is None:
            raise AttributeError(
                f"{type(self).__name__} has no learning rate: call "
                "self.save_hyperparameters(lr=...) or override configure_optimizers."
            )
        return torch.optim.SGD(self.parameters(), lr=positive_number("lr", lr, 0.1))


class Classifier(Module):
    """A :class:`Module` whose ``forward`` returns class logits.

    The loss applies log-softmax and cross-entropy in one numerically stable
    step, which is why ``forward`` must *not* apply softmax itself.
    """

    def loss(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if not isinstance(y_hat, torch.Tensor):
            got = "None (is forward's return statement missing?)" if y_hat is None else f"a {type(y_hat).__name__}"
            raise TypeError(f"loss(y_hat, y) got {got} as y_hat; forward must return one tensor, the logits.")
        if not y_hat.is_floating_point():
            raise ValueError(
                f"loss(y_hat, y) got {y_hat.dtype} values as y_hat: it takes the model's outputs (float logits) "
                "first and the labels second, as in self.loss(self(X), y)."
            )
        if y_hat.dim() != 2:
            raise ValueError(
                f"expected logits of shape (batch, classes), got {tuple(y_hat.shape)}; "
                "does forward flatten its input and end in a layer with one output per class?"
            )
        if "_logits_checked" not in vars(self):  # once per model: a check costs a device sync
            self._logits_checked = True
            probabilities = (y_hat >= 0).all() & ((y_hat.detach().sum(dim=1) - 1).abs() < 1e-3).all()
            if y_hat.numel() and y_hat.device.type != "meta" and bool(probabilities):  # meta tensors have no values
                warnings.warn(
                    f"{type(self).__name__}'s forward seems to return probabilities (every row is >= 0 and sums "
                    "to 1): the loss applies softmax itself, and a second softmax makes learning far slower. "
                    "Return the logits, the last layer's output, without softmax.",
                    stacklevel=2,
                )
        return F.cross_entropy(y_hat, y)

    @staticmethod
    def accuracy(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Fraction of rows whose largest logit is at the true class (``y``: one class index per row)."""
        if y.dim() != 1:  # one-hot rows would broadcast against the predictions into a meaningless number
            raise ValueError(
                f"accuracy compares each row's predicted class with its label, one class index per row, but the "
                f"labels have shape {tuple(y.shape)} (one-hot?): give class indices of dtype torch.long, as the data "
                "module does (y.argmax(dim=1) converts)."
            )
        return (y_hat.argmax(dim=1) == y).float().mean()

    def _step(self, batch: Batch) -> dict[str, torch.Tensor]:
        y_hat = self(*batch[:-1])
        y = batch[-1]
        return {"loss": self.loss(y_hat, y), "acc": self.accuracy(y_hat.detach(), y)}

    def training_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        return self._step(batch)

    def validation_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        return self._step(batch)
