"""Progress displays: the choice of display, the terminal bar, the live notebook figure."""

from __future__ import annotations

import io

import pytest

from d2lmini.history import History
from d2lmini.progress import NoProgress, NotebookProgress, TerminalProgress, in_notebook, make_progress


def history(epochs: int) -> History:
    records = [{"epoch": float(e), "train_loss": 1.0 / e, "val_acc": 0.5, "seconds": 0.25}
               for e in range(1, epochs + 1)]  # fmt: skip
    return History(records=records)


def test_choice_of_display() -> None:
    assert not in_notebook()  # pytest is not a Jupyter kernel
    assert type(make_progress("auto")) is TerminalProgress
    assert type(make_progress(False)) is NoProgress and type(make_progress("none")) is NoProgress
    assert type(make_progress("notebook")) is NotebookProgress
    with pytest.raises(ValueError, match="progress must be"):
        make_progress("loud")  # type: ignore[arg-type]


def test_terminal_bar_and_epoch_lines() -> None:
    out = io.StringIO()
    bar = TerminalProgress(stream=out, width=10)
    bar.start(max_epochs=2, batches_per_epoch=4)
    for b in range(1, 5):
        bar.batch(1, b)
    bar.epoch(history(1))
    text = out.getvalue()
    assert "epoch 1/2 [##########] 4/4" in text
    assert "epoch 1, train_loss 1.0000, val_acc 0.5000, 0.2s" in text


def test_notebook_figure_is_updated_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython.display
    import matplotlib

    matplotlib.use("Agg")
    shown = []

    class Handle:
        def update(self, fig: object) -> None:
            shown.append(fig)

    monkeypatch.setattr(IPython.display, "display", lambda fig, display_id: Handle())
    live = NotebookProgress()
    live.start(max_epochs=3, batches_per_epoch=5)
    for n in (1, 2):
        live.epoch(history(n))
    assert len(shown) == 2 and shown[0] is shown[1]
    loss_axes = live.fig.axes[0]
    assert [line.get_label() for line in loss_axes.lines] == ["train loss"]
    assert list(loss_axes.lines[0].get_xdata()) == [1.0, 2.0]
    live.close(history(2))
