"""Finding and downloading the datasets' files: the search order, mirrors, faults, atomic writes, the advice given."""

from __future__ import annotations

import contextlib
import errno
import gc
import http.server
import io
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import torch

from d2lmini import files as files_mod
from d2lmini.data import FashionMNIST
from d2lmini.idx import DataError, FileSpec
from tests.helpers import (
    FAKE_VAL,
    FILES,
    FileServer,
    fake_specs,
    leftovers,
    load_command,
    subprocess_env,
    write_fake_dataset,
    write_idx,
)


def test_search_order(no_checksums: None, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_dir = write_fake_dataset(isolated / "env")
    cache = write_fake_dataset(isolated / "cache" / "d2lmini" / "fashion-mnist")
    system = write_fake_dataset(isolated / "system")
    assert FashionMNIST(download=False).root == cache  # cache before the system folder
    monkeypatch.setenv(files_mod.ENV_VAR, str(env_dir))
    assert FashionMNIST(download=False).root == env_dir  # the env var before the cache
    assert FashionMNIST(root=system, download=False).root == system  # root before everything


def test_nothing_found_without_download(isolated: Path) -> None:
    with pytest.raises(DataError) as err:
        FashionMNIST(download=False)
    message = str(err.value)
    assert "are in none of these folders" in message
    assert "dataset-fashion-mnist" in message and files_mod.ENV_VAR in message


def test_cache_dir_follows_xdg_cache_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert files_mod.cache_dir() == tmp_path / "d2lmini"
    monkeypatch.setenv("XDG_CACHE_HOME", "")  # set but empty counts as unset
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert files_mod.cache_dir() == tmp_path / "home" / ".cache" / "d2lmini"


def test_the_data_module_still_offers_the_names_it_had() -> None:
    from d2lmini import data

    assert data.ENV_VAR is files_mod.ENV_VAR == "D2LMINI_DATA"
    assert data.cache_dir is files_mod.cache_dir and data.DOWNLOAD_TIMEOUT == files_mod.DOWNLOAD_TIMEOUT


def test_each_place_is_searched_with_its_dataset_subfolder(
    no_checksums: None, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """D2LMINI_DATA and the cache may hold the files themselves or a folder named after the dataset."""
    monkeypatch.setenv("HOME", str(isolated / "home"))
    in_env = write_fake_dataset(isolated / "home" / "data" / "fashion-mnist")
    monkeypatch.setenv(files_mod.ENV_VAR, "~/data")  # a ~ is the home folder, as in a shell
    assert FashionMNIST(download=False).root == in_env
    monkeypatch.delenv(files_mod.ENV_VAR)
    in_cache = write_fake_dataset(isolated / "cache" / "d2lmini")
    assert FashionMNIST(download=False).root == in_cache
    assert FashionMNIST(root=isolated / "home" / "data", download=False).root == in_env


def test_a_folder_that_cannot_be_looked_into_is_named_and_passed_over(
    no_checksums: None, isolated: Path, fake_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder whose listing fails (here: a name too long for the file system) does not hide a good copy."""
    unreadable = isolated / ("x" * 300)
    monkeypatch.setenv(files_mod.ENV_VAR, str(unreadable))
    system = shutil.copytree(fake_data_dir, isolated / "system")  # the fixture's system folder
    assert FashionMNIST(download=False).root == system
    shutil.rmtree(system)
    with pytest.raises(DataError) as err:
        FashionMNIST(download=False)
    listing = str(err.value).split("\n")[1:5]
    assert listing == [f"  {unreadable}  (cannot be read: File name too long)",
                       f"  {unreadable / 'fashion-mnist'}  (cannot be read: File name too long)",
                       f"  {isolated / 'cache' / 'd2lmini'}", f"  {isolated / 'cache' / 'd2lmini' / 'fashion-mnist'}"]
    with pytest.raises(DataError) as err:  # the variable names where downloads go: say why they cannot
        FashionMNIST(download=True)
    assert str(err.value) == (
        f"fashion-mnist: cannot look into {unreadable}: File name too long. Fix: set D2LMINI_DATA to a folder you "
        f"can write to (or pass root=); or install Debian's package: sudo apt-get install dataset-fashion-mnist."
    )


@pytest.mark.parametrize(
    ("code", "reason", "fix"),
    [(errno.ENOSPC, "the disk is full", "free some space there; or set D2LMINI_DATA"),
     (errno.EDQUOT, "the disk is full", "free some space there; or set D2LMINI_DATA"),
     (errno.EROFS, "it is on a read-only file system", "set D2LMINI_DATA"),
     (errno.EACCES, "permission denied", "set D2LMINI_DATA"),
     (errno.EPERM, "permission denied", "set D2LMINI_DATA"),
     (errno.EIO, "Input/output error", "set D2LMINI_DATA")],
)  # fmt: skip
def test_each_reason_a_folder_cannot_take_the_files_is_put_in_words(
    code: int, reason: str, fix: str, tmp_path: Path
) -> None:
    """The slow tests meet these for real (another user, a read-only or full file system); here, each one's words."""
    error = files_mod._folder_error(Toy(), tmp_path, "cache", OSError(code, os.strerror(code)), "create the folder")
    assert str(error) == (f"toy: cannot create the folder {tmp_path}: {reason}. Fix: {fix} to a folder you can "
                          f"write to (or pass root=); or ask the course staff for a copy.")  # fmt: skip
    (tmp_path / "a").write_text("a file where a folder should be")
    blocked = files_mod._folder_error(Toy(), tmp_path / "a" / "b", "root", OSError(errno.ENOTDIR, "x"), "look into")
    assert str(blocked).startswith(f"toy: cannot look into {tmp_path / 'a' / 'b'}: {tmp_path / 'a'} is a file, not a")


class Toy:
    """A dataset described by class attributes alone, as :class:`~d2lmini.files.DatasetSource` asks: no data module."""

    name = "toy"
    files: ClassVar[dict[str, FileSpec]] = {f"file{i}": FileSpec(name, 1) for i, name in enumerate(FILES)}
    mirrors = ()
    system_dirs = ()
    offline_hint = "ask the course staff for a copy"


def test_any_dataset_described_by_its_attributes_is_found(isolated: Path) -> None:
    folder = write_fake_dataset(isolated / "data" / "toy")
    assert files_mod.find_or_download(Toy(), isolated / "data", download=False, timeout=1) == folder
    with pytest.raises(DataError, match=r"^toy: the four files .* are in none of these folders") as err:
        files_mod.find_or_download(Toy(), isolated / "elsewhere", download=False, timeout=1)
    assert "Fix: ask the course staff for a copy; or pass download=True; or pass root= a folder" in str(err.value)
    assert str(err.value).startswith(f"toy: the four files ({', '.join(FILES)}) are in none of these folders:\n")


def test_a_root_that_cannot_be_looked_into_is_named_with_the_fix_for_root(isolated: Path) -> None:
    """A folder name longer than the system allows (ENAMETOOLONG): the fix is about root=, which chose it."""
    root = isolated / ("x" * 300)
    with pytest.raises(DataError) as err:
        files_mod.find_or_download(Toy(), root, download=True, timeout=1)
    assert str(err.value).startswith(f"toy: cannot look into {root}: File name too long. Fix: pass root= a folder")


# Downloads, against a local server with real faults --------------------------------------------
@pytest.fixture
def cache(isolated: Path, fake_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The (empty) cache folder downloads go to; the fake files are the dataset, checked by their own MD5s."""
    monkeypatch.setattr(FashionMNIST, "files", fake_specs(fake_data_dir))
    monkeypatch.setattr(FashionMNIST, "val_size_default", FAKE_VAL)
    return isolated / "cache" / "d2lmini" / "fashion-mnist"


def test_download_goes_to_the_cache_atomically(
    cache: Path, server: FileServer, fake_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FashionMNIST, "mirrors", (server.mirror("ok"),))
    data = FashionMNIST()
    assert data.root == cache and len(data.test_X) == 32
    assert leftovers(cache) == sorted(FILES)  # no temporary files left
    assert all((cache / f).read_bytes() == (fake_data_dir / f).read_bytes() for f in FILES)
    FashionMNIST()  # found now: no second download
    assert len(server.requests) == 4


def test_mirrors_are_tried_in_order(cache: Path, server: FileServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FashionMNIST, "mirrors", (server.mirror("404"), server.mirror("cut-chunked"),
                                                  server.mirror("ok")))  # fmt: skip
    assert FashionMNIST().root == cache
    assert [r.split("/")[1] for r in server.requests[:3]] == ["404", "cut-chunked", "ok"]
    assert leftovers(cache) == sorted(FILES)


@pytest.mark.parametrize(
    ("mode", "what", "fix"),
    [
        ("cut-chunked", r"the download was cut short \(the connection closed after \d+ bytes\)", "run again"),
        ("cut-length", r"the download was cut short \(the connection closed after \d+ of \d+ bytes\)", "run again"),
        ("404", "the server answered 404 Not Found", "the mirrors may be down or moved"),
        ("500", "the server answered 500 Internal Server Error", "the mirrors may be down or moved"),
        ("html", r"a web page \(HTML\), not the gzip file", "the mirrors may be down or moved"),
        ("wrong", "checksum mismatch", "the mirrors may be down or moved"),
        ("slow", r"the server sent nothing for 0.2 s \(timed out\)", "run again"),
        ("garbage", r"the connection failed \(BadStatusLine\('SSH-2\.0-OpenSSH_9\.2\\r\\n'\)\)", "run again"),
    ],
)
def test_a_failed_download_says_what_and_leaves_nothing(
    mode: str, what: str, fix: str, cache: Path, server: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FashionMNIST, "mirrors", (server.mirror(mode),))
    with pytest.raises(DataError) as err:
        FashionMNIST(timeout=0.2)
    message = str(err.value)
    url = server.mirror(mode) + "train-images-idx3-ubyte.gz"
    assert message.startswith("fashion-mnist: could not download train-images-idx3-ubyte.gz; every mirror failed")
    assert re.search(f"{re.escape(url)}: {what}", message), message
    assert f"Fix: {fix}" in message and "or set D2LMINI_DATA to a folder that holds the four files" in message
    assert "no internet" not in message and ".part" not in message
    assert leftovers(cache) == []  # nothing partial, nothing corrupt


def test_when_every_mirror_fails_each_failure_and_each_fix_is_said_once(
    cache: Path, server: FileServer, fake_data_dir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as closed:  # a port that nothing listens on
        closed.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{closed.getsockname()[1]}/"
    mirrors = (server.mirror("404"), server.mirror("cut-length"), refused, server.mirror("cut-chunked"))
    monkeypatch.setattr(FashionMNIST, "mirrors", mirrors)
    with pytest.raises(DataError) as err:
        FashionMNIST(timeout=5)
    name = FILES[0]
    size = (fake_data_dir / name).stat().st_size
    assert str(err.value) == (
        f"fashion-mnist: could not download {name}; every mirror failed:\n"
        f"  {mirrors[0]}{name}: the server answered 404 Not Found\n"
        f"  {mirrors[1]}{name}: the download was cut short (the connection closed after {size // 2:,} of {size:,} "
        f"bytes)\n"
        f"  {refused}{name}: could not reach the server ([Errno 111] Connection refused)\n"
        f"  {mirrors[3]}{name}: the download was cut short (the connection closed after {size // 2:,} bytes)\n"
        f"Fix: with no internet, install Debian's package: sudo apt-get install dataset-fashion-mnist, or copy the "
        f"four files into {cache}; or run again (nothing partial was kept; the download starts afresh); or the "
        f"mirrors may be down or moved: try later, or install Debian's package: sudo apt-get install "
        f"dataset-fashion-mnist; or set D2LMINI_DATA to a folder that holds the four files (or pass root=)."
    )
    assert capsys.readouterr().out == "".join(f"Downloading {m}{name} to {cache} ...\n" for m in mirrors)


@pytest.mark.parametrize("mode", ["404", "500"])
def test_a_server_error_leaves_no_connection_open(
    mode: str, cache: Path, server: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The HTTP error holds the server's response: it is closed, not left for the garbage collector."""
    monkeypatch.setattr(FashionMNIST, "mirrors", (server.mirror(mode),))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(DataError):
            FashionMNIST(timeout=0.2)
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_no_server_at_all_suggests_the_offline_ways(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as closed:  # a port that nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setattr(FashionMNIST, "mirrors", (f"http://127.0.0.1:{port}/",))
    with pytest.raises(DataError, match=r"could not reach the server .*Connection refused") as err:
        FashionMNIST()
    assert f"with no internet, install Debian's package: sudo apt-get install dataset-fashion-mnist, or copy the " \
           f"four files into {cache}" in str(err.value)  # fmt: skip
    assert leftovers(cache) == []


def test_with_root_the_advice_is_root_not_the_variable(
    isolated: Path, fake_data_dir: Path, no_checksums: None, server: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FashionMNIST, "mirrors", (server.mirror("404"),))
    for download in (True, False):
        with pytest.raises(DataError) as err:
            FashionMNIST(root=isolated / "mine", download=download)
        assert "pass root= a folder that holds" in str(err.value) and "D2LMINI_DATA" not in str(err.value)
    broken = fake_data_dir / FILES[1]
    broken.write_bytes(broken.read_bytes()[:-5])
    with pytest.raises(DataError, match="pass root= a folder with good copies") as err:
        FashionMNIST(root=fake_data_dir)
    assert "D2LMINI_DATA" not in str(err.value)


def test_cache_under_a_file_names_the_file_and_the_alternatives(
    cache: Path, isolated: Path, server: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FashionMNIST, "mirrors", (server.mirror("ok"),))
    blocker = isolated / "not-a-folder"
    blocker.write_text("a file where the cache's parent should be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    with pytest.raises(DataError) as err:
        FashionMNIST()
    message = str(err.value)
    assert f"cannot create the folder {blocker}/d2lmini/fashion-mnist: {blocker} is a file, not a folder" in message
    assert "Fix: set D2LMINI_DATA to a folder you can write to (or pass root=)" in message
    monkeypatch.setenv(files_mod.ENV_VAR, str(blocker))  # the variable naming a file
    with pytest.raises(DataError, match=f"cannot create the folder {blocker}: {blocker} is a file"):
        FashionMNIST()
    with pytest.raises(DataError, match=r"is a file, not a folder\. Fix: pass root= a folder you can write to;"):
        FashionMNIST(root=blocker / "data")
    assert blocker.read_text() == "a file where the cache's parent should be" and server.requests == []


def test_a_folder_where_a_file_should_be(cache: Path, server: FileServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FashionMNIST, "mirrors", (server.mirror("ok"),))
    (cache / FILES[2]).mkdir(parents=True)
    with pytest.raises(DataError, match=f"{cache / FILES[2]}: a folder where the file should be; remove it"):
        FashionMNIST()
    assert server.requests == []  # found out before downloading anything


@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """No file this process writes may grow past ``limit`` bytes: a write beyond it fails (EFBIG), as on a full disk."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an error for the writer, not a killed process
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


class Unchecked:
    """Fashion-MNIST's four files without checksums, from one mirror: a dataset as find_or_download sees one."""

    name = "fashion-mnist"
    files: ClassVar[dict[str, FileSpec]] = {k: FileSpec(s.name, s.ndim) for k, s in FashionMNIST.files.items()}
    system_dirs = ()
    offline_hint = "ask the course staff for a copy"

    def __init__(self, mirror: str) -> None:
        self.mirrors = (mirror,)


def test_a_write_cut_short_leaves_neither_a_partial_file_nor_a_temporary_one(
    isolated: Path, fake_data_dir: Path, server: FileServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The download is checked, then its write fails halfway: nothing is left where the next run would look."""
    noise = torch.randint(0, 256, (64, 28, 28), generator=torch.Generator().manual_seed(0))  # incompressible: 50 kB
    write_idx(fake_data_dir / FILES[0], noise)
    size, root = (fake_data_dir / FILES[0]).stat().st_size, isolated / "data"
    with file_size_limit(size // 2), pytest.raises(DataError) as err:
        files_mod.find_or_download(Unchecked(server.mirror("ok")), root, download=True, timeout=5)
    assert str(err.value) == (f"fashion-mnist: cannot write {FILES[0]} ({size:,} bytes) into {root}: File too large. "
                              f"Fix: pass root= a folder you can write to; or ask the course staff for a copy.")
    assert leftovers(root) == []  # neither the first half of the file nor a .part file
    assert files_mod.find_or_download(Unchecked(server.mirror("ok")), root, download=True, timeout=5) == root
    assert leftovers(root) == sorted(FILES)  # the next run starts afresh and succeeds
    assert (root / FILES[0]).read_bytes() == (fake_data_dir / FILES[0]).read_bytes()


@contextlib.contextmanager
def serving(folder: Path, on_request: Callable[[], object]) -> Iterator[str]:
    """A local mirror of ``folder``'s files that calls ``on_request()`` as each request comes in, before answering."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:  # keep the test output clean
            pass

        def do_GET(self) -> None:
            on_request()
            super().do_GET()

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler) as httpd:
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{httpd.server_address[1]}/"
        finally:
            httpd.shutdown()


def test_a_folder_removed_while_its_file_downloads_is_explained(isolated: Path, fake_data_dir: Path) -> None:
    """Someone deletes the folder (``rm -rf ~/.cache/d2lmini`` in another terminal) while the server is still
    sending the first file: a DataError saying so, and nothing made again behind their back."""
    root, size = isolated / "data", (fake_data_dir / FILES[0]).stat().st_size
    with serving(fake_data_dir, lambda: shutil.rmtree(root)) as mirror, pytest.raises(DataError) as err:
        files_mod.find_or_download(Unchecked(mirror), root, download=True, timeout=5)
    assert str(err.value) == (f"fashion-mnist: cannot write {FILES[0]} ({size:,} bytes) into {root}: No such file or "
                              f"directory. Fix: pass root= a folder you can write to; or ask the course staff for a "
                              f"copy.")  # fmt: skip
    assert not root.exists()


def test_a_log_names_each_download_while_it_runs(
    isolated: Path, fake_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With stdout a file or a pipe (``> log``, Colab's cell output, CI), the line naming a download is out before
    the server answers: a slow or hanging mirror is seen while it is slow."""
    log = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(log, encoding="utf-8"))  # buffered, as a file or pipe is
    root = isolated / "data"
    seen: list[str] = []  # what the log held as each request came in
    with serving(fake_data_dir, lambda: seen.append(log.getvalue().decode())) as mirror:
        files_mod.find_or_download(Unchecked(mirror), root, download=True, timeout=5)
    assert seen == ["".join(f"Downloading {mirror}{name} to {root} ...\n" for name in FILES[: i + 1]) for i in range(4)]


def test_a_download_killed_while_writing_leaves_only_a_hidden_part_file_the_next_run_ignores(
    isolated: Path, fake_data_dir: Path, server: FileServer
) -> None:
    """A copy of this process is killed halfway through writing the file (by the kernel, at a file size limit, as
    the OOM killer or a power cut would stop it): no cleanup runs. The next run must not trust what is left."""
    noise = torch.randint(0, 256, (64, 28, 28), generator=torch.Generator().manual_seed(0))  # incompressible: 50 kB
    write_idx(fake_data_dir / FILES[0], noise)
    size, root, dataset = (fake_data_dir / FILES[0]).stat().st_size, isolated / "data", Unchecked(server.mirror("ok"))
    pid = os.fork()
    if pid == 0:  # the child: no core file, killed (not warned) at the first write past half the file
        try:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
            resource.setrlimit(resource.RLIMIT_FSIZE, (size // 2, resource.RLIM_INFINITY))
            with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
                files_mod.find_or_download(dataset, root, download=True, timeout=5)
        finally:
            os._exit(0)  # not reached when the kill comes; never back into pytest
    deadline = time.monotonic() + 60
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert done[0] == pid and os.WIFSIGNALED(done[1]) and os.WTERMSIG(done[1]) == signal.SIGXFSZ
    [part] = leftovers(root)
    assert re.fullmatch(rf"\.{re.escape(FILES[0])}\.\w+\.part", part)  # hidden, and named as what it is
    assert (root / part).stat().st_size == size // 2
    assert files_mod.find_or_download(dataset, root, download=True, timeout=5) == root  # the half file is ignored
    assert (root / FILES[0]).read_bytes() == (fake_data_dir / FILES[0]).read_bytes()


def test_the_temporary_file_is_made_next_to_the_file(
    isolated: Path, fake_data_dir: Path, server: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the target folder, so that renaming it into place is one step on one file system (never a copy)."""
    elsewhere = Path("/dev/shm")
    if not elsewhere.is_dir() or elsewhere.stat().st_dev == isolated.stat().st_dev:
        pytest.skip("needs /dev/shm on another file system than the temporary folder")
    monkeypatch.setattr(tempfile, "tempdir", str(elsewhere))  # where temporary files go by default
    root = isolated / "data"
    root.mkdir()  # the folder exists already, empty
    assert files_mod.find_or_download(Unchecked(server.mirror("ok")), root, download=True, timeout=5) == root
    assert leftovers(root) == sorted(FILES)


@pytest.mark.slow  # two fresh Python processes (2-3 s each to import torch)
def test_two_processes_downloading_into_one_cache_both_succeed(
    cache: Path, isolated: Path, server: FileServer, fake_data_dir: Path
) -> None:
    command = load_command(FashionMNIST.files, [server.mirror("delay")], [isolated / "system"])
    env = subprocess_env({"XDG_CACHE_HOME": str(isolated / "cache")})
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert all(out.splitlines()[-2] == str(cache) for out in outputs)  # the last line before "left: ..."
    assert leftovers(cache) == sorted(FILES)
    assert all((cache / f).read_bytes() == (fake_data_dir / f).read_bytes() for f in FILES)
    assert len(server.requests) >= 5  # the two really did download at the same time, not one after the other


# Faults a process running as root cannot meet: another user's view, a read-only or full file system.
# Each test starts a fresh Python process (2-3 s to import torch), hence "slow". -------------------------
@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temporary folder that other users may enter (pytest's tmp_path is private to its owner)."""
    folder = Path(tempfile.mkdtemp(prefix="d2lmini-test-"))
    folder.chmod(0o755)
    yield folder
    for parent, children, _ in os.walk(folder):  # unlock what a test locked, so that it can be removed
        for child in children:
            os.chmod(os.path.join(parent, child), 0o755)
    shutil.rmtree(folder)


def as_other_user() -> tuple[str, ...]:
    """Run as ``nobody`` when we are root, for whom permission bits do not apply; as ourselves otherwise."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv (util-linux): cannot run as a user that permissions stop")
    return ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")


def with_tmpfs(folder: Path, options: str, then: str = "true") -> tuple[str, ...]:
    """Run in new user and mount namespaces, with a small tmpfs mounted on ``folder`` (and ``then`` run in it)."""
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True)
    if shutil.which("unshare") is None or probe.returncode != 0:
        pytest.skip("needs user and mount namespaces (unshare) to mount a read-only or a full file system")
    setup = f'mount -t tmpfs -o {options} tmpfs "$0" && (cd "$0" && {{ {then}; }}) && exec "$@"'  # cwd unchanged
    return ("unshare", "--user", "--map-root-user", "--mount", "sh", "-c", setup, str(folder))


def run_load(command: list[str], env: dict[str, str]) -> tuple[int, str, list[str]]:
    """Run a load command; its exit code, its message and what its ``inspect`` folder holds at the end."""
    done = subprocess.run(command, env=subprocess_env(env), capture_output=True, text=True, timeout=120)
    *message, left = done.stdout.splitlines() or ["", "left: []"]
    assert left.startswith("left: "), done.stderr
    return done.returncode, "\n".join(message), json.loads(left.removeprefix("left: "))


@pytest.mark.slow
def test_no_permission_to_write_the_cache(open_tmp: Path, fake_data_dir: Path, server: FileServer) -> None:
    locked = open_tmp / "cache"
    locked.mkdir()
    locked.chmod(0o555)
    command = load_command(fake_specs(fake_data_dir), [server.mirror("ok")], [open_tmp / "system"],
                           inspect=locked, prefix=as_other_user())  # fmt: skip
    code, message, left = run_load(command, {"XDG_CACHE_HOME": str(locked)})
    assert code == 3, message
    assert f"cannot create the folder {locked}/d2lmini/fashion-mnist: permission denied" in message
    assert "Fix: set D2LMINI_DATA to a folder you can write to (or pass root=)" in message
    assert left == [] and server.requests == []


@pytest.mark.slow
def test_an_unreadable_folder_does_not_hide_a_good_copy(open_tmp: Path, fake_data_dir: Path) -> None:
    system = shutil.copytree(fake_data_dir, open_tmp / "system")  # the Debian package's copy
    private = open_tmp / "private"
    private.mkdir(mode=0o000)
    private.chmod(0o000)
    env = {"D2LMINI_DATA": str(private), "XDG_CACHE_HOME": str(open_tmp / "cache")}
    specs = fake_specs(fake_data_dir)
    code, message, _ = run_load(load_command(specs, [], [system], download=False, prefix=as_other_user()), env)
    assert (code, message) == (0, str(system))
    code, message, _ = run_load(load_command(specs, [], [], download=False, prefix=as_other_user()), env)
    assert code == 3 and f"{private}  (cannot be read: Permission denied)" in message
    code, message, _ = run_load(load_command(specs, ["http://127.0.0.1:9/"], [], prefix=as_other_user()), env)
    assert code == 3 and f"cannot look into {private}: permission denied. Fix: set D2LMINI_DATA to a folder" in message


@pytest.mark.slow
def test_a_read_only_file_system(tmp_path: Path, fake_data_dir: Path, server: FileServer) -> None:
    mount = tmp_path / "mnt"
    mount.mkdir()
    prefix = with_tmpfs(mount, "ro,size=1m")
    command = load_command(fake_specs(fake_data_dir), [server.mirror("ok")], [], inspect=mount, prefix=prefix)
    code, message, left = run_load(command, {"XDG_CACHE_HOME": str(mount)})
    assert code == 3, message
    assert f"cannot create the folder {mount}/d2lmini/fashion-mnist: it is on a read-only file system" in message
    assert "Fix: set D2LMINI_DATA to a folder you can write to (or pass root=)" in message and left == []


@pytest.mark.slow
def test_a_full_disk(tmp_path: Path, fake_data_dir: Path, server: FileServer) -> None:
    mount = tmp_path / "mnt"
    mount.mkdir()
    fill = "head -c 1048576 /dev/zero > filler 2>/dev/null; true"  # a 4 kB file system, filled up
    prefix = with_tmpfs(mount, "size=4k", then=fill)
    command = load_command(fake_specs(fake_data_dir), [server.mirror("ok")], [], inspect=mount, prefix=prefix)
    code, message, left = run_load(command, {"XDG_CACHE_HOME": str(mount)})
    assert code == 3, message
    target = mount / "d2lmini" / "fashion-mnist"
    assert re.search(rf"cannot write {FILES[0]} \([\d,]+ bytes\) into {target}: the disk is full", message)
    assert "Fix: free some space there; or set D2LMINI_DATA to a folder you can write to" in message
    assert left == sorted(str(p) for p in (mount / "d2lmini", target, mount / "filler"))  # no partial file
