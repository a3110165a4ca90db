"""Shared fixtures: small, fake IDX datasets written into a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import write_fake_dataset


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
