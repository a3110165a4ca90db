"""Progress displays: which one is chosen, the terminal bar, the live notebook figure and its cost."""

from __future__ import annotations

import io
import sys
import types
from collections.abc import Iterator
from typing import Any

import IPython
import IPython.display
import matplotlib
import matplotlib.pyplot as plt
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from d2lmini import progress as progress_mod
from d2lmini.history import History
from d2lmini.progress import NoProgress, NotebookProgress, TerminalProgress, in_notebook, make_progress


def history(epochs: int) -> History:
    records = [{"epoch": float(e), "train_loss": 1.0 / e, "val_acc": 0.5 + e / 100, "seconds": 0.25}
               for e in range(1, epochs + 1)]  # fmt: skip
    return History(records=records)


@pytest.fixture(autouse=True)
def no_figures_left() -> Iterator[None]:
    yield
    leftover = plt.get_fignums()
    plt.close("all")
    assert not leftover, "a display left a pyplot figure behind (the inline backend would show it twice)"


class Clock:
    """A clock the test moves by hand, in place of the time module the displays read."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(progress_mod, "time", types.SimpleNamespace(monotonic=fake, perf_counter=fake))
    return fake


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What a notebook front end would receive: the first display and every in-place update."""
    images: list[Any] = []

    class Handle:
        def update(self, image: Any) -> None:
            images.append(image)

    def display(image: Any, display_id: bool | None = None) -> Handle | None:
        images.append(image)
        return Handle() if display_id is True else None  # as IPython: a handle to update only when asked for one

    monkeypatch.setattr(IPython.display, "display", display)
    return images


def test_a_script_that_never_imported_ipython_is_not_a_notebook(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "IPython" or m.startswith("IPython.")]:
        monkeypatch.delitem(sys.modules, name)
    assert in_notebook() is False
    assert "IPython" not in sys.modules  # and it is not imported just to find out


def test_choice_of_display(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not in_notebook()  # pytest is not a Jupyter kernel
    assert type(make_progress("auto")) is TerminalProgress
    assert type(make_progress(False)) is NoProgress and type(make_progress("none")) is NoProgress
    assert type(make_progress(True)) is TerminalProgress and type(make_progress("terminal")) is TerminalProgress
    assert type(make_progress("notebook")) is NotebookProgress
    with pytest.raises(ValueError, match="progress must be"):
        make_progress("loud")  # type: ignore[arg-type]


@pytest.mark.parametrize("shell_class, has_kernel", [("ZMQInteractiveShell", True), ("Shell", True),
                                                     ("TerminalInteractiveShell", False)])  # fmt: skip
def test_jupyter_is_recognised_by_capability_not_by_class_name(
    monkeypatch: pytest.MonkeyPatch, shell_class: str, has_kernel: bool
) -> None:
    shell = type(shell_class, (), {"kernel": object()} if has_kernel else {})()  # Colab's kernel shell is "Shell"
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    assert in_notebook() is has_kernel
    assert type(make_progress("auto")) is (NotebookProgress if has_kernel else TerminalProgress)


def test_terminal_bar_and_epoch_lines() -> None:
    out = io.StringIO()
    bar = TerminalProgress(stream=out, width=10)
    bar.start(max_epochs=2, batches_per_epoch=4)
    for b in range(1, 5):
        bar.batch(1, b)
    bar.epoch(history(1))
    text = out.getvalue()
    assert "epoch 1/2 [##########] 4/4" in text
    assert text.endswith("epoch 1, train_loss 1.0000, val_acc 0.5100, 0.2s" + " " * 10 + "\n")
    bar.close(history(1))
    assert out.getvalue() == text  # nothing more after a finished line


def test_terminal_bar_line_is_finished_when_training_stops_mid_epoch() -> None:
    out = io.StringIO()
    bar = TerminalProgress(stream=out, width=10)
    bar.start(max_epochs=2, batches_per_epoch=4)
    bar.close(history(0))  # stopped before the first batch: nothing to finish
    assert out.getvalue() == ""
    bar.batch(1, 1)  # the first batch of an epoch is always drawn
    assert out.getvalue() == "\repoch 1/2 [##........] 1/4"
    bar.close(history(0))
    bar.close(history(0))
    assert out.getvalue() == "\repoch 1/2 [##........] 1/4\n"  # the line finished, once


def test_terminal_bar_redraws_at_most_five_times_a_second_but_always_the_first_and_last_batch(clock: Clock) -> None:
    out = io.StringIO()
    bar = TerminalProgress(stream=out, width=10)
    bar.start(max_epochs=2, batches_per_epoch=10)
    for seconds, batch in ((0.0, 1), (0.05, 2), (0.19, 3), (0.21, 4), (0.3, 5), (0.35, 10)):
        clock.now = 100.0 + seconds
        bar.batch(1, batch)
    bar.epoch(history(1))
    clock.now = 100.36
    bar.batch(2, 1)  # 0.01 s after the last drawing: the first batch of an epoch all the same
    drawn = [part for part in out.getvalue().split("\r") if part]
    assert drawn == ["epoch 1/2 [#.........] 1/10", "epoch 1/2 [####......] 4/10", "epoch 1/2 [##########] 10/10",
                     history(1).describe(-1) + " " * 10 + "\n", "epoch 2/2 [#.........] 1/10"]  # fmt: skip


def test_terminal_bar_defaults_to_stderr_thirty_wide_and_fills_for_a_single_batch(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bar = TerminalProgress()
    bar.start(max_epochs=1, batches_per_epoch=1)
    bar.batch(1, 1)
    assert capsys.readouterr() == ("", "\repoch 1/1 [" + "#" * 30 + "] 1/1")


def test_notebook_figure_moves_its_curves_and_shows_the_last_epoch(shown: list[Any]) -> None:
    live = NotebookProgress(budget=float("inf"))  # an unlimited budget: render after every epoch
    live.start(max_epochs=3, batches_per_epoch=5)
    live.epoch(history(1))
    first_line = live.lines["train_loss"]
    live.epoch(history(2))
    assert live.lines["train_loss"] is first_line  # the same line, moved: not cleared and redrawn
    assert sorted(live.lines) == ["train_loss", "val_acc"]  # only the metrics the history has
    assert list(first_line.get_xdata()) == [1.0, 2.0] and list(first_line.get_ydata()) == [1.0, 0.5]
    assert live.axes[0].get_xlim() == (0.5, 3.5)
    assert live.axes[0].get_ylim()[0] <= 0.5 and live.axes[0].get_ylim()[1] >= 1.0  # rescaled to the data
    live.close(history(2))
    assert len(shown) == 3  # the empty figure, then epochs 1 and 2; nothing new to show at close
    assert all(image.data.startswith(b"\x89PNG") for image in shown)


def test_notebook_figure_renders_within_its_time_budget(shown: list[Any], capsys: pytest.CaptureFixture[str]) -> None:
    live = NotebookProgress(budget=0.05)  # wait 20 renderings' time between two renderings
    live.start(max_epochs=10, batches_per_epoch=5)
    for n in range(1, 11):  # ten instant epochs
        live.epoch(history(n))
    assert len(shown) == 1  # only the empty figure so far
    live.close(history(10))
    assert len(shown) == 2  # the last epoch is always shown
    assert list(live.lines["train_loss"].get_xdata()) == [float(e) for e in range(1, 11)]
    assert capsys.readouterr().out == history(10).describe(-1) + "\n"


def test_notebook_figure_gives_way_to_a_line_when_no_epoch_finished(shown: list[Any]) -> None:
    live = NotebookProgress()
    live.start(max_epochs=3, batches_per_epoch=5)
    live.close(history(0))  # e.g. a shape error in the first batch: its traceback follows
    assert len(shown) == 2 and shown[-1].data == "no epoch finished"


def test_notebook_figure_spends_about_two_percent_of_the_time_rendering(shown: list[Any], clock: Clock) -> None:
    """After a rendering that took 0.125 s, the next waits 50 times as long (6.25 s): the default budget, 2%."""
    live = NotebookProgress()
    live.start(max_epochs=20, batches_per_epoch=5)
    draw = live.fig.savefig

    def slow_savefig(*args: Any, **kwargs: Any) -> None:
        clock.now += 0.125
        draw(*args, **kwargs)

    live.fig.savefig = slow_savefig  # type: ignore[method-assign]
    live.handle.update(live._render())  # a rendering of 0.125 s, ending at 100.125
    assert len(shown) == 2
    pictures = []
    for epoch, now in ((1, 105.0), (2, 106.5), (3, 107.0)):
        clock.now = now
        live.epoch(history(epoch))
        pictures.append(len(shown))
    assert pictures == [2, 3, 3]  # epoch 2, 6.375 s after: a new picture; not epoch 1 (4.875 s) nor 3 (0.375 s)
    clock.now = 107.5
    live.close(history(3))
    assert len(shown) == 4  # the last epoch, shown at the end since the picture is stale
    assert shown[-1].data.startswith(b"\x89PNG") and shown[-1].data != shown[-2].data


def test_notebook_figure_keeps_each_curve_in_its_panel_and_fits(shown: list[Any]) -> None:
    live = NotebookProgress(budget=float("inf"))
    style = {"figure.facecolor": (0, 0, 0, 0), "figure.dpi": 200, "savefig.dpi": 300}  # a notebook's own settings
    with matplotlib.rc_context(style):  # change nothing: an opaque figure, rendered cheaply at 100 dpi
        live.start(max_epochs=30, batches_per_epoch=5)
    # the validation loss rises (overfitting) into the upper right, where its legend stays: a fixed corner, so
    # the legend neither jumps between epochs nor costs matplotlib's search for the "best" place
    records = [{"epoch": float(e), "train_loss": 1 / e, "val_loss": 0.2 + e / 30, "train_acc": 1 - 1 / e,
                "val_acc": 0.9 - 1 / e, "seconds": 0.1} for e in range(1, 31)]  # fmt: skip
    live.epoch(History(records=records))
    loss, acc = live.axes
    styles = {key: (line.get_label(), line.get_linestyle(), line.get_marker()) for key, line in live.lines.items()}
    assert styles == {"train_loss": ("train loss", "-", "o"), "val_loss": ("val loss", "--", "o"),
                      "train_acc": ("train acc", "-", "o"), "val_acc": ("val acc", "--", "o")}  # fmt: skip
    assert list(live.lines["val_acc"].get_ydata()) == [r["val_acc"] for r in records]
    assert live.lines["val_loss"] in loss.lines and live.lines["val_acc"] in acc.lines
    assert (loss.get_ylabel(), acc.get_ylabel(), acc.get_xlabel()) == ("loss", "accuracy", "epoch")
    renderer = FigureCanvasAgg(live.fig).get_renderer()
    live.fig.draw(renderer)
    for ax, corner in ((loss, "upper right"), (acc, "lower right")):  # legends where falling/rising curves are not
        box, legend = ax.get_window_extent(renderer), ax.get_legend().get_window_extent(renderer)
        assert legend.x1 > box.x0 + 0.5 * box.width
        assert (legend.y0 > box.y0 + 0.5 * box.height) == (corner == "upper right")
        tight = ax.get_tightbbox(renderer)  # labels and ticks inside the figure
        assert tight.x0 >= 0 and tight.y0 >= 0 and tight.x1 <= live.fig.bbox.x1 and tight.y1 <= live.fig.bbox.y1
    assert loss.get_tightbbox(renderer).x1 <= acc.get_tightbbox(renderer).x0
    left, right = loss.get_position(), acc.get_position()
    assert left.x1 < right.x0 and (left.y0, left.y1) == (right.y0, right.y1)  # side by side
    assert left.x0 < 0.1 and right.x1 > 0.9 and left.y1 > 0.9  # little margin: the panels use the figure
    assert left.width + right.width > 0.7
    assert live.fig.get_facecolor() == (1.0, 1.0, 1.0, 1.0)
    png = shown[-1].data
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (700, 260)  # 7 x 2.6 in, 100 dpi


def test_notebook_figure_is_a_png_at_100_dpi_whatever_the_notebooks_savefig_settings(shown: list[Any]) -> None:
    """A notebook that sets savefig.format = "svg" (or a high savefig.dpi) for its own figures keeps a light PNG."""
    with matplotlib.rc_context({"savefig.format": "svg", "savefig.dpi": 300}):
        live = NotebookProgress(budget=float("inf"))
        live.start(max_epochs=2, batches_per_epoch=5)
        live.epoch(history(1))
    width_px = int.from_bytes(shown[-1].data[16:20], "big")  # the PNG's IHDR chunk: width, then height
    assert shown[-1].data.startswith(b"\x89PNG") and width_px == round(live.fig.get_figwidth() * 100)
