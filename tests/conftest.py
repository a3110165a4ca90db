"""Shared fixtures: small, fake IDX datasets written into a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import FAKE_VAL, write_fake_dataset


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
