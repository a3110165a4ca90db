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

Where the files come from, in this order:

1. the ``root`` argument, if given;
2. the folder named by the environment variable ``D2LMINI_DATA``;
3. the user cache folder (``$XDG_CACHE_HOME/d2lmini`` or ``~/.cache/d2lmini``);
4. a system folder, such as the one Debian's ``dataset-fashion-mnist`` fills.

A folder counts if it, or its subfolder named after the dataset, holds all
four files; a folder that cannot be read is noted and skipped.  If none
does, the missing files are downloaded into the first of 1-3 that applies,
from each dataset's mirrors in order (HTTPS first).  A download is checked
(gzip, published checksum, IDX header) in memory, written to a temporary
file and only then renamed into place, so no partial or corrupt file is ever
left where the next run would trust it, and two processes can download into
one folder at once.  Every failure is one :class:`~d2lmini.idx.DataError`
that names the dataset and the file, says what went wrong and how to fix it.

``python -m d2lmini.data [--all | --dataset NAME] [--root DIR]`` fetches the
data ahead of time (``--all``: Fashion-MNIST and MNIST) and says where it is.
"""

from __future__ import annotations

import argparse
import errno
import http.client
import numbers
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F

from d2lmini.idx import DataError, FileSpec, decode_idx, read_idx

ENV_VAR = "D2LMINI_DATA"
DOWNLOAD_TIMEOUT = 30.0  # seconds a server may stay silent before a download counts as failed


def cache_dir() -> Path:
    """The per-user cache folder d2lmini downloads into by default."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "d2lmini"


def _positive_int(name: str, value: object, example: int) -> int:
    """Return ``value`` if it is a positive integer; otherwise say what to pass instead."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        hint = f"{name}={int(value)}" if isinstance(value, float) and value.is_integer() else f"{name}={example}"
        raise TypeError(f"{name} must be a positive integer, got {value!r} ({type(value).__name__}); pass e.g. {hint}.")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}; pass e.g. {name}={example}.")
    return int(value)


class _MirrorFailed(Exception):
    """One mirror did not deliver a good copy of a file.

    ``kind`` says what helps: ``"offline"`` (no server reached: no internet?),
    ``"transient"`` (cut short or timed out: run again) or ``"server"`` (it
    answered, but with an error or the wrong content).
    """

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def _fetch(url: str, spec: FileSpec, timeout: float = DOWNLOAD_TIMEOUT) -> bytes:
    """Download ``url`` into memory and check that it is ``spec``'s file (gzip, checksum, header).

    Raises :class:`_MirrorFailed` saying what went wrong.  Nothing touches the
    disk here, so a failed download leaves nothing behind.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read()  # raises IncompleteRead if short of Content-Length or of the last chunk
    except urllib.error.HTTPError as err:
        raise _MirrorFailed(f"{url}: the server answered {err.code} {err.reason}", "server") from None
    except http.client.IncompleteRead as err:
        total = f" of {len(err.partial) + err.expected:,}" if isinstance(err.expected, int) else ""
        message = f"{url}: the download was cut short (the connection closed after {len(err.partial):,}{total} bytes)"
        raise _MirrorFailed(message, "transient") from None
    except (TimeoutError, urllib.error.URLError) as err:
        if isinstance(err, TimeoutError) or isinstance(err.reason, TimeoutError):
            raise _MirrorFailed(f"{url}: the server sent nothing for {timeout:g} s (timed out)", "transient") from None
        raise _MirrorFailed(f"{url}: could not reach the server ({err.reason})", "offline") from None
    except (http.client.HTTPException, OSError) as err:
        raise _MirrorFailed(f"{url}: the connection failed ({err!r})", "transient") from None
    try:
        decode_idx(body, spec, url)
    except DataError as err:
        raise _MirrorFailed(str(err).strip(), "server") from None
    return body


class TensorLoader:
    """Iterate over minibatches of tensors held in memory.

    With ``shuffle``, each epoch draws a fresh permutation from ``generator``
    (PyTorch's global one if ``None``), reorders the whole set with it in one
    go and yields consecutive slices: one large gather per epoch costs far
    less than one small gather per minibatch.  ``transform``, if given, is
    applied to each slice of ``X`` (the data modules use it to turn ``uint8``
    pixels into float32 per batch).
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
        self.batch_size = _positive_int("batch_size", batch_size, 256)
        self.X, self.y, self.shuffle = X, y, shuffle
        self.transform, self.generator = transform, generator

    def __len__(self) -> int:
        return (len(self.X) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        X, y = self.X, self.y
        if self.shuffle:
            order = torch.randperm(len(X), generator=self.generator)
            X, y = X.index_select(0, order), y.index_select(0, order)
        for start in range(0, len(X), self.batch_size):
            batch = X[start : start + self.batch_size]
            yield (batch if self.transform is None else self.transform(batch)), y[start : start + self.batch_size]


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
        self.batch_size = _positive_int("batch_size", batch_size, 256)
        if resize is not None and (not isinstance(resize, (tuple, list)) or len(resize) != 2):
            raise TypeError(f"resize must be a pair (height, width) such as (32, 32), got {resize!r}.")
        self.resize = None if resize is None else tuple(_positive_int("resize", n, 32) for n in resize)
        val_size = _positive_int("val_size", self.val_size_default if val_size is None else val_size, 10_000)
        self.split_seed = split_seed
        root = Path(root).expanduser() if root is not None else None
        self.root = self._find_or_download(root, download, timeout)
        fix = self._fix_hint(root, download)
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

    # Finding and downloading the files -------------------------------------------
    def _search_dirs(self, root: Path | None) -> list[Path]:
        if root is not None:
            return [root, root / self.name]
        bases = [Path(os.environ[ENV_VAR]).expanduser()] if os.environ.get(ENV_VAR) else []
        bases.append(cache_dir())
        dirs = [d for base in bases for d in (base, base / self.name)]
        return dirs + list(self.system_dirs)

    def _target(self, root: Path | None) -> tuple[Path, str]:
        """Where a download goes, and which setting chose it: ``"root"``, ``"env"`` or ``"cache"``."""
        if root is not None:
            return root, "root"
        if os.environ.get(ENV_VAR):
            return Path(os.environ[ENV_VAR]).expanduser(), "env"
        return cache_dir() / self.name, "cache"

    @staticmethod
    def _elsewhere(how: str, what: str) -> str:
        """How to point d2lmini at another folder; ``root=`` overrides the variable, so with it only root= helps."""
        return f"pass root= a folder {what}" if how == "root" else f"set {ENV_VAR} to a folder {what} (or pass root=)"

    def _find_or_download(self, root: Path | None, download: bool, timeout: float) -> Path:
        searched, unreadable = self._search_dirs(root), {}
        for folder in searched:
            try:
                if all((folder / spec.name).is_file() for spec in self.files.values()):
                    return folder
            except OSError as err:  # an unreadable folder must not hide a good copy further on
                unreadable[folder] = f"  (cannot be read: {err.strerror})"
        target, how = self._target(root)
        if not download:
            listing = "\n  ".join(f"{d}{unreadable.get(d, '')}" for d in searched)
            raise DataError(
                f"{self.name}: the four files ({', '.join(s.name for s in self.files.values())}) "
                f"are in none of these folders:\n  {listing}\nFix: {self.offline_hint}; or pass download=True; "
                f"or {self._elsewhere(how, 'that holds them')}."
            )
        try:
            missing = [spec for spec in self.files.values() if not (target / spec.name).is_file()]
            folders = [target / spec.name for spec in missing if (target / spec.name).is_dir()]
        except OSError as err:
            raise self._folder_error(target, how, err, "look into") from None
        if folders:
            raise DataError(f"{folders[0]}: a folder where the file should be; remove it (or move it away), run again.")
        if missing:
            try:
                target.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise self._folder_error(target, how, err, "create the folder") from None
        for spec in missing:
            self._write(self._download(spec, target, how, timeout), target / spec.name, how)
        return target

    def _download(self, spec: FileSpec, target: Path, how: str, timeout: float) -> bytes:
        """A checked copy of one file from the first mirror that delivers one."""
        failures: list[_MirrorFailed] = []
        for mirror in self.mirrors:
            print(f"Downloading {mirror}{spec.name} to {target} ...", flush=True)
            try:
                return _fetch(mirror + spec.name, spec, timeout)
            except _MirrorFailed as failure:
                failures.append(failure)
        fixes = []
        if any(f.kind == "offline" for f in failures):
            fixes.append(f"with no internet, {self.offline_hint}, or copy the four files into {target}")
        if any(f.kind == "transient" for f in failures):
            fixes.append("run again (nothing partial was kept; the download starts afresh)")
        if any(f.kind == "server" for f in failures):
            fixes.append(f"the mirrors may be down or moved: try later, or {self.offline_hint}")
        lines = "\n  ".join(str(f) for f in failures)
        raise DataError(
            f"{self.name}: could not download {spec.name}; every mirror failed:\n  {lines}\n"
            f"Fix: {'; or '.join(fixes)}; or {self._elsewhere(how, 'that holds the four files')}."
        )

    def _write(self, body: bytes, path: Path, how: str) -> None:
        """Write ``path`` atomically: into a temporary file first, renamed to ``path`` once complete."""
        tmp = None
        try:
            handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
            tmp = Path(name)
            with os.fdopen(handle, "wb") as out:
                out.write(body)
            os.replace(tmp, path)
            tmp = None
        except OSError as err:
            action = f"write {path.name} ({len(body):,} bytes) into"
            raise self._folder_error(path.parent, how, err, action) from None
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)

    def _folder_error(self, folder: Path, how: str, err: OSError, action: str) -> DataError:
        """Explain why ``folder`` cannot take the files, and where else they can go."""
        fix = self._elsewhere(how, "you can write to")
        if err.errno in (errno.ENOTDIR, errno.EEXIST):
            files = (p for p in (folder, *folder.parents) if os.path.lexists(p) and not os.path.isdir(p))
            blocker = next(files, folder)
            reason = f"{blocker} is a file, not a folder"
        elif err.errno in (errno.ENOSPC, errno.EDQUOT):
            reason, fix = "the disk is full", f"free some space there; or {fix}"
        elif err.errno == errno.EROFS:
            reason = "it is on a read-only file system"
        elif err.errno in (errno.EACCES, errno.EPERM):
            reason = "permission denied"
        else:
            reason = err.strerror or str(err)
        return DataError(f"{self.name}: cannot {action} {folder}: {reason}. Fix: {fix}; or {self.offline_hint}.")

    def _fix_hint(self, root: Path | None, download: bool) -> str:
        again = "run again" if download else "run again with download=True"
        where = self._elsewhere(self._target(root)[1], "with good copies")
        return f"Fix: delete the file and {again} to download a fresh copy; or {self.offline_hint}; or {where}."

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

        X, y = batch
        if X.dtype == torch.uint8:
            X = self.transform(X)
        n = min(nrows * ncols, len(X))
        titles = self.text_labels(y[:n])
        if predictions is not None:
            guesses = self.text_labels(predictions[:n])
            titles = [f"{t}\n{p}" for t, p in zip(titles, guesses, strict=True)]
        return show_images(X[:n].squeeze(1), nrows, ncols, titles=titles)


class MNIST(FashionMNIST):
    """The handwritten digits 0-9 in the same format, for the digits variant of the labs."""

    name = "mnist"
    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/")
    system_dirs = (Path("/usr/share/datasets/mnist"),)
    offline_hint = "on a machine with internet, run python -m d2lmini.data --dataset mnist and copy the files over"
    labels = tuple(str(d) for d in range(10))
    files: ClassVar[dict[str, FileSpec]] = {
        "train_images": FileSpec("train-images-idx3-ubyte.gz", 3, "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        "train_labels": FileSpec("train-labels-idx1-ubyte.gz", 1, "d53e105ee54ea40749a09fcbcd1e9432"),
        "test_images": FileSpec("t10k-images-idx3-ubyte.gz", 3, "9fb629c4189551a2d022fa330f9573f3"),
        "test_labels": FileSpec("t10k-labels-idx1-ubyte.gz", 1, "ec29112dd5afa0611ce80d1b7f02629c"),
    }


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
