"""Checks whose answers live on a CUDA GPU, as on Colab's GPU runtime: they run unchanged, judge what the answer
computed there, and say so when a result comes back on the wrong device. Skipped where there is no GPU."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from d2lmini.book import checks
from d2lmini.book.experiment_checks import experiment_checker
from tests.book.test_checks import RIGHT, STORED, _Scratch, _scratch_forward

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


class _ScratchOnGPU(_Scratch):
    """The lab's model, its parameters made on the GPU."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.to("cuda")

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return _scratch_forward(self, X)


def test_a_model_on_the_gpu_is_checked_there() -> None:
    assert checks.check_mlp_forward(_ScratchOnGPU).message == STORED[checks.check_mlp_forward]


def test_a_network_on_the_gpu_is_checked_there() -> None:
    def build_mlp(h: int) -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.Linear(784, h), nn.ReLU(), nn.Linear(h, 10)).to("cuda")

    assert checks.check_build_mlp(build_mlp).message == STORED[checks.check_build_mlp]

    def collapsed(h: int) -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.Linear(784, h), nn.Linear(h, 10)).to("cuda")

    assert "collapse into one" in checks.check_build_mlp(collapsed).message


def test_a_result_moved_to_the_gpu_is_named() -> None:
    message = checks.check_relu(lambda x: x.cuda().clamp(min=0)).message
    assert "returns a tensor on cuda:0; return it on cpu, where its input is." in message


def test_counting_on_the_gpu() -> None:
    def count_dead(layer: nn.Linear, X: torch.Tensor) -> int:
        return int((layer.to("cuda")(X.to("cuda")) <= 0).all(dim=0).sum())

    assert checks.check_count_dead(count_dead).message == STORED[checks.check_count_dead]


def test_results_reported_as_gpu_tensors() -> None:
    check = experiment_checker("acc", expected_keys=["val_acc"], ranges=(0.0, 1.0))
    assert check({"val_acc": torch.tensor(0.8, device="cuda")}).passed
    assert "is 80, which is not plausible" in check({"val_acc": torch.tensor(80.0, device="cuda")}).message


@pytest.mark.parametrize("check", list(RIGHT), ids=lambda c: c.__name__)
def test_a_notebook_whose_default_device_is_the_gpu(check: Any) -> None:
    torch.set_default_device("cuda")
    try:
        result = check(RIGHT[check])
    finally:
        torch.set_default_device(None)
    assert result.passed and result.message.split("\n")[0] == STORED[check]
    assert "default device in this notebook is cuda" in result.message
