"""What does the live training figure cost?  ``fit`` with and without it, side by side.

Times a 5-epoch ``Trainer.fit`` of the labs' base model (784-256-10 ReLU MLP,
SGD lr 0.1, batch 256, Fashion-MNIST) twice per repeat, alternately: once
with ``progress="none"`` and once with ``progress="notebook"``, the live
figure a Jupyter notebook shows.  It prints the ratio of the medians (target:
under 1.10, i.e. less than 10 % overhead).  As wall-clock times are noisy on a
shared machine, it also prints the CPU-time ratio and the time spent inside
the figure's own calls, a direct measure of its cost.

No kernel is needed: the script makes an in-process IPython shell, switches
it to matplotlib's inline backend exactly as ``%matplotlib inline`` does in a
kernel (so a displayed matplotlib figure goes through the same PNG formatter,
with ``bbox_inches="tight"``), and captures what would be sent to the front
end.  Every update is thus rendered to a PNG as in Jupyter; only the kernel's
socket send (a few tens of kB per update) is left out.  The number and size
of the PNGs published are printed to show that the work was done.

Run it with ``python bench/live_figure.py [--repeats N] [--epochs E]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from IPython.core.displaypub import CapturingDisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from torch import nn

import d2lmini
from d2lmini.progress import NotebookProgress


class BaseMLP(d2lmini.Classifier):
    def __init__(self) -> None:
        super().__init__()
        self.save_hyperparameters(lr=0.1)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


class BenchShell(InteractiveShell):
    """An in-process IPython shell; like a kernel's, it needs no GUI event loop for inline figures."""

    def enable_gui(self, gui: str | None = None) -> None: ...


def time_the_figure(spent: list[float]) -> None:
    """Add the time spent inside the live figure's calls to ``spent[0]``."""

    def timed(method: Callable[..., None]) -> Callable[..., None]:
        def wrapper(*args: object) -> None:
            start = time.perf_counter()
            try:
                method(*args)
            finally:
                spent[0] += time.perf_counter() - start

        return wrapper

    for name in ("start", "epoch", "close"):
        setattr(NotebookProgress, name, timed(getattr(NotebookProgress, name)))


def fit_seconds(data: d2lmini.FashionMNIST, progress: str, epochs: int) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one fit of a fresh base model."""
    torch.manual_seed(0)
    model = BaseMLP()
    wall, cpu = time.perf_counter(), time.process_time()
    d2lmini.Trainer(max_epochs=epochs, device="cpu", progress=progress).fit(model, data)  # type: ignore[arg-type]
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()

    shell = BenchShell.instance()
    shell.enable_matplotlib("inline")  # what `%matplotlib inline` (a kernel's default) sets up
    shell.display_pub = published = CapturingDisplayPublisher()

    data = d2lmini.FashionMNIST(batch_size=256)
    for mode in ("none", "notebook"):  # warm up PyTorch, matplotlib and its font cache, untimed
        fit_seconds(data, mode, 1)
    figure_seconds = [0.0]
    time_the_figure(figure_seconds)
    runs: dict[str, list[tuple[float, float]]] = {"none": [], "notebook": []}
    for r in range(args.repeats):
        for mode in ("none", "notebook") if r % 2 == 0 else ("notebook", "none"):
            runs[mode].append(fit_seconds(data, mode, args.epochs))
        print(f"repeat {r + 1}: none {runs['none'][-1][0]:.2f}s, notebook {runs['notebook'][-1][0]:.2f}s", flush=True)

    pngs = [len(out["data"]["image/png"]) for out in published.outputs if "image/png" in out["data"]]
    print(f"{len(pngs)} PNGs published, {statistics.mean(pngs) / 1024:.0f} kB on average")
    wall = {k: statistics.median(w for w, _ in v) for k, v in runs.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
    inside = figure_seconds[0] / args.repeats
    print(f"{args.epochs}-epoch fit, median of {args.repeats}, {torch.get_num_threads()} threads: "
          f"none {wall['none']:.2f} s, live figure {wall['notebook']:.2f} s; "
          f"CPU time {cpu['none']:.2f} s and {cpu['notebook']:.2f} s")
    print(f"inside the live figure's calls: {inside * 1000:.0f} ms per fit "
          f"({inside / wall['none']:.1%} of a plain fit's wall time)")
    ratio = wall["notebook"] / wall["none"]
    print(f"CPU time ratio = {cpu['notebook'] / cpu['none']:.3f}")
    print(f"live figure / none = {ratio:.3f}  (wall time, target < 1.10)  {'OK' if ratio < 1.10 else 'MISSED'}")


if __name__ == "__main__":
    main()
