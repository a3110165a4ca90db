"""Seeding and device choice (d2lmini/devices.py): what a wrong seed or a device this machine lacks is told."""

from __future__ import annotations

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
