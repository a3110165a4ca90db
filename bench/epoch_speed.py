"""How fast is one epoch through d2lmini, next to the eager floor and the usual PyTorch pipelines?

Times one epoch (a training pass over the 50,000 training images plus a
validation pass over the 10,000 validation images) of the book's base
model, the 784-256-10 ReLU MLP with SGD (lr 0.1, batch 256), on the CPU and,
where CUDA is available, on the GPU.  Every pipeline computes the numbers a
History holds (training and validation loss and accuracy, weighted by
batch size, read once per epoch).  The pipelines run interleaved, one of
each per repeat, so that they see the same machine load:

* floor: the loop written by hand over minibatches already converted to
  float32 and sitting on the device: nothing but the model's arithmetic and
  the metrics (the "eager floor");
* d2lmini: ``Trainer(max_epochs=1, device=...).fit(model, FashionMNIST())``,
  everything included (the sanity check, moving the model there and back);
* DataLoader: the plain PyTorch pipeline, ``DataLoader(TensorDataset(...),
  shuffle=True)`` over float32 images, pinned memory and ``non_blocking``
  copies on CUDA;
* Lightning: ``lightning.Trainer`` on that DataLoader, if Lightning is installed;
* per-sample (CPU only): a map-style ``Dataset`` that turns one PIL image
  at a time into a tensor, batched by a ``DataLoader`` with 4 workers, as
  Dive into Deep Learning builds it.

On CUDA every timing starts and ends with ``torch.cuda.synchronize()``.
After an untimed warm-up it prints the median of the repeats, each
pipeline's ratio to the floor (the median of the ratios within each
repeat, whose pipelines ran back to back, in an order that alternates)
and the targets (d2lmini <= 1.10x the floor on the CPU, <= 1.2x on a
GPU), then the time of ``import d2lmini`` in a fresh process.  On a CPU
shared with other jobs, ``--clock cpu`` times the process's CPU time
instead of the wall clock (for the CPU pipelines without worker
processes), which other jobs disturb far less.  Run it with ``make bench``
or ``python bench/epoch_speed.py [--device auto|cpu|cuda] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

import d2lmini

TARGETS = {"cpu": 1.10, "cuda": 1.2}


def base_model() -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


class BaseMLP(d2lmini.Classifier):
    def __init__(self) -> None:
        super().__init__()
        self.save_hyperparameters(lr=0.1)
        self.net = base_model()


Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


def hand_epoch(train: Batches, val: Batches, device: torch.device) -> dict[str, float]:
    """One epoch as written by hand: the floor when the batches are already on ``device``, else a pipeline's loop."""
    model = base_model().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    record = {}
    for split, batches in (("train", train), ("val", val)):
        model.train(split == "train")
        sums, count = torch.zeros(2, device=device), 0
        with torch.set_grad_enabled(split == "train"):
            for X, y in batches:
                X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
                logits = model(X)
                loss = F.cross_entropy(logits, y)
                if split == "train":
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                sums += torch.stack([loss.detach(), (logits.argmax(dim=1) == y).float().mean()]) * len(y)
                count += len(y)
        loss, acc = (sums / count).tolist()  # read once per epoch
        record |= {f"{split}_loss": loss, f"{split}_acc": acc}
    return record


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


def lightning_run(device: torch.device) -> Callable[[DataLoader, DataLoader], None] | None:
    """One epoch with PyTorch Lightning's Trainer on the given loaders, or None if Lightning is not installed."""
    try:
        import lightning.pytorch as pl
    except ImportError:
        try:
            import pytorch_lightning as pl
        except ImportError:
            return None

    class LitMLP(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = base_model()

        def step(self, batch: tuple[torch.Tensor, torch.Tensor], split: str) -> torch.Tensor:
            X, y = batch
            logits = self.net(X)
            loss = F.cross_entropy(logits, y)
            acc = (logits.argmax(dim=1) == y).float().mean()
            self.log_dict({f"{split}_loss": loss, f"{split}_acc": acc}, on_step=False, on_epoch=True)
            return loss

        def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> torch.Tensor:
            return self.step(batch, "train")

        def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> torch.Tensor:
            return self.step(batch, "val")

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    def run(train: DataLoader, val: DataLoader) -> None:
        trainer = pl.Trainer(
            max_epochs=1, accelerator="gpu" if device.type == "cuda" else "cpu", devices=1, logger=False,
            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
            num_sanity_val_steps=0,
        )  # fmt: skip
        trainer.fit(LitMLP(), train, val)

    return run


def seconds(fn: Callable[[], object], device: torch.device, clock: str = "wall") -> float:
    """Time of ``fn()`` (wall, or this process's CPU time), with the device's queue empty at the start and end."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    now = time.process_time if clock == "cpu" and device.type == "cpu" else time.perf_counter
    sync()
    start = now()
    fn()
    sync()
    return now() - start


def pipelines(data: d2lmini.FashionMNIST, device: torch.device, workers: int) -> dict[str, Callable[[], object]]:
    """The pipelines to time on ``device``, by name, the floor first (per-sample only with ``workers``)."""
    cuda = device.type == "cuda"
    on_device = [(data.transform(X.to(device)), y.to(device)) for X, y in zip(
        data.train_X.split(256), data.train_y.split(256), strict=True)]  # fmt: skip
    val_on_device = [(data.transform(X.to(device)), y.to(device)) for X, y in zip(
        data.val_X.split(256), data.val_y.split(256), strict=True)]  # fmt: skip
    images, val_images = data.transform(data.train_X), data.transform(data.val_X)  # float32, on the CPU
    train = DataLoader(TensorDataset(images, data.train_y), batch_size=256, shuffle=True, pin_memory=cuda)
    val = DataLoader(TensorDataset(val_images, data.val_y), batch_size=256, shuffle=False, pin_memory=cuda)
    runs: dict[str, Callable[[], object]] = {
        "floor": lambda: hand_epoch(on_device, val_on_device, device),
        "d2lmini": lambda: d2lmini.Trainer(max_epochs=1, device=device, progress="none").fit(BaseMLP(), data),
        "DataLoader": lambda: hand_epoch(train, val, device),
    }
    lightning = lightning_run(device)
    if lightning is not None:
        runs["Lightning"] = lambda: lightning(train, val)
    if not cuda and workers:
        per_sample = DataLoader(PerSampleImages(data.train_X, data.train_y), 256, shuffle=True, num_workers=workers)
        val_per_sample = DataLoader(PerSampleImages(data.val_X, data.val_y), 256, num_workers=workers)
        runs["per-sample"] = lambda: hand_epoch(per_sample, val_per_sample, device)
    return runs


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
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="auto: the CPU, and the GPU too where CUDA is available")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="cpu: this process's CPU time on the CPU (steadier on a shared machine)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=4, help="per-sample DataLoader workers (0: leave it out)")
    args = parser.parse_args()
    names = {"auto": ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"], "cpu": ["cpu"], "cuda": ["cuda"]}
    devices = [torch.device(name) for name in names[args.device]]

    torch.manual_seed(0)
    data = d2lmini.FashionMNIST(batch_size=256)
    workers = 0 if args.clock == "cpu" else args.workers  # the CPU clock would not count the workers' time
    runs = {device: pipelines(data, device, workers) for device in devices}
    for device, pipes in runs.items():  # warm up kernels, allocators and the data's device copies, untimed
        for run in pipes.values():
            seconds(run, device)
    times: dict[torch.device, dict[str, list[float]]] = {d: {name: [] for name in p} for d, p in runs.items()}
    for r in range(args.repeats):
        for device, pipes in runs.items():
            order = list(pipes) if r % 2 == 0 else list(reversed(pipes))  # no pipeline always runs first
            for name in order:
                times[device][name].append(seconds(pipes[name], device, args.clock))
            line = ", ".join(f"{name} {t[-1] * 1000:.0f} ms" for name, t in times[device].items())
            print(f"repeat {r + 1} on {device.type}: {line}", flush=True)

    gpu = f" ({torch.cuda.get_device_name()})" if torch.cuda.is_available() else ""
    print(f"\nOne epoch (train 50,000 + validation 10,000), median of {args.repeats}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads{gpu}; {args.clock} clock on the CPU")  # fmt: skip
    for device, pipe_times in times.items():
        median = {name: statistics.median(t) for name, t in pipe_times.items()}
        floor = pipe_times["floor"]
        ratios = {name: statistics.median(a / b for a, b in zip(t, floor, strict=True))
                  for name, t in pipe_times.items()}  # fmt: skip
        print(f"\n  on {device.type:<5} {'ms / epoch':>10}  x floor")
        for name, value in median.items():
            print(f"  {name:<11} {value * 1000:>10.0f}  {ratios[name]:6.2f}")
        ratio, target = ratios["d2lmini"], TARGETS[device.type]
        verdict = "OK" if ratio <= target else "MISSED"
        spread = sorted(a / b for a, b in zip(pipe_times["d2lmini"], floor, strict=True))
        print(f"  d2lmini / floor = {ratio:.3f}x on {device.type} (target <= {target}x)  {verdict}   "
              f"[ratios in the {args.repeats} repeats: {spread[0]:.2f} to {spread[-1]:.2f}]")

    bare = import_seconds("import d2lmini")
    full = import_seconds("import d2lmini; d2lmini.Trainer")
    torch_only = import_seconds("import torch")
    print(f"\nimport d2lmini: {bare:.3f} s (target < 1.5 s)  {'OK' if bare < 1.5 else 'MISSED'}")
    print(f"import d2lmini + first use of Trainer (loads torch): {full:.2f} s; import torch alone: {torch_only:.2f} s")


if __name__ == "__main__":
    main()
