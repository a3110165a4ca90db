"""How the Trainer shows progress: a live figure, a terminal bar, or nothing.

Each display gets three calls: ``start(max_epochs, batches_per_epoch)``,
``batch(epoch, batch)`` after every training batch and ``epoch(history)``
after every epoch, then ``close(history)`` once at the end.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Literal

from d2lmini.history import History

ProgressMode = Literal["auto", "notebook", "terminal", "none"] | bool


def in_notebook() -> bool:
    """True when running inside a Jupyter kernel (which can show live figures)."""
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class NoProgress:
    """Shows nothing."""

    def start(self, max_epochs: int, batches_per_epoch: int) -> None: ...

    def batch(self, epoch: int, batch: int) -> None: ...

    def epoch(self, history: History) -> None: ...

    def close(self, history: History) -> None: ...


class TerminalProgress(NoProgress):
    """A one-line bar on stderr during each epoch, then one summary line per epoch."""

    def __init__(self, stream: Any = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.last_draw = 0.0

    def start(self, max_epochs: int, batches_per_epoch: int) -> None:
        self.max_epochs, self.total = max_epochs, batches_per_epoch

    def batch(self, epoch: int, batch: int) -> None:
        now = time.monotonic()
        if now - self.last_draw < 0.2 and batch < self.total:
            return
        self.last_draw = now
        filled = self.width * batch // max(self.total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\repoch {epoch}/{self.max_epochs} [{bar}] {batch}/{self.total}")
        self.stream.flush()

    def epoch(self, history: History) -> None:
        self.stream.write("\r" + history.describe(-1) + " " * 10 + "\n")
        self.stream.flush()


class NotebookProgress(NoProgress):
    """A figure of loss and accuracy curves, redrawn in place after each epoch."""

    def start(self, max_epochs: int, batches_per_epoch: int) -> None:
        from IPython.display import display

        from d2lmini.plotting import figure

        self.max_epochs = max_epochs
        self.fig, self.axes = figure(1, 2, figsize=(7, 2.6), layout="constrained")
        self.handle = display(self.fig, display_id=True)

    def epoch(self, history: History) -> None:
        from d2lmini.plotting import plot_history

        for ax in self.axes:
            ax.clear()
        plot_history(history, self.axes)
        for ax in self.axes:
            ax.set_xlim(0.5, self.max_epochs + 0.5)
        self.handle.update(self.fig)

    def close(self, history: History) -> None:
        import matplotlib.pyplot as plt

        plt.close(self.fig)  # keep the inline backend from drawing it a second time
        print(history.describe(-1) if history.records else "no epoch finished")


def make_progress(mode: ProgressMode) -> NoProgress:
    """Pick a display: ``"auto"`` means a live figure in Jupyter, a bar elsewhere."""
    if mode is False or mode == "none":
        return NoProgress()
    if mode == "auto" or mode is True:
        mode = "notebook" if in_notebook() else "terminal"
    if mode == "notebook":
        return NotebookProgress()
    if mode == "terminal":
        return TerminalProgress()
    raise ValueError(f"progress must be 'auto', 'notebook', 'terminal' or 'none', not {mode!r}.")
