"""Read the IDX files that MNIST and Fashion-MNIST ship as, and check them.

An IDX file is a tiny header followed by raw bytes: two zero bytes, a type
code (0x08 means unsigned bytes), the number of dimensions, one big-endian
int32 per dimension, then the data in C order.  The datasets ship each file
gzip-compressed.  Reading the whole file into one tensor takes a fraction of
a second, far less than decoding 70,000 images one at a time.

Every problem is reported as a :class:`DataError` that names the file, what
is wrong with it and what to do about it.  :func:`decode_idx` checks bytes
held in memory (a download, before it touches the disk); :func:`read_idx`
reads a file and checks it the same way.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

UBYTE = 0x08


class DataError(RuntimeError):
    """A data file is missing, damaged or not what it claims to be."""


@dataclass(frozen=True)
class FileSpec:
    """One IDX file of a dataset and the checksums it may match.

    ``md5_gz`` is the MD5 the dataset's authors publish for the ``.gz``
    archive; ``sha256_raw`` is the SHA-256 of the decompressed bytes, which
    also matches copies that were recompressed (Debian's package is one).
    A file passes if either matches.
    """

    name: str
    ndim: int
    md5_gz: str | None = None
    sha256_raw: str | None = None


def _decompress(packed: bytes, source: str, fix: str) -> bytes:
    """The decompressed bytes of a gzip archive; ``source`` names it in errors."""
    if packed[:256].lstrip()[:1] == b"<":
        raise DataError(
            f"{source}: a web page (HTML), not the gzip file; a login page, a proxy's notice or a moved "
            f"mirror answered instead. {fix}"
        )
    try:
        return gzip.decompress(packed)
    except EOFError:
        raise DataError(
            f"{source}: truncated (the gzip stream ends early, {len(packed):,} bytes; "
            f"an interrupted download?). {fix}"
        ) from None
    except (OSError, zlib.error) as err:
        raise DataError(f"{source}: not a valid gzip file ({err}). {fix}") from None


def _check_sum(source: str, spec: FileSpec, packed: bytes, raw: bytes, fix: str) -> None:
    if spec.md5_gz is None and spec.sha256_raw is None:
        return
    if spec.md5_gz is not None and hashlib.md5(packed).hexdigest() == spec.md5_gz:
        return
    if spec.sha256_raw is not None and hashlib.sha256(raw).hexdigest() == spec.sha256_raw:
        return
    raise DataError(
        f"{source}: checksum mismatch (the contents differ from the published {spec.name}: "
        f"a damaged copy, or another dataset's file). {fix}"
    )


def parse_idx(raw: bytes, source: str, ndim: int, fix: str) -> torch.Tensor:
    """Turn decompressed IDX bytes into a ``uint8`` tensor, checking the header."""
    if len(raw) < 4:
        raise DataError(f"{source}: truncated (only {len(raw)} bytes, not even a header). {fix}")
    zero1, zero2, type_code, dims = raw[0], raw[1], raw[2], raw[3]
    magic = int.from_bytes(raw[:4], "big")
    expected_magic = (UBYTE << 8) | ndim
    if zero1 or zero2 or type_code != UBYTE or dims != ndim:
        raise DataError(
            f"{source}: wrong magic number {magic} (0x{magic:08x}); an IDX file of unsigned "
            f"bytes with {ndim} dimension(s) starts with {expected_magic} (0x{expected_magic:08x}). "
            f"Is it the right file? {fix}"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{source}: truncated inside the header. {fix}")
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + math.prod(shape)  # Python ints: a corrupt header's huge shape cannot overflow
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "has trailing data"
        raise DataError(
            f"{source}: {problem} (its header promises shape {tuple(shape)}, i.e. {expected:,} bytes, "
            f"but it holds {len(raw):,}). {fix}"
        )
    if expected == header:  # no items at all (torch.frombuffer refuses an empty buffer)
        return torch.empty(shape, dtype=torch.uint8)
    data = torch.frombuffer(bytearray(memoryview(raw)[header:]), dtype=torch.uint8)  # one copy, writable
    return data.reshape(shape)


def decode_idx(packed: bytes, spec: FileSpec, source: str, fix: str = "") -> torch.Tensor:
    """Check and decode the bytes of one gzip-compressed IDX file; ``source`` (path or URL) names it in errors."""
    raw = _decompress(packed, source, fix)
    _check_sum(source, spec, packed, raw, fix)
    return parse_idx(raw, source, spec.ndim, fix)


def read_idx(path: Path, spec: FileSpec, fix: str = "") -> torch.Tensor:
    """Read one gzip-compressed IDX file after checking its checksum and header.

    ``fix`` is appended to every error message: what the user should do.
    """
    try:
        packed = Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file is missing. {fix}") from None
    except IsADirectoryError:
        raise DataError(f"{path}: a folder where the file should be; remove it (or move it away). {fix}") from None
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({err.strerror}). {fix}") from None
    return decode_idx(packed, spec, str(path), fix)
