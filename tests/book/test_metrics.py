"""Tests of d2lmini.book.metrics: the confusion matrix and its plot."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")  # no display needed; tests only inspect the axes

import matplotlib.pyplot as plt
import pytest
import torch

from d2lmini.book.metrics import confusion_matrix, per_class_accuracy, plot_confusion_matrix


def test_confusion_matrix_counts_pairs_true_by_row() -> None:
    labels = torch.tensor([0, 0, 1, 2, 2, 2])
    preds = torch.tensor([0, 1, 1, 2, 0, 2])
    m = confusion_matrix(preds, labels, num_classes=3)
    expected = torch.tensor([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert m.dtype == torch.int64
    assert torch.equal(m, expected)


def test_confusion_matrix_invariants_on_random_data() -> None:
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 7, (500,), generator=gen)
    preds = torch.randint(0, 7, (500,), generator=gen)
    m = confusion_matrix(preds, labels, 7)
    assert m.sum() == 500
    assert torch.equal(m.sum(dim=1), torch.bincount(labels, minlength=7))
    assert torch.equal(m.sum(dim=0), torch.bincount(preds, minlength=7))
    assert m.diagonal().sum() == (preds == labels).sum()


def test_confusion_matrix_keeps_unseen_classes() -> None:
    m = confusion_matrix(torch.tensor([1]), torch.tensor([1]), num_classes=4)
    assert m.shape == (4, 4) and m[1, 1] == 1 and m.sum() == 1


@pytest.mark.parametrize(
    ("preds", "labels", "match"),
    [
        (torch.zeros(3, 2), torch.zeros(3), "1-D"),
        (torch.zeros(3), torch.zeros(4), "equally long"),
        (torch.tensor([0, 5]), torch.tensor([0, 1]), "preds holds values"),
        (torch.tensor([0, 1]), torch.tensor([-1, 1]), "labels holds values"),
    ],
)
def test_confusion_matrix_rejects_bad_input(preds: torch.Tensor, labels: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        confusion_matrix(preds, labels, num_classes=3)


def test_per_class_accuracy_is_diagonal_over_row_sums() -> None:
    m = torch.tensor([[3, 1], [0, 0]])
    acc = per_class_accuracy(m)
    assert acc[0] == pytest.approx(0.75)
    assert math.isnan(float(acc[1]))  # no examples of class 1


def test_plot_confusion_matrix_labels_and_opaque_figure() -> None:
    m = torch.tensor([[5, 1], [2, 8]])
    ax = plot_confusion_matrix(m, ["cat", "dog"], title="pets")
    try:
        assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog"]
        assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
        texts = sorted(t.get_text() for t in ax.texts)
        assert texts == sorted([".83", ".17", ".20", ".80"])
        assert ax.figure.get_facecolor()[3] == 1.0
    finally:
        plt.close(ax.figure)


def test_plot_confusion_matrix_counts_and_given_axes() -> None:
    fig, ax = plt.subplots()
    try:
        out = plot_confusion_matrix(torch.tensor([[2, 0], [1, 3]]), normalize=False, axes=ax)
        assert out is ax
        assert sorted(t.get_text() for t in ax.texts) == ["1", "2", "3"]  # zeros are left blank
    finally:
        plt.close(fig)


def test_plot_confusion_matrix_rejects_mismatched_names() -> None:
    with pytest.raises(ValueError, match="class names"):
        plot_confusion_matrix(torch.eye(3), ["a", "b"])


@pytest.mark.parametrize("matrix", [torch.ones(3), torch.tensor(5), torch.ones(2, 3), torch.ones(2, 2, 2)])
def test_plot_confusion_matrix_rejects_what_is_not_a_square_matrix(matrix: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="square matrix"):
        plot_confusion_matrix(matrix)
