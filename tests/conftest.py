"""Shared fixtures: every figure closed after each test; small, fake IDX datasets in a temporary folder (and a
data module over them), an isolated search path, a local file server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.helpers import FAKE_VAL, FileServer, write_fake_dataset

if TYPE_CHECKING:
    from d2lmini.data import FashionMNIST

pytest.register_assert_rewrite("tests.mistakes")  # its asserts are the tables' tests: show their values on failure


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    """Close every pyplot figure a test leaves open, so none leaks into the next test on the same worker."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


@pytest.fixture
def fake_data_dir(tmp_path: Path) -> Path:
    return write_fake_dataset(tmp_path / "fake")


@pytest.fixture
def no_checksums(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the data modules take the small fake files: no published checksums, a validation split that fits.

    The fake training file holds 96 images; a validation split of 32 leaves 64
    for training (4 batches of 16) next to the 32 test images.
    """
    from d2lmini.data import FashionMNIST
    from d2lmini.idx import FileSpec

    files = {k: FileSpec(s.name, s.ndim) for k, s in FashionMNIST.files.items()}
    monkeypatch.setattr(FashionMNIST, "files", files)
    monkeypatch.setattr(FashionMNIST, "val_size_default", FAKE_VAL)


@pytest.fixture
def pixels(fake_data_dir: Path, no_checksums: None) -> FashionMNIST:
    """Fashion-MNIST over the fake files in batches of 16, torch seeded: what the tables of tests/mistakes.py run on."""
    import torch

    from d2lmini.data import FashionMNIST

    torch.manual_seed(0)
    return FashionMNIST(batch_size=16, root=fake_data_dir)


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No env var, an empty cache folder and no system folder: nothing is found by default."""
    from d2lmini.data import FashionMNIST
    from d2lmini.files import ENV_VAR

    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(FashionMNIST, "system_dirs", (tmp_path / "system",))
    return tmp_path


@pytest.fixture
def server(fake_data_dir: Path) -> Iterator[FileServer]:
    """A local HTTP server with a mirror per fault (see :class:`~tests.helpers.FileServer`) for the fake files."""
    served = FileServer(fake_data_dir)
    yield served
    served.close()
