"""Plot helpers: they return axes, accept tensors, keep figures opaque, change no globals."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch

from d2lmini.history import History
from d2lmini.plotting import plot_history, show_images


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


def test_show_images_takes_the_loaders_channel_and_explains_other_shapes() -> None:
    axes = show_images(torch.rand(3, 1, 8, 8), 1, 3)  # (n, 1, h, w), as a loader gives them
    assert axes[0, 0].get_images()[0].get_array().shape == (8, 8)
    figures = plt.get_fignums()
    with pytest.raises(TypeError, match=r"takes a batch of images, of shape \(n, height, width\), not \(4, 784\): "
                                        r"one image goes in as X\[None\]; flattened images as X\.reshape"):  # fmt: skip
        show_images(torch.rand(4, 784), 1, 4)
    with pytest.raises(TypeError, match=r"draws images of shape \(height, width\); image 0 is \(3, 8, 8\)"):
        show_images(torch.rand(2, 3, 8, 8), 1, 2)
    assert plt.get_fignums() == figures  # no empty figure left behind
    plt.close("all")


def test_plot_history_wants_a_history_with_epochs() -> None:
    with pytest.raises(ValueError, match="a History without epochs: no epoch finished, so there is nothing to plot"):
        plot_history(History())
    with pytest.raises(TypeError, match=r"takes the History that Trainer\.fit returns \(or trainer\.history\), not "
                                        r"a dict"):  # fmt: skip
        plot_history({"epoch": 1.0, "val_acc": 0.5})  # history.final, one record
    assert plt.get_fignums() == []
