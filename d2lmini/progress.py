"""How the Trainer shows progress: a live figure, a terminal bar, or nothing.

Each display gets ``start(max_epochs, batches_per_epoch)``, then
``batch(epoch, batch)`` after every training batch and ``epoch(history)``
after every epoch, and ``close(history)`` once at the end, also when
training stops early.
"""

from __future__ import annotations

import io
import sys
import time
from typing import Any, Literal, TextIO

from d2lmini.history import History

ProgressMode = Literal["auto", "notebook", "terminal", "none"] | bool


def in_notebook() -> bool:
    """True inside a Jupyter kernel, whatever the front end (JupyterLab, VS Code, Colab, ...).

    Checked by capability, not by the shell's class name (Colab's is called
    ``Shell``): a kernel's shell has a ``kernel``, a terminal IPython's has not.
    """
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None


class NoProgress:
    """Shows nothing."""

    def start(self, max_epochs: int, batches_per_epoch: int) -> None: ...

    def batch(self, epoch: int, batch: int) -> None: ...

    def epoch(self, history: History) -> None: ...

    def close(self, history: History) -> None: ...


class TerminalProgress(NoProgress):
    """A one-line bar on stderr during each epoch, then one summary line per epoch."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.last_draw = 0.0
        self.line_open = False  # a bar is on screen without its newline

    def start(self, max_epochs: int, batches_per_epoch: int) -> None:
        self.max_epochs, self.total = max_epochs, batches_per_epoch

    def batch(self, epoch: int, batch: int) -> None:
        now = time.monotonic()
        if now - self.last_draw < 0.2 and 1 < batch < self.total:  # at most 5 redraws a second
            return
        self.last_draw = now
        filled = self.width * batch // max(self.total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        self._write(f"\repoch {epoch}/{self.max_epochs} [{bar}] {batch}/{self.total}", line_open=True)

    def epoch(self, history: History) -> None:
        self._write("\r" + history.describe(-1) + " " * 10 + "\n", line_open=False)

    def close(self, history: History) -> None:
        if self.line_open:  # stopped mid-epoch: end the bar's line before any message or traceback
            self._write("\n", line_open=False)

    def _write(self, text: str, line_open: bool) -> None:
        self.stream.write(text)
        self.stream.flush()
        self.line_open = line_open


class NotebookProgress(NoProgress):
    """Loss and accuracy curves in one figure, updated in place as the epochs finish.

    Each update sends a new PNG of the figure, which costs tens of
    milliseconds to render.  So the curves' data are moved rather than
    redrawn, the layout is fixed, and the figure is rendered again only once
    ``1 / budget`` times the last rendering's cost has passed: drawing takes
    at most about ``budget`` of the training time, however fast the epochs
    are.  The last epoch is always shown.
    """

    def __init__(self, budget: float = 0.02) -> None:
        self.budget = budget

    def start(self, max_epochs: int, batches_per_epoch: int) -> None:
        from IPython.display import display
        from matplotlib.figure import Figure

        from d2lmini.plotting import BACKGROUND, set_axes

        self.fig = Figure(figsize=(7, 2.6), facecolor=BACKGROUND)  # not pyplot's: no inline backend copy to close
        self.fig.subplots_adjust(left=0.085, right=0.985, bottom=0.18, top=0.96, wspace=0.28)
        self.axes = self.fig.subplots(1, 2)
        for ax, ylabel in zip(self.axes, ("loss", "accuracy"), strict=True):
            set_axes(ax, xlabel="epoch", ylabel=ylabel, xlim=(0.5, max_epochs + 0.5))
        self.lines: dict[str, Any] = {}
        self.handle = display(self._render(), display_id=True)

    def epoch(self, history: History) -> None:
        for ax, metric, corner in zip(self.axes, ("loss", "acc"), ("upper right", "lower right"), strict=True):
            for split, style in (("train", "-"), ("val", "--")):
                key = f"{split}_{metric}"
                if key in history.keys() and key not in self.lines:  # noqa: SIM118 (a History, not a dict)
                    (self.lines[key],) = ax.plot([], [], style, marker="o", markersize=3, label=f"{split} {metric}")
                    ax.legend(fontsize=7, loc=corner)
                if key in self.lines:
                    self.lines[key].set_data(history["epoch"], history[key])
            ax.relim()
            ax.autoscale_view(scalex=False)
        self.stale = True
        if time.perf_counter() - self.rendered_at >= self.render_seconds / self.budget:
            self.handle.update(self._render())

    def close(self, history: History) -> None:
        from IPython.display import Pretty

        if not history.records:  # stopped in epoch 1: a line instead of empty axes above the traceback
            self.handle.update(Pretty("no epoch finished"))
            return
        if self.stale:
            self.handle.update(self._render())
        print(history.describe(-1))

    def _render(self) -> Any:
        """The figure as a PNG image for IPython's display; times the rendering."""
        from IPython.display import Image

        start = time.perf_counter()
        png = io.BytesIO()
        self.fig.savefig(png, format="png", dpi=100)
        self.rendered_at = time.perf_counter()
        self.render_seconds = self.rendered_at - start
        self.stale = False
        return Image(png.getvalue(), format="png")


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
