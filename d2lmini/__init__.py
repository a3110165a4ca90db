"""d2lmini: the small helper package of the book *Multilayer Perceptrons with PyTorch*.

Submodules, one concern each:

- :mod:`d2lmini.data`: Fashion-MNIST and MNIST as in-memory data modules;
- :mod:`d2lmini.idx`: the reader and checker of the datasets' IDX files;
- :mod:`d2lmini.module`: the ``Module`` and ``Classifier`` base classes;
- :mod:`d2lmini.train`: the ``Trainer``, its ``History`` and seeding;
- :mod:`d2lmini.progress`: live figure / terminal bar shown while training;
- :mod:`d2lmini.plotting`: matplotlib helpers that change no global settings;
- :mod:`d2lmini.diagrams`: network diagrams drawn by code;
- :mod:`d2lmini.widgets`: slider demos, live (ipywidgets) and static (plotly);
- :mod:`d2lmini.activations`: activation functions and the chapter's demos;
- :mod:`d2lmini.metrics`: confusion matrices and per-class accuracy;
- :mod:`d2lmini.checks`: instant feedback for the exercises.

The names below are loaded on first use, so ``import d2lmini`` is instant and
PyTorch is imported only when something needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "FashionMNIST": "data",
    "MNIST": "data",
    "TensorLoader": "data",
    "DataError": "idx",
    "Module": "module",
    "Classifier": "module",
    "add_to_class": "module",
    "count_parameters": "module",
    "mlp_parameter_count": "module",
    "Trainer": "train",
    "History": "train",
    "NonFiniteLossError": "train",
    "seed_everything": "train",
    "resolve_device": "train",
    "plot": "plotting",
    "figure": "plotting",
    "set_axes": "plotting",
    "show_images": "plotting",
    "plot_history": "plotting",
    "draw_mlp": "diagrams",
    "CheckResult": "checks",
    "Demo": "widgets",
    "confusion_matrix": "metrics",
    "per_class_accuracy": "metrics",
    "plot_confusion_matrix": "metrics",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from d2lmini.checks import CheckResult
    from d2lmini.data import MNIST, FashionMNIST, TensorLoader
    from d2lmini.diagrams import draw_mlp
    from d2lmini.idx import DataError
    from d2lmini.metrics import confusion_matrix, per_class_accuracy, plot_confusion_matrix
    from d2lmini.module import Classifier, Module, add_to_class, count_parameters, mlp_parameter_count
    from d2lmini.plotting import figure, plot, plot_history, set_axes, show_images
    from d2lmini.train import History, NonFiniteLossError, Trainer, resolve_device, seed_everything
    from d2lmini.widgets import Demo


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"d2lmini.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'd2lmini' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
