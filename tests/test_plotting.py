"""Plot helpers: they return axes, accept tensors, keep figures opaque, change no globals."""

from __future__ import annotations

import types
import warnings
from typing import Any

import matplotlib
import matplotlib.axes
import matplotlib.pyplot as plt
import pytest
import torch

from d2lmini.history import History
from d2lmini.plotting import figure, plot_history, set_axes, show_images


def test_importing_changes_no_global_settings() -> None:
    import importlib

    import d2lmini.plotting

    before = dict(matplotlib.rcParams)
    importlib.reload(d2lmini.plotting)
    assert dict(matplotlib.rcParams) == before


def test_figure_is_opaque_white_whatever_the_style() -> None:
    """A notebook's dark or transparent style must not make the book's figures unreadable on a dark page."""
    with matplotlib.rc_context({"figure.facecolor": (0, 0, 0, 0), "figure.figsize": (9, 9)}):
        fig, axes = figure(1, 2, sharey=True)
    assert fig.get_facecolor() == (1.0, 1.0, 1.0, 1.0)
    assert tuple(fig.get_size_inches()) == (3.5, 2.5)  # the book's size, not the style's
    assert axes.shape == (2,) and axes[0].get_shared_y_axes().joined(axes[0], axes[1])  # extra arguments pass on


def test_set_axes_applies_every_setting() -> None:
    _, ax = figure()
    ax.plot([1, 2, 3], [0.5, 0.2, 0.1])
    assert set_axes(ax, xlabel="epoch", ylabel="loss", xlim=(1, 3), ylim=(0.05, 1), yscale="log", legend=["a"]) is ax
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_xscale(), ax.get_yscale()) == ("epoch", "loss", "linear", "log")
    assert (ax.get_xlim(), ax.get_ylim()) == ((1.0, 3.0), (0.05, 1.0))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a"]
    grid = ax.xaxis.get_gridlines()[0]
    assert grid.get_visible() and grid.get_alpha() == 0.3  # a light grid
    _, bare = figure()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning for a student to wonder about
        set_axes(bare, xscale="log")
    assert bare.get_ylabel() == ""
    assert (bare.get_xlabel(), bare.get_xscale(), bare.get_yscale(), bare.get_legend()) == ("", "log", "linear", None)


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


def test_show_images_draws_each_image_in_its_cell_without_axes() -> None:
    images = torch.rand(7, 8, 8, requires_grad=True)  # a model's output: drawn without .detach() by the caller
    axes = show_images(images, 2, 3, titles=["first", "second"], scale=2.0)
    assert tuple(axes[0, 0].figure.get_size_inches()) == pytest.approx((6.0, 4.6))  # columns x rows, times scale
    drawn = [ax.get_images() for ax in axes.ravel()]
    assert [len(d) for d in drawn] == [1] * 6  # the grid's six cells; the seventh image is left out
    for i, d in enumerate(drawn):
        assert (d[0].get_array() == images[i].detach().numpy()).all() and d[0].get_cmap().name == "gray_r"
    assert not any(ax.axison for ax in axes.ravel())
    assert [a.get_title() for a in axes.ravel()] == ["first", "second", "", "", "", ""]
    assert axes[0, 0].title.get_fontsize() == 8
    assert axes[0, 0].figure.get_facecolor()[3] == 1.0
    few = show_images(torch.rand(1, 8, 8).numpy(), 1, 3, cmap="viridis")  # arrays too; two cells left empty
    assert [len(ax.get_images()) for ax in few.ravel()] == [1, 0, 0] and not any(ax.axison for ax in few.ravel())
    assert few[0, 0].get_images()[0].get_cmap().name == "viridis"
    assert tuple(few[0, 0].figure.get_size_inches()) == pytest.approx((4.5, 1.725))  # the default scale, 1.5
    listed = show_images([torch.zeros(8, 8), torch.ones(8, 8)], 1, 2)  # a list of images, such as [X[0], X[5]]
    assert [ax.get_images()[0].get_array().mean() for ax in listed.ravel()] == [0.0, 1.0]


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


def test_plot_history_puts_loss_left_and_accuracy_right_and_fits_its_figure() -> None:
    h = History(records=[{"epoch": float(e), "train_loss": 1 / e, "train_acc": 1 - 1 / e, "seconds": 1.0}
                         for e in range(1, 30)])  # fmt: skip
    loss, acc = plot_history(h)
    fig = loss.figure
    left, right = loss.get_position(), acc.get_position()
    assert left.x1 < right.x0 and (left.y0, left.y1) == (right.y0, right.y1)  # side by side, one row
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    for ax in (loss, acc):  # tick labels, axis labels and legend inside the figure (none cut off)
        box = ax.get_tightbbox(renderer)
        assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= fig.bbox.x1 and box.y1 <= fig.bbox.y1, box
    assert loss.get_tightbbox(renderer).x1 <= acc.get_tightbbox(renderer).x0  # and the two do not overlap


def test_plot_history_wants_a_history_with_epochs() -> None:
    with pytest.raises(ValueError, match=r"^plot_history got a History without epochs: no epoch finished, so there "
                                         r"is nothing to plot\.$"):  # fmt: skip
        plot_history(History())
    with pytest.raises(TypeError, match=r"takes the History that Trainer\.fit returns \(or trainer\.history\), not "
                                        r"a dict"):  # fmt: skip
        plot_history({"epoch": 1.0, "val_acc": 0.5})  # history.final, one record
    assert plt.get_fignums() == []


def test_plot_history_on_axes_that_are_not_a_pair_says_what_to_pass() -> None:
    h = History(records=[{"epoch": 1.0, "train_loss": 0.9, "train_acc": 0.6, "seconds": 1.0}])
    _, one = figure()
    _, three = figure(1, 3)
    for wrong in (one, three):
        with pytest.raises(TypeError, match=r"^plot_history draws loss and accuracy side by side, on two axes: pass "
                                            r"axes= the pair an earlier call returned, or nothing for a new figure; "
                                            r"got (Axes|ndarray) "):  # fmt: skip
            plot_history(h, axes=wrong)
    assert not any(ax.lines for ax in (one, *three))
    assert len(plot_history(h, axes=list(three[:2]))) == 2  # a list of two axes is a pair


def test_plot_history_looks_like_the_live_figure_the_reader_saw(monkeypatch: pytest.MonkeyPatch) -> None:
    """After training, the history's figure repeats the live one: size, curves, markers, legends."""
    import IPython.display

    from d2lmini.progress import NotebookProgress

    monkeypatch.setattr(IPython.display, "display", lambda image, display_id: types.SimpleNamespace(update=print))
    h = History(records=[{"epoch": float(e), "train_loss": 1 / e, "val_loss": 1.1 / e, "train_acc": 1 - 1 / e,
                          "val_acc": 0.9 - 1 / e, "seconds": 0.1} for e in range(1, 4)])  # fmt: skip
    live = NotebookProgress(budget=float("inf"))
    live.start(max_epochs=3, batches_per_epoch=1)
    live.epoch(h)
    static = plot_history(h)

    def look(axes: Any) -> list[Any]:
        return [(ax.get_ylabel(), ax.get_legend().get_texts()[0].get_fontsize(),
                 [(line.get_label(), line.get_linestyle(), line.get_marker(), line.get_markersize(),
                   list(line.get_ydata())) for line in ax.lines]) for ax in axes]  # fmt: skip

    assert look(static) == look(live.axes)
    assert tuple(static[0].figure.get_size_inches()) == tuple(live.fig.get_size_inches())
