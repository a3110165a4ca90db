"""The IDX reader on small files the tests write: good, truncated, wrong magic, bad checksum, not gzip, a web page."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import pytest
import torch

from d2lmini.idx import DataError, FileSpec, decode_idx, read_idx
from tests.helpers import write_idx

SPEC = FileSpec("images.gz", ndim=3)


def test_round_trip(tmp_path: Path) -> None:
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    write_idx(tmp_path / "images.gz", images)
    assert torch.equal(read_idx(tmp_path / "images.gz", SPEC), images)


def test_both_checksums_are_accepted(tmp_path: Path) -> None:
    labels = torch.arange(10, dtype=torch.uint8)
    path = tmp_path / "labels.gz"
    write_idx(path, labels)
    packed = path.read_bytes()
    raw = gzip.decompress(packed)
    by_archive = FileSpec("labels.gz", 1, md5_gz=hashlib.md5(packed).hexdigest())
    by_content = FileSpec("labels.gz", 1, md5_gz="0" * 32, sha256_raw=hashlib.sha256(raw).hexdigest())
    assert torch.equal(read_idx(path, by_archive), labels)
    assert torch.equal(read_idx(path, by_content), labels)


def test_checksum_mismatch_names_file_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "labels.gz"
    write_idx(path, torch.arange(10, dtype=torch.uint8))
    spec = FileSpec("labels.gz", 1, md5_gz="0" * 32, sha256_raw="0" * 64)
    with pytest.raises(DataError, match=r"labels\.gz: checksum mismatch.*Fix: reinstall"):
        read_idx(path, spec, fix="Fix: reinstall.")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nothing\.gz: file is missing\. Fix: get it\.$"):
        read_idx(tmp_path / "nothing.gz", SPEC, fix="Fix: get it.")
    with pytest.raises(DataError) as err:  # without a fix to add, the message ends with what is wrong
        read_idx(tmp_path / "nothing.gz", SPEC)
    assert str(err.value).rstrip() == f"{tmp_path / 'nothing.gz'}: file is missing."


def test_a_file_that_cannot_be_read_says_why(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("a file where a folder should be")
    path = tmp_path / "notes.txt" / "images.gz"
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: cannot be read \(Not a directory\)\. Fix: x$"):
        read_idx(path, SPEC, fix="Fix: x")


def test_truncated_gzip_stream(tmp_path: Path) -> None:
    path = tmp_path / "images.gz"
    write_idx(path, torch.zeros(50, 28, 28, dtype=torch.uint8))
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(DataError, match=r"truncated .*gzip stream ends early"):
        read_idx(path, SPEC)


def idx_header(*shape: int) -> bytes:
    return bytes([0, 0, 8, len(shape)]) + b"".join(n.to_bytes(4, "big") for n in shape)


@pytest.mark.parametrize(
    ("raw", "what"),
    [(b"", r"truncated \(only 0 bytes, not even a header\)"),
     (b"\x00\x00\x08", r"truncated \(only 3 bytes, not even a header\)"),
     (bytes([0, 0, 8, 3]), r"truncated inside the header"),  # the magic number, no sizes
     (idx_header(10, 28, 28)[:-1], r"truncated inside the header")],
)  # fmt: skip
def test_a_file_cut_inside_its_header_says_where(raw: bytes, what: str) -> None:
    with pytest.raises(DataError, match=f"^images\\.gz: {what}\\. Fix: z$"):
        decode_idx(gzip.compress(raw), SPEC, "images.gz", fix="Fix: z")


def test_a_file_of_no_images_is_read_as_such() -> None:
    """A header and nothing else is a valid, empty file: shape (0, 28, 28), not "truncated"."""
    empty = decode_idx(gzip.compress(idx_header(0, 28, 28)), SPEC, "images.gz")
    assert empty.shape == (0, 28, 28) and empty.dtype == torch.uint8


@pytest.mark.parametrize(
    "magic",
    [b"\x01\x00\x08\x03", b"\x00\x01\x08\x03", b"\x00\x00\x09\x03", b"\x00\x00\x08\x01"],
    ids=["first byte", "second byte", "type code 0x09 (signed bytes)", "one dimension"],
)
def test_every_byte_of_the_magic_number_is_checked(magic: bytes) -> None:
    raw = magic + idx_header(1, 28, 28)[4:] + bytes(784)
    expected = f"wrong magic number {int.from_bytes(magic, 'big')} (0x{magic.hex()}); an IDX file of unsigned bytes " \
               f"with 3 dimension(s) starts with 2051 (0x00000803). Is it the right file? Fix: z"  # fmt: skip
    with pytest.raises(DataError, match=f"^images\\.gz: {re.escape(expected)}$"):
        decode_idx(gzip.compress(raw), SPEC, "images.gz", fix="Fix: z")


def test_truncated_data_after_header(tmp_path: Path) -> None:
    header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (10, 28, 28))
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(header + bytes(100)))
    with pytest.raises(DataError, match=r"truncated \(its header promises shape \(10, 28, 28\)"):
        read_idx(path, SPEC)


def test_trailing_data_after_the_images_is_refused(tmp_path: Path) -> None:
    """A file longer than its header says (two files glued together, a wrong header) is not silently cut."""
    header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (2, 28, 28))
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(header + bytes(2 * 784 + 1)))
    with pytest.raises(DataError, match=r"images\.gz: has trailing data \(its header promises shape \(2, 28, 28\), "
                                        r"i\.e\. 1,584 bytes, but it holds 1,585\)\. Fix: x$"):  # fmt: skip
        read_idx(path, SPEC, fix="Fix: x")


def test_a_huge_shape_in_a_corrupt_header_is_reported_as_it_is() -> None:
    header = bytes([0, 0, 8, 3]) + b"".join((2**21).to_bytes(4, "big") for _ in range(3))  # 2**63 bytes: no int64
    with pytest.raises(DataError, match=r"truncated \(its header promises shape \(2097152, 2097152, 2097152\), "
                                        r"i\.e\. 9,223,372,036,854,775,824 bytes, but it holds 116\)"):  # fmt: skip
        decode_idx(gzip.compress(header + bytes(100)), SPEC, "images.gz")


def test_a_count_of_sixteen_million_or_more_is_read_in_full() -> None:
    """Each size is four bytes, big-endian: a corrupt count above 2**24 is reported as it is, not cut to three."""
    header = idx_header(2**24 + 1, 28, 28)
    with pytest.raises(DataError, match=r"truncated \(its header promises shape \(16777217, 28, 28\)"):
        decode_idx(gzip.compress(header + bytes(784)), SPEC, "images.gz")


def test_wrong_magic_number(tmp_path: Path) -> None:
    path = tmp_path / "images.gz"
    write_idx(path, torch.zeros(4, 3, dtype=torch.uint8))  # a 2-D file where 3-D is expected
    with pytest.raises(DataError, match=r"wrong magic number 2050 .* starts with 2051"):
        read_idx(path, SPEC)


def test_not_gzip_at_all(tmp_path: Path) -> None:
    path = tmp_path / "images.gz"
    path.write_bytes(b"PK\x03\x04 a zip archive, not gzip")
    with pytest.raises(DataError, match=r"images\.gz: not a valid gzip file"):
        read_idx(path, SPEC)


def test_a_web_page_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "images.gz"
    path.write_text("\n  <!DOCTYPE html><html>404 Not Found</html>")
    with pytest.raises(DataError, match=r"images\.gz: a web page \(HTML\), not the gzip file.*Fix: x"):
        read_idx(path, SPEC, fix="Fix: x")


def test_a_folder_in_place_of_the_file(tmp_path: Path) -> None:
    (tmp_path / "images.gz").mkdir()
    with pytest.raises(DataError, match=r"images\.gz: a folder where the file should be; remove it"):
        read_idx(tmp_path / "images.gz", SPEC)


def test_bytes_from_elsewhere_are_named_by_their_source() -> None:
    url = "https://example.org/images.gz"
    with pytest.raises(DataError, match=f"^{url}: truncated \\(the gzip stream ends early") as err:
        decode_idx(gzip.compress(bytes(2000))[:-30], SPEC, url)
    assert str(err.value).rstrip().endswith("an interrupted download?).")  # no fix given, none added
    with pytest.raises(DataError, match=rf"^{url}: truncated \(its header promises shape \(10, 28, 28\).*\. Fix: y$"):
        decode_idx(gzip.compress(idx_header(10, 28, 28) + bytes(100)), SPEC, url, fix="Fix: y")
