"""How fast is one epoch through d2lmini, next to two reference pipelines?

Times one epoch (a training pass over the 50,000 training images plus a
validation pass over the 10,000 validation images) of the book's base
model, the 784-256-10 ReLU MLP with SGD (lr 0.1, batch 256), three ways, in
one run and interleaved so that they see the same machine load:

* d2lmini: ``Trainer(max_epochs=1).fit(model, FashionMNIST())``;
* the compute floor: the same forward/backward/step loop over minibatches
  already cut and sitting in memory, so nothing but the model's arithmetic;
* a per-sample pipeline as Dive into Deep Learning builds it: a map-style
  ``Dataset`` that turns one PIL image at a time into a tensor, batched by a
  ``DataLoader`` with ``num_workers=4``.

After an untimed warm-up it prints the median of the repeats, the two ratios and their targets, and
the time of ``import d2lmini`` (with and without PyTorch) in a fresh process.
Run it with ``make bench`` or ``python bench/epoch_speed.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

import d2lmini


def base_model() -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


class BaseMLP(d2lmini.Classifier):
    def __init__(self) -> None:
        super().__init__()
        self.save_hyperparameters(lr=0.1)
        self.net = base_model()


def run_d2lmini(data: d2lmini.FashionMNIST) -> None:
    d2lmini.Trainer(max_epochs=1, device="cpu", progress="none").fit(BaseMLP(), data)


def loop(batches: list, val_batches: list) -> None:
    """The bare training and validation loop: the floor any pipeline must pay."""
    model = base_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for X, y in batches:
        loss = nn.functional.cross_entropy(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        for X, y in val_batches:
            (model(X).argmax(1) == y).float().mean()


class PerSampleImages(Dataset):
    """Fashion-MNIST served one PIL image at a time, converted on every access."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images = images.squeeze(1).numpy()  # the data module's raw uint8 pixels
        self.labels = labels.numpy()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        img = Image.fromarray(self.images[i], mode="L")
        x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).unsqueeze(0)
        return x, int(self.labels[i])


def run_per_sample(data: d2lmini.FashionMNIST, workers: int) -> None:
    train = DataLoader(PerSampleImages(data.train_X, data.train_y), 256, shuffle=True, num_workers=workers)
    val = DataLoader(PerSampleImages(data.val_X, data.val_y), 256, shuffle=False, num_workers=workers)
    loop(train, val)  # iterating the loaders is the per-sample pipeline's cost


def seconds(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def import_seconds(code: str) -> float:
    """Median wall time of ``python -c code`` minus an empty interpreter's, over 3 runs."""

    def once(snippet: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", snippet], check=True)
        return time.perf_counter() - start

    empty = statistics.median(once("pass") for _ in range(3))
    return statistics.median(once(code) for _ in range(3)) - empty


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4, help="DataLoader workers of the per-sample pipeline")
    args = parser.parse_args()

    torch.manual_seed(0)
    data = d2lmini.FashionMNIST(batch_size=256)
    # The floor gets its batches already converted to float32: no cost but the model's arithmetic.
    in_memory = list(zip(data.transform(data.train_X).split(256), data.train_y.split(256), strict=True))
    val_in_memory = list(zip(data.transform(data.val_X).split(256), data.val_y.split(256), strict=True))
    runs: dict[str, list[float]] = {"floor": [], "d2lmini": [], "per-sample": []}
    loop(in_memory[:20], val_in_memory[:4])  # warm up PyTorch's kernels and allocator, untimed
    for r in range(args.repeats):
        runs["floor"].append(seconds(lambda: loop(in_memory, val_in_memory)))
        runs["d2lmini"].append(seconds(lambda: run_d2lmini(data)))
        runs["per-sample"].append(seconds(lambda: run_per_sample(data, args.workers)))
        print(f"repeat {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in runs.items()), flush=True)

    med = {k: statistics.median(v) for k, v in runs.items()}
    print(f"\nOne epoch (train + validation), median of {args.repeats}, {torch.get_num_threads()} threads:")
    print(f"  compute floor (tensors in memory):       {med['floor']:.2f} s")
    print(f"  d2lmini Trainer + FashionMNIST:          {med['d2lmini']:.2f} s")
    print(f"  per-sample Dataset + DataLoader ({args.workers} w): {med['per-sample']:.2f} s")
    over_floor = med["d2lmini"] / med["floor"]
    speedup = med["per-sample"] / med["d2lmini"]
    print(f"d2lmini / floor      = {over_floor:.2f}x  (target <= 1.3x)  {'OK' if over_floor <= 1.3 else 'MISSED'}")
    print(f"per-sample / d2lmini = {speedup:.2f}x  (target >= 3.5x)  {'OK' if speedup >= 3.5 else 'MISSED'}")

    bare = import_seconds("import d2lmini")
    full = import_seconds("import d2lmini; d2lmini.Trainer")
    torch_only = import_seconds("import torch")
    print(f"import d2lmini: {bare:.3f} s (target < 1.5 s)  {'OK' if bare < 1.5 else 'MISSED'}")
    print(f"import d2lmini + first use of Trainer (loads torch): {full:.2f} s; import torch alone: {torch_only:.2f} s")


if __name__ == "__main__":
    main()
