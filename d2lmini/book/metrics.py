"""Looking past a single accuracy number: the confusion matrix.

Accuracy says how often a classifier is right, not *which* classes it mixes
up.  The confusion matrix counts, for every true class, how often each class
was predicted, so the labs can show that an MLP on Fashion-MNIST confuses
shirts with T-shirts far more than trousers with bags.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def confusion_matrix(preds: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Count how often each true class (row) was predicted as each class (column).

    ``preds`` and ``labels`` are 1-D tensors of class indices in
    ``[0, num_classes)``, such as the two tensors :meth:`d2lmini.Trainer.predict`
    returns.  The result is an int64 tensor of shape ``(num_classes, num_classes)``:
    its diagonal holds the correct predictions, each row sums to the number of
    examples of that class, and the whole matrix sums to ``len(labels)``.
    """
    preds, labels = torch.as_tensor(preds).cpu().long(), torch.as_tensor(labels).cpu().long()
    if preds.dim() != 1 or labels.dim() != 1 or len(preds) != len(labels):
        raise ValueError(
            f"preds and labels must be 1-D and equally long, got shapes {tuple(preds.shape)} "
            f"and {tuple(labels.shape)}; pass class indices, not logits (use .argmax(dim=1))."
        )
    if num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes}.")
    for name, t in (("preds", preds), ("labels", labels)):
        low, high = (int(t.min()), int(t.max())) if len(t) else (0, 0)
        if low < 0 or high >= num_classes:
            raise ValueError(f"{name} holds values from {low} to {high}, outside [0, {num_classes}).")
    # Each pair (true i, predicted j) gets its own bin i * num_classes + j.
    flat = torch.bincount(labels * num_classes + preds, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def per_class_accuracy(matrix: torch.Tensor) -> torch.Tensor:
    """Fraction of each true class predicted correctly (the diagonal over the row sums).

    A class with no examples gets NaN rather than a misleading 0 or 1.
    """
    matrix = torch.as_tensor(matrix)
    totals = matrix.sum(dim=1).double()
    return matrix.diagonal().double() / totals


def plot_confusion_matrix(
    matrix: torch.Tensor,
    class_names: Sequence[str] | None = None,
    normalize: bool = True,
    axes: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw a confusion matrix as a heat map with the value in each cell; returns the axes.

    With ``normalize`` (the default) each row is divided by its total, so a
    cell reads "the fraction of class *row* predicted as *column*" and rows
    are comparable even if the classes differ in size.  Cells of 0 are left
    blank, which makes the few real confusions stand out.
    """
    from d2lmini.plotting import figure

    matrix = torch.as_tensor(matrix).cpu()
    if matrix.dim() != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"expected a square matrix, got shape {tuple(matrix.shape)}.")
    n = matrix.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(n)]
    if len(names) != n:
        raise ValueError(f"got {len(names)} class names for a {n}x{n} matrix.")
    values = matrix.double()
    if normalize:
        values = values / values.sum(dim=1, keepdim=True).clamp(min=1)
    if axes is None:
        size = 1.2 + 0.5 * n
        _, axes = figure(figsize=(size, size), layout="constrained")
    axes.imshow(values.numpy(), cmap="Blues", vmin=0, vmax=float(values.max()) or 1.0)
    threshold = 0.6 * float(values.max())
    for i in range(n):
        for j in range(n):
            v = float(values[i, j])
            if v == 0:
                continue
            text = f"{v:.2f}".lstrip("0") if normalize else f"{int(v)}"
            axes.text(j, i, text, ha="center", va="center", fontsize=7,
                      color="white" if v > threshold else "black")  # fmt: skip
    axes.set_xticks(range(n), names, rotation=60, ha="right", fontsize=8)
    axes.set_yticks(range(n), names, fontsize=8)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    if title:
        axes.set_title(title, fontsize=9)
    return axes
