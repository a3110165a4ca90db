"""What does the live training figure cost?  ``fit`` with and without it, side by side.

Times a 5-epoch ``Trainer.fit`` of the labs' base model (784-256-10 ReLU MLP,
SGD lr 0.1, batch 256, Fashion-MNIST) twice per repeat, alternately: once
with ``progress="none"`` and once with ``progress="notebook"``, the live
figure a Jupyter notebook shows.  It prints the ratio of the medians (target:
under 1.10, i.e. less than 10 % overhead).

No kernel is needed: the script makes an in-process IPython shell, switches
it to matplotlib's inline backend exactly as ``%matplotlib inline`` does in a
kernel (same PNG formatter, same ``bbox_inches="tight"``), and captures what
would be sent to the front end, so every figure update is rendered to a PNG
as in Jupyter; only the kernel's socket send (a few tens of kB per update) is
left out.  The PNG sizes it published are printed to show that work was done.

Run it with ``python bench/live_figure.py [--repeats N] [--epochs E]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from IPython.core.displaypub import CapturingDisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from torch import nn

import d2lmini


class BaseMLP(d2lmini.Classifier):
    def __init__(self) -> None:
        super().__init__()
        self.save_hyperparameters(lr=0.1)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


class BenchShell(InteractiveShell):
    """An in-process IPython shell; like a kernel's, it needs no GUI event loop for inline figures."""

    def enable_gui(self, gui: str | None = None) -> None: ...


def fit_seconds(data: d2lmini.FashionMNIST, progress: str, epochs: int) -> float:
    torch.manual_seed(0)
    model = BaseMLP()
    start = time.perf_counter()
    d2lmini.Trainer(max_epochs=epochs, device="cpu", progress=progress).fit(model, data)  # type: ignore[arg-type]
    return time.perf_counter() - start


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
    runs: dict[str, list[float]] = {"none": [], "notebook": []}
    for r in range(args.repeats):
        for mode in ("none", "notebook") if r % 2 == 0 else ("notebook", "none"):
            runs[mode].append(fit_seconds(data, mode, args.epochs))
        print(f"repeat {r + 1}: none {runs['none'][-1]:.2f}s, notebook {runs['notebook'][-1]:.2f}s", flush=True)

    pngs = [len(out["data"]["image/png"]) for out in published.outputs if "image/png" in out["data"]]
    print(f"{len(pngs)} PNGs published, {statistics.mean(pngs) / 1024:.0f} kB on average")
    med = {k: statistics.median(v) for k, v in runs.items()}
    ratio = med["notebook"] / med["none"]
    per_epoch = (med["notebook"] - med["none"]) / args.epochs
    print(f"{args.epochs}-epoch fit, median of {args.repeats}, {torch.get_num_threads()} threads: "
          f"none {med['none']:.2f} s, live figure {med['notebook']:.2f} s ({per_epoch * 1000:+.0f} ms per epoch)")
    print(f"live figure / none = {ratio:.3f}  (target < 1.10)  {'OK' if ratio < 1.10 else 'MISSED'}")


if __name__ == "__main__":
    main()
