"""Fashion-MNIST and MNIST as in-memory data modules.

The whole dataset is read once into tensors (about 190 MB as float32) and
minibatches are cut by indexing with a shuffled permutation.  There is no
per-sample Python work, so no worker processes are needed: an epoch costs
little more than the model's own arithmetic.

Where the files come from, in this order:

1. the ``root`` argument, if given;
2. the folder named by the environment variable ``D2LMINI_DATA``;
3. the user cache folder (``$XDG_CACHE_HOME/d2lmini`` or ``~/.cache/d2lmini``);
4. a system folder, such as the one Debian's ``dataset-fashion-mnist`` fills.

A folder counts if it, or its subfolder named after the dataset, holds all
four files.  If none does, the files are downloaded into the first of 1-3
that applies; each download goes to a temporary file and is renamed only
after its checksum matches, so an interrupted download never leaves a
half-written file behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F

from d2lmini.idx import DataError, FileSpec, read_idx

ENV_VAR = "D2LMINI_DATA"


def cache_dir() -> Path:
    """The per-user cache folder d2lmini downloads into by default."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "d2lmini"


class TensorLoader:
    """Iterate over minibatches of tensors held in memory.

    Each epoch draws a fresh permutation from PyTorch's global random
    generator (so :func:`d2lmini.seed_everything` makes runs repeatable),
    reorders the whole set with it in one go and yields consecutive slices
    of the result: one large gather per epoch costs far less than one small
    gather per minibatch.
    """

    def __init__(self, X: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool) -> None:
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}; they must match.")
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}.")
        self.X, self.y, self.batch_size, self.shuffle = X, y, batch_size, shuffle

    def __len__(self) -> int:
        return (len(self.X) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        X, y = self.X, self.y
        if self.shuffle:
            order = torch.randperm(len(X))
            X, y = X[order], y[order]
        for start in range(0, len(X), self.batch_size):
            yield X[start : start + self.batch_size], y[start : start + self.batch_size]


class FashionMNIST:
    """Fashion-MNIST: 60,000 training and 10,000 validation images, 28x28, 10 classes.

    Images come as float32 tensors of shape ``(batch, 1, 28, 28)`` (or the
    ``resize`` shape) with values in [0, 1]; labels as int64 class indices.
    The validation set is the official test set, as in Dive into Deep Learning.
    """

    name = "fashion-mnist"
    url = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    system_dirs: tuple[Path, ...] = (Path("/usr/share/datasets/fashion-mnist"),)
    install_hint = "install Debian's package: sudo apt-get install dataset-fashion-mnist"
    labels = (
        "t-shirt", "trouser", "pullover", "dress", "coat",
        "sandal", "shirt", "sneaker", "bag", "ankle boot",
    )  # fmt: skip
    files: ClassVar[dict[str, FileSpec]] = {
        "train_images": FileSpec(
            "train-images-idx3-ubyte.gz", 3, "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        "train_labels": FileSpec(
            "train-labels-idx1-ubyte.gz", 1, "25c81989df183df01b3e8a0aad5dffbe",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        "val_images": FileSpec(
            "t10k-images-idx3-ubyte.gz", 3, "bef4ecab320f06d8554ea6380940ec79",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        "val_labels": FileSpec(
            "t10k-labels-idx1-ubyte.gz", 1, "bb300cfdad3c16e7a12a480ee83cd310",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    }  # fmt: skip

    def __init__(
        self,
        batch_size: int = 256,
        resize: tuple[int, int] | None = None,
        root: str | Path | None = None,
        download: bool = True,
    ) -> None:
        self.batch_size = batch_size
        self.resize = resize
        self.root = self._find_or_download(Path(root).expanduser() if root else None, download)
        fix = self._fix_hint()
        tensors = {key: read_idx(self.root / spec.name, spec, fix) for key, spec in self.files.items()}
        self.train_X = self._to_float(tensors["train_images"])
        self.train_y = tensors["train_labels"].long()
        self.val_X = self._to_float(tensors["val_images"])
        self.val_y = tensors["val_labels"].long()
        for split, X, y in (("train", self.train_X, self.train_y), ("val", self.val_X, self.val_y)):
            if len(X) != len(y):
                raise DataError(
                    f"{self.root}: the {split} images ({len(X)}) and labels ({len(y)}) differ in "
                    f"number; the files come from different releases. {fix}"
                )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(train={len(self.train_X):,}, val={len(self.val_X):,}, "
            f"image shape={tuple(self.train_X.shape[1:])}, root='{self.root}')"
        )

    def _to_float(self, images: torch.Tensor) -> torch.Tensor:
        X = images.unsqueeze(1).float().div_(255)
        if self.resize is not None:
            X = F.interpolate(X, size=tuple(self.resize), mode="bilinear", antialias=True)
        return X

    # Finding the files -------------------------------------------------------
    def _search_dirs(self, root: Path | None) -> list[Path]:
        if root is not None:
            return [root, root / self.name]
        bases = [Path(os.environ[ENV_VAR]).expanduser()] if os.environ.get(ENV_VAR) else []
        bases.append(cache_dir())
        dirs = [d for base in bases for d in (base, base / self.name)]
        return dirs + list(self.system_dirs)

    def _has_all(self, folder: Path) -> bool:
        return all((folder / spec.name).is_file() for spec in self.files.values())

    def _find_or_download(self, root: Path | None, download: bool) -> Path:
        searched = self._search_dirs(root)
        for folder in searched:
            if self._has_all(folder):
                return folder
        if root is not None:
            target = root
        elif os.environ.get(ENV_VAR):
            target = Path(os.environ[ENV_VAR]).expanduser()
        else:
            target = cache_dir() / self.name
        if not download:
            listing = "\n  ".join(str(d) for d in searched)
            raise DataError(
                f"{self.name}: the four files ({', '.join(s.name for s in self.files.values())}) "
                f"are in none of these folders:\n  {listing}\nFix: {self.install_hint}; or "
                f"pass download=True; or set {ENV_VAR} to a folder that holds them."
            )
        for spec in self.files.values():
            if not (target / spec.name).is_file():
                self._download(spec, target)
        return target

    def _download(self, spec: FileSpec, target: Path) -> None:
        target.mkdir(parents=True, exist_ok=True)
        url = self.url + spec.name
        print(f"Downloading {url} to {target} ...", flush=True)
        handle, tmp_name = tempfile.mkstemp(dir=target, prefix=f".{spec.name}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
                shutil.copyfileobj(response, out)
            read_idx(tmp, spec, fix=f"The download from {url} was damaged; run again.")
            os.replace(tmp, target / spec.name)
        except (urllib.error.URLError, OSError) as err:
            raise DataError(
                f"{self.name}: could not download {url} ({err}). With no internet, "
                f"{self.install_hint}, or copy the four files into {target} (or set {ENV_VAR})."
            ) from None
        finally:
            tmp.unlink(missing_ok=True)

    def _fix_hint(self) -> str:
        return (
            f"Fix: delete the file and run again to download a fresh copy from {self.url}; "
            f"or {self.install_hint}; or set {ENV_VAR} to a folder with good copies."
        )

    # The data-module interface -------------------------------------------------
    def train_dataloader(self) -> TensorLoader:
        """Shuffled minibatches of the training set."""
        return TensorLoader(self.train_X, self.train_y, self.batch_size, shuffle=True)

    def val_dataloader(self) -> TensorLoader:
        """Minibatches of the validation set, in a fixed order."""
        return TensorLoader(self.val_X, self.val_y, self.batch_size, shuffle=False)

    def text_labels(self, indices: Sequence[int] | torch.Tensor) -> list[str]:
        """Class names for a sequence of label indices."""
        return [self.labels[int(i)] for i in indices]

    def visualize(
        self,
        batch: tuple[torch.Tensor, torch.Tensor],
        nrows: int = 2,
        ncols: int = 8,
        predictions: torch.Tensor | None = None,
    ):
        """Show the first ``nrows * ncols`` images of a batch with their class names.

        With ``predictions``, each title reads ``true / predicted``.  Returns
        the array of matplotlib axes.
        """
        from d2lmini.plotting import show_images

        X, y = batch
        n = min(nrows * ncols, len(X))
        titles = self.text_labels(y[:n])
        if predictions is not None:
            guesses = self.text_labels(predictions[:n])
            titles = [f"{t}\n{p}" for t, p in zip(titles, guesses, strict=True)]
        return show_images(X[:n].squeeze(1), nrows, ncols, titles=titles)


class MNIST(FashionMNIST):
    """The handwritten digits 0-9 in the same format, for the digits variant of the labs."""

    name = "mnist"
    url = "https://ossci-datasets.s3.amazonaws.com/mnist/"
    system_dirs = (Path("/usr/share/datasets/mnist"),)
    install_hint = "copy the four .gz files of the MNIST database into ~/.cache/d2lmini/mnist"
    labels = tuple(str(d) for d in range(10))
    files: ClassVar[dict[str, FileSpec]] = {
        "train_images": FileSpec("train-images-idx3-ubyte.gz", 3, "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        "train_labels": FileSpec("train-labels-idx1-ubyte.gz", 1, "d53e105ee54ea40749a09fcbcd1e9432"),
        "val_images": FileSpec("t10k-images-idx3-ubyte.gz", 3, "9fb629c4189551a2d022fa330f9573f3"),
        "val_labels": FileSpec("t10k-labels-idx1-ubyte.gz", 1, "ec29112dd5afa0611ce80d1b7f02629c"),
    }


if __name__ == "__main__":  # `python -m d2lmini.data`: find or download the data, say where
    print(FashionMNIST())
