"""Plot helpers: they return axes, accept tensors, keep figures opaque, change no globals."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch

from d2lmini.plotting import figure, plot, plot_history, show_images
from d2lmini.train import History


def test_plot_several_series_from_tensors() -> None:
    x = torch.linspace(-1, 1, 5)
    ax = plot(x, [x, x**2], xlabel="x", ylabel="y", legend=["x", "x^2"], xlim=(-1, 1), yscale="linear")
    assert len(ax.lines) == 2 and ax.get_xlabel() == "x" and ax.get_xlim() == (-1.0, 1.0)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["x", "x^2"]
    assert ax.figure.get_facecolor() == (1.0, 1.0, 1.0, 1.0)
    plt.close("all")


def test_plot_y_only_and_existing_axes() -> None:
    _, ax = figure()
    assert plot([3, 1, 2], axes=ax) is ax
    assert list(ax.lines[0].get_xdata()) == [0, 1, 2]
    with pytest.raises(ValueError, match="got 2 x series for 3 y series"):
        plot([[1, 2], [3, 4]], [[1, 2], [3, 4], [5, 6]])
    plt.close("all")


def test_importing_changes_no_global_settings() -> None:
    import importlib

    import d2lmini.plotting

    before = dict(matplotlib.rcParams)
    importlib.reload(d2lmini.plotting)
    assert dict(matplotlib.rcParams) == before


def test_show_images_grid_with_titles() -> None:
    axes = show_images(torch.rand(5, 8, 8), 2, 3, titles=list("abcde"))
    assert axes.shape == (2, 3)
    assert [a.get_title() for a in axes.ravel()] == ["a", "b", "c", "d", "e", ""]
    plt.close("all")


def test_plot_history_compares_runs_in_one_figure() -> None:
    h = History(records=[{"epoch": 1.0, "train_loss": 0.9, "train_acc": 0.6, "val_loss": 1.0,
                          "val_acc": 0.5, "seconds": 1.0}])  # fmt: skip
    axes = plot_history(h, label="a")
    plot_history(h, axes=axes, label="b")
    labels = [line.get_label() for line in axes[1].lines]
    assert labels == ["a train acc", "a val acc", "b train acc", "b val acc"]
    plt.close("all")
