"""Helpers shared by the tests: writing IDX files and small fake datasets."""

from __future__ import annotations

import gzip
from pathlib import Path

import torch

from d2lmini.idx import UBYTE

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")  # fmt: skip
FAKE_TRAIN, FAKE_VAL, FAKE_TEST = 96, 32, 32  # the fake training file holds train + val images


def write_idx(path: Path, array: torch.Tensor) -> None:
    """Write a ``uint8`` tensor as a gzip-compressed IDX file, as the real datasets are stored."""
    array = array.to(torch.uint8).contiguous()
    header = bytes([0, 0, UBYTE, array.dim()])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    Path(path).write_bytes(gzip.compress(header + array.numpy().tobytes(), mtime=0))


def write_fake_dataset(folder: Path, n_train: int = FAKE_TRAIN, n_test: int = FAKE_TEST) -> Path:
    """Write four small IDX files shaped like Fashion-MNIST's; each image's bright row encodes its label."""
    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    for (images, labels), n in zip((FILES[:2], FILES[2:]), (n_train, n_test), strict=True):
        y = torch.randint(0, 10, (n,), generator=g)
        X = torch.zeros(n, 28, 28, dtype=torch.uint8)
        X[torch.arange(n), 2 + 2 * y] = 255
        write_idx(folder / images, X)
        write_idx(folder / labels, y)
    return folder
