"""Shared fixtures: small, fake IDX datasets written into a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from d2lmini.idx import write_idx

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")  # fmt: skip


def write_fake_dataset(folder: Path, n_train: int = 64, n_val: int = 32) -> Path:
    """Write four small IDX files shaped like Fashion-MNIST's; labels depend on the image."""
    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    for (images, labels), n in zip((FILES[:2], FILES[2:]), (n_train, n_val), strict=True):
        y = torch.randint(0, 10, (n,), generator=g)
        X = torch.zeros(n, 28, 28, dtype=torch.uint8)
        for i, label in enumerate(y):  # a bright row whose position encodes the class
            X[i, 2 + 2 * int(label)] = 255
        write_idx(folder / images, X)
        write_idx(folder / labels, y)
    return folder


@pytest.fixture
def fake_data_dir(tmp_path: Path) -> Path:
    return write_fake_dataset(tmp_path / "fake")


@pytest.fixture
def no_checksums(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the data modules accept the fake files, which match no published checksum."""
    from d2lmini.data import FashionMNIST
    from d2lmini.idx import FileSpec

    files = {k: FileSpec(s.name, s.ndim) for k, s in FashionMNIST.files.items()}
    monkeypatch.setattr(FashionMNIST, "files", files)
