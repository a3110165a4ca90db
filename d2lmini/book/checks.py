"""Instant feedback for the exercise notebooks: every checker, importable from one place.

Each ``check_*`` function takes the reader's answer (usually a function), tries it on at least two different
inputs and returns a :class:`CheckResult` whose first line says either that the answer is correct or what is
wrong with it: not attempted yet, raises an error (naming the reader's line), never returns, returns ``None``
or the wrong type, shape, dtype or device, NaN or infinity for large inputs, values that are off at some
inputs (shown with the expected and the received value), a model whose outputs carry no gradient to its weights,
a call of a function the exercise forbids (``torch.relu`` where the reader writes ReLU), global state it changes
(the default dtype, gradient mode, the data module's tensors), or an experiment that did not follow its protocol.
Expected values are computed from the checker's own copies before the answer runs, so an answer that changes its
inputs in place is judged on what it returns.

The checkers live in one module per chapter: :mod:`~d2lmini.book.checks_activations`,
:mod:`~d2lmini.book.checks_softmax`, :mod:`~d2lmini.book.checks_layers` (hidden layers, the linear collapse, the
playground), :mod:`~d2lmini.book.checks_models` (the labs' models, dead units) and
:mod:`~d2lmini.book.checks_experiments` (the labs' experiments). The shared machinery (time limits, captured
output, random state, global state, error messages) is in :mod:`d2lmini.book.checking`;
:func:`experiment_checker` (from :mod:`d2lmini.book.experiment_checks`) builds checkers for the results of
experiment exercises. :func:`notebook_hints`, called in an exercise notebook's import cell, explains a check cell
run before the cell that defines its answer.
"""

from __future__ import annotations

from d2lmini.book.checking import CheckResult, notebook_hints
from d2lmini.book.checks_activations import check_prelu_grad, check_relu, check_tanh_grad
from d2lmini.book.checks_experiments import (
    check_depth_at_fixed_size,
    check_gelu_gain,
    check_lr_sweep,
    check_one_unit,
)
from d2lmini.book.checks_layers import check_collapse, check_count_params, check_decision_grid
from d2lmini.book.checks_models import check_build_mlp, check_count_dead, check_mlp_forward
from d2lmini.book.checks_softmax import check_cross_entropy, check_softmax
from d2lmini.book.experiment_checks import experiment_checker

__all__ = [
    "CheckResult",
    "check_build_mlp",
    "check_collapse",
    "check_count_dead",
    "check_count_params",
    "check_cross_entropy",
    "check_decision_grid",
    "check_depth_at_fixed_size",
    "check_gelu_gain",
    "check_lr_sweep",
    "check_mlp_forward",
    "check_one_unit",
    "check_prelu_grad",
    "check_relu",
    "check_softmax",
    "check_tanh_grad",
    "experiment_checker",
    "notebook_hints",
]
