"""Seeding and devices: the random generators a run draws from, and the device it runs on.

- :func:`seed_everything` seeds Python's, NumPy's and PyTorch's generators;
- :func:`preserved` runs a block, then puts back the generators and the
  model as they were, so a look ahead (the Trainer's sanity check, the
  second run of a failed call in :mod:`d2lmini.explain`) leaves training
  bit for bit as it would be without it;
- :func:`resolve_device` turns ``"auto"`` into CUDA, then Apple's MPS, then
  the CPU, and refuses a named device this machine lacks, listing
  :func:`available_devices`;
- :func:`home_device` is where the Trainer puts a model back when it is done.
"""

from __future__ import annotations

import numbers
import random
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import chain

import numpy as np
import torch
from torch import nn


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's random generators."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be a whole number such as 0, not {seed!r}.")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA's generators


@contextmanager
def preserved(model: nn.Module, generator: torch.Generator | None = None) -> Iterator[None]:
    """Run a block, then put back everything it may have changed besides its result.

    The random generators (Python's, NumPy's, PyTorch's on the CPU and on
    the model's device, and ``generator``), the model's parameters and
    buffers (a BatchNorm's running statistics), its train/eval mode and its
    parameters' gradients.  What runs in the block is then invisible to
    everything after it: training runs bit for bit as it would without it.
    """
    tensors = [*model.parameters(), *model.buffers()]
    saved = [t.detach().clone() for t in tensors]
    grads, training = [p.grad for p in model.parameters()], model.training
    python, numpy = random.getstate(), np.random.get_state()
    own = generator.get_state() if generator is not None else None
    device = tensors[0].device if tensors else torch.device("cpu")
    accelerator = {"devices": [device.index or 0], "device_type": device.type} if device.type in ("cuda", "mps") else {}
    with torch.random.fork_rng(**({"devices": []} | accelerator)):
        try:
            yield
        finally:
            with torch.no_grad():
                for t, value in zip(tensors, saved, strict=True):
                    t.copy_(value)
            for p, g in zip(model.parameters(), grads, strict=True):
                p.grad = g
            model.train(training)
            random.setstate(python)
            np.random.set_state(numpy)
            if generator is not None:
                generator.set_state(own)


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)  # absent from some builds
    return mps is not None and mps.is_available()


def available_devices() -> list[str]:
    """The devices this machine can train on, e.g. ``["cpu", "cuda:0"]``."""
    devices = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count() if torch.cuda.is_available() else 0)]
    return [*devices, "mps"] if _mps_available() else devices


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple's MPS, then the CPU; a named device must exist on this machine."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu")
    devices = available_devices()
    choices = f"this machine has: 'auto' (the fastest), {', '.join(repr(d) for d in devices)}"
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ValueError(f"device={device!r} is not a device name; {choices}.") from None
    index = f"{resolved.type}:{resolved.index or 0}" if resolved.type == "cuda" else resolved.type
    if resolved.type != "meta" and index not in devices:
        raise ValueError(f"device={device!r} is not available; {choices}. (On Colab, pick a GPU runtime for 'cuda'.)")
    return resolved


def home_device(model: nn.Module, device: torch.device) -> torch.device:
    """The device ``model`` goes back to: where it is now (the CPU if it holds no tensors), unless going to meta.

    A model sent to the meta device keeps shapes but loses its values, so it has nothing to bring back.
    """
    first = next(chain(model.parameters(), model.buffers()), None)
    return device if device.type == "meta" else first.device if first is not None else torch.device("cpu")
