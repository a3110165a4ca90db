"""Seeding and device choice (d2lmini/devices.py): what a wrong seed or a device this machine lacks is told."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from d2lmini.devices import resolve_device, seed_everything
from d2lmini.train import Trainer


def test_seed_everything_wants_a_whole_number() -> None:
    with pytest.raises(TypeError, match=r"^seed must be a whole number such as 0, not '0'\.$"):
        seed_everything("0")  # type: ignore[arg-type]


@pytest.mark.parametrize("device", ["cuda:99", "mps", "gpu"])
def test_an_unavailable_device_is_refused_with_the_list_of_those_there_are(device: str) -> None:
    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    with pytest.raises(ValueError, match=rf"device='{device}' is not .*machine has: 'auto' \(the fastest\), 'cpu'"):
        Trainer(1, device=device)


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")


def test_seed_everything_repeats_pythons_numpys_and_torchs_draws() -> None:
    def draws() -> tuple[float, float, float]:
        return random.random(), float(np.random.rand()), torch.rand(()).item()

    seed_everything(3)
    first = draws()
    seed_everything(3)
    assert draws() == first
    seed_everything(4)
    assert all(a != b for a, b in zip(draws(), first, strict=True))  # each generator follows the seed


@pytest.mark.parametrize(
    ("cuda", "count", "mps", "listed"),
    [(True, 2, False, "'cpu', 'cuda:0', 'cuda:1'"),  # a machine with two GPUs
     (True, 1, False, "'cpu', 'cuda:0'"),  # Colab's GPU runtime
     (False, 1, False, "'cpu'"),  # a GPU whose driver does not work: PyTorch sees it but cannot use it
     (False, 0, True, "'cpu', 'mps'")],  # a Mac
)  # fmt: skip
def test_the_devices_listed_are_those_pytorch_can_use(
    monkeypatch: pytest.MonkeyPatch, cuda: bool, count: int, mps: bool, listed: str
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    with pytest.raises(ValueError, match=rf"^device='cuda:7' is not available; this machine has: 'auto' \(the "
                                         rf"fastest\), {listed}\. \(On Colab"):  # fmt: skip
        resolve_device("cuda:7")
    if mps:
        assert resolve_device("mps") == torch.device("mps")
    if cuda:  # "cuda" is the first GPU, as torch.device counts them
        assert resolve_device("cuda") == torch.device("cuda") and resolve_device("cuda:0") == torch.device("cuda:0")
        assert resolve_device() == torch.device("cuda")  # "auto" when not told
    if count == 2:
        assert resolve_device("cuda:1") == torch.device("cuda:1")
