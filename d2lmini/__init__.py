"""d2lmini: the small helper package of the book *Multilayer Perceptrons with PyTorch*.

The core, one module per concern, in the order a newcomer reads it:

- :mod:`d2lmini.idx`: the reader and checker of the datasets' IDX files;
- :mod:`d2lmini.files`: where the datasets' files are found, and downloading the missing ones;
- :mod:`d2lmini.data`: Fashion-MNIST and MNIST as in-memory data modules;
- :mod:`d2lmini.module`: the ``Module`` and ``Classifier`` base classes;
- :mod:`d2lmini.history`: the per-epoch record that ``Trainer.fit`` returns;
- :mod:`d2lmini.progress`: live figure / terminal bar shown while training;
- :mod:`d2lmini.devices`: seeding, and the device training runs on;
- :mod:`d2lmini.contract`: the checks of what the ``Trainer`` is given;
- :mod:`d2lmini.explain`: what went wrong when a step or a forward fails;
- :mod:`d2lmini.train`: the ``Trainer``, the training loop;
- :mod:`d2lmini.plotting`: matplotlib helpers that change no global settings;
- :mod:`d2lmini.arguments`: the argument checks the other modules share.

The book's own machinery (slider demos, exercise checkers, diagrams,
confusion matrices) lives in the subpackage :mod:`d2lmini.book`; it uses the
core, and the core never imports it.

The names below are loaded on first use, so ``import d2lmini`` is instant and
PyTorch is imported only when something needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

# The one export list: public name -> core module that defines it.
_EXPORTS = {
    "DataError": "idx",
    "FashionMNIST": "data",
    "MNIST": "data",
    "TensorLoader": "data",
    "Module": "module",
    "Classifier": "module",
    "add_to_class": "module",
    "count_parameters": "module",
    "mlp_parameter_count": "module",
    "History": "history",
    "Trainer": "train",
    "NonFiniteLossError": "train",
    "seed_everything": "devices",
    "resolve_device": "devices",
    "figure": "plotting",
    "set_axes": "plotting",
    "show_images": "plotting",
    "plot_history": "plotting",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # the same names for type checkers and editors (a test keeps the two in step)
    from d2lmini.data import MNIST, FashionMNIST, TensorLoader
    from d2lmini.devices import resolve_device, seed_everything
    from d2lmini.history import History
    from d2lmini.idx import DataError
    from d2lmini.module import Classifier, Module, add_to_class, count_parameters, mlp_parameter_count
    from d2lmini.plotting import figure, plot_history, set_axes, show_images
    from d2lmini.train import NonFiniteLossError, Trainer


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"d2lmini.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'd2lmini' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
