"""Where a dataset's files are found, and how the missing ones are downloaded.

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

What this needs to know about a dataset is what the data modules of
:mod:`d2lmini.data` say in their class attributes (:class:`DatasetSource`).
"""

from __future__ import annotations

import errno
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import ClassVar, Protocol

from d2lmini.idx import DataError, FileSpec, decode_idx

ENV_VAR = "D2LMINI_DATA"
DOWNLOAD_TIMEOUT = 30.0  # seconds a server may stay silent before a download counts as failed


class DatasetSource(Protocol):
    """A dataset as finding and downloading see it: the class attributes of a data module."""

    name: str  # names it in messages, and the subfolder it may sit in
    files: ClassVar[dict[str, FileSpec]]
    mirrors: tuple[str, ...]  # URL prefixes, tried in order
    system_dirs: tuple[Path, ...]  # folders a system package fills
    offline_hint: str  # how to get the files without a download


def cache_dir() -> Path:
    """The per-user cache folder d2lmini downloads into by default."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "d2lmini"


def find_or_download(dataset: DatasetSource, root: Path | None, download: bool, timeout: float) -> Path:
    """The first folder that holds all of ``dataset``'s files, downloading the missing ones if none does."""
    searched, unreadable = _search_dirs(dataset, root), {}
    for folder in searched:
        try:
            if all((folder / spec.name).is_file() for spec in dataset.files.values()):
                return folder
        except OSError as err:  # an unreadable folder must not hide a good copy further on
            unreadable[folder] = f"  (cannot be read: {err.strerror})"
    target, how = _target(dataset, root)
    if not download:
        listing = "\n  ".join(f"{d}{unreadable.get(d, '')}" for d in searched)
        raise DataError(
            f"{dataset.name}: the four files ({', '.join(s.name for s in dataset.files.values())}) "
            f"are in none of these folders:\n  {listing}\nFix: {dataset.offline_hint}; or pass download=True; "
            f"or {_elsewhere(how, 'that holds them')}."
        )
    try:
        missing = [spec for spec in dataset.files.values() if not (target / spec.name).is_file()]
        folders = [target / spec.name for spec in missing if (target / spec.name).is_dir()]
    except OSError as err:
        raise _folder_error(dataset, target, how, err, "look into") from None
    if folders:
        raise DataError(f"{folders[0]}: a folder where the file should be; remove it (or move it away), run again.")
    if missing:
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise _folder_error(dataset, target, how, err, "create the folder") from None
    for spec in missing:
        _write(dataset, _download(dataset, spec, target, how, timeout), target / spec.name, how)
    return target


def fix_hint(dataset: DatasetSource, root: Path | None, download: bool) -> str:
    """What to do about a damaged file found in a folder: the end of every message about one."""
    again = "run again" if download else "run again with download=True"
    where = _elsewhere(_target(dataset, root)[1], "with good copies")
    return f"Fix: delete the file and {again} to download a fresh copy; or {dataset.offline_hint}; or {where}."


def _search_dirs(dataset: DatasetSource, root: Path | None) -> list[Path]:
    if root is not None:
        return [root, root / dataset.name]
    bases = [Path(os.environ[ENV_VAR]).expanduser()] if os.environ.get(ENV_VAR) else []
    bases.append(cache_dir())
    dirs = [d for base in bases for d in (base, base / dataset.name)]
    return dirs + list(dataset.system_dirs)


def _target(dataset: DatasetSource, root: Path | None) -> tuple[Path, str]:
    """Where a download goes, and which setting chose it: ``"root"``, ``"env"`` or ``"cache"``."""
    if root is not None:
        return root, "root"
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser(), "env"
    return cache_dir() / dataset.name, "cache"


def _elsewhere(how: str, what: str) -> str:
    """How to point d2lmini at another folder; ``root=`` overrides the variable, so with it only root= helps."""
    return f"pass root= a folder {what}" if how == "root" else f"set {ENV_VAR} to a folder {what} (or pass root=)"


def _download(dataset: DatasetSource, spec: FileSpec, target: Path, how: str, timeout: float) -> bytes:
    """A checked copy of one file from the first mirror that delivers one."""
    failures: list[_MirrorFailed] = []
    for mirror in dataset.mirrors:
        print(f"Downloading {mirror}{spec.name} to {target} ...", flush=True)
        try:
            return _fetch(mirror + spec.name, spec, timeout)
        except _MirrorFailed as failure:
            failures.append(failure)
    fixes = []
    if any(f.kind == "offline" for f in failures):
        fixes.append(f"with no internet, {dataset.offline_hint}, or copy the four files into {target}")
    if any(f.kind == "transient" for f in failures):
        fixes.append("run again (nothing partial was kept; the download starts afresh)")
    if any(f.kind == "server" for f in failures):
        fixes.append(f"the mirrors may be down or moved: try later, or {dataset.offline_hint}")
    lines = "\n  ".join(str(f) for f in failures)
    raise DataError(
        f"{dataset.name}: could not download {spec.name}; every mirror failed:\n  {lines}\n"
        f"Fix: {'; or '.join(fixes)}; or {_elsewhere(how, 'that holds the four files')}."
    )


class _MirrorFailed(Exception):
    """One mirror did not deliver a good copy of a file.

    ``kind`` says what helps: ``"offline"`` (no server reached: no internet?),
    ``"transient"`` (cut short or timed out: run again) or ``"server"`` (it
    answered, but with an error or the wrong content).
    """

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def _fetch(url: str, spec: FileSpec, timeout: float) -> bytes:
    """Download ``url`` into memory and check that it is ``spec``'s file (gzip, checksum, header).

    Raises :class:`_MirrorFailed` saying what went wrong.  Nothing touches the
    disk here, so a failed download leaves nothing behind.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read()  # raises IncompleteRead if short of Content-Length or of the last chunk
    except urllib.error.HTTPError as err:
        err.close()  # the error holds the server's open response
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


def _write(dataset: DatasetSource, body: bytes, path: Path, how: str) -> None:
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
        raise _folder_error(dataset, path.parent, how, err, action) from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def _folder_error(dataset: DatasetSource, folder: Path, how: str, err: OSError, action: str) -> DataError:
    """Explain why ``folder`` cannot take the files, and where else they can go."""
    fix = _elsewhere(how, "you can write to")
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
    return DataError(f"{dataset.name}: cannot {action} {folder}: {reason}. Fix: {fix}; or {dataset.offline_hint}.")
