"""Plot helpers: they return axes, accept tensors, keep figures opaque, change no globals."""

from __future__ import annotations

import matplotlib
import matplotlib.axes
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


def curves(ax: matplotlib.axes.Axes) -> dict[str, tuple[list[float], list[float], str]]:
    """Each line an axes draws, by its legend label: its x and y data and its line style."""
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata()), line.get_linestyle())
            for line in ax.lines}  # fmt: skip


def test_plot_history_draws_each_metric_from_its_own_numbers() -> None:
    """The curves' data, read back from the figure: each split's own metric, per epoch; validation dashed."""
    columns = {"train_loss": [0.9, 0.5, 0.3], "train_acc": [0.6, 0.8, 0.9], "val_loss": [1.1, 0.7, 0.6],
               "val_acc": [0.5, 0.7, 0.75]}  # fmt: skip
    records = [{"epoch": e + 1.0, **{k: v[e] for k, v in columns.items()}, "seconds": 1.0} for e in range(3)]
    loss, acc = plot_history(History(records=records))
    epochs = [1.0, 2.0, 3.0]
    assert curves(loss) == {"train loss": (epochs, [0.9, 0.5, 0.3], "-"), "val loss": (epochs, [1.1, 0.7, 0.6], "--")}
    assert curves(acc) == {"train acc": (epochs, [0.6, 0.8, 0.9], "-"), "val acc": (epochs, [0.5, 0.7, 0.75], "--")}
    assert (loss.get_xlabel(), loss.get_ylabel(), acc.get_xlabel(), acc.get_ylabel()) == (
        "epoch", "loss", "epoch", "accuracy")  # fmt: skip
    for ax in (loss, acc):
        assert [t.get_text() for t in ax.get_legend().get_texts()] == list(curves(ax))
        assert all(line.get_marker() == "o" for line in ax.lines)
    assert loss.figure.get_facecolor()[3] == 1.0  # opaque on a dark page


def test_plot_history_without_validation_draws_the_training_curves_alone() -> None:
    """``fit`` without validation data records no val_ metrics: no empty or borrowed validation curve."""
    h = History(records=[{"epoch": 1.0, "train_loss": 0.9, "train_acc": 0.6, "seconds": 1.0},
                         {"epoch": 2.0, "train_loss": 0.4, "train_acc": 0.7, "seconds": 1.0}])  # fmt: skip
    loss, acc = plot_history(h, label="run")
    assert curves(loss) == {"run train loss": ([1.0, 2.0], [0.9, 0.4], "-")}
    assert curves(acc) == {"run train acc": ([1.0, 2.0], [0.6, 0.7], "-")}


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
